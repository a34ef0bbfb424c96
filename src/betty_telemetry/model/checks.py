"""Checks of numeric arguments shared by the API's entry points, with messages that say what
is accepted. (Entry fields have their own, in ``_entry``.)"""

from __future__ import annotations

import math
import re
from typing import TypeGuard


def is_finite_at_least(value: object, minimum: float) -> TypeGuard[float]:
    """Whether ``value`` is a real number (not a bool), finite, and >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and value >= minimum
    except OverflowError:  # an int beyond float range
        return False


def whole_number(
    name: str, value: object, *, minimum: int = 0, allow_none: bool = False
) -> int | None:
    """``value`` if it is an int (not a bool) >= ``minimum``; None if allowed; else ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        none = " or None (no limit)" if allow_none else ""
        raise ValueError(f"{name} must be a whole number >= {minimum}{none}, got {value!r}")
    return value


_SIZE = r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*"  # compiled on use (re caches it): rarely needed
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
SIZE_HELP = "a number of bytes, or with a unit: 512K, 10MB, 1.5GiB (units of 1,024)"


def byte_size(name: str, value: object) -> int:
    """A size in bytes: an int >= 1, or text such as ``"10MB"``, ``"512k"``, ``"1.5GiB"``
    (K, M, G, T: powers of 1,024, as ``ls -h`` counts); else ValueError saying so."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    match = re.fullmatch(_SIZE, value, re.IGNORECASE) if isinstance(value, str) else None
    if match is not None:
        size = int(float(match[1]) * _SIZE_UNITS[match[2].lower()])
        if size >= 1:
            return size
    raise ValueError(f"{name} must be {SIZE_HELP}; got {value!r}")
