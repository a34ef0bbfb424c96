"""Turning arbitrary Python values into safe JSON values, and redacting secret keys.

``to_json_safe`` never raises and never runs user code beyond one bounded ``repr``: telemetry
must not fail, or hang, because a caller passed an exotic object. The result is a fresh tree of
plain dicts, lists, strings, numbers, bools and None, so what ``capture()`` returns is exactly
what a later ``query()`` reads back from the file.
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import math
import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import Any

REDACTED = "***REDACTED***"
NO_KEYS: frozenset[str] = frozenset()
MAX_DEPTH = 64
MAX_REPR_CHARS = 1024

_PASSTHROUGH = frozenset({str, int, bool, type(None)})
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def redaction_keys(names: object) -> frozenset[str]:
    """Normalise ``sanitize_keys`` (None or an iterable of names) for case-insensitive matching."""
    if names is None:
        return NO_KEYS
    if isinstance(names, str):
        # A lone string is almost always a mistake for a one-item list; honour the intent.
        return frozenset({names.lower()})
    return frozenset(str(name).lower() for name in names)  # type: ignore[attr-defined]


def to_json_safe(value: object, redact_keys: frozenset[str] = NO_KEYS) -> Any:
    """Return a JSON-safe copy of ``value``; keys in ``redact_keys`` (lowercase) are masked."""
    if type(value) is dict and not redact_keys and _is_flat_plain(value):
        return dict(value)  # the common case on every capture: a few plain keyword values
    return _convert(value, redact_keys, set(), 0)


def _is_flat_plain(mapping: dict[Any, Any]) -> bool:
    for key, item in mapping.items():
        if type(key) is not str or type(item) not in _PASSTHROUGH:
            return False
    return True


def _convert(value: object, redact_keys: frozenset[str], active: set[int], depth: int) -> Any:
    kind = type(value)
    if kind in _PASSTHROUGH:
        return value
    if isinstance(value, float) and kind is float:
        return value if math.isfinite(value) else _NONFINITE.get(value, "NaN")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return _convert_container(value, redact_keys, active, depth)
    return _convert_scalar(value)


def _convert_container(
    value: dict[Any, Any] | list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any],
    redact_keys: frozenset[str],
    active: set[int],
    depth: int,
) -> Any:
    marker = id(value)
    if marker in active:
        return "<circular reference>"
    if depth >= MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH} levels>"
    active.add(marker)
    try:
        if isinstance(value, dict):
            return {
                _key(key): REDACTED
                if redact_keys and isinstance(key, str) and key.lower() in redact_keys
                else _convert(item, redact_keys, active, depth + 1)
                for key, item in list(value.items())
            }
        items = _ordered(value) if isinstance(value, (set, frozenset)) else list(value)
        return [_convert(item, redact_keys, active, depth + 1) for item in items]
    finally:
        active.discard(marker)


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    # Sets have no order; sort so the same set always gives the same entry.
    try:
        return sorted(items)
    except Exception:
        return sorted(items, key=_safe_repr)


def _key(key: object) -> str:
    # The same spelling json.dumps would give, so keys round-trip unchanged.
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, (bool, int, float)):
        converted = _convert(key, NO_KEYS, set(), 0)
        return converted if isinstance(converted, str) else _json_scalar_text(converted)
    return _safe_repr(key)


def _json_scalar_text(value: bool | int | float | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _convert_scalar(value: object) -> Any:
    """Everything that is not a plain JSON value or container."""
    try:
        if isinstance(value, enum.Enum):
            return _convert(value.value, NO_KEYS, set(), 0)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return _convert(float(value), NO_KEYS, set(), 0)
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _bytes_text(bytes(value[:MAX_REPR_CHARS]), len(value))
        if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
            return value.isoformat()
        if isinstance(value, _dt.timedelta):
            return value.total_seconds()
        if isinstance(value, (Decimal, uuid.UUID, PurePath)):
            return str(value)
    except Exception:
        pass
    return _safe_repr(value)


def _bytes_text(head: bytes, total: int) -> str:
    suffix = f"...<{total} bytes>" if total > len(head) else ""
    try:
        return head.decode("utf-8") + suffix
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(head).decode("ascii") + suffix


def _safe_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__qualname__}: repr raised {type(exc).__name__}>"
    if not isinstance(text, str):  # pragma: no cover - repr() itself enforces str
        return f"<unrepresentable {type(value).__qualname__}>"
    if len(text) > MAX_REPR_CHARS:
        return text[:MAX_REPR_CHARS] + f"...<{len(text)} chars>"
    return text
