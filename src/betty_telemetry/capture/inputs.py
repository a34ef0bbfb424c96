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

    __slots__ = (
        "_all",
        "_defaults",
        "_names",
        "_recorded",
        "_rest",
        "_rest_sets",
        "_signature",
        "_simple",
    )

    def __init__(self, signature: inspect.Signature, recorded: frozenset[str]) -> None:
        parameters = list(signature.parameters.values())
        self._signature = signature
        self._names = [p.name for p in parameters]
        self._defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
        self._simple = all(p.kind in _SIMPLE_KINDS for p in parameters)
        # Keep the signature's order, so entries list inputs as the function declares them.
        self._recorded = [name for name in self._names if name in recorded]
        self._all = self._recorded == self._names
        # After n positional arguments, the names left to keyword arguments and defaults:
        # looked up by n, so a call only zips and checks, with no search through the names.
        self._rest = [tuple(self._names[n:]) for n in range(len(self._names) + 1)]
        self._rest_sets = [frozenset(rest) for rest in self._rest]

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
        given = len(args)
        if not self._simple or given > len(names):
            return self._bind_slowly(args, kwargs)
        # args may be fewer than names: zip stops there (strict=False, spelled out, costs more)
        values = dict(zip(names, args))  # noqa: B905
        if kwargs or given < len(names):
            if not kwargs.keys() <= self._rest_sets[given]:
                return self._bind_slowly(args, kwargs)  # a duplicate or an unknown name
            defaults = self._defaults
            for name in self._rest[given]:  # in the signature's order, whatever the call's
                if name in kwargs:
                    values[name] = kwargs[name]
                elif name in defaults:
                    values[name] = defaults[name]
                else:
                    return self._bind_slowly(args, kwargs)  # a required one is missing
        return values if self._all else {name: values[name] for name in self._recorded}

    def _bind_slowly(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError:
            return {}
        bound.apply_defaults()
        return {name: bound.arguments[name] for name in self._recorded if name in bound.arguments}
