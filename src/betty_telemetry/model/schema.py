"""The entry schema: the JSON Schema shipped in the package, and the same rules as plain code.

``entry.schema.json`` (draft 2020-12) describes an entry as the library writes it, and, under
``$defs/legacy_entry``, the shapes the original Betty framework wrote too. ``deviations`` applies
the same rules without a JSON Schema library (the core has no dependencies): an entry has no
deviation exactly when the schema accepts it, and only legacy ones exactly when the legacy
schema does (the tests check both on generated entries with the ``jsonschema`` package).

Messages say which field and what is wrong with it, quoting no value: a file's content is
never printed (see ``stores._describe``); only the names of extra fields are shown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import resources

from betty_telemetry.model.entry import ENTRY_FIELDS, VALID_STATUSES
from betty_telemetry.model.times import is_canonical

SCHEMA_FILE = "entry.schema.json"
SCHEMA_ID = "urn:betty-telemetry:schema:entry:1"

# The schema's patterns, as it has them (Python's ``re.search``, as a validator runs them).
_ISO_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
_NOT_BLANK = re.compile(r"\S")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
TRACE_FIELDS = ("trace_id", "span_id", "parent_id")
_WRITTEN = frozenset(ENTRY_FIELDS + TRACE_FIELDS)
_REQUIRED = ENTRY_FIELDS[:5]  # even legacy entries have these
_OPTIONAL = {"inputs": "{}", "error_message": "null", "metadata": "{}"}  # as read when missing
_STATUSES = frozenset(VALID_STATUSES)
_STATUS_CHOICES = ", ".join(VALID_STATUSES)
LEGACY_FAILED = "failed"
EXTRA_FIELDS = "fields the library does not write"
_MAX_NAMES = 8


def schema_text() -> str:
    """The JSON Schema of an entry, as shipped (``betty-telemetry schema`` prints it)."""
    return (resources.files(__package__) / SCHEMA_FILE).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Deviation:
    """How an entry differs from the schema: ``legacy`` if the original framework wrote it so
    (the legacy schema accepts it), else a violation. ``kind`` groups alike deviations of
    many entries; ``message`` says it for one."""

    kind: str
    message: str
    legacy: bool
    fields: tuple[str, ...] = ()
    """The extra fields, for EXTRA_FIELDS."""


def deviations(entry: object) -> list[Deviation]:
    """Every way ``entry`` (a value read from a store) deviates from the entry schema."""
    if type(entry) is not dict:
        what = f"a value that is not an entry ({json_kind(entry)}, not a JSON object)"
        return [Deviation("not an object", what, legacy=False)]
    if tuple(entry) in _AS_WRITTEN and _written_values(entry):
        return []  # the usual entry: the library's fields in its order, each value right
    found: list[Deviation] = []
    for name in _REQUIRED:
        if name not in entry:
            found.append(Deviation(f"no {name}", f"no {name} field", legacy=False))
    for name, read_as in _OPTIONAL.items():
        if name not in entry:
            message = f"no {name} field (read as {read_as})"
            found.append(Deviation(message, message, legacy=True))
    for name, value in entry.items():
        check = _FIELD_CHECKS.get(name)
        if check is not None:
            deviation = check(name, value)
            if deviation is not None:
                found.append(deviation)
    found += _trace_deviations(entry)
    extra = [name for name in entry if name not in _WRITTEN]
    if extra:
        names = ", ".join(extra[:_MAX_NAMES]) + (", ..." if len(extra) > _MAX_NAMES else "")
        message = f"{EXTRA_FIELDS}: {names}"
        found.append(Deviation(EXTRA_FIELDS, message, legacy=True, fields=tuple(extra)))
    return found


_AS_WRITTEN = frozenset({ENTRY_FIELDS, ENTRY_FIELDS + TRACE_FIELDS})


def _written_values(entry: dict[str, object]) -> bool:
    """Whether every field of an entry with the library's fields holds a value it writes
    (the fast path of ``deviations``: no deviation to list)."""
    duration = entry["duration_ms"]
    if type(duration) is float:
        if not (0.0 <= duration < math.inf):
            return False
    elif type(duration) is not int or duration < 0:
        return False
    timestamp, skill, caller = entry["timestamp"], entry["skill"], entry["caller"]
    status, error = entry["status"], entry["error_message"]
    if not (
        type(timestamp) is str
        and len(timestamp) == 32
        and is_canonical(timestamp)
        and type(status) is str
        and status in _STATUSES
        and type(skill) is str
        and skill
        and not skill.isspace()  # as "\S" finds: a character str.isspace() is False for
        and type(caller) is str
        and caller
        and not caller.isspace()
        and type(entry["inputs"]) is dict
        and type(entry["metadata"]) is dict
        and (error is None or type(error) is str)
    ):
        return False
    if len(entry) == len(ENTRY_FIELDS):
        return True
    trace, span, parent = entry["trace_id"], entry["span_id"], entry["parent_id"]
    return _is_hex(trace, 32) and _is_hex(span, 16) and (parent is None or _is_hex(parent, 16))


def _is_hex(value: object, digits: int) -> bool:
    """``^[0-9a-f]{digits}$``, without a regular expression."""
    return type(value) is str and len(value) == digits and not value.strip(_HEX_DIGITS)


_HEX_DIGITS = "0123456789abcdef"


def _timestamp(name: str, value: object) -> Deviation | None:
    if type(value) is not str:
        return Deviation("timestamp type", _not_a("timestamp", value, "a string"), legacy=False)
    if len(value) == 32 and is_canonical(value):
        return None
    if _ISO_TIMESTAMP.search(value) and "\n" not in value:
        message = "timestamp in another form than the library's (UTC, with microseconds)"
        return Deviation(message, message, legacy=True)
    message = "timestamp is not an ISO 8601 date and time"
    return Deviation(message, message, legacy=False)


def _name(name: str, value: object) -> Deviation | None:
    if type(value) is not str:
        return Deviation(f"{name} type", _not_a(name, value, "a string"), legacy=False)
    if _NOT_BLANK.search(value) is None:
        return Deviation(f"{name} blank", f"{name} is empty or only blanks", legacy=False)
    return None


def _status(name: str, value: object) -> Deviation | None:
    if type(value) is str and value in _STATUSES:
        return None
    if value == LEGACY_FAILED:
        message = "status 'failed', the original framework's word for 'failure'"
        return Deviation(message, message, legacy=True)
    what = "" if type(value) is str else f" ({json_kind(value)})"
    message = f"status is not one of: {_STATUS_CHOICES}{what}"
    return Deviation("status", message, legacy=False)


def _duration(name: str, value: object) -> Deviation | None:
    if type(value) is int:
        if value >= 0:
            return None
    elif type(value) is float:
        if 0.0 <= value < math.inf:
            return None
        if math.isnan(value) or value > 0:  # not JSON, but Python's reader takes NaN
            return Deviation("duration", "duration_ms is not a finite number", legacy=False)
    else:
        return Deviation("duration type", _not_a(name, value, "a number"), legacy=False)
    return Deviation("duration negative", "duration_ms is negative", legacy=False)


def _mapping(name: str, value: object) -> Deviation | None:
    if type(value) is dict:
        return None
    return Deviation(f"{name} type", _not_a(name, value, "an object"), legacy=False)


def _error_message(name: str, value: object) -> Deviation | None:
    if value is None or type(value) is str:
        return None
    return Deviation(f"{name} type", _not_a(name, value, "a string or null"), legacy=False)


def _trace_id(name: str, value: object) -> Deviation | None:
    return _hex_id(name, value, _TRACE_ID, 32)


def _span_id(name: str, value: object) -> Deviation | None:
    return _hex_id(name, value, _SPAN_ID, 16)


def _parent_id(name: str, value: object) -> Deviation | None:
    return None if value is None else _hex_id(name, value, _SPAN_ID, 16, " or null")


def _hex_id(
    name: str, value: object, pattern: re.Pattern[str], digits: int, alternative: str = ""
) -> Deviation | None:
    if type(value) is str and len(value) == digits and pattern.search(value):
        return None
    message = f"{name} is not {digits} lowercase hexadecimal digits{alternative}"
    return Deviation(f"{name} form", message, legacy=False)


def _trace_deviations(entry: dict[str, object]) -> list[Deviation]:
    """What is wrong with the trace fields: their values, and that the three come together
    or not at all (``dependentRequired``)."""
    checks = ((_trace_id, "trace_id"), (_span_id, "span_id"), (_parent_id, "parent_id"))
    found = [
        deviation
        for check, name in checks
        if name in entry and (deviation := check(name, entry[name])) is not None
    ]
    missing = [name for name in TRACE_FIELDS if name not in entry]
    if missing and len(missing) < len(TRACE_FIELDS):
        message = f"trace_id, span_id and parent_id go together: no {', '.join(missing)}"
        found.append(Deviation("trace fields", message, legacy=False))
    return found


_FIELD_CHECKS = {
    "timestamp": _timestamp,
    "skill": _name,
    "caller": _name,
    "status": _status,
    "duration_ms": _duration,
    "inputs": _mapping,
    "metadata": _mapping,
    "error_message": _error_message,
}


def _not_a(name: str, value: object, wanted: str) -> str:
    return f"{name} is {json_kind(value)}, not {wanted}"


def json_kind(value: object) -> str:
    """What kind of JSON value ``value`` is, as a message says it: "a string", "null"..."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a JSON array"
    return "a JSON object" if isinstance(value, dict) else type(value).__name__
