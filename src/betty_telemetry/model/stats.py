"""Statistics per group of entries: counts, statuses, failure rate, exact duration percentiles.

Percentiles are exact for the entries read: every duration of a group is kept (8 bytes each,
in an ``array``) and sorted once at the end; a percentile between two durations is linearly
interpolated between them (the "inclusive" method of ``statistics.quantiles``, numpy's
default). A million entries need 8 MB of durations, whatever the grouping.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from betty_telemetry.model.times import canonical_timestamp, is_canonical

GROUPINGS = ("skill", "caller", "status", "day", "hour")
SORTS = ("count", "key")
FAILURE_STATUSES = frozenset({"failure", "error", "timeout", "failed"})
"""Statuses counted in ``failure_rate`` (``failed`` is the original framework's ``failure``)."""
PERCENTILES = (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99))
STATS_KEYS = (
    "key",
    "count",
    "statuses",
    "failure_rate",
    *(name for name, _ in PERCENTILES),
    "max_ms",
    "mean_ms",
    "first",
    "last",
)
"""The keys of every stats row, in order."""


class StatsGroup:
    """The entries of one group as statistics need them: counts, every duration, the span."""

    __slots__ = ("count", "durations", "first", "first_at", "last", "last_at", "statuses")

    def __init__(self) -> None:
        self.count = 0
        self.statuses: dict[str, int] = {}
        self.durations = array("d")
        self.first: str | None = None  # the stored text, and its canonical UTC form
        self.first_at = ""
        self.last: str | None = None
        self.last_at = ""


def compute_stats(
    entries: Iterable[dict[str, Any]], by: str = "skill", sort: str = "count"
) -> list[dict[str, Any]]:
    """One dict per group of ``entries`` (docs/reading.md, Statistics, lists the keys), largest
    group first (``sort="count"``) or in order of the group's key (``sort="key"``)."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    return stats_rows(group_entries(entries, by), sort)


MinuteCounts = Callable[[str, int, int], None]
"""``counted(minute, runs, failures)``: runs that ended in one minute (the first 16 characters
of a canonical UTC timestamp), ``failures`` of them failed."""


def group_entries(
    entries: Iterable[dict[str, Any]], by: str, *, per_minute: MinuteCounts | None = None
) -> dict[Any, StatsGroup]:
    """``entries`` gathered per ``by`` group, for ``stats_rows`` (or a report, which also
    plots each group's durations). ``per_minute`` is told the runs of each minute as the
    loop goes (a report's time line), once per run of entries of the same minute: entries
    come in time order, so it is called about once a minute, not once an entry."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")
    field = by if by in ("skill", "caller", "status") else None
    period_length, period_suffix = (10, "") if by == "day" else (13, ":00")
    groups: dict[Any, StatsGroup] = {}
    minute, runs, failures = "", 0, 0  # the minute per_minute is told about next
    for entry in entries:  # the hot loop of a full scan: kept inline on purpose
        stamp = entry.get("timestamp")
        if type(stamp) is str and is_canonical(stamp):
            moment: str | None = stamp  # the usual case, without a call
        else:
            moment = canonical_timestamp(stamp)
        if field is not None:
            key = entry.get(field)
            if key is not None and type(key) is not str:
                key = str(key)  # foreign entries may hold anything; keys must be hashable
        else:
            key = None if moment is None else moment[:period_length] + period_suffix
        group = groups.get(key)
        if group is None:
            group = groups[key] = StatsGroup()
        group.count += 1
        status = entry.get("status")
        label = status if type(status) is str else str(status)
        group.statuses[label] = group.statuses.get(label, 0) + 1
        duration = entry.get("duration_ms")
        # A run still going (pending) counts as a run, but has no duration yet.
        if (type(duration) is float or type(duration) is int) and label != "pending":
            # try, not contextlib.suppress: a context manager per entry costs a third of
            # this loop. An int beyond float range cannot be ranked.
            try:  # noqa: SIM105
                group.durations.append(duration)
            except OverflowError:
                pass
        if moment is not None:
            if group.first is None or moment < group.first_at:
                group.first, group.first_at = stamp, moment
            if group.last is None or moment > group.last_at:
                group.last, group.last_at = stamp, moment
            if per_minute is not None:
                if moment[:16] != minute:
                    if runs:
                        per_minute(minute, runs, failures)
                    minute, runs, failures = moment[:16], 0, 0
                runs += 1
                failures += label in FAILURE_STATUSES
    if runs and per_minute is not None:
        per_minute(minute, runs, failures)
    return groups


def stats_rows(groups: dict[Any, StatsGroup], sort: str = "count") -> list[dict[str, Any]]:
    """One stats row per group, ordered as ``compute_stats`` orders them."""
    rows = [summary(key, group) for key, group in groups.items()]
    if sort == "count":
        rows.sort(key=lambda row: (-row["count"], _sortable(row["key"])))
    else:
        rows.sort(key=lambda row: _sortable(row["key"]))
    return rows


def merged(groups: Iterable[StatsGroup]) -> StatsGroup:
    """One group holding the entries of all ``groups`` (the totals of a period)."""
    whole = StatsGroup()
    for group in groups:
        whole.count += group.count
        for status, count in group.statuses.items():
            whole.statuses[status] = whole.statuses.get(status, 0) + count
        whole.durations.extend(group.durations)
        if group.first is not None and (whole.first is None or group.first_at < whole.first_at):
            whole.first, whole.first_at = group.first, group.first_at
        if group.last is not None and (whole.last is None or group.last_at > whole.last_at):
            whole.last, whole.last_at = group.last, group.last_at
    return whole


def ranked_durations(group: StatsGroup) -> list[float]:
    """The group's durations that can be ranked (NaN cannot), in order."""
    return sorted(value for value in group.durations if not math.isnan(value))


def summary(key: Any, group: StatsGroup) -> dict[str, Any]:
    """The stats row of one group (keys: ``STATS_KEYS``)."""
    durations = ranked_durations(group)
    failures = sum(count for status, count in group.statuses.items() if status in FAILURE_STATUSES)
    row: dict[str, Any] = {
        "key": key,
        "count": group.count,
        "statuses": dict(sorted(group.statuses.items(), key=lambda item: (-item[1], item[0]))),
        "failure_rate": failures / group.count if group.count else None,  # (merged: none)
    }
    for name, percent in PERCENTILES:
        row[name] = percentile(durations, percent)
    row["max_ms"] = durations[-1] if durations else None
    row["mean_ms"] = math.fsum(durations) / len(durations) if durations else None
    row["first"] = group.first
    row["last"] = group.last
    return row


def percentile(ordered: list[float], percent: float) -> float | None:
    """The ``percent`` percentile of ``ordered`` (sorted), linearly interpolated."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * percent / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _sortable(key: Any) -> tuple[bool, str]:
    return (key is None, "" if key is None else str(key))
