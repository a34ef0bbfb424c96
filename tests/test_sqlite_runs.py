"""One row per run in the SQLite store: a run's final entry marks the rows it replaces when it
is stored (stores/sqlite/runs.py), so ``stats()`` takes the totals even while pending rows
exist, and still equals ``compute_stats`` over the entries read with the one-run rule.

Pending and final entries come in every order (a final before its pending, two finals of a
run, a final with no pending, plain entries sharing a span), written in batches of every size,
folded after every few rows, by real processes at once, across a prune.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from betty_telemetry import TelemetryCapture, TelemetryContext
from betty_telemetry.cli.main import main
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.runs import one_per_run
from betty_telemetry.model.stats import GROUPINGS, SORTS, compute_stats
from betty_telemetry.stores import SqliteStore
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite import rollup, summary
from betty_telemetry.stores.sqlite.queries import read_transaction
from betty_telemetry.stores.sqlite.where import add_functions

Entry = dict[str, Any]
SPANS = ("a1", "b2", "c3")
SKILLS = ("job.run", "job.build")
STAMPS = (
    "2025-10-24T14:30:45.000000+00:00",
    "2025-10-24T14:30:46.000000+00:00",
    "2025-10-24T14:30:47.000000+00:00",
    "2025-10-24T16:30:45.000000+02:00",  # the first moment, written otherwise
)
REPO = Path(__file__).resolve().parent.parent


def entry(
    status: str, span: str | None, note: str | None, stamp: str, skill: str, duration: float
) -> Entry:
    built: Entry = {
        "timestamp": stamp,
        "skill": skill,
        "status": status,
        "duration_ms": 0.0 if status == "pending" else duration,
        "caller": "test",
        "metadata": {} if note is None else {"pending_at": note},
    }
    if span is not None:
        built.update(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id=span)
    return built


@st.composite
def run_entries(draw: st.DrawFn) -> Entry:
    kind = draw(st.sampled_from(("pending", "final", "final", "timeout", "plain", "untraced")))
    stamp, skill = draw(st.sampled_from(STAMPS)), draw(st.sampled_from(SKILLS))
    span = draw(st.sampled_from(SPANS))
    duration = draw(st.sampled_from((1.5, 2.5, 10.0, 0.1, 7.0)))
    if kind == "pending":
        return entry("pending", span, None, stamp, skill, duration)
    if kind in ("final", "timeout"):
        status = "success" if kind == "final" else "timeout"
        return entry(status, span, draw(st.sampled_from(STAMPS)), stamp, skill, duration)
    if kind == "plain":  # shares a span, notes nothing: replaced like any entry of its span
        return entry(draw(st.sampled_from(("success", "failure"))), span, None, stamp, skill, 3.0)
    return entry("success", None, None, stamp, skill, duration)


def encoded(item: Entry) -> Encoded:
    return Encoded(item, json.dumps(item).encode())


def write_all(store: SqliteStore, items: list[Entry], sizes: list[int], fold_every: int) -> None:
    saved = rollup.FOLD_EVERY
    rollup.FOLD_EVERY = fold_every
    try:
        position, cycle = 0, iter(sizes * (len(items) + 1))
        while position < len(items):
            size = next(cycle)
            store.write([encoded(item) for item in items[position : position + size]])
            position += size
    finally:
        rollup.FOLD_EVERY = saved


def expected(stored: list[Entry], by: str = "skill", sort: str = "count") -> list[dict[str, Any]]:
    """compute_stats over the entries as every reader gives them: newest first, one per run."""
    return compute_stats(one_per_run(stored)[::-1], by, sort)


def statements_of_stats(path: Path) -> list[str]:
    """The SQL ``stats()`` by skill over every entry runs on the database at ``path``."""
    seen: list[str] = []
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        add_functions(connection)
        connection.set_trace_callback(seen.append)
        with read_transaction(connection):
            summary.stats(connection, EntryFilter(), "skill", "count")
    return seen


def took_totals(path: Path) -> bool:
    """Whether statistics came from the totals: they read the rollup and stream no rows."""
    seen = statements_of_stats(path)
    return any("FROM rollup" in sql for sql in seen) and not any(
        "ORDER BY id DESC" in sql for sql in seen
    )


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


COMMON = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@COMMON
@given(
    items=st.lists(run_entries(), max_size=30),
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    fold_every=st.sampled_from([1, 2, 3, 1024]),
)
def test_stats_count_one_row_per_run_whatever_the_order(
    folder: Path, items: list[Entry], sizes: list[int], fold_every: int
) -> None:
    path = folder / f"s{len(list(folder.iterdir()))}.db"
    store = SqliteStore(str(path))
    write_all(store, items, sizes, fold_every)
    for by in GROUPINGS:
        for sort in SORTS:
            assert store.stats(EntryFilter(), by, sort) == expected(items, by, sort), (by, sort)
    if items:
        assert took_totals(path)
    assert store.count(EntryFilter()) == len(items)  # no row is deleted
    store.close()


@COMMON
@given(
    items=st.lists(run_entries(), min_size=1, max_size=30),
    cut=st.sampled_from(STAMPS[1:3]),
    fold_every=st.sampled_from([1, 3, 1024]),
)
def test_stats_after_a_prune_read_the_rule_on_the_rows_kept(
    folder: Path, items: list[Entry], cut: str, fold_every: int
) -> None:
    """A prune may take a run's pending row and keep its final, or the reverse."""
    path = folder / f"p{len(list(folder.iterdir()))}.db"
    store = SqliteStore(str(path))
    write_all(store, items, [2], fold_every)
    store.prune(cut)
    kept = [json.loads(line) for line in _bodies(path)]
    write_all(store, items[:3], [1], fold_every)  # and runs go on
    assert store.stats(EntryFilter(), "skill", "count") == expected(kept + items[:3])
    assert took_totals(path)
    store.close()


def _bodies(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return [body for (body,) in connection.execute("SELECT body FROM entries ORDER BY id")]


def test_the_totals_serve_stats_while_runs_are_pending(folder: Path) -> None:
    path = folder / "t.db"
    telemetry = TelemetryCapture(path)
    telemetry.capture("job.run", "success", 5.0, "me")
    with TelemetryContext("job.run", telemetry=telemetry, pending=True):
        assert took_totals(path)
        (row,) = telemetry.stats()
        assert (row["count"], row["statuses"], row["max_ms"]) == (
            2,
            {"success": 1, "pending": 1},
            5.0,
        )
    (row,) = telemetry.stats()
    assert (row["count"], row["statuses"]["success"]) == (2, 2)
    assert took_totals(path)
    # A filter, or another grouping, streams the rows (and applies the rule itself).
    assert telemetry.stats(by="status")[0]["count"] == 2


def test_the_pending_query_still_lists_only_runs_still_going(folder: Path) -> None:
    path = folder / "q.db"
    telemetry = TelemetryCapture(path)
    with TelemetryContext("job.done", telemetry=telemetry, pending=True):
        pass
    with TelemetryContext("job.going", telemetry=telemetry, pending=True):
        going = telemetry.query(status="pending")
        assert [item["skill"] for item in going] == ["job.going"]
        (done,) = telemetry.query(skill="job.done")
        assert done["status"] == "success"
        # Every row is kept: a read until before the run ended meets it pending.
        ended_before = telemetry.query(skill="job.done", until=done["metadata"]["pending_at"])
        assert [item["status"] for item in ended_before] == ["pending"]
        assert len(_bodies(path)) == 3


CHILD = r"""
import json, sys
from betty_telemetry import TelemetryCapture, TelemetryContext
from betty_telemetry.stores import SqliteStore
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite import rollup
path, worker = sys.argv[1], int(sys.argv[2])
rollup.FOLD_EVERY = 7  # folds, and rows superseded after they were folded, all the time
store = SqliteStore(path)
stamp = "2025-10-24T14:30:%02d.000000+00:00"
def write(*items):
    store.write([Encoded(item, json.dumps(item).encode()) for item in items])
def item(status, span, note, second, duration):
    return {"timestamp": stamp % second, "skill": f"job.{worker % 3}", "status": status,
            "duration_ms": duration, "caller": "child", "span_id": span,
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "metadata": {} if note is None else {"pending_at": stamp % note}}
telemetry = TelemetryCapture(path)
for run in range(12):
    span = f"w{worker}r{run}"
    second = run % 50
    order = run % 4
    pending = item("pending", span, None, second, 0.0)
    final = item("success", span, second, second + 1, float(worker * 100 + run))
    timeout = item("timeout", span, second, second + 2, 3600000.0)
    if order == 0:    # in order, one write each
        write(pending); write(final)
    elif order == 1:  # the final stored first: both count
        write(final); write(pending)
    elif order == 2:  # swept, then ended after all, in one batch
        write(pending, timeout, final)
    else:             # through the real API
        with TelemetryContext(f"job.{worker % 3}", telemetry=telemetry, pending=True):
            telemetry.capture(f"job.{worker % 3}", "success", 1.0, "child")
store.close()
"""


def test_writers_in_several_processes_keep_one_row_per_run(folder: Path) -> None:
    path = folder / "c.db"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(worker)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(4)
    ]
    for child in children:
        _, errors = child.communicate(timeout=120)
        assert child.returncode == 0, errors
    stored = [json.loads(line) for line in _bodies(path)]
    assert len(stored) == 4 * 3 * (2 + 2 + 3 + 3)  # each order 3 times, 2 or 3 entries a run
    store = SqliteStore(str(path))
    assert took_totals(path)
    for by in GROUPINGS:
        assert store.stats(EntryFilter(), by, "key") == expected(stored, by, "key")
    rows = {row["key"]: row for row in store.stats(EntryFilter(), "skill", "count")}
    assert sum(row["statuses"].get("pending", 0) for row in rows.values()) == 4 * 3
    assert all(row["max_ms"] < 3600000.0 for row in rows.values())  # timeouts replaced
    store.close()


def test_a_json_file_of_pending_and_final_pairs_converts_and_verifies(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = folder / "t.json"
    telemetry = TelemetryCapture(source)
    for _ in range(3):
        with TelemetryContext("job.run", telemetry=telemetry, pending=True):
            pass
    with TelemetryContext("job.going", telemetry=telemetry, pending=True):
        assert main(["convert", str(source), str(folder / "t.db")]) == 0
        want = TelemetryCapture(source).stats()
    assert "Converted 7 entries" in capsys.readouterr().out
    converted = SqliteStore(str(folder / "t.db"))
    assert converted.count(EntryFilter()) == 7
    assert converted.stats(EntryFilter(), "skill", "count") == want
    assert [row["statuses"] for row in want] == [{"success": 3}, {"pending": 1}]
    assert took_totals(folder / "t.db")
    converted.close()


def test_an_earlier_schema_is_refused_with_what_to_do(folder: Path) -> None:
    path = folder / "old.db"
    TelemetryCapture(path).capture("job.run", "success", 1.0, "me")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 1")
        connection.commit()
    with pytest.raises(ValueError, match=r"earlier development version.*convert OLD\.jsonl"):
        TelemetryCapture(path).stats()


def test_damaged_rows_do_not_stop_a_prune(folder: Path) -> None:
    path = folder / "d.db"
    store = SqliteStore(str(path))
    pending = entry("pending", "a1", None, STAMPS[0], "job.run", 0.0)
    final = entry("success", "a1", STAMPS[0], STAMPS[2], "job.run", 4.0)
    write_all(store, [pending, final], [1], 1024)
    with closing(sqlite3.connect(path)) as connection:  # a row no writer of ours makes
        connection.execute(
            "INSERT INTO entries (body, span_id) VALUES ('{\"pending_at\": broken', 'a1')"
        )
        connection.commit()
    assert store.prune(STAMPS[1]).moved == 1  # the pending row goes, the final stays
    assert store.count(EntryFilter()) == 2
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT sum(superseded) FROM entries").fetchone() == (0,)
    store.close()
