"""Arbitrary Python values to safe JSON values: converted, redacted and size-limited in one walk.

``Sanitizer.clean`` never raises and never runs user code beyond one bounded ``repr``:
telemetry must not fail, or hang, because a caller passed an exotic object or a live client.
Only plain containers (dict, list, tuple, set) are walked; anything else becomes its bounded
``repr``, which is then checked for secrets like any other text. The result is a fresh tree of
plain dicts, lists, strings, numbers, bools and None, so what ``capture()`` returns is exactly
what a later ``query()`` reads back. Every redaction is reported by path and rule, never with
the secret.
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import hashlib
import json
import math
import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from betty_telemetry._redact import (
    MAX_STRING_CHARS,
    NO_KEYS,
    REDACTED,
    RedactionRules,
    redaction_keys,
)
from betty_telemetry._safety import report_failure

NO_RULES = RedactionRules(default_keys=False)
MAX_DEPTH = 64
MAX_REPR_CHARS = 1024
MAX_JSON_INSIDE_CHARS = 1 << 20  # longer JSON text is not parsed, only scanned as text

_PASSTHROUGH = frozenset({bool, type(None)})
# Python refuses to turn ints of more than 4,300 digits into text (sys.int_info), so the JSON
# encoder would fail on them: such ints are recorded as a description instead.
_INT_LIMIT = 10**4000
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def to_json_safe(value: object, redact_keys: frozenset[str] = NO_KEYS) -> Any:
    """A JSON-safe copy of ``value`` with only the given keys masked (no default rules)."""
    rules = NO_RULES.with_keys(redact_keys) if redact_keys else NO_RULES
    return Sanitizer(rules).clean(value, "value")


def clean_mapping_items(
    rules: RedactionRules, sanitizer: Sanitizer | None, mapping: dict[Any, Any], field: str
) -> tuple[dict[str, Any], Sanitizer | None]:
    """One pass over a top-level mapping (inputs, metadata): plain values are copied as they
    are, and a Sanitizer is made only when some key or value needs one. The common case,
    a few plain keyword values, never pays for the full walk."""
    cleaned: dict[str, Any] = {}
    key_rule, plain_text = rules.key_rule, rules.plain_text
    for key, item in mapping.items():
        name = key if type(key) is str else _key(key)
        rule = key_rule(name)
        kind = type(item)
        if rule is None and (
            kind in _PASSTHROUGH
            or (kind is int and -_INT_LIMIT < item < _INT_LIMIT)
            or (kind is str and plain_text(item))
        ):
            cleaned[name] = item
            continue
        if sanitizer is None:
            sanitizer = Sanitizer(rules)
        if rule is not None:
            cleaned[name] = REDACTED
            sanitizer.redactions.append({"path": f"{field}.{name}", "rule": rule})
        else:
            sanitizer._active.add(id(mapping))
            cleaned[name] = sanitizer._value(item, f"{field}.{name}", 1)
    return cleaned, sanitizer


class Sanitizer:
    """One entry's worth of cleaning; collects where it redacted and truncated."""

    __slots__ = ("_active", "redactions", "rules", "truncations")

    def __init__(self, rules: RedactionRules) -> None:
        self.rules = rules
        self.redactions: list[dict[str, str]] = []
        self.truncations: list[str] = []
        self._active: set[int] = set()

    def clean(self, value: object, path: str) -> Any:
        if type(value) is dict:  # inputs and metadata: skip straight to the items
            self._active.add(id(value))
            return self._dict(value, path, 0)
        return self._value(value, path, 0)

    def clean_text(self, text: str, path: str) -> str:
        return self._string(text, path)

    def _value(self, value: object, path: str, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._string(value, path)  # type: ignore[arg-type]
        if kind in _PASSTHROUGH:
            return value
        if kind is int:
            return value if -_INT_LIMIT < value < _INT_LIMIT else _huge_int(value)  # type: ignore[operator, arg-type]
        if kind is float:
            return value if math.isfinite(value) else _NONFINITE.get(value, "NaN")  # type: ignore[arg-type, call-overload]
        if isinstance(value, (dict, list, tuple, set, frozenset)):
            return self._container(value, path, depth)
        return self._scalar(value, path)

    def _container(
        self,
        value: dict[Any, Any] | list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any],
        path: str,
        depth: int,
    ) -> Any:
        marker = id(value)
        if marker in self._active:
            return "<circular reference>"
        if depth >= MAX_DEPTH:
            return f"<nested deeper than {MAX_DEPTH} levels>"
        self._active.add(marker)
        try:
            if isinstance(value, dict):
                return self._dict(value, path, depth)
            items = _ordered(value) if isinstance(value, (set, frozenset)) else list(value)
            return [self._value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(items)]
        finally:
            self._active.discard(marker)

    def _dict(self, value: dict[Any, Any], path: str, depth: int) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        key_rule = self.rules.key_rule
        plain_text = self.rules.plain_text
        for key, item in list(value.items()):
            name = key if type(key) is str else _key(key)
            rule = key_rule(name)
            if rule is None:
                kind = type(item)
                if kind in _PASSTHROUGH or (kind is str and plain_text(item)):
                    cleaned[name] = item  # the common case, checked without building a path
                else:
                    cleaned[name] = self._value(item, f"{path}.{name}", depth + 1)
            else:
                cleaned[name] = REDACTED
                self.redactions.append({"path": f"{path}.{name}", "rule": rule})
        return cleaned

    def _string(self, text: str, path: str) -> str:
        if self.rules.plain_text(text):
            return text
        text = self._apply_patterns(text, path)
        if text[:1] in ("{", "[") and len(text) <= MAX_JSON_INSIDE_CHARS:
            text = self._json_inside(text, path)
        if len(text) > MAX_STRING_CHARS:
            text = self._cut(text, path)
        return text

    def _apply_patterns(self, text: str, path: str) -> str:
        for pattern in self.rules.patterns_for(text):
            try:
                redacted = pattern.apply(text)
            except Exception as exc:
                # Fail closed: a value we could not check is not written at all.
                report_failure(
                    exc,
                    f"Redaction rule {pattern.name!r} failed, value withheld",
                    with_message=False,
                )
                self.redactions.append({"path": path, "rule": f"{pattern.name}:failed"})
                return REDACTED
            if redacted != text:
                self.redactions.append({"path": path, "rule": pattern.name})
                text = redacted
        return text

    def _json_inside(self, text: str, path: str) -> str:
        """Redact keys inside a string that holds a JSON object or array."""
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested past the recursion limit
            return text
        if not isinstance(parsed, (dict, list)):
            return text
        before = len(self.redactions)
        cleaned = self._value(parsed, f"{path}<json>", 0)
        if len(self.redactions) == before:
            return text
        return json.dumps(cleaned)

    def _cut(self, text: str, path: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        self.truncations.append(path)
        return f"{text[:MAX_STRING_CHARS]}...[truncated: {len(text)} chars, sha256 {digest}]"

    def _scalar(self, value: object, path: str) -> Any:
        """Everything that is not a plain JSON value or container."""
        try:
            if isinstance(value, enum.Enum):
                return self._value(value.value, path, 0)
            if isinstance(value, str):
                return self._string(str.__str__(value), path)
            if isinstance(value, int):
                return self._value(int(value), path, 0)
            if isinstance(value, float):
                return self._value(float(value), path, 0)
            if isinstance(value, (bytes, bytearray, memoryview)):
                head = bytes(value[:MAX_REPR_CHARS])
                return self._string(_bytes_text(head, len(value)), path)
            if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
                return value.isoformat()
            if isinstance(value, _dt.timedelta):
                return value.total_seconds()
            if isinstance(value, (Decimal, uuid.UUID, PurePath)):
                return self._string(str(value), path)
        except Exception:
            pass
        return self._string(safe_repr(value), path)


def _huge_int(value: int) -> str:
    digits = int(value.bit_length() * math.log10(2)) + 1
    return f"<{'negative ' if value < 0 else ''}integer of about {digits} digits>"


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    # Sets have no order; sort so the same set always gives the same entry.
    try:
        return sorted(items)
    except Exception:
        return sorted(items, key=safe_repr)


def _key(key: object) -> str:
    # The same spelling json.dumps would give, so keys round-trip unchanged.
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, (bool, int, float)):
        converted = Sanitizer(NO_RULES).clean(key, "key")
        return converted if isinstance(converted, str) else _json_scalar_text(converted)
    return safe_repr(key)


def _json_scalar_text(value: bool | int | float | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _bytes_text(head: bytes, total: int) -> str:
    suffix = f"...<{total} bytes>" if total > len(head) else ""
    try:
        return head.decode("utf-8") + suffix
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(head).decode("ascii") + suffix


def safe_repr(value: object) -> str:
    """``repr(value)``, cut to MAX_REPR_CHARS; a description instead if ``repr`` raises."""
    try:
        text = repr(value)
    except Exception as exc:
        return f"<unrepresentable {type(value).__qualname__}: repr raised {type(exc).__name__}>"
    if len(text) > MAX_REPR_CHARS:
        return text[:MAX_REPR_CHARS] + f"...<{len(text)} chars>"
    return text


__all__ = ["NO_KEYS", "NO_RULES", "Sanitizer", "redaction_keys", "safe_repr", "to_json_safe"]
