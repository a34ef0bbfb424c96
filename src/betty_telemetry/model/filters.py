"""Which entries a read wants: validated filters, and the exact test on an entry.

``EntryFilter.build`` turns user arguments into a filter or raises ValueError saying what was
wrong and what is accepted. ``matches`` is the exact test on an entry. A filter says *what*
matches, never *how* to find it: each store translates it (byte pre-tests in the JSON stores,
SQL in SQLite).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from betty_telemetry.model.checks import is_finite_at_least
from betty_telemetry.model.entry import VALID_STATUSES
from betty_telemetry.model.times import canonical_timestamp, parse_moment
from betty_telemetry.model.types import StoredStatus

LEGACY_STATUSES = ("failed",)
"""Statuses the original framework wrote, accepted in filters (it wrote ``failed`` for a
failure; a filter matches it only when asked for by name)."""

OUT_OF_ORDER = timedelta(minutes=10)
"""How far out of time order an entry may sit in the file and still be found by ``since``.

Entries are appended in the order they finish, so their timestamps rise along the file, give
or take the moments between timestamping and taking the lock. A newest-first read with
``since`` stops at the first entry of ours older than ``since - OUT_OF_ORDER``.
"""

_KNOWN = frozenset(VALID_STATUSES + LEGACY_STATUSES)
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_GLOB_CHARS = frozenset("*?[")


class NamePattern:
    """An exact name, or a glob (``agent.*``, ``*.run``, ``plugin.?uild``), case-sensitive."""

    __slots__ = ("exact", "regex", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.exact = not _GLOB_CHARS.intersection(text)
        self.regex = None if self.exact else re.compile(fnmatch.translate(text))

    def matches(self, value: object) -> bool:
        if type(value) is not str:
            return False
        if self.regex is None:
            return value == self.text
        return self.regex.match(value) is not None


class TimeAndTextFilters(TypedDict, total=False):
    """The keyword filters every read method takes besides skill, status and caller."""

    since: datetime | date | timedelta | str
    until: datetime | date | timedelta | str
    trace_id: str
    min_duration_ms: float
    text: str


class Filters(TimeAndTextFilters, total=False):
    """Every keyword filter of the read methods (see ``EntryFilter.build``)."""

    skill: str
    status: StoredStatus | Iterable[StoredStatus]
    caller: str


@dataclass(frozen=True)
class EntryFilter:
    """Entry filters; a field left as None matches every entry. Build with ``build``."""

    skill: NamePattern | None = None
    statuses: frozenset[str] | None = None
    caller: NamePattern | None = None
    since: str | None = None
    until: str | None = None
    trace_id: str | None = None
    min_duration_ms: float | None = None
    text: str | None = None
    with_trace: bool = False
    """Only entries that belong to a trace (a non-empty ``trace_id``)."""

    @classmethod
    def build(
        cls,
        *,
        skill: str | None = None,
        status: str | Iterable[str] | None = None,
        caller: str | None = None,
        since: object = None,
        until: object = None,
        trace_id: str | None = None,
        min_duration_ms: float | None = None,
        text: str | None = None,
        now: datetime | None = None,
    ) -> EntryFilter:
        """Check every argument and return the filter; ValueError names what was wrong."""
        since_text = None if since is None else parse_moment("since", since, now)
        until_text = None if until is None else parse_moment("until", until, now, end_of_day=True)
        if since_text is not None and until_text is not None and since_text > until_text:
            raise ValueError(
                f"since ({since_text}) is after until ({until_text}): no entry can match; swap them"
            )
        return cls(
            skill=_name_pattern("skill", skill),
            statuses=_statuses(status),
            caller=_name_pattern("caller", caller),
            since=since_text,
            until=until_text,
            trace_id=check_trace_id(trace_id),
            min_duration_ms=_min_duration(min_duration_ms),
            text=_search_text(text),
        )

    @property
    def is_empty(self) -> bool:
        return self == _EMPTY

    def fields(self) -> set[str]:
        """The entry fields this filter looks at."""
        looked_at = {
            "skill": self.skill,
            "status": self.statuses,
            "caller": self.caller,
            "timestamp": self.since or self.until,
            "trace_id": self.trace_id or self.with_trace or None,
            "duration_ms": self.min_duration_ms,
        }
        used = {name for name, value in looked_at.items() if value is not None}
        return used | ({"error_message", "error"} if self.text is not None else set())

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """The exact test: every given filter holds for ``entry``."""
        if self.skill is not None and not self.skill.matches(entry.get("skill")):
            return False
        if self.statuses is not None and not _is_one_of(entry.get("status"), self.statuses):
            return False
        if self.caller is not None and not self.caller.matches(entry.get("caller")):
            return False
        if self.trace_id is not None and entry.get("trace_id") != self.trace_id:
            return False
        if self.with_trace and not _has_trace(entry):
            return False
        if self.min_duration_ms is not None and not _lasted(entry, self.min_duration_ms):
            return False
        if (self.since is not None or self.until is not None) and not self._in_window(entry):
            return False
        return self.text is None or _mentions(entry, self.text)

    def _in_window(self, entry: Mapping[str, Any]) -> bool:
        moment = canonical_timestamp(entry.get("timestamp"))
        if moment is None:
            return False
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment <= self.until
        )


_EMPTY = EntryFilter()


def _has_trace(entry: Mapping[str, Any]) -> bool:
    trace_id = entry.get("trace_id")
    return type(trace_id) is str and bool(trace_id)


def _is_one_of(value: object, choices: frozenset[str]) -> bool:
    return type(value) is str and value in choices


def _lasted(entry: Mapping[str, Any], minimum: float) -> bool:
    duration = entry.get("duration_ms")
    return (type(duration) is float or type(duration) is int) and duration >= minimum


def error_text(entry: Mapping[str, Any]) -> str | None:
    """The entry's error message; the original framework sometimes wrote it as ``error``."""
    message = entry.get("error_message")
    if type(message) is str:
        return message
    legacy = entry.get("error")
    return legacy if type(legacy) is str else None


def _mentions(entry: Mapping[str, Any], folded_text: str) -> bool:
    message = error_text(entry)
    return message is not None and folded_text in message.casefold()


def _name_pattern(field: str, value: object) -> NamePattern | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{field} must be a non-empty name or glob (e.g. 'agent.run' or 'agent.*'), "
            f"got {value!r}"
        )
    return NamePattern(value)


def _statuses(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        values: list[object] = [value]
    elif isinstance(value, Iterable):
        values = list(value)
    else:
        raise ValueError(
            f"status must be one status or a list of them ({', '.join(VALID_STATUSES)}, "
            f"or 'failed'), got {value!r}"
        )
    unknown = [repr(item) for item in values if not (isinstance(item, str) and item in _KNOWN)]
    if unknown or not values:
        raise ValueError(
            f"Unknown status {', '.join(unknown) or '(empty list)'}: use one or more of "
            f"{', '.join(VALID_STATUSES)} (or 'failed', written by the original framework)"
        )
    return frozenset(str(status) for status in values)


def check_trace_id(value: object) -> str | None:
    """A trace id as entries store it (32 lowercase hex digits), or None."""
    if value is None:
        return None
    if isinstance(value, str) and _TRACE_ID.fullmatch(value.strip().lower()):
        return value.strip().lower()
    raise ValueError(
        f"trace_id must be 32 hexadecimal digits, as in an entry's trace_id, got {value!r}"
    )


def _min_duration(value: object) -> float | None:
    if value is None:
        return None
    if not is_finite_at_least(value, 0):
        raise ValueError(
            f"min_duration_ms must be a finite number of milliseconds >= 0, got {value!r}"
        )
    return float(value)


def _search_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"text must be a non-empty string to look for in errors, got {value!r}")
    return value.casefold()
