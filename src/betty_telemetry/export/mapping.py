"""An entry as an OpenTelemetry span: the mapping table of docs/opentelemetry.md, in one place.

Pure data in, pure data out, with no OpenTelemetry import: the live export, the replay and the
OTLP JSON writer all map through ``span_of``, so a span looks the same however it left.

- name = skill; end = the entry's timestamp, start = end - duration.
- ids = the entry's ``trace_id``/``span_id``/``parent_id``; an entry without them (one
  captured outside any trace, or written by the original framework) gets ids derived from a
  hash of its own content, so two replays of a file give the same ids.
- status = ERROR (failure, error, timeout; the error message as description), OK (success),
  UNSET (pending, or anything else).
- attributes under ``betty.*``, inputs and metadata flattened with dotted keys, plus the
  standard conventions that fit: ``error.type``, ``code.function.name``, and for runs whose
  metadata names their ``kind`` the GenAI and OpenInference ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from betty_telemetry.model.times import timestamp_micros

Scalar = str | bool | int | float

ERROR_STATUSES = frozenset({"failure", "error", "timeout", "failed"})  # failed: legacy
STATUS_CODES = {"success": "OK", "pending": "UNSET"}
MAX_ATTRIBUTES = 128
"""The SDK's default limit per span: more are counted in ``betty.attributes_dropped``."""
MAX_DEPTH = 8
"""Nested mappings below this depth are JSON-encoded as one value."""

_ID_FIELDS = ("trace_id", "span_id", "parent_id")
_MAPPED_FIELDS = frozenset({"timestamp", "skill", "duration_ms", "inputs", "metadata", *_ID_FIELDS})
_HEX_TRACE = re.compile(r"[0-9a-f]{32}")
_HEX_SPAN = re.compile(r"[0-9a-f]{16}")
_EXCEPTION_TYPE = re.compile(r"([A-Za-z_][\w.]*)(?::|$)")
_PYTHON_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")

KINDS: dict[str, tuple[str, str | None]] = {
    # metadata kind -> (OpenInference span kind, GenAI operation name)
    "agent": ("AGENT", "invoke_agent"),
    "tool": ("TOOL", "execute_tool"),
    "workflow": ("CHAIN", None),
    "chain": ("CHAIN", None),
    "llm": ("LLM", "chat"),
}
"""What ``metadata["kind"]`` may say about a run, and the conventions it then follows."""


@dataclass(frozen=True)
class SpanData:
    """What the exporters need to know about one span (ids as integers, times in ns)."""

    name: str
    trace_id: int
    span_id: int
    parent_id: int | None
    start_ns: int
    end_ns: int
    status: str
    """``"ERROR"``, ``"OK"`` or ``"UNSET"``."""
    description: str | None
    attributes: dict[str, Scalar]


class NotASpan(ValueError):
    """An entry with no time to place it at (no timestamp, or one that is not a time)."""


def span_of(entry: Mapping[str, Any]) -> SpanData:
    """The span for ``entry``. Raises NotASpan for an entry without a usable timestamp."""
    end_micros = timestamp_micros(entry.get("timestamp"))
    if end_micros is None:
        raise NotASpan(f"entry has no usable timestamp: {entry.get('timestamp')!r}")
    end_ns = end_micros * 1000
    duration = entry.get("duration_ms")
    duration_ns = round(duration * 1e6) if _is_number(duration) and duration > 0 else 0
    trace_id, span_id, parent_id = ids_of(entry)
    status, description = _status_of(entry)
    return SpanData(
        name=_text(entry.get("skill")) or "unnamed",
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        start_ns=max(0, end_ns - duration_ns),
        end_ns=end_ns,
        status=status,
        description=description,
        attributes=attributes_of(entry),
    )


def ids_of(entry: Mapping[str, Any]) -> tuple[int, int, int | None]:
    """Trace id, span id and parent span id: the entry's own where valid, else derived from
    its content (stable: the same entry always gets the same ids)."""
    trace_text, span_text, parent_text = (entry.get(name) for name in _ID_FIELDS)
    derived = None
    if _valid(trace_text, _HEX_TRACE):
        trace_id = int(trace_text, 16)
    else:
        derived = _digest(entry)
        trace_id = int.from_bytes(derived[:16], "big") or 1
    if _valid(span_text, _HEX_SPAN):
        span_id = int(span_text, 16)
    else:
        derived = derived or _digest(entry)
        span_id = int.from_bytes(derived[16:24], "big") or 1
    parent_id = int(parent_text, 16) if _valid(parent_text, _HEX_SPAN) else None
    return trace_id, span_id, parent_id


def _valid(value: object, pattern: re.Pattern[str]) -> TypeGuard[str]:
    return isinstance(value, str) and pattern.fullmatch(value) is not None and int(value, 16) != 0


def _digest(entry: Mapping[str, Any]) -> bytes:
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).digest()


def _status_of(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    status = entry.get("status")
    if status in ERROR_STATUSES:
        return "ERROR", _text(entry.get("error_message")) or str(status)
    return STATUS_CODES.get(status, "UNSET") if isinstance(status, str) else "UNSET", None


# -- attributes --------------------------------------------------------------------------------


def attributes_of(entry: Mapping[str, Any]) -> dict[str, Scalar]:
    """The span's attributes: ``betty.*`` for the entry, then the standard conventions."""
    attributes: dict[str, Scalar] = {}
    flat = _Flattener(attributes)
    for name, value in entry.items():
        if name not in _MAPPED_FIELDS and value is not None:
            flat.add(f"betty.{name}", value)
    duration = entry.get("duration_ms")
    if _is_number(duration):
        flat.add("betty.duration_ms", float(duration))
    for field in ("inputs", "metadata"):
        value = entry.get(field)
        if isinstance(value, Mapping):
            flat.add_mapping(f"betty.{field}", value, 1)
    attributes.update(_conventions(entry))
    if flat.dropped:
        attributes["betty.attributes_dropped"] = flat.dropped
    return attributes


class _Flattener:
    """Adds values as attributes, mappings as dotted keys, up to MAX_ATTRIBUTES of them."""

    def __init__(self, into: dict[str, Scalar]) -> None:
        self.into = into
        self.dropped = 0

    def add(self, key: str, value: object) -> None:
        if len(self.into) >= MAX_ATTRIBUTES:
            self.dropped += 1
        else:
            self.into[key] = attribute_value(value)

    def add_mapping(self, prefix: str, mapping: Mapping[Any, Any], depth: int) -> None:
        for key, value in mapping.items():
            name = f"{prefix}.{key}"
            if isinstance(value, Mapping) and value and depth < MAX_DEPTH:
                self.add_mapping(name, value, depth + 1)
            else:
                self.add(name, value)


def attribute_value(value: object) -> Scalar:
    """A scalar as it is; anything else (lists, mappings, None) as JSON text."""
    if isinstance(value, (str, bool, int, float)):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _conventions(entry: Mapping[str, Any]) -> dict[str, Scalar]:
    """The standard semantic conventions that fit this entry."""
    found: dict[str, Scalar] = {}
    skill = _text(entry.get("skill"))
    if skill and _is_python_name(skill):
        found["code.function.name"] = skill  # the decorator's default name: module.qualname
    if entry.get("status") in ERROR_STATUSES:
        found["error.type"] = _error_type(entry)
    metadata = entry.get("metadata")
    kind = metadata.get("kind") if isinstance(metadata, Mapping) else None
    if isinstance(kind, str) and kind.lower() in KINDS and skill:
        found.update(_kind_conventions(kind.lower(), skill, entry))
    return found


@functools.lru_cache(maxsize=1024)
def _is_python_name(skill: str) -> bool:
    # Remembered: a store holds a few hundred skill names, each on thousands of entries.
    return _PYTHON_NAME.fullmatch(skill) is not None


def _error_type(entry: Mapping[str, Any]) -> str:
    """The exception type an error message starts with ("ValueError: ..."), else the status."""
    message = _text(entry.get("error_message"))
    match = _EXCEPTION_TYPE.match(message or "")
    if match and entry.get("status") == "error":
        return match.group(1)
    return str(entry.get("status"))


def _kind_conventions(kind: str, skill: str, entry: Mapping[str, Any]) -> dict[str, Scalar]:
    span_kind, operation = KINDS[kind]
    found: dict[str, Scalar] = {"openinference.span.kind": span_kind}
    if operation is not None:
        found["gen_ai.operation.name"] = operation
    if kind == "agent":
        found["gen_ai.agent.name"] = skill
    elif kind == "tool":
        found["gen_ai.tool.name"] = found["tool.name"] = skill
        call_id = entry["metadata"].get("tool_use_id")
        if isinstance(call_id, str):
            found["gen_ai.tool.call.id"] = call_id
    inputs = entry.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        found["input.value"] = attribute_value(dict(inputs))
        found["input.mime_type"] = "application/json"
    output = entry["metadata"].get("output")
    if output is not None:
        found["output.value"] = attribute_value(output)
    return found


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
