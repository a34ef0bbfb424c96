"""Building an entry: validated arguments, redacted values, the library's notes, and the
size limit, applied once for every interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from betty_telemetry._config import redaction_rules
from betty_telemetry.capture.encode import encode_entry, encode_value
from betty_telemetry.capture.spans import Span
from betty_telemetry.model.entry import (
    check_arguments,
    utc_timestamp,
    validate_mapping,
    validate_status,
)
from betty_telemetry.redaction import RedactionRules, Sanitizer, clean_mapping_items
from betty_telemetry.stores.base import Encoded

_UNKNOWN_NAME = ("", ("not checked yet",))

NO_OUTPUT: Any = object()
"""Sentinel for build_entry's ``output``: no output was captured."""


def build_entry(
    skill: object,
    status: object,
    duration_ms: object,
    caller: object,
    inputs: object = None,
    error_message: object = None,
    metadata: object = None,
    rules: RedactionRules | None = None,
    span: Span | None = None,
    *,
    output: object = NO_OUTPUT,
    prepared: tuple[Sanitizer | None, dict[str, Any]] | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """Validate the arguments and return a new entry: the spec's fields in order, then the
    trace ids of ``span`` if given. (``rules`` and ``span`` may be passed by position, as
    ``capture()`` does on every call: a keyword argument costs more to pass.)

    Programmer errors raise ValueError. Values inside ``inputs``, ``metadata``, ``output`` and
    the error message never do: they are converted to safe JSON values and redacted by
    ``rules``; where that happened, and where long text was cut, is noted in ``metadata``.
    ``prepared`` passes inputs already cleaned (before the run) with their sanitizer;
    ``timestamp`` one taken earlier (when the entry was queued), instead of now.
    """
    duration_ms = check_arguments(skill, status, duration_ms, caller, error_message)
    rules = rules or redaction_rules()
    if type(status) is not str:
        status = validate_status(status)
    sanitizer, cleaned_inputs = prepared if prepared is not None else (None, None)
    if cleaned_inputs is None:
        cleaned_inputs, sanitizer = clean_mapping(rules, sanitizer, "inputs", inputs)
    return assemble_entry(
        rules,
        sanitizer,
        skill,  # type: ignore[arg-type]
        status,
        duration_ms,
        caller,  # type: ignore[arg-type]
        cleaned_inputs,
        error_message,  # type: ignore[arg-type]
        metadata,  # type: ignore[arg-type]
        output,
        span,
        timestamp,
    )


def assemble_entry(
    rules: RedactionRules,
    sanitizer: Sanitizer | None,
    skill: str,
    status: str,
    duration_ms: float,
    caller: str,
    cleaned_inputs: dict[str, Any],
    error_message: str | None,
    metadata: Mapping[str, Any] | None,
    output: object,
    span: Span | None,
    timestamp: str | None,
) -> dict[str, Any]:
    """The entry from arguments already checked (``build_entry`` checks them; a run's are
    valid by construction): metadata, output and error redacted, names checked, notes added.
    Positional only, for the hot path: keyword arguments cost more to pass."""
    if metadata is None:  # the usual case, without a call
        cleaned_metadata: dict[str, Any] = {}
    else:
        cleaned_metadata, sanitizer = clean_mapping(rules, sanitizer, "metadata", metadata)
    if output is not NO_OUTPUT or error_message is not None:
        sanitizer = sanitizer or Sanitizer(rules)
        if output is not NO_OUTPUT:
            key = note_key(cleaned_metadata, "output")
            cleaned_metadata[key] = sanitizer.clean(output, f"metadata.{key}")
        if error_message is not None:
            error_message = sanitizer.clean_text(error_message, "error_message")
    # Names are secrets' last hiding place: tokens pasted as a skill, URLs as a caller. A name
    # seen before is looked up (the hot path); a new one is checked, and remembered.
    known_names = rules.known_names
    if type(skill) is not str or (known_names.get(skill) or _UNKNOWN_NAME)[1]:
        sanitizer = sanitizer or Sanitizer(rules)
        skill = sanitizer.clean_name(skill, "skill")
    if type(caller) is not str or (known_names.get(caller) or _UNKNOWN_NAME)[1]:
        sanitizer = sanitizer or Sanitizer(rules)
        caller = sanitizer.clean_name(caller, "caller")
    entry = {
        "timestamp": timestamp or utc_timestamp(),
        "skill": skill,
        "status": status,
        "duration_ms": duration_ms + 0.0,
        "caller": caller,
        "inputs": cleaned_inputs,
        "error_message": error_message,
        "metadata": cleaned_metadata,
    }
    if sanitizer is not None and (sanitizer.redactions or sanitizer.truncations):
        _add_notes(cleaned_metadata, sanitizer)
    if span is not None:
        entry["trace_id"] = span.trace_id
        entry["span_id"] = span.span_id
        entry["parent_id"] = span.parent_id
    return entry


def clean_mapping(
    rules: RedactionRules, sanitizer: Sanitizer | None, field: str, value: object
) -> tuple[dict[str, Any], Sanitizer | None]:
    """``value`` (inputs or metadata) cleaned, and the sanitizer that did it, if one was needed:
    flat plain mappings, the usual case, are copied without the walk."""
    if not value and (value is None or type(value) is dict):
        return {}, sanitizer
    return clean_mapping_items(rules, sanitizer, validate_mapping(field, value), field)


MAX_ENTRY_BYTES = 64 * 1024
NOTES_PREFIX = "betty_telemetry."


def note_key(metadata: dict[str, Any], name: str) -> str:
    """Where the library writes its note ``name`` (``redactions``, ``truncated``, ``output``):
    under that name, unless the caller's metadata already uses it; then the caller's value
    stays and the note goes under ``betty_telemetry.<name>``."""
    return name if name not in metadata else NOTES_PREFIX + name


def _add_notes(metadata: dict[str, Any], sanitizer: Sanitizer) -> None:
    if sanitizer.redactions:
        key = "redactions" if "redactions" not in metadata else NOTES_PREFIX + "redactions"
        metadata[key] = sanitizer.report()
    if sanitizer.truncations:
        key = "truncated" if "truncated" not in metadata else NOTES_PREFIX + "truncated"
        metadata[key] = sanitizer.truncations


def _is_note(name: str, value: object) -> bool:
    """Whether ``value``, found under ``name`` in metadata, is one of the library's notes:
    ``betty_telemetry.*``, or a ``redactions``/``truncated`` list of the library's shape."""
    if name.startswith(NOTES_PREFIX):
        return True
    if name == "truncated":
        return type(value) is list and all(type(path) is str for path in value)
    if name == "redactions":
        return type(value) is list and all(type(note) is dict for note in value)
    return False


def _truncated_key(metadata: dict[str, Any]) -> str:
    if NOTES_PREFIX + "truncated" in metadata:
        return NOTES_PREFIX + "truncated"
    if "truncated" in metadata and not _is_note("truncated", metadata["truncated"]):
        return NOTES_PREFIX + "truncated"
    return "truncated"


def fit_to_size(entry: dict[str, Any], line: bytes) -> tuple[dict[str, Any], bytes]:
    """The entry and its encoded line, shrunk field by field to MAX_ENTRY_BYTES if larger.

    The largest values of ``inputs`` and ``metadata`` (and the error message) are replaced by
    a marker giving their size, largest first, until the entry fits; ``metadata["truncated"]``
    lists them. An entry is never dropped for its size. ``entry`` itself is left as it is:
    its holder (a context manager's ``entry``, read on another thread) may still use it.
    """
    if len(line) <= MAX_ENTRY_BYTES:
        return entry, line
    entry = {**entry, "inputs": {**entry["inputs"]}, "metadata": {**entry["metadata"]}}
    excess = len(line) - MAX_ENTRY_BYTES
    removed: list[str] = []
    for cost, field, key in _largest_values(entry):
        if excess <= 0:
            break
        marker = f"<removed to fit the {MAX_ENTRY_BYTES // 1024} KiB entry limit: {cost} bytes>"
        if key is None:
            entry[field] = marker
        else:
            entry[field][key] = marker
        removed.append(field if key is None else f"{field}.{key}")
        excess -= cost - len(marker) - 2
    key = _truncated_key(entry["metadata"])
    entry["metadata"][key] = [*entry["metadata"].get(key, []), *removed]
    line = encode_entry(entry)
    if len(line) > MAX_ENTRY_BYTES:  # too many small values: keep the record, drop the detail
        entry["inputs"] = {}
        entry["metadata"] = {"truncated": ["inputs", "metadata"]}
        line = encode_entry(entry)
    return entry, line


def _largest_values(entry: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    sizes: list[tuple[int, str, str | None]] = [
        (len(encode_value(value)), field, key)
        for field in ("inputs", "metadata")
        for key, value in entry[field].items()
        if not (field == "metadata" and _is_note(key, value))
    ]
    if entry["error_message"]:
        sizes.append((len(encode_value(entry["error_message"])), "error_message", None))
    return sorted(sizes, key=lambda size: size[0], reverse=True)


def encoded(entry: dict[str, Any]) -> Encoded:
    """The entry as every sink receives it: encoded once, and shrunk first if it is over
    the size limit (then the entry is the shrunk copy)."""
    line = encode_entry(entry)
    if len(line) > MAX_ENTRY_BYTES:
        entry, line = fit_to_size(entry, line)
    return _new_encoded(Encoded, (entry, line))


# A NamedTuple's own __new__ is a Python function: on the hot path, build it as the C does.
_new_encoded = tuple.__new__
