"""Entries to JSON text, fast: one line of ASCII per entry.

``json.dumps`` builds a new C encoder on every call, which costs more on a small entry than
the encoding itself. The spec's fields are formatted directly; nested values go through one
C encoder made once. Output is identical to ``json.dumps(entry)`` with default separators.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

_c_make_encoder: Any
try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - every CPython ships the accelerator
    _c_make_encoder = None


def _refuse(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _make_value_encoder() -> Callable[[Any], str]:
    if _c_make_encoder is None:  # pragma: no cover
        return json.JSONEncoder(allow_nan=False, check_circular=False).encode
    # markers=None: no cycle check, values come from to_json_safe, which breaks cycles.
    iterencode = _c_make_encoder(
        None, _refuse, encode_basestring_ascii, None, ": ", ", ", False, False, False
    )
    return lambda value: "".join(iterencode(value, 0))


encode_value: Callable[[Any], str] = _make_value_encoder()
"""JSON text of a safe JSON value (ASCII only, NaN refused)."""

_SPEC_FIELD_COUNT = 8
_TRACED_FIELD_COUNT = _SPEC_FIELD_COUNT + 3


def encode_entry(entry: dict[str, Any]) -> bytes:
    """The entry as one line of JSON, its fields in the entry's order."""
    error = entry["error_message"]
    inputs = entry["inputs"]
    metadata = entry["metadata"]
    text = (
        f'{{"timestamp": "{entry["timestamp"]}", '
        f'"skill": {encode_basestring_ascii(entry["skill"])}, '
        f'"status": "{entry["status"]}", '
        f'"duration_ms": {entry["duration_ms"]!r}, '
        f'"caller": {encode_basestring_ascii(entry["caller"])}, '
        f'"inputs": {encode_value(inputs) if inputs else "{}"}, '
        f'"error_message": {"null" if error is None else encode_basestring_ascii(error)}, '
        f'"metadata": {_encode_metadata(metadata) if metadata else "{}"}'
    )
    if len(entry) > _SPEC_FIELD_COUNT:
        text += _encode_extras(entry)
    return (text + "}").encode("ascii")


def _encode_metadata(metadata: dict[str, Any]) -> str:
    """The JSON text of metadata. The library's redaction notes alone (the metadata of most
    runs with a secret) are written directly: the C encoder costs four times as much on
    this small list of small dicts."""
    if len(metadata) == 1:
        notes = metadata.get("redactions")
        if type(notes) is list:
            text = _encode_notes(notes)
            if text is not None:
                return f'{{"redactions": {text}}}'
    return encode_value(metadata)


def _encode_notes(notes: list[Any]) -> str | None:
    """``[{"path": ..., "rule": ...}, ...]`` as JSON, or None for a list of another shape."""
    parts = []
    for note in notes:
        if type(note) is not dict or len(note) != 2:
            return None
        path, rule = note.get("path"), note.get("rule")
        if type(path) is not str or type(rule) is not str or next(iter(note)) != "path":
            return None
        parts.append(
            f'{{"path": {encode_basestring_ascii(path)}, "rule": {encode_basestring_ascii(rule)}}}'
        )
    return f"[{', '.join(parts)}]"


def _encode_extras(entry: dict[str, Any]) -> str:
    if len(entry) == _TRACED_FIELD_COUNT:
        # The usual case: a run's trace ids, last and in this order, plain hex from spans.
        # Read from the end (no list of the items: that costs a quarter of the encoding).
        last = reversed(entry)
        if next(last) == "parent_id" and next(last) == "span_id" and next(last) == "trace_id":
            parent = entry["parent_id"]
            parent_text = "null" if parent is None else f'"{parent}"'
            return (
                f', "trace_id": "{entry["trace_id"]}", "span_id": "{entry["span_id"]}", '
                f'"parent_id": {parent_text}'
            )
    extras = list(entry.items())[_SPEC_FIELD_COUNT:]
    return "".join(f", {encode_basestring_ascii(k)}: {encode_value(v)}" for k, v in extras)
