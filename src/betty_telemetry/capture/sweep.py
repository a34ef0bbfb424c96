"""Sweeping runs that will never end: a pending entry older than its limit gets a final one.

A run killed (``kill -9``, a crash, a machine that lost power) never writes its final entry,
and stays pending for ever. As Sentry's cron monitors and MLflow's trace timeout do, a run
pending for longer than its limit is declared ``timeout``: the sweep appends the final entry
the run would have written (same trace, span and parent, so it takes the pending entry's place
in every reader), lasting from the pending entry's timestamp to now, with an error message
that says what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from betty_telemetry.capture.build import build_entry, note_key
from betty_telemetry.capture.spans import Span
from betty_telemetry.model.filters import NamePattern
from betty_telemetry.model.runs import PENDING_NOTE
from betty_telemetry.model.times import parse_age, timestamp_micros

DEFAULT_STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class StaleLimits:
    """How long a run may stay pending: per skill (the first matching glob wins), else the
    default. Build with ``StaleLimits.build``."""

    default: timedelta
    per_skill: tuple[tuple[NamePattern, timedelta], ...] = ()

    @classmethod
    def build(
        cls,
        default: timedelta | str | None = None,
        per_skill: Mapping[str, timedelta | str] | None = None,
    ) -> StaleLimits:
        """ValueError naming what was wrong for a bad age or skill pattern."""
        limit = DEFAULT_STALE_AFTER if default is None else parse_age("stale_after", default)
        patterns = tuple(
            (NamePattern(_skill_pattern(skill)), parse_age(f"stale_after[{skill!r}]", age))
            for skill, age in (per_skill or {}).items()
        )
        return cls(limit, patterns)

    def of(self, skill: object) -> timedelta:
        for pattern, limit in self.per_skill:
            if pattern.matches(skill):
                return limit
        return self.default

    def exceeded_by(self, pending: dict[str, Any], age: timedelta | None) -> bool:
        """Whether ``pending``, ``age`` old (``age_of``), is past its skill's limit; a
        pending entry without a readable time never is."""
        return age is not None and age > self.of(pending.get("skill"))


def _skill_pattern(skill: object) -> str:
    if not isinstance(skill, str) or not skill:
        raise ValueError(f"a stale_after skill must be a non-empty name or glob, got {skill!r}")
    return skill


def age_of(entry: dict[str, Any], now: datetime) -> timedelta | None:
    """How long ago a pending entry was written (None if its timestamp cannot be read)."""
    started = timestamp_micros(entry.get("timestamp"))
    if started is None:
        return None
    now_micros = int(now.timestamp() * 1_000_000)
    return timedelta(microseconds=max(0, now_micros - started))


def stale(
    pending: Iterable[dict[str, Any]], limits: StaleLimits, now: datetime
) -> list[dict[str, Any]]:
    """The pending entries older than their limit (those without a readable time are not)."""
    return [entry for entry in pending if limits.exceeded_by(entry, age_of(entry, now))]


def timeout_entry(pending: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The final entry declaring the run of ``pending`` a timeout, or None if ``pending`` has
    no span to replace (a pending entry written by hand, outside any run)."""
    span = _span_of(pending)
    age = age_of(pending, now)
    if span is None or age is None:
        return None
    metadata = dict(pending.get("metadata") or {})
    metadata[note_key(metadata, PENDING_NOTE)] = pending["timestamp"]
    message = (
        f"still pending after {_spoken(age)}: declared a timeout by `betty-telemetry running "
        "--sweep` (the run was killed, crashed, or could not record its end)"
    )
    inputs = pending.get("inputs")
    return build_entry(
        span.skill,
        "timeout",
        age.total_seconds() * 1000,
        _text(pending.get("caller"), "unknown"),
        inputs if isinstance(inputs, dict) else None,
        message,
        metadata,
        None,
        span,
        timestamp=now.astimezone(timezone.utc).isoformat(),
    )


def _span_of(entry: dict[str, Any]) -> Span | None:
    trace_id, span_id, parent_id = (entry.get(key) for key in ("trace_id", "span_id", "parent_id"))
    if type(trace_id) is not str or type(span_id) is not str:
        return None
    parent = parent_id if type(parent_id) is str else None
    return Span(trace_id, span_id, parent, _text(entry.get("skill"), "unknown"))


def _text(value: object, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _spoken(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
