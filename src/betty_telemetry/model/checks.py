"""Checks of numeric arguments shared by the API's entry points, with messages that say what
is accepted. (Entry fields have their own, in ``_entry``.)"""

from __future__ import annotations

import math
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
