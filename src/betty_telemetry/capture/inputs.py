"""A call's arguments by parameter name, for ``capture_inputs``.

``inspect.Signature.bind`` costs microseconds per call; for the common shape (parameters that
can be passed by position or keyword, no ``*args``/``**kwargs``) the names and defaults are
read once and each call only zips. Anything else falls back to ``Signature.bind``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

_SKIPPED = frozenset({"self", "cls"})
_SIMPLE_KINDS = frozenset(
    {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}
)


class InputBinder:
    """Binds one function's calls; records only the chosen parameter names."""

    __slots__ = ("_all", "_defaults", "_names", "_recorded", "_signature", "_simple")

    def __init__(self, signature: inspect.Signature, recorded: frozenset[str]) -> None:
        parameters = list(signature.parameters.values())
        self._signature = signature
        self._names = [p.name for p in parameters]
        self._defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
        self._simple = all(p.kind in _SIMPLE_KINDS for p in parameters)
        # Keep the signature's order, so entries list inputs as the function declares them.
        self._recorded = [name for name in self._names if name in recorded]
        self._all = self._recorded == self._names

    @classmethod
    def for_function(
        cls, func: Callable[..., Any], capture: bool | Iterable[str], exclude: frozenset[str]
    ) -> InputBinder | None:
        """The binder ``capture_inputs`` asks for, or None when inputs are not captured."""
        if capture is False:
            return None
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):  # builtins without a signature: nothing to name
            return None
        names = set(signature.parameters) if capture is True else set(capture)
        return cls(signature, frozenset(names - _SKIPPED - exclude))

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The recorded arguments of one call, defaults applied; {} if the call cannot bind
        (the call itself is about to raise TypeError, which is recorded as the error)."""
        names = self._names
        if not self._simple or len(args) > len(names):
            return self._bind_slowly(args, kwargs)
        values = dict(zip(names, args, strict=False))  # args may be fewer
        for name, value in kwargs.items():
            if name in values or name not in names:
                return self._bind_slowly(args, kwargs)  # a duplicate or an unknown name
            values[name] = value
        if kwargs or len(values) < len(names):
            for name in names:
                if name not in values:
                    if name not in self._defaults:
                        return self._bind_slowly(args, kwargs)  # a required one is missing
                    values[name] = self._defaults[name]
            values = {name: values[name] for name in names}  # the signature's order
        return values if self._all else {name: values[name] for name in self._recorded}

    def _bind_slowly(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError:
            return {}
        bound.apply_defaults()
        return {name: bound.arguments[name] for name in self._recorded if name in bound.arguments}
