"""The telemetry entry: its fields, statuses, argument checks and how entries are read back."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import Any

VALID_STATUSES: tuple[str, ...] = ("success", "failure", "timeout", "error", "pending")
"""The statuses a new entry may have, in the spec's order."""

ENTRY_FIELDS: tuple[str, ...] = (
    "timestamp",
    "skill",
    "status",
    "duration_ms",
    "caller",
    "inputs",
    "error_message",
    "metadata",
)
"""The spec's fields, in the order every entry stores them."""

DROPPED_SKILL = "betty_telemetry.dropped"
"""The skill of the entry a background writer stores when it had to drop entries: its
``metadata`` holds ``dropped`` (how many) and ``reasons`` (reason -> how many)."""

SUMMARY_FIELDS: tuple[str, ...] = ENTRY_FIELDS[:5]
"""The fields statistics look at (timestamp, skill, status, duration_ms, caller): a store may
read only these when a caller asks for nothing else."""

_STATUS_SET = frozenset(VALID_STATUSES)
_STATUS_TEXT = {status: status for status in VALID_STATUSES}
_STATUS_CHOICES = ", ".join(VALID_STATUSES)


def validate_status(status: object) -> str:
    """Return ``status`` if it is one of VALID_STATUSES, else raise the spec's ValueError.

    A ``str`` subclass equal to a status (a ``class Status(str, Enum)`` member) gives the
    plain text: stored as ``"Status.SUCCESS"``, no query would find it."""
    if isinstance(status, str) and status in _STATUS_SET:
        return _STATUS_TEXT[status]
    raise ValueError(f"Invalid status: {status}. Must be one of: {_STATUS_CHOICES}")


def is_valid_status(status: object) -> bool:
    return isinstance(status, str) and status in _STATUS_SET


def validate_name(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        role = _NAME_ROLE.get(field, _NAME_ROLE["skill"])
        raise ValueError(f"{field} must be a non-empty string naming the {role}, got {value!r}")
    return value


_NAME_ROLE = {"skill": "skill, agent or workflow that ran", "caller": "caller (e.g. 'CLI')"}


def one_skill_name(skill_name: str | None, skill: str | None) -> str | None:
    """The skill named by either spelling (the decorator's ``skill_name=``, the context
    manager's ``skill=``: each takes both), refusing two different names."""
    if skill_name is not None and skill is not None and skill_name != skill:
        raise TypeError(
            f"give the skill once, as skill= or skill_name=, not both ({skill!r}, {skill_name!r})"
        )
    return skill_name if skill_name is not None else skill


def validate_duration(duration_ms: object) -> float:
    """Return ``duration_ms`` as a float, refusing bools, non-numbers, NaN, infinities and < 0."""
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, (int, float)):
        raise ValueError(
            f"duration_ms must be a number of milliseconds, got {type(duration_ms).__name__} "
            f"{duration_ms!r}"
        )
    try:
        value = float(duration_ms)
    except OverflowError:  # an int beyond float range
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"duration_ms must be a finite number >= 0, got {duration_ms!r}")
    return value + 0.0  # turns -0.0 into 0.0


def validate_mapping(field: str, value: object) -> dict[Any, Any]:
    if type(value) is dict:
        return value
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{field} must be a mapping (dict) or None, got {type(value).__name__}; "
            f"wrap the value, e.g. {field}={{'value': ...}}"
        )
    # The caller handed us this mapping as the field itself, so reading it is expected;
    # mappings nested deeper are only repr'd (see to_json_safe).
    return dict(value)


def _validate_error_message(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(
        f"error_message must be a string or None, got {type(value).__name__}; "
        "pass str(error) for an exception"
    )


def utc_timestamp() -> str:
    """Now, as ISO 8601 UTC with microseconds always present and a ``+00:00`` offset.

    Same text as ``datetime.now(timezone.utc).isoformat(timespec="microseconds")`` at a
    fraction of the cost: the date and time of day are formatted once per second.
    """
    second, fraction = divmod(time.time_ns() // 1000, 1_000_000)
    return f"{_second_text(second)}.{fraction:06d}+00:00"


@functools.lru_cache(maxsize=1)
def _second_text(second: int) -> str:
    # One second remembered (in the cache, not a module global): formatted once per second.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def check_arguments(
    skill: object, status: object, duration_ms: object, caller: object, error_message: object
) -> float:
    """Raise the programmer-facing ValueError for a bad argument; return the duration as a
    float."""
    # Exact-type checks first: this runs on every capture, and the common case is cheap.
    if type(status) is not str or status not in _STATUS_SET:
        validate_status(status)
    if type(duration_ms) is not float or not 0.0 <= duration_ms < math.inf:
        duration_ms = validate_duration(duration_ms)
    if type(skill) is not str or not skill.strip():
        validate_name("skill", skill)
    if type(caller) is not str or not caller.strip():
        validate_name("caller", caller)
    if error_message is not None and type(error_message) is not str:
        _validate_error_message(error_message)
    return duration_ms


def copy_mapping(field: str, value: object) -> dict[Any, Any]:
    """``value`` (inputs or metadata) as a new dict, or ValueError if it is not a mapping."""
    if type(value) is dict:
        return dict(value)
    return {} if value is None else validate_mapping(field, value)


_MAPPING_FIELDS = frozenset({"inputs", "metadata"})


def normalize_entry(raw: dict[str, Any]) -> dict[str, Any]:
    """An entry as read: the spec's fields first, in order, then any extra keys as stored.

    Entries written by the original framework may lack fields (no ``error_message``, no
    ``metadata``); they get ``None`` (``{}`` for inputs and metadata) so code written against
    the spec can index every field. Stored values are never altered.
    """
    if tuple(raw)[:8] == ENTRY_FIELDS:
        return raw
    entry = {name: raw.get(name, {} if name in _MAPPING_FIELDS else None) for name in ENTRY_FIELDS}
    entry.update((name, value) for name, value in raw.items() if name not in entry)
    return entry
