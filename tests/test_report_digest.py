"""The report's numbers: what the page draws equals what ``stats()``, ``query()`` and
``trace()`` say of the same file, on every store; bounded whatever the file holds."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.stats import FAILURE_STATUSES, percentile
from betty_telemetry.report import digest as digest_module
from betty_telemetry.report.building import build_report, describe_filters
from betty_telemetry.report.digest import SLOWEST_RUNS, TRACE_WINDOW
from betty_telemetry.report.page import report_json
from betty_telemetry.report.timeline import KEPT_KEYS, MAX_BUCKETS, Timeline
from tests.entries import new_entry, stamp
from tests.report_data import START, hostile_entries, report_entries
from tests.stores import write_entries

pytestmark = pytest.mark.every_store


def _report(telemetry: TelemetryCapture, **filters: Any) -> dict[str, Any]:
    return build_report(telemetry.store, EntryFilter.build(**filters))


def _durations(entries: list[dict[str, Any]]) -> list[float]:
    return sorted(
        float(e["duration_ms"])
        for e in entries
        if e["status"] != "pending" and isinstance(e["duration_ms"], (int, float))
    )


def test_per_skill_rows_and_totals_equal_stats_and_query(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(telemetry_path, report_entries())
    report = _report(telemetry)
    numbers = report["digest"]
    stats = telemetry.stats()
    assert [{k: v for k, v in row.items() if k != "last_failure"} for row in numbers["skills"]] == [
        {**row, "key": row["key"]} for row in stats
    ]
    runs = telemetry.query(limit=None)
    totals = numbers["totals"]
    assert totals["runs"] == len(runs) == sum(row["count"] for row in stats) == report["entries"]
    failures = [e for e in runs if e["status"] in FAILURE_STATUSES]
    assert totals["failures"] == len(failures)
    assert totals["failure_rate"] == len(failures) / len(runs)
    assert totals["pending"] == 1  # agent.plan; agent.act's pending entry was replaced
    durations = _durations(runs)
    assert totals["p50_ms"] == percentile(durations, 50)
    assert totals["p95_ms"] == percentile(durations, 95)
    assert totals["busiest_skill"] == stats[0]["key"]
    assert totals["busiest_count"] == stats[0]["count"]


def test_each_skill_shows_its_newest_failure(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(telemetry_path, report_entries())
    rows = {row["key"]: row for row in _report(telemetry)["digest"]["skills"]}
    newest = telemetry.query(skill="api.call", status=["error", "failure", "timeout"], limit=1)[0]
    assert rows["api.call"]["last_failure"]["timestamp"] == newest["timestamp"]
    assert rows["api.call"]["last_failure"]["error_message"] == newest["error_message"]
    # The original framework's 'failed', its message under 'error'.
    assert rows["plugin.build"]["last_failure"]["error_message"] is not None
    assert rows["skill.define"]["last_failure"] is None


def test_the_timeline_counts_every_run_with_a_time(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(telemetry_path, report_entries())
    numbers = _report(telemetry)["digest"]
    timeline = numbers["timeline"]
    assert sum(timeline["runs"]) == numbers["totals"]["runs"]
    assert sum(timeline["failures"]) == numbers["totals"]["failures"]
    assert len(timeline["starts"]) == len(timeline["runs"]) <= MAX_BUCKETS
    assert timeline["unit_s"] == 60  # three hours: minutes
    assert timeline["starts"][0] == "2026-11-02T07:59:00Z"  # the legacy entries' minute


def test_slowest_runs_and_recent_failures_in_order(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(telemetry_path, report_entries())
    numbers = _report(telemetry)["digest"]
    runs = telemetry.query(limit=None)
    expected = sorted(_durations(runs), reverse=True)[:SLOWEST_RUNS]
    assert [run["duration_ms"] for run in numbers["slowest"]] == expected
    failures = [e for e in runs if e["status"] in FAILURE_STATUSES]
    assert [(f["timestamp"], f["skill"]) for f in numbers["failures"]] == [
        (e["timestamp"], e["skill"]) for e in failures
    ]


def test_the_default_trace_is_the_newest_failing_one_drawn_as_trace_draws_it(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(telemetry_path, report_entries())
    numbers = _report(telemetry)["digest"]
    chosen = numbers["traces"][numbers["default_trace"]]
    assert chosen["failed"]
    assert chosen["trace_id"] == f"{11 + 1:032x}"  # trace 11 is the newest with a failure
    roots = telemetry.trace(chosen["trace_id"])
    from betty_telemetry.read.trace import tree_lines

    expected = [(prefix, node["entry"]["skill"]) for prefix, node in tree_lines(roots)]
    assert [(row["tree"], row["skill"]) for row in chosen["rows"]] == expected
    assert expected[0] == ("", "workflow.release")
    assert chosen["runs"] == 5
    assert chosen["rows"][0]["start_ms"] == 0
    child = next(row for row in chosen["rows"] if row["skill"] == "plugin.fetch")
    assert child["tree"].startswith("│  ") or child["tree"].startswith("   ")
    assert {t["trace_id"] for t in numbers["traces"]} >= {f"{n + 1:032x}" for n in range(12)}


def test_a_failing_trace_older_than_the_window_is_read_afterwards(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    old = new_entry(
        "deploy",
        "failure",
        at=START,
        trace_id="9" * 32,
        span_id="1" * 16,
        error_message="old failure",
    )
    newer = [
        new_entry(
            "ok",
            "success",
            at=START + timedelta(seconds=n + 1),
            trace_id=f"{n + 1:032x}",
            span_id=f"{n + 1:016x}",
        )
        for n in range(TRACE_WINDOW + 5)
    ]
    write_entries(telemetry_path, [old, *newer])
    numbers = _report(telemetry)["digest"]
    assert len(numbers["traces"]) == TRACE_WINDOW + 1
    assert numbers["default_trace"] == 0
    assert numbers["traces"][0]["trace_id"] == "9" * 32
    assert numbers["traces"][0]["rows"][0]["error_message"] == "old failure"


def test_without_any_failing_trace_the_newest_trace_is_shown(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(
        telemetry_path,
        [
            new_entry(
                "ok",
                "success",
                at=START + timedelta(seconds=n),
                trace_id=f"{n + 1:032x}",
                span_id=f"{n + 1:016x}",
            )
            for n in range(3)
        ],
    )
    numbers = _report(telemetry)["digest"]
    assert numbers["default_trace"] == 0
    assert numbers["traces"][0]["trace_id"] == f"{3:032x}"


def test_an_empty_store_makes_an_empty_report(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    write_entries(telemetry_path, [])
    numbers = _report(telemetry)["digest"]
    assert numbers["totals"]["runs"] == 0
    assert numbers["totals"]["failure_rate"] is None
    assert numbers["traces"] == []
    assert numbers["default_trace"] is None
    assert numbers["timeline"]["starts"] == []
    assert numbers["distributions"]["series"] == []


def test_filters_narrow_every_section(telemetry_path: Path, telemetry: TelemetryCapture) -> None:
    write_entries(telemetry_path, report_entries())
    report = _report(telemetry, skill="api.*", status=["error", "failure"])
    numbers = report["digest"]
    assert [row["key"] for row in numbers["skills"]] == ["api.call"]
    assert numbers["totals"]["runs"] == len(
        telemetry.query(skill="api.*", status=["error", "failure"], limit=None)
    )
    assert {run["skill"] for run in numbers["failures"]} == {"api.call"}
    assert describe_filters({"skill": "api.*", "status": ["error", "failure"]}) == (
        "skill=api.*, status=error,failure"
    )


def test_hostile_values_make_a_report_json_can_hold(
    telemetry_path: Path, telemetry: TelemetryCapture
) -> None:
    odd = [
        new_entry("nan", "success", at=START, duration_ms=math.nan),
        new_entry("inf", "success", at=START, duration_ms=math.inf),
        new_entry("huge", "failure", at=START, duration_ms=10**400, error_message="x" * 10_000),
        new_entry(42, ["a"], at="not a time", duration_ms="slow", caller={"who": 1}),
        new_entry("feb30", "success", at="2026-02-30T10:00:00.000000+00:00"),
        *hostile_entries(),
    ]
    write_entries(telemetry_path, odd)
    report = _report(telemetry)
    text = report_json(report)  # allow_nan=False: raises on anything JSON cannot hold
    numbers = json.loads(text)["digest"]
    assert numbers["totals"]["runs"] == len(odd)
    huge = next(run for run in numbers["failures"] if run["skill"] == "huge")
    assert huge["duration_ms"] is None  # beyond a float
    assert len(huge["error_message"]) == digest_module.MESSAGE_CHARS
    assert "42" in {row["key"] for row in numbers["skills"]}
    assert "<" not in text  # escaped for the page's JSON block
    assert ">" not in text


def test_a_long_period_is_counted_coarser_in_bounded_memory() -> None:
    timeline = Timeline()
    start = START
    for minute in range(KEPT_KEYS + 500):  # more minutes than are kept: folded into hours
        timeline.add(stamp(start + timedelta(minutes=minute))[:16], 2, 1)
    assert len(timeline._counts) < KEPT_KEYS
    buckets = timeline.buckets()
    assert sum(buckets["runs"]) == 2 * (KEPT_KEYS + 500)
    assert sum(buckets["failures"]) == KEPT_KEYS + 500
    assert len(buckets["starts"]) <= MAX_BUCKETS
    assert buckets["unit_s"] in (6 * 3600, 86_400)
