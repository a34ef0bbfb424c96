"""Names a package offers but loads on first use (PEP 562), so that importing it costs only
what is used: a capture from the command line never loads the read side or SQLite."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(namespace: dict[str, Any], homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of the package whose globals are ``namespace``: a name of
    ``homes`` (name -> the module that defines it) is imported when first asked for, then
    kept in ``namespace``, a plain attribute from then on; any other is an AttributeError."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:  # also how ``from package import submodule`` goes on
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
