"""Statistics in SQL, equal to ``compute_stats`` over the same entries read newest first.

Statistics of every entry by skill, the common case, come from the totals (rollup.py) and the
(skill, duration_ms) index: a percentile is the one or two durations at its position in the
skill's ordered durations, found by walking the index from the nearer end, and interpolated by
``model.stats.percentile`` itself. Both hold one row per run (runs.py marks the rows a run's
final entry replaces) and no pending row's duration, as compute_stats counts. Anything else
(a filter, another grouping, a table holding odd rows) streams the columns statistics look
at, newest first, through ``compute_stats`` with the one-run rule applied as every reader
applies it: exact by construction, reading no body but those of odd rows and of entries
noting a pending one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.runs import newest_first_runs, widened, with_finals
from betty_telemetry.model.stats import FAILURE_STATUSES, PERCENTILES, compute_stats, percentile
from betty_telemetry.stores.sqlite import rollup
from betty_telemetry.stores.sqlite.schema import COUNTED
from betty_telemetry.stores.sqlite.where import where_for

FETCH_ROWS = 2048


def stats(
    connection: sqlite3.Connection, wanted: EntryFilter, by: str, sort: str
) -> list[dict[str, Any]]:
    """Call inside a read transaction (every query sees the same rows)."""
    compute_stats((), by, sort)  # the same ValueError for a bad ``by`` or ``sort``
    if wanted.is_empty and by == "skill" and not has_odd_rows(connection):
        return _by_skill(connection, rollup.current(connection), sort)
    entries = newest_first_runs(_summaries(connection, with_finals(wanted)))
    if widened(wanted):
        statuses = wanted.statuses or ()
        entries = (entry for entry in entries if entry.get("status") in statuses)
    return compute_stats(entries, by, sort)


def has_odd_rows(connection: sqlite3.Connection) -> bool:
    return bool(connection.execute("SELECT EXISTS (SELECT 1 FROM entries WHERE odd)").fetchone()[0])


def _summaries(connection: sqlite3.Connection, wanted: EntryFilter) -> Iterator[dict[str, Any]]:
    """The matching entries, newest first, as far as statistics look at them."""
    where = where_for(wanted)
    # Bodies are read for odd rows, and for the entries that note a pending one (model.runs),
    # whose notes decide which entry counts; every other row's span id is its column (the
    # rule hides any entry of a replaced span, not only the pending one).
    cursor = connection.execute(
        "SELECT odd, CASE WHEN odd OR (span_id IS NOT NULL AND instr(body, 'pending_at')) "
        "THEN body END, coalesce(timestamp, moment), skill, status, "
        f"duration_ms, caller, span_id FROM entries WHERE {where.sound} ORDER BY id DESC",
        where.sound_params,
    )
    while rows := cursor.fetchmany(FETCH_ROWS):
        for odd, body, stamp, skill, status, duration, caller, span_id in rows:
            if odd:
                entry = json.loads(body)
                if wanted.matches(entry):
                    yield entry
            elif body is not None:
                yield json.loads(body)
            else:
                yield {
                    "timestamp": stamp,
                    "skill": skill,
                    "status": status,
                    "duration_ms": duration,
                    "caller": caller,
                    "span_id": span_id,
                }


def _by_skill(
    connection: sqlite3.Connection, current: dict[rollup.Key, rollup.Totals], sort: str
) -> list[dict[str, Any]]:
    groups: dict[str | None, tuple[rollup.Totals, dict[str, int]]] = {}
    for (skill, status), totals in current.items():
        merged, statuses = groups.setdefault(skill, (rollup.Totals(), {}))
        merged.merge(totals)
        label = "None" if status is None else status  # compute_stats: str(status)
        statuses[label] = statuses.get(label, 0) + totals.entries
    rows = [_row(connection, skill, *group) for skill, group in groups.items()]
    if sort == "count":
        rows.sort(key=lambda row: (-row["count"], _sortable(row["key"])))
    else:
        rows.sort(key=lambda row: _sortable(row["key"]))
    return rows


def _row(
    connection: sqlite3.Connection,
    skill: str | None,
    totals: rollup.Totals,
    statuses: dict[str, int],
) -> dict[str, Any]:
    failures = sum(count for status, count in statuses.items() if status in FAILURE_STATUSES)
    durations = SkillDurations(connection, skill, totals.durations)
    row: dict[str, Any] = {
        "key": skill,
        "count": totals.entries,
        "statuses": dict(sorted(statuses.items(), key=lambda item: (-item[1], item[0]))),
        "failure_rate": failures / totals.entries,
    }
    for name, percent in PERCENTILES:
        row[name] = percentile(durations, percent)  # type: ignore[arg-type]
    count = totals.durations
    row["max_ms"] = durations[count - 1] if count else None
    row["mean_ms"] = rollup.units_to_float(totals.duration_sum) / count if count else None
    row["first"] = _stored_timestamp(connection, totals.first)
    row["last"] = _stored_timestamp(connection, totals.last)
    return row


class SkillDurations:
    """One skill's durations in ascending order, as a sequence ``percentile`` can index:
    each lookup walks the (skill, duration_ms) index from the nearer end, two rows at once
    (a percentile reads two neighbours)."""

    def __init__(self, connection: sqlite3.Connection, skill: str | None, count: int) -> None:
        self._connection = connection
        self._skill = skill
        self._count = count
        self._known: dict[int, float] = {}

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> float:
        if index not in self._known:
            self._fetch(index)
        return self._known[index]

    def _fetch(self, index: int) -> None:
        match = "skill IS NULL" if self._skill is None else "skill = ?"
        params: tuple[Any, ...] = () if self._skill is None else (self._skill,)
        if index < self._count // 2:
            order, offset, step = "", index, 1
        else:  # from the top: the rows at index + 1 and index
            offset = max(self._count - 2 - index, 0)
            order, index, step = " DESC", self._count - 1 - offset, -1
        values = self._connection.execute(
            f"SELECT duration_ms FROM entries WHERE {COUNTED} AND {match} "
            f"AND duration_ms IS NOT NULL ORDER BY duration_ms{order} LIMIT 2 OFFSET ?",
            (*params, offset),
        ).fetchall()
        for position, (value,) in enumerate(values):
            self._known[index + step * position] = value


def _stored_timestamp(connection: sqlite3.Connection, mark: rollup.Mark | None) -> str | None:
    if mark is None:
        return None
    row = connection.execute(
        "SELECT coalesce(timestamp, moment) FROM entries WHERE id = ?", (mark[1],)
    ).fetchone()
    return None if row is None else str(row[0])


def _sortable(key: str | None) -> tuple[bool, str]:
    return (key is None, "" if key is None else key)  # as compute_stats orders its keys
