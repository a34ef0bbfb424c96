"""Arbitrary Python values to safe JSON values: converted, redacted and bounded in one walk.

``Sanitizer.clean`` never raises and never runs user code beyond one ``repr`` per object:
telemetry must not fail, or hang, because a caller passed an exotic object or a live client.
Only plain containers (dict, list, tuple, set) are walked, each up to MAX_ITEMS items and all
of them up to MAX_NODES values, with markers saying what was left out; anything else becomes
its ``repr``, redacted like any text. Text is redacted before it is cut, so a cut never leaves
part of a credential. The result is a fresh tree of plain dicts, lists, strings, numbers,
bools and None, so what ``capture()`` returns is exactly what a later ``query()`` reads back.
Every redaction is reported by path and rule, never with the secret.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import sys
from itertools import islice
from typing import Any

from betty_telemetry.redaction import structures
from betty_telemetry.redaction.cards import is_card_int
from betty_telemetry.redaction.limits import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_NAME_CHARS,
    MAX_NODES,
    MAX_REPORTED,
    MAX_REPR_CHARS,
    MAX_STRING_CHARS,
    SCAN_MARGIN,
)
from betty_telemetry.redaction.rules import NO_KEYS, NO_RULES, KeyText, RedactionRules
from betty_telemetry.redaction.text_values import (
    clean_text,
    cut,
    describe_repr,
    text_of_bytes,
    window,
)
from betty_telemetry.redaction.triggers import REDACTED

_PASSTHROUGH = frozenset({bool, type(None)})
_UNKNOWN: Any = object()  # a key the rules have not judged yet
# Python refuses to turn ints of more than 4,300 digits into text (sys.int_info), so the JSON
# encoder would fail on them: such ints are recorded as a description instead.
_INT_LIMIT = 10**4000
# Ints this large may be card numbers: below it, an int is kept without a look.
_CARD_FLOOR = 10**12
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
_PLAIN_SCALARS = frozenset({str, int, float})


def to_json_safe(value: object, redact_keys: frozenset[str] = NO_KEYS) -> Any:
    """A JSON-safe copy of ``value`` with only the given keys masked (no default rules)."""
    rules = NO_RULES.with_keys(redact_keys) if redact_keys else NO_RULES
    return Sanitizer(rules).clean(value, "value")


def clean_mapping_items(
    rules: RedactionRules, sanitizer: Sanitizer | None, mapping: dict[Any, Any], field: str
) -> tuple[dict[str, Any], Sanitizer | None]:
    """One pass over a top-level mapping (inputs, metadata): plain values are copied as they
    are, and a Sanitizer is made only when some key or value needs one. The common case,
    a few plain keyword values, never pays for the full walk.

    Nothing that may run user code (a ``repr``) runs while the mapping is being iterated:
    such values wait until the loop is done, so a ``repr`` that changes the mapping cannot
    break the iteration.
    """
    if len(mapping) <= MAX_ITEMS:
        cleaned: dict[str, Any] = {}
        pending: list[tuple[str, str | KeyText | None, Any]] | None = None
        key_rule, plain_text = rules.key_rule, rules.plain_text
        # The rules' caches, read here directly: a call per key and value costs more than
        # the lookup itself on this path, which every capture with inputs takes.
        known_keys, known_texts = rules.key_cache, rules.plain_cache
        for key, item in mapping.items():
            if type(key) is not str:
                break  # converting the key may run user code: take the careful path
            known = known_keys.get(key, _UNKNOWN)
            rule = key_rule(key) if known is _UNKNOWN else known
            kind = type(item)
            if rule is None and (
                kind in _PASSTHROUGH
                or (kind is int and -_CARD_FLOOR < item < _CARD_FLOOR)
                or (kind is str and (known_texts.get(item) or plain_text(item)))
            ):
                cleaned[key] = item
            elif type(rule) is str:  # a secret key: its value goes, and no user code runs
                sanitizer = sanitizer or Sanitizer(rules)
                sanitizer.secret_item(cleaned, key, rule, item, field)
            else:
                cleaned[key] = None  # keeps the key's place
                if pending is None:
                    pending = []
                pending.append((key, rule, item))
        else:
            if pending is None:
                return cleaned, sanitizer
            sanitizer = sanitizer or Sanitizer(rules)
            sanitizer.finish_items(mapping, cleaned, pending, field)
            return cleaned, sanitizer
    sanitizer = sanitizer or Sanitizer(rules)
    return sanitizer.clean(mapping, field), sanitizer


class Sanitizer:
    """One entry's worth of cleaning; collects where it redacted and truncated."""

    __slots__ = (
        "_active",
        "_budget",
        "_limited",
        "_overflow",
        "redactions",
        "rules",
        "truncations",
    )

    def __init__(self, rules: RedactionRules) -> None:
        self.rules = rules
        self.redactions: list[dict[str, str]] = []
        self._overflow = 0  # redactions beyond MAX_REPORTED, counted only
        self._active: set[int] = set()  # containers being walked: a cycle comes back to one
        self._budget = MAX_NODES
        self._limited = 0  # markers written for what the limits left out
        self.truncations: list[str] = []  # paths of what was cut or left out

    def report(self) -> list[dict[str, str]]:
        """``metadata["redactions"]``: each redaction's path and rule, never the secret."""
        if not self._overflow:
            return self.redactions
        more = {"path": "*", "rule": f"{self._overflow} more redactions, not listed"}
        return [*self.redactions, more]

    def note(self, path: str, rule: str) -> None:
        redactions = self.redactions
        if len(redactions) < MAX_REPORTED:
            redactions.append({"path": path, "rule": rule})
        else:
            self._overflow += 1

    def noted(self) -> int:
        """A count that grows whenever anything is redacted or left out: compare two readings
        to know whether a value was changed."""
        return len(self.redactions) + self._overflow + self._limited

    def clean(self, value: object, path: str) -> Any:
        if type(value) is dict:  # inputs and metadata: skip straight to the items
            marker = id(value)
            self._active.add(marker)
            try:
                return self._dict(value, path, 0)
            finally:
                self._active.discard(marker)
        return self._value(value, path, 0)

    def clean_text(self, text: str, path: str) -> str:
        return self._string(text, path)

    def clean_name(self, name: str, path: str) -> str:
        """A ``skill`` or ``caller``: redacted by the built-in rules, cut to MAX_NAME_CHARS."""
        name = str.__str__(name)
        cleaned, rules = self.rules.redact_name(window(name, MAX_NAME_CHARS + SCAN_MARGIN))
        for rule in rules:
            self.note(path, rule)
        if len(name) <= MAX_NAME_CHARS:
            return cleaned
        return cut(self, cleaned, name, path, MAX_NAME_CHARS)

    def finish_items(
        self,
        mapping: dict[Any, Any],
        cleaned: dict[str, Any],
        pending: list[tuple[str, str | KeyText | None, Any]],
        field: str,
    ) -> None:
        """Clean what ``clean_mapping_items`` left for later, in place."""
        marker = None
        renamed = False
        for key, rule, item in pending:
            if marker is None:  # walking a value: one that holds the mapping is a cycle
                marker = id(mapping)
                self._active.add(marker)
            if rule is None:
                cleaned[key] = self._value(item, f"{field}.{key}", 1)
            else:
                renamed = True
                self._secret_key(cleaned, rule, item, field, 1)  # type: ignore[arg-type]
        if marker is not None:
            # Forgotten once done: the mapping may be freed and its id reused by a later value.
            self._active.discard(marker)
        if renamed:  # a key that held a secret was replaced: drop its placeholder
            for key, rule, _ in pending:
                if type(rule) is KeyText:
                    cleaned.pop(key, None)

    # -- values --------------------------------------------------------------------------

    def _value(self, value: object, path: str, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._string(value, path)  # type: ignore[arg-type]
        if kind in _PASSTHROUGH:
            return value
        if kind is int:
            return self._int(value, path)  # type: ignore[arg-type]
        if kind is float:
            return value if math.isfinite(value) else _NONFINITE.get(value, "NaN")  # type: ignore[arg-type, call-overload]
        if isinstance(value, (dict, list, tuple, set, frozenset)):
            return self._container(value, path, depth)
        return self._scalar(value, path)

    def _string(self, text: str, path: str) -> str:
        if self.rules.plain_text(text):
            return text
        return clean_text(self, text, path, MAX_STRING_CHARS)

    def _int(self, value: int, path: str) -> int | str:
        if -_CARD_FLOOR < value < _CARD_FLOOR:
            return value
        if not -_INT_LIMIT < value < _INT_LIMIT:
            digits = int(value.bit_length() * math.log10(2)) + 1
            return f"<{'negative ' if value < 0 else ''}integer of about {digits} digits>"
        if self.rules.defaults and is_card_int(abs(value)):
            self.note(path, "card-number")
            return REDACTED
        return value

    def _scalar(self, value: object, path: str) -> Any:
        """Everything that is not a plain JSON value or container."""
        try:
            if isinstance(value, enum.Enum):
                return self._value(value.value, path, 0)
            if isinstance(value, str):
                return self._string(str.__str__(value), path)
            if isinstance(value, int):
                return self._int(int(value), path)
            if isinstance(value, float):
                return self._value(float(value), path, 0)
            if isinstance(value, (bytes, bytearray, memoryview)):
                return text_of_bytes(self, value, path)
            if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
                return value.isoformat()
            if isinstance(value, _dt.timedelta):
                return value.total_seconds()
            if _shown_as_text(value):
                return self._string(str(value), path)
        except Exception:
            pass
        return clean_text(self, describe_repr(value), path, MAX_REPR_CHARS, repr_of=True)

    # -- containers ----------------------------------------------------------------------

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
            self._limited += 1
            return f"<nested deeper than {MAX_DEPTH} levels>"
        self._active.add(marker)
        try:
            if isinstance(value, dict):
                return self._dict(value, path, depth)
            if isinstance(value, (set, frozenset)):
                return self._set(value, path, depth)
            return self._sequence(value, path, depth)
        except RuntimeError:  # another thread changed it while it was being read
            self._limited += 1
            return "<changed while being read>"
        finally:
            self._active.discard(marker)

    def _take(self, size: int) -> int:
        """How many of ``size`` items to walk: within MAX_ITEMS and the entry's budget."""
        taken = min(size, MAX_ITEMS, max(self._budget, 0))
        self._budget -= taken
        return taken

    def _left_out(self, size: int, taken: int, what: str, path: str) -> str:
        self._limited += 1
        self.truncations.append(path)
        return f"<{size - taken} more {what} left out>"

    def _sequence(self, value: list[Any] | tuple[Any, ...], path: str, depth: int) -> list[Any]:
        size = len(value)
        items = list(islice(value, self._take(size)))  # a snapshot: reprs may change value
        cleaned = [self._value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(items)]
        structures.redact_list(self.rules, items, cleaned, path, self.note)
        if size > len(items):
            cleaned.append(self._left_out(size, len(items), "items", path))
        return cleaned

    def _set(self, value: set[Any] | frozenset[Any], path: str, depth: int) -> list[Any]:
        size = len(value)
        items = list(islice(value, self._take(size)))
        if all(type(item) in _PLAIN_SCALARS for item in items):
            # Sets have no order: sort, so the same set always gives the same entry.
            try:
                items.sort()
            except TypeError:  # text beside numbers: in the order of their JSON text
                items.sort(key=_sort_key)
            cleaned = [self._value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(items)]
        else:  # sorted once converted: comparing arbitrary objects would run their code
            cleaned = [self._value(item, f"{path}[*]", depth + 1) for item in items]
            cleaned.sort(key=_sort_key)
        if size > len(items):
            cleaned.append(self._left_out(size, len(items), "items", path))
        return cleaned

    def _dict(self, value: dict[Any, Any], path: str, depth: int) -> dict[str, Any]:
        size = len(value)
        items = list(islice(value.items(), self._take(size)))
        cleaned: dict[str, Any] = {}
        key_rule, plain_text = self.rules.key_rule, self.rules.plain_text
        for key, item in items:
            name = key if type(key) is str else self._key(key, path)
            rule = key_rule(name)
            if rule is None:
                kind = type(item)
                if kind in _PASSTHROUGH or (kind is str and plain_text(item)):
                    cleaned[name] = item  # the common case, checked without building a path
                else:
                    cleaned[name] = self._value(item, f"{path}.{name}", depth + 1)
            elif type(rule) is str:
                self.secret_item(cleaned, name, rule, item, path)
            else:
                self._secret_key(cleaned, rule, item, path, depth + 1)  # type: ignore[arg-type]
        if "value" in cleaned or "Value" in cleaned:
            structures.redact_name_and_value(self.rules, cleaned, path, self.note)
        if size > len(items):
            cleaned["<left out>"] = self._left_out(size, len(items), "keys", path)
        return cleaned

    def _key(self, key: object, path: str) -> str:
        """The text a non-string key is stored as: what ``json.dumps`` would write for a
        scalar, the (redacted, bounded) ``repr`` of anything else."""
        if isinstance(key, str):
            return str.__str__(key)
        if key is None or isinstance(key, (bool, int, float)):
            converted = Sanitizer(NO_RULES).clean(key, "key")
            return converted if isinstance(converted, str) else _json_scalar_text(converted)
        text = describe_repr(key)
        return clean_text(self, text, f"{path}.<key>", MAX_REPR_CHARS, repr_of=True)

    def secret_item(
        self, cleaned: dict[str, Any], name: str, rule: str, item: Any, path: str
    ) -> None:
        """Store ``item`` under ``name``, which ``rule`` says holds a secret."""
        if type(item) in _PASSTHROUGH or (type(item) is str and not item):
            cleaned[name] = item  # True, False, None or "" tell nothing
        else:
            cleaned[name] = REDACTED
            self.note(f"{path}.{name}", rule)

    def _secret_key(
        self, cleaned: dict[str, Any], rule: KeyText, item: Any, path: str, depth: int
    ) -> None:
        """A key that holds a secret itself (a token used as a key) is stored redacted."""
        name = _unique(cleaned, rule.cleaned)
        for found in rule.rules:
            self.note(f"{path}.{name}", f"{found}:in-key")
        if not rule.rules:  # only cut: a key longer than MAX_KEY_CHARS
            self.truncations.append(f"{path}.{name}")
        if rule.value_rule is None:
            cleaned[name] = self._value(item, f"{path}.{name}", depth)
        else:
            self.secret_item(cleaned, name, rule.value_rule, item, path)


def _unique(cleaned: dict[str, Any], name: str) -> str:
    if name not in cleaned:
        return name
    number = 2
    while f"{name}#{number}" in cleaned:
        number += 1
    return f"{name}#{number}"


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _json_scalar_text(value: bool | int | float | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


__all__ = ["Sanitizer", "clean_mapping_items", "to_json_safe"]


# Values stored as their text. A value can only be an instance of a class whose module is
# loaded: looked up there, so that a capture (often a fresh process) does not import decimal
# and uuid (with platform) for values it almost never meets.
_AS_TEXT = (("decimal", "Decimal"), ("uuid", "UUID"), ("pathlib", "PurePath"))


def _shown_as_text(value: object) -> bool:
    for module_name, class_name in _AS_TEXT:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(value, getattr(module, class_name)):
            return True
    return False
