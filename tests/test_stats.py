"""Statistics per group: counts, statuses, failure rate, exact percentiles, first and last.

Expected numbers are computed here from the stored entries (``json.load`` of a JSON-array file)
with the standard library (``statistics.quantiles`` for percentiles), or written out by hand.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from betty_telemetry import CorruptStoreError, TelemetryCapture
from tests.conftest import FIXTURE
from tests.entries import MISSING, UTC, Entry, moment_of, new_entry, stamp, write_entries
from tests.stores import copy_store, corrupt_bytes, stored_entries

pytestmark = pytest.mark.every_store

BASE = datetime(2025, 10, 24, 23, 30, tzinfo=UTC)  # near midnight: groups by day differ
ROW_KEYS = {
    "key",
    "count",
    "statuses",
    "failure_rate",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "first",
    "last",
}
FAILING = {"failure", "error", "timeout", "failed"}


make_entry = functools.partial(new_entry, at=BASE)


def row_for(rows: list[dict[str, Any]], key: object) -> dict[str, Any]:
    (row,) = [row for row in rows if row["key"] == key]
    return row


# -- the brute force -----------------------------------------------------------------------------


def group_key(entry: Entry, by: str) -> str | None:
    if by in ("day", "hour"):
        moment = moment_of(entry.get("timestamp"))
        if moment is None:
            return None
        return moment.astimezone(UTC).strftime("%Y-%m-%d" if by == "day" else "%Y-%m-%dT%H:00")
    value = entry.get(by)
    return None if value is None else value if isinstance(value, str) else str(value)


def durations_of(entries: list[Entry]) -> list[float]:
    """Durations that are numbers: int or float, not bool, not NaN; none of a run still going
    (status pending), which has no duration yet."""
    found: list[float] = []
    for entry in entries:
        value = entry.get("duration_ms")
        if entry.get("status") == "pending":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            found.append(value)
    return found


def expected_percentiles(durations: list[float]) -> tuple[float | None, ...]:
    if not durations:
        return (None, None, None)
    if len(durations) == 1:
        return (durations[0],) * 3
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    return (cuts[49], cuts[94], cuts[98])


def expected_stats(entries: list[Entry], by: str) -> dict[str | None, dict[str, Any]]:
    """Rows by key, computed from the raw entries (order is checked separately)."""
    groups: dict[str | None, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(group_key(entry, by), []).append(entry)
    rows = {}
    for key, members in groups.items():
        statuses = Counter(str(entry.get("status")) for entry in members)
        durations = durations_of(members)
        p50, p95, p99 = expected_percentiles(durations)
        moments = [moment_of(entry.get("timestamp")) for entry in members]
        timed = [m for m in moments if m is not None]
        rows[key] = {
            "key": key,
            "count": len(members),
            "statuses": dict(statuses),
            "failure_rate": sum(statuses[s] for s in FAILING) / len(members),
            "p50_ms": p50,
            "p95_ms": p95,
            "p99_ms": p99,
            "max_ms": max(durations) if durations else None,
            "mean_ms": statistics.fmean(durations) if durations else None,
            "first": min(timed) if timed else None,  # moments: the stored text is checked below
            "last": max(timed) if timed else None,
            "stamps": [e.get("timestamp") for e, m in zip(members, moments, strict=True) if m],
        }
    return rows


def close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def assert_rows_match(got: list[dict[str, Any]], want: dict[str | None, dict[str, Any]]) -> None:
    assert sorted(map(str, want)) == sorted(str(row["key"]) for row in got)
    for row in got:
        expected = want[row["key"]]
        assert set(row) == ROW_KEYS
        assert (row["count"], row["statuses"]) == (expected["count"], expected["statuses"])
        assert math.isclose(row["failure_rate"], expected["failure_rate"])
        for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"):
            assert close(row[name], expected[name]), (row["key"], name, row[name], expected[name])
        for name in ("first", "last"):
            if expected[name] is None:
                assert row[name] is None
            else:
                assert row[name] in expected["stamps"]
                assert moment_of(row[name]) == expected[name]


def expected_order(rows: dict[str | None, dict[str, Any]], sort: str) -> list[str | None]:
    keys = list(rows)
    by_key = sorted(keys, key=lambda key: (key is None, key or ""))
    if sort == "key":
        return by_key
    return sorted(by_key, key=lambda key: -rows[key]["count"])  # stable: ties stay in key order


# -- the row ------------------------------------------------------------------------------------


def test_a_row_has_exactly_the_documented_keys(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry()])
    (row,) = telemetry.stats()
    assert set(row) == ROW_KEYS


def test_stats_default_to_one_row_per_skill(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry("a"), make_entry("b"), make_entry("a")])
    assert [(row["key"], row["count"]) for row in telemetry.stats()] == [("a", 2), ("b", 1)]


def test_statuses_count_each_status_as_stored(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    statuses = ["success", "failed", "failure", "failed", "success", "success", "pending"]
    write_entries(telemetry_path, [make_entry(status=s) for s in statuses])
    (row,) = telemetry.stats()
    assert row["statuses"] == {"success": 3, "failed": 2, "failure": 1, "pending": 1}


def test_failure_rate_counts_failure_error_timeout_and_legacy_failed(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    statuses = ["success", "success", "failure", "error", "timeout", "failed", "pending"]
    write_entries(telemetry_path, [make_entry(status=s) for s in statuses])
    (row,) = telemetry.stats()
    assert row["failure_rate"] == pytest.approx(4 / 7)


def test_percentiles_interpolate_linearly_between_durations(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(duration_ms=d) for d in [10, 1, 4, 3, 2]])
    (row,) = telemetry.stats()
    # Sorted 1 2 3 4 10; p95 sits at 0.95 * 4 = 3.8, 80 % of the way from 4 to 10.
    assert row["p50_ms"] == pytest.approx(3)
    assert row["p95_ms"] == pytest.approx(8.8)
    assert row["p99_ms"] == pytest.approx(9.76)
    assert (row["max_ms"], row["mean_ms"]) == (10, pytest.approx(4))


@pytest.mark.parametrize("count", [2, 3, 7, 100, 101, 1000])
def test_percentiles_equal_statistics_quantiles_inclusive(
    telemetry: TelemetryCapture, telemetry_path: Path, count: int
) -> None:
    durations = [((n * 7919) % 1009) / 3 for n in range(count)]
    write_entries(telemetry_path, [make_entry(duration_ms=d) for d in durations])
    (row,) = telemetry.stats()
    cuts = statistics.quantiles(durations, n=100, method="inclusive")
    assert (row["p50_ms"], row["p95_ms"], row["p99_ms"]) == (
        pytest.approx(cuts[49]),
        pytest.approx(cuts[94]),
        pytest.approx(cuts[98]),
    )


def test_a_single_duration_is_every_statistic(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(duration_ms=42.5)])
    (row,) = telemetry.stats()
    assert [row[name] for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")] == [42.5] * 5


def test_durations_that_are_not_numbers_are_left_out(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    durations: list[object] = [5, True, None, "7", math.nan, MISSING, [9], {"ms": 1}, 15.0]
    write_entries(telemetry_path, [make_entry(duration_ms=d) for d in durations])
    (row,) = telemetry.stats()
    assert row["count"] == len(durations)
    assert (row["p50_ms"], row["max_ms"], row["mean_ms"]) == (10, 15.0, 10)


def test_a_group_without_durations_has_none_for_every_duration_statistic(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(duration_ms=d) for d in [None, "1", False]])
    (row,) = telemetry.stats()
    assert [row[name] for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")] == [None] * 5


def test_integer_durations_are_kept_as_numbers(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(duration_ms=d) for d in [1, 2, 3]])
    (row,) = telemetry.stats()
    assert (row["p50_ms"], row["max_ms"], row["mean_ms"]) == (2, 3, 2)


def test_first_and_last_are_the_stored_texts_of_the_earliest_and_latest_moments(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    stored = [
        "2025-10-24T12:00:00Z",  # 12:00
        "2025-10-24T13:30:00+02:00",  # 11:30: the earliest, though not first in text order
        "not a time",
        "2025-10-24T12:30:00.000000+00:00",  # the latest
        "2025-10-24T07:15:00-05:00",  # 12:15
    ]
    write_entries(telemetry_path, [make_entry(at=text) for text in stored])
    (row,) = telemetry.stats()
    assert (row["first"], row["last"]) == (stored[1], stored[3])


def test_first_and_last_are_none_without_a_usable_timestamp(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(at=value) for value in [None, "soon", MISSING]])
    (row,) = telemetry.stats()
    assert (row["first"], row["last"]) == (None, None)


# -- grouping and order -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("skill", {"a": 2, "b": 1}),
        ("caller", {"cli": 2, "api": 1}),
        ("status", {"success": 1, "failed": 2}),
        ("day", {"2025-10-24": 2, "2025-10-25": 1}),
        ("hour", {"2025-10-24T22:00": 1, "2025-10-24T23:00": 1, "2025-10-25T00:00": 1}),
    ],
)
def test_stats_group_by_each_field(
    telemetry: TelemetryCapture, telemetry_path: Path, by: str, expected: dict[str, int]
) -> None:
    entries = [
        make_entry("a", "success", caller="cli", at="2025-10-24T22:59:59.999999+00:00"),
        make_entry("a", "failed", caller="api", at="2025-10-24T23:00:00Z"),
        make_entry("b", "failed", caller="cli", at="2025-10-25T00:00:00.000000+00:00"),
    ]
    write_entries(telemetry_path, entries)
    assert {row["key"]: row["count"] for row in telemetry.stats(by)} == expected


def test_day_and_hour_are_utc_whatever_the_stored_offset(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(at="2025-10-25T01:30:00+02:00")])
    assert [row["key"] for row in telemetry.stats("day")] == ["2025-10-24"]
    assert [row["key"] for row in telemetry.stats("hour")] == ["2025-10-24T23:00"]


@pytest.mark.parametrize("by", ["day", "hour"])
def test_entries_without_a_usable_timestamp_fall_in_the_none_group(
    telemetry: TelemetryCapture, telemetry_path: Path, by: str
) -> None:
    entries = [make_entry(at=value) for value in [None, "soon", MISSING, 17]]
    write_entries(telemetry_path, [*entries, make_entry(at=BASE)])
    rows = telemetry.stats(by)
    assert [(row["key"] is None, row["count"]) for row in rows] == [(True, 4), (False, 1)]


def test_non_string_values_group_under_their_text_and_missing_ones_under_none(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    skills: list[object] = [7, 7, "7", None, MISSING, True, [1, 2], "x"]
    write_entries(telemetry_path, [make_entry(skill) for skill in skills])
    counts = {row["key"]: row["count"] for row in telemetry.stats("skill")}
    assert counts == {"7": 3, None: 2, "True": 1, "[1, 2]": 1, "x": 1}


def test_rows_are_sorted_by_count_then_key(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    skills = ["b", "c", "a", "c", "b", None, "a", "c", None, "d"]
    write_entries(telemetry_path, [make_entry(skill) for skill in skills])
    assert [row["key"] for row in telemetry.stats()] == ["c", "a", "b", None, "d"]


def test_sort_by_key_puts_none_last(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    skills = ["b", "c", "a", "c", None, "B", "c"]
    write_entries(telemetry_path, [make_entry(skill) for skill in skills])
    assert [row["key"] for row in telemetry.stats(sort="key")] == ["B", "a", "b", "c", None]


def test_days_sorted_by_key_are_in_time_order(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    days = [BASE + timedelta(days=n) for n in (3, -40, 0, 400, -1)]
    write_entries(telemetry_path, [make_entry(at=day) for day in days])
    keys = [row["key"] for row in telemetry.stats("day", sort="key")]
    assert keys == [day.strftime("%Y-%m-%d") for day in sorted(days)]


@pytest.mark.parametrize("by", ["", "Skill", "minute", "week", "duration_ms", None])
def test_an_unknown_grouping_is_rejected(
    telemetry: TelemetryCapture, telemetry_path: Path, by: object
) -> None:
    write_entries(telemetry_path, [make_entry()])
    with pytest.raises(ValueError, match="by must be one of"):
        telemetry.stats(by)  # type: ignore[arg-type]


@pytest.mark.parametrize("sort", ["", "name", "COUNT", "count desc", None])
def test_an_unknown_sort_is_rejected(
    telemetry: TelemetryCapture, telemetry_path: Path, sort: object
) -> None:
    write_entries(telemetry_path, [make_entry()])
    with pytest.raises(ValueError, match="sort must be one of"):
        telemetry.stats(sort=sort)  # type: ignore[arg-type]


# -- filters, missing and corrupt files --------------------------------------------------------


def test_stats_count_only_entries_matching_the_filters(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entries = [
        make_entry("agent.run", "failure", duration_ms=100, at=BASE),
        make_entry("agent.run", "failed", duration_ms=300, at=BASE),
        make_entry("agent.run", "success", duration_ms=1, at=BASE),
        make_entry("agent.plan", "failure", duration_ms=7, at=BASE),
        make_entry("tool.run", "failure", duration_ms=5, at=BASE),
        make_entry("agent.run", "failure", duration_ms=9, at=BASE - timedelta(days=2)),
    ]
    write_entries(telemetry_path, entries[-1:] + entries[:-1])  # the old one first in the file
    rows = telemetry.stats(
        skill="agent.*", status=["failure", "failed"], since=BASE - timedelta(days=1)
    )
    assert [(r["key"], r["count"], r["max_ms"]) for r in rows] == [
        ("agent.run", 2, 300),
        ("agent.plan", 1, 7),
    ]


def test_stats_check_their_filters(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="Unknown status"):
        telemetry.stats(status="broken")


def test_stats_of_a_missing_file_are_empty_and_create_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    assert telemetry.stats("day") == []
    assert not telemetry_path.parent.exists()


def test_stats_of_a_file_that_is_not_an_array_raise_and_leave_it_unchanged(
    telemetry: TelemetryCapture, telemetry_path: Path, store_suffix: str
) -> None:
    content = corrupt_bytes(store_suffix, array=b'{"skill": "x"}')  # not the store's format
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(content)
    with pytest.raises(CorruptStoreError):
        telemetry.stats()
    assert telemetry_path.read_bytes() == content


# -- the original framework's file ---------------------------------------------------------------


@pytest.fixture
def legacy(tmp_path: Path, store_suffix: str) -> TelemetryCapture:
    copy = tmp_path / "legacy" / f"telemetry{store_suffix}"
    copy_store(FIXTURE, copy)
    return TelemetryCapture(copy)


@pytest.mark.parametrize("sort", ["count", "key"])
@pytest.mark.parametrize("by", ["skill", "caller", "status", "day", "hour"])
def test_stats_of_the_original_frameworks_file_match_the_brute_force(
    legacy: TelemetryCapture, by: str, sort: str
) -> None:
    raw = json.loads(FIXTURE.read_bytes())
    rows = legacy.stats(by, sort=sort)
    want = expected_stats(raw, by)
    assert_rows_match(rows, want)
    assert [row["key"] for row in rows] == expected_order(want, sort)


def test_stats_of_the_original_frameworks_file_by_status(legacy: TelemetryCapture) -> None:
    rows = legacy.stats("status")
    assert [(r["key"], r["count"], r["failure_rate"]) for r in rows] == [
        ("success", 200, 0.0),
        ("failed", 22, 1.0),
        ("failure", 3, 1.0),
    ]


def test_stats_of_the_original_frameworks_file_by_day(legacy: TelemetryCapture) -> None:
    rows = legacy.stats("day", sort="key")
    assert [(r["key"], r["count"]) for r in rows] == [
        ("2025-10-23", 9),
        ("2025-10-24", 7),
        ("2025-10-25", 204),
        ("2025-11-02", 5),
    ]


def test_stats_of_the_original_frameworks_file_largest_skill(legacy: TelemetryCapture) -> None:
    top = legacy.stats()[0]
    raw = [e for e in json.loads(FIXTURE.read_bytes()) if e["skill"] == "registry.update"]
    assert (top["key"], top["count"]) == ("registry.update", 127)
    assert top["max_ms"] == max(e["duration_ms"] for e in raw)
    assert top["first"] == min(e["timestamp"] for e in raw)  # all canonical: text order
    assert top["last"] == max(e["timestamp"] for e in raw)


def test_stats_of_the_original_frameworks_file_with_a_filter(legacy: TelemetryCapture) -> None:
    raw = json.loads(FIXTURE.read_bytes())
    failing = [e for e in raw if e["status"] in ("failure", "failed")]
    rows = legacy.stats("caller", status=["failure", "failed"])
    assert_rows_match(rows, expected_stats(failing, "caller"))


# -- property -------------------------------------------------------------------------------------

SKILLS: list[object] = ["agent.run", "agent.plan", "tool", "dé.jà", 7, None]
STATUSES: list[object] = ["success", "failure", "failed", "error", "timeout", "pending", 3]


@st.composite
def stored_timestamps(draw: st.DrawFn) -> object:
    moment = BASE + timedelta(
        minutes=draw(st.integers(-180, 180)), microseconds=draw(st.integers(0, 999_999))
    )
    form = draw(st.sampled_from(["canonical", "canonical", "z", "offset", "naive", "bad"]))
    if form == "z":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if form == "offset":
        return moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    if form == "naive":
        return moment.replace(tzinfo=None).isoformat()
    if form == "bad":
        return draw(st.sampled_from([None, "later", 5, MISSING]))
    return stamp(moment)


durations = (
    st.integers(0, 10**6)
    | st.floats(0, 10**6, allow_nan=False)
    | st.sampled_from([math.nan, True, None, "9", MISSING, -5, 1e300])
)


@st.composite
def stats_entries(draw: st.DrawFn) -> Entry:
    return make_entry(
        draw(st.sampled_from(SKILLS)),
        draw(st.sampled_from(STATUSES)),
        duration_ms=draw(durations),
        at=draw(stored_timestamps()),
        caller=draw(st.sampled_from(["cli", "api", None, 1.5])),
    )


# store_suffix is a plain string, the same for every example: safe to share between them.
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    entries=st.lists(stats_entries(), max_size=40),
    by=st.sampled_from(["skill", "caller", "status", "day", "hour"]),
    sort=st.sampled_from(["count", "key"]),
)
def test_stats_equal_the_brute_force(
    entries: list[Entry], by: str, sort: str, store_suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"telemetry{store_suffix}"
        if entries:
            write_entries(path, entries)
        raw = stored_entries(path) if entries else []
        rows = TelemetryCapture(path).stats(by, sort=sort)
    want = expected_stats(raw, by)
    assert_rows_match(rows, want)
    assert [row["key"] for row in rows] == expected_order(want, sort)


# --- full scans read only the leading fields of our lines: every other shape still counts -----


def test_lines_with_the_keys_in_another_order_are_counted_whole(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    ours = make_entry("a", "failure", duration_ms=10.0)
    # The original framework's order: inputs before status, duration and caller.
    theirs = {
        "timestamp": stamp(BASE),
        "skill": "a",
        "inputs": {"x": 1},
        "status": "failed",
        "duration_ms": 30,
        "caller": "cli",
    }
    no_status = {"timestamp": stamp(BASE), "skill": "a", "inputs": {}, "duration_ms": 50.0}
    write_entries(telemetry_path, [ours, theirs, no_status])
    (row,) = telemetry.stats()
    assert row["count"] == 3
    assert row["statuses"] == {"failure": 1, "failed": 1, "None": 1}
    assert (row["p50_ms"], row["max_ms"]) == (30.0, 50.0)


def test_names_holding_the_inputs_key_text_are_read_whole(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    tricky = 'a", "inputs": {"status": "success"}, "x": "'
    entries = [make_entry(tricky, "error", caller=tricky), make_entry(tricky, "success")]
    write_entries(telemetry_path, entries)
    (row,) = telemetry.stats()
    assert row["key"] == tricky
    assert row["statuses"] == {"error": 1, "success": 1}
    (by_caller,) = [r for r in telemetry.stats("caller") if r["key"] == tricky]
    assert by_caller["statuses"] == {"error": 1}


def test_stats_filtered_on_the_error_text_read_the_whole_entries(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    failed = {**make_entry("a", "failure"), "error_message": "Timeout waiting"}
    write_entries(telemetry_path, [failed, make_entry("a", "failure"), make_entry("b", "error")])
    (row,) = telemetry.stats(text="timeout")
    assert (row["key"], row["count"]) == ("a", 1)
