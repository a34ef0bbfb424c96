"""What a report shows, computed in one read of the entries, newest first.

A report aggregates before it plots: whatever the number of entries, the digest holds a few
hundred numbers per chart, the busiest skills' rows, and a bounded window of traces, so the
page stays small (a million entries make a digest of ~100 KB) and draws at once.

Per-skill statistics come from ``model.stats``, the very code ``stats()`` runs, so the report's
numbers are ``stats()``'s numbers. The digest is plain JSON (strings, numbers, lists, dicts),
which the page's script draws; it never holds HTML.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from betty_telemetry.model.filters import error_text
from betty_telemetry.model.stats import (
    FAILURE_STATUSES,
    StatsGroup,
    group_entries,
    merged,
    ranked_durations,
    stats_rows,
    summary,
)
from betty_telemetry.model.times import start_micros
from betty_telemetry.read.trace import Node, build_tree, tree_lines, walk
from betty_telemetry.report.timeline import Timeline

SLOWEST_RUNS = 20
RECENT_FAILURES = 50
TRACE_WINDOW = 50
"""Traces a report offers in its picker: the newest ones, plus the newest failing trace."""
RUNS_PER_TRACE = 1000
"""Runs of one trace drawn in its waterfall; a larger trace says how many were left out."""
KEPT_PER_TRACE = 5000
"""Entries of one trace kept while reading (its newest): a trace as long as a whole session
must not hold the read's entries in memory."""
SKILL_ROWS = 1000
DISTRIBUTION_SKILLS = 6
DISTRIBUTION_BINS = 40
MESSAGE_CHARS = 2000
"""Characters of an error message kept: enough to read, bounded for the file's size."""

TraceFetcher = Callable[[str], list[Node]]
"""One whole trace as its tree (``reading.trace``)."""


def digest(
    entries: Iterable[dict[str, Any]], fetch_trace: TraceFetcher | None = None
) -> dict[str, Any]:
    """The report's numbers for ``entries`` (newest first, one per run, as ``reading.select``
    gives them). ``fetch_trace`` finds the newest failing trace when it is older than the
    window of traces read along the way (one more read, only then)."""
    sidelines = _Sidelines()
    groups = group_entries(sidelines.watch(entries), "skill", per_minute=sidelines.timeline.add)
    rows = stats_rows(groups)
    traces = sidelines.traces.finish(fetch_trace)
    return {
        "totals": _totals(groups, rows),
        "timeline": sidelines.timeline.buckets(),
        "skills": [_skill_row(row, sidelines.last_failure) for row in rows[:SKILL_ROWS]],
        "skills_left_out": max(0, len(rows) - SKILL_ROWS),
        "distributions": _distributions(rows, groups),
        "slowest": [run for _, _, run in sorted(sidelines.slowest, reverse=True)],
        "failures": sidelines.failures,
        "traces": traces,
        "default_trace": next((n for n, trace in enumerate(traces) if trace["failed"]), 0)
        if traces
        else None,
    }


class _Sidelines:
    """What the report gathers beside the per-skill statistics, in the same read."""

    def __init__(self) -> None:
        self.timeline = Timeline()
        self.slowest: list[tuple[float, int, dict[str, Any]]] = []  # a min-heap of the top
        self.failures: list[dict[str, Any]] = []
        self.last_failure: dict[str | None, dict[str, Any]] = {}
        self.traces = _TraceWindow()

    def watch(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``entries``, passed on as they come, gathering along the way. The hot loop of a
        report (a million entries): the usual cases are kept inline on purpose."""
        traces, slowest = self.traces, self.slowest
        window = traces.entries
        for seen, entry in enumerate(entries):
            status = entry.get("status")
            failed = type(status) is str and status in FAILURE_STATUSES
            duration = entry.get("duration_ms")
            if (
                (type(duration) is float or type(duration) is int)
                and status != "pending"
                and (len(slowest) < SLOWEST_RUNS or duration > slowest[0][0])
            ):
                self._slow(entry, seen)
            if failed:
                self._failure(entry)
            trace_id = entry.get("trace_id")
            if type(trace_id) is str and trace_id:
                kept = window.get(trace_id)
                if kept is None:  # mostly a trace older than the window: passed by
                    if failed or len(window) < TRACE_WINDOW:
                        traces.add(entry, failed)
                elif failed or len(kept) >= KEPT_PER_TRACE:
                    traces.add(entry, failed)
                else:
                    kept.append(entry)
            yield entry

    def _slow(self, entry: dict[str, Any], seen: int) -> None:
        run = run_summary(entry)
        if run["duration_ms"] is None:  # NaN, infinite: no rank
            return
        ranked = (run["duration_ms"], -seen, run)  # ties: the newer run first
        if len(self.slowest) < SLOWEST_RUNS:
            heapq.heappush(self.slowest, ranked)
        else:
            heapq.heapreplace(self.slowest, ranked)

    def _failure(self, entry: dict[str, Any]) -> None:
        skill = _text(entry.get("skill"))
        if len(self.failures) < RECENT_FAILURES or skill not in self.last_failure:
            run = run_summary(entry)
            if len(self.failures) < RECENT_FAILURES:
                self.failures.append(run)
            self.last_failure.setdefault(skill, run)


def run_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """One run as the report's tables show it: JSON values only, the message bounded."""
    message = error_text(entry)
    duration = entry.get("duration_ms")
    trace_id = entry.get("trace_id")
    return {
        "timestamp": _text(entry.get("timestamp")),
        "skill": _text(entry.get("skill")),
        "status": _text(entry.get("status")),
        "duration_ms": _number(duration),
        "caller": _text(entry.get("caller")),
        "error_message": None if message is None else message[:MESSAGE_CHARS],
        "trace_id": trace_id if type(trace_id) is str else None,
    }


class _TraceWindow:
    """The newest ``TRACE_WINDOW`` traces with their entries, read along the way.

    A trace is taken in when its newest entry is met; its older entries follow later in the
    read. A failing trace met after the window is full is only noted: if none in the window
    failed, the newest failing trace is read afterwards, whole."""

    def __init__(self) -> None:
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.left_out: dict[str, int] = {}
        self.failing: set[str] = set()
        self.older_failing: str | None = None

    def add(self, entry: dict[str, Any], failed: bool) -> None:
        """An entry of a trace (``watch`` appends the usual ones itself)."""
        trace_id = entry["trace_id"]
        kept = self.entries.get(trace_id)
        if kept is None:
            if len(self.entries) >= TRACE_WINDOW:
                if failed and self.older_failing is None:
                    self.older_failing = trace_id
                return
            kept = self.entries[trace_id] = []
        if failed:
            self.failing.add(trace_id)
        if len(kept) < KEPT_PER_TRACE:
            kept.append(entry)
        else:
            self.left_out[trace_id] = self.left_out.get(trace_id, 0) + 1

    def finish(self, fetch_trace: TraceFetcher | None) -> list[dict[str, Any]]:
        traces = [
            waterfall(trace_id, build_tree(kept[::-1]), len(kept) + self.left_out.get(trace_id, 0))
            for trace_id, kept in self.entries.items()
        ]
        if not self.failing and self.older_failing is not None and fetch_trace is not None:
            roots = fetch_trace(self.older_failing)
            if roots:
                traces.insert(0, waterfall(self.older_failing, roots, len(walk(roots))))
        return traces


def waterfall(trace_id: str, roots: list[Node], runs: int) -> dict[str, Any]:
    """One trace (the ``roots`` of its tree) as its waterfall draws it: a row per run, depth
    first as ``trace`` prints it (the same ``├─``/``└─`` drawing), each placed on the trace's
    time line (ms from its start). ``runs`` counts its runs, drawn or not."""
    drawn = tree_lines(roots)[:RUNS_PER_TRACE]
    starts = [start_micros(node["entry"]) for _, node in drawn]
    begin = min((start for start in starts if start is not None), default=0)
    rows = []
    for (prefix, node), start in zip(drawn, starts, strict=True):
        run = run_summary(node["entry"])
        run["tree"] = prefix
        run["start_ms"] = None if start is None else (start - begin) / 1000
        rows.append(run)
    root = rows[0] if rows else run_summary({})
    return {
        "trace_id": trace_id,
        "skill": root["skill"],
        "status": root["status"],
        "timestamp": root["timestamp"],
        "duration_ms": root["duration_ms"],
        "runs": runs,
        "failed": any(row["status"] in FAILURE_STATUSES for row in rows),
        "rows": rows,
    }


def _totals(groups: dict[Any, StatsGroup], rows: list[dict[str, Any]]) -> dict[str, Any]:
    whole = summary(None, merged(groups.values()))
    failures = sum(n for status, n in whole["statuses"].items() if status in FAILURE_STATUSES)
    busiest = rows[0] if rows else None
    return {
        "runs": whole["count"],
        "failures": failures,
        "failure_rate": whole["failure_rate"],  # None without runs
        "pending": whole["statuses"].get("pending", 0),
        "p50_ms": whole["p50_ms"],
        "p95_ms": whole["p95_ms"],
        "p99_ms": whole["p99_ms"],
        "busiest_skill": None if busiest is None else _text(busiest["key"]),
        "busiest_count": 0 if busiest is None else busiest["count"],
        "first": _text(whole["first"]),
        "last": _text(whole["last"]),
    }


def _skill_row(
    row: dict[str, Any], last_failure: dict[str | None, dict[str, Any]]
) -> dict[str, Any]:
    skill = _text(row["key"])
    return {**row, "key": skill, "last_failure": last_failure.get(skill)}


def _distributions(rows: list[dict[str, Any]], groups: dict[Any, StatsGroup]) -> dict[str, Any]:
    """Histograms of the busiest skills' durations on shared log-spaced bins, as the share
    of each skill's timed runs per bin: shapes compare whatever the skills' counts."""
    busiest = [row for row in rows[:DISTRIBUTION_SKILLS] if row["p50_ms"] is not None]
    ranked = {_text(row["key"]): ranked_durations(groups[row["key"]]) for row in busiest}
    medians = [row["p50_ms"] for row in busiest]
    positive = [value for durations in ranked.values() for value in durations[:1] + durations[-1:]]
    low = max(min(positive, default=1.0), 0.01)
    high = max(max(positive, default=1.0), low * 10)
    step = math.log10(high / low) / DISTRIBUTION_BINS
    edges = [low * 10 ** (step * n) for n in range(DISTRIBUTION_BINS + 1)]
    series = []
    for (skill, durations), median in zip(ranked.items(), medians, strict=True):
        # Each bin counts durations up to its upper edge; the first takes everything below.
        cuts = [bisect.bisect_right(durations, edge) for edge in edges[1:]]
        cuts[-1] = len(durations)
        counts = [cut - before for cut, before in zip(cuts, [0, *cuts[:-1]], strict=True)]
        series.append(
            {
                "skill": skill,
                "runs": len(durations),
                "share": [100 * count / len(durations) for count in counts],
                "p50_ms": median,
            }
        )
    return {"edges": edges, "series": series}


def _text(value: object) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _number(value: object) -> float | None:
    """A duration as JSON can hold it: finite; anything else (NaN, too large) is None."""
    if type(value) is not float and type(value) is not int:
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
