"""TelemetryCapture.trace and last_trace_id: one trace's runs as a tree, built from real nested
runs (calls, asyncio.gather, threads, child processes) and from handmade entries (orphans,
cycles, missing durations, equal starts, other traces in the same file, very deep chains)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    TelemetryCapture,
    TelemetryContext,
    bind_context,
    capture_telemetry,
    child_env,
)
from betty_telemetry.read.trace import build_tree, start_micros, walk
from betty_telemetry.stores import open_store
from tests.conftest import FIXTURE, run_python
from tests.original_framework import framework_append
from tests.stores import copy_store, encoded, stored_entries

pytestmark = pytest.mark.every_store

TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
BASE = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
Node = dict[str, Any]


# -- helpers -------------------------------------------------------------------------------


def at(seconds: float) -> str:
    """The timestamp ``seconds`` after BASE, as entries store it."""
    return (BASE + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def span(
    skill: str,
    span_id: str,
    parent_id: str | None,
    *,
    start: float,
    duration_ms: float | None = 0.0,
    trace_id: str = TRACE,
) -> dict[str, Any]:
    """A handmade entry of a run that started ``start`` seconds after BASE."""
    entry: dict[str, Any] = {
        "timestamp": at(start + (duration_ms or 0.0) / 1000),
        "skill": skill,
        "status": "success",
        "duration_ms": duration_ms,
        "caller": "test",
        "inputs": {},
        "error_message": None,
        "metadata": {},
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_id": parent_id,
    }
    if duration_ms is None:
        del entry["duration_ms"]
    return entry


def sid(n: int) -> str:
    """A span id (16 hex digits) made from ``n``."""
    return f"{n + 1:016x}"


def write(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append ``entries`` in order, one write each, as our writer does."""
    store = open_store(path)
    for entry in entries:
        store.write([encoded(entry)])
    store.close()


def outline(roots: list[Node]) -> list[tuple[int, str]]:
    """(depth, skill) of every node, depth first, in the tree's order (computed here, not with
    the module's walk, and without recursion)."""
    result: list[tuple[int, str]] = []
    stack = [(0, root) for root in reversed(roots)]
    while stack:
        depth, node = stack.pop()
        result.append((depth, node["entry"]["skill"]))
        stack.extend((depth + 1, child) for child in reversed(node["children"]))
    return result


def the_trace_id(path: Path, skill: str) -> str:
    [trace_id] = {e["trace_id"] for e in stored_entries(path) if e["skill"] == skill}
    assert isinstance(trace_id, str)
    return trace_id


# -- real nested runs ----------------------------------------------------------------------


def test_trace_of_nested_calls_mirrors_the_call_tree(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(skill_name="leaf", telemetry=telemetry)
    def leaf() -> None:
        return None

    @capture_telemetry(skill_name="step.one", telemetry=telemetry)
    def one() -> None:
        leaf()

    @capture_telemetry(skill_name="step.two", telemetry=telemetry)
    def two() -> None:
        leaf_two()

    @capture_telemetry(skill_name="leaf.two", telemetry=telemetry)
    def leaf_two() -> None:
        return None

    @capture_telemetry(skill_name="root", telemetry=telemetry)
    def root() -> None:
        one()
        two()

    root()
    tree = telemetry.trace(the_trace_id(telemetry_path, "root"))
    assert outline(tree) == [
        (0, "root"),
        (1, "step.one"),
        (2, "leaf"),
        (1, "step.two"),
        (2, "leaf.two"),
    ]


def test_trace_nodes_hold_the_entries_exactly_as_stored(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(skill_name="inner", telemetry=telemetry)
    def inner(x: int) -> int:
        return x

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        inner(1)
        inner(2)

    outer()
    stored = {entry["span_id"]: entry for entry in stored_entries(telemetry_path)}
    tree = telemetry.trace(the_trace_id(telemetry_path, "outer"))
    found = [node["entry"] for _, node in walk(tree)]
    assert sorted(found, key=lambda e: e["span_id"]) == sorted(
        stored.values(), key=lambda e: e["span_id"]
    )


def test_every_child_node_is_the_run_its_parent_id_names(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(skill_name="c", telemetry=telemetry)
    def c() -> None:
        return None

    @capture_telemetry(skill_name="b", telemetry=telemetry)
    def b() -> None:
        c()
        c()

    @capture_telemetry(skill_name="a", telemetry=telemetry)
    def a() -> None:
        b()
        c()

    a()
    tree = telemetry.trace(the_trace_id(telemetry_path, "a"))
    pairs = [
        (child["entry"]["parent_id"], node["entry"]["span_id"])
        for _, node in walk(tree)
        for child in node["children"]
    ]
    assert len(pairs) == 4
    assert all(parent_id == span_id for parent_id, span_id in pairs)
    assert [root["entry"]["parent_id"] for root in tree] == [None]


def test_gathered_siblings_are_ordered_by_start_not_by_when_they_ended(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    def child(name: str, seconds: float) -> Any:
        @capture_telemetry(skill_name=name, telemetry=telemetry)
        async def run() -> None:
            await asyncio.sleep(seconds)

        return run

    # Started 30 ms apart, in this order; they end (and are written) in another order.
    slow = child("gather.slow", 0.15)
    fast = child("gather.fast", 0.01)
    medium = child("gather.medium", 0.05)

    async def after(delay: float, run: Any) -> None:
        await asyncio.sleep(delay)
        await run()

    @capture_telemetry(skill_name="gather.parent", telemetry=telemetry)
    async def parent() -> None:
        await asyncio.gather(after(0.0, slow), after(0.03, fast), after(0.06, medium))

    asyncio.run(parent())
    written = [e["skill"] for e in stored_entries(telemetry_path)]
    assert written == ["gather.fast", "gather.medium", "gather.slow", "gather.parent"]
    tree = telemetry.trace(the_trace_id(telemetry_path, "gather.parent"))
    assert outline(tree) == [
        (0, "gather.parent"),
        (1, "gather.slow"),
        (1, "gather.fast"),
        (1, "gather.medium"),
    ]


def test_runs_nested_inside_gathered_siblings_stay_under_their_own_sibling(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(skill_name="leaf.a", telemetry=telemetry)
    async def leaf_a() -> None:
        await asyncio.sleep(0.02)

    @capture_telemetry(skill_name="leaf.b", telemetry=telemetry)
    async def leaf_b() -> None:
        await asyncio.sleep(0.01)

    @capture_telemetry(skill_name="branch.a", telemetry=telemetry)
    async def branch_a() -> None:
        await leaf_a()

    @capture_telemetry(skill_name="branch.b", telemetry=telemetry)
    async def branch_b() -> None:
        await asyncio.sleep(0.03)
        await leaf_b()

    async def later(step: Coroutine[Any, Any, None]) -> None:
        # Siblings started in one loop tick are microseconds apart, less than the error of
        # start = end - duration across two clocks: start branch.b clearly second.
        await asyncio.sleep(0.005)
        await step

    @capture_telemetry(skill_name="fork", telemetry=telemetry)
    async def fork() -> None:
        await asyncio.gather(branch_a(), later(branch_b()))

    asyncio.run(fork())
    tree = telemetry.trace(the_trace_id(telemetry_path, "fork"))
    assert outline(tree) == [
        (0, "fork"),
        (1, "branch.a"),
        (2, "leaf.a"),
        (1, "branch.b"),
        (2, "leaf.b"),
    ]


def test_runs_in_threads_started_with_bind_context_are_children_in_start_order(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    def work(name: str, seconds: float) -> Any:
        @capture_telemetry(skill_name=name, telemetry=telemetry)
        def run() -> None:
            time.sleep(seconds)

        return run

    @capture_telemetry(skill_name="threads.parent", telemetry=telemetry)
    def parent() -> None:
        threads = []
        for name, seconds in [("thread.long", 0.15), ("thread.short", 0.01), ("thread.mid", 0.05)]:
            thread = threading.Thread(target=bind_context(work(name, seconds)))
            thread.start()
            threads.append(thread)
            time.sleep(0.03)
        for thread in threads:
            thread.join(timeout=10)
            assert not thread.is_alive()

    parent()
    written = [e["skill"] for e in stored_entries(telemetry_path)]
    assert written == ["thread.short", "thread.mid", "thread.long", "threads.parent"]
    tree = telemetry.trace(the_trace_id(telemetry_path, "threads.parent"))
    assert outline(tree) == [
        (0, "threads.parent"),
        (1, "thread.long"),
        (1, "thread.short"),
        (1, "thread.mid"),
    ]


def test_cli_captures_in_child_processes_started_with_child_env_are_children(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(skill_name="deploy", telemetry=telemetry)
    def deploy() -> None:
        for name in ("deploy.build", "deploy.push"):
            result = run_python(
                "-m", "betty_telemetry", "capture", name, "success", "0", "CI",
                "--file", str(telemetry_path), env=child_env(),
            )  # fmt: skip
            assert result.returncode == 0, result.stderr

    deploy()
    tree = telemetry.trace(the_trace_id(telemetry_path, "deploy"))
    assert outline(tree) == [(0, "deploy"), (1, "deploy.build"), (1, "deploy.push")]


CHILD_SCRIPT = """
from betty_telemetry import capture_telemetry

@capture_telemetry(skill_name="child.inner")
def inner():
    return None

@capture_telemetry(skill_name="child.work")
def work():
    inner()
    inner()

work()
"""


def test_runs_nested_in_a_python_child_process_hang_under_the_parent_run(
    telemetry: TelemetryCapture, telemetry_path: Path, tmp_path: Path
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD_SCRIPT, encoding="utf-8")

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    def parent() -> None:
        env = child_env()
        env["BETTY_TELEMETRY_FILE"] = str(telemetry_path)
        result = run_python(str(script), env=env)
        assert result.returncode == 0, result.stderr

    parent()
    tree = telemetry.trace(the_trace_id(telemetry_path, "parent"))
    assert outline(tree) == [
        (0, "parent"),
        (1, "child.work"),
        (2, "child.inner"),
        (2, "child.inner"),
    ]


def test_trace_holds_only_its_own_runs_when_traces_interleave_in_the_file(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    copy_store(FIXTURE, telemetry_path)  # legacy entries without trace ids come first

    def make(prefix: str) -> Any:
        @capture_telemetry(skill_name=f"{prefix}.leaf", telemetry=telemetry)
        async def leaf() -> None:
            await asyncio.sleep(0.01)

        @capture_telemetry(skill_name=f"{prefix}.root", telemetry=telemetry)
        async def root() -> None:
            await leaf()
            await leaf()

        return root

    async def both() -> None:  # two top-level runs at once: two traces, interleaved
        await asyncio.gather(make("red")(), make("blue")())

    asyncio.run(both())
    skills = [e["skill"] for e in stored_entries(telemetry_path)][225:]
    assert skills[:2] in (["red.leaf", "blue.leaf"], ["blue.leaf", "red.leaf"])
    red = telemetry.trace(the_trace_id(telemetry_path, "red.root"))
    blue = telemetry.trace(the_trace_id(telemetry_path, "blue.root"))
    assert outline(red) == [(0, "red.root"), (1, "red.leaf"), (1, "red.leaf")]
    assert outline(blue) == [(0, "blue.root"), (1, "blue.leaf"), (1, "blue.leaf")]


def test_a_chain_of_3000_nested_contexts_gives_a_3000_deep_tree(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        for depth in range(3000):
            stack.enter_context(TelemetryContext(f"level.{depth}", telemetry=telemetry))
    tree = telemetry.trace(the_trace_id(telemetry_path, "level.0"))
    assert outline(tree) == [(depth, f"level.{depth}") for depth in range(3000)]


@pytest.mark.json_only("the original framework rewrites a JSON array only")
def test_trace_is_still_found_after_the_original_framework_rewrote_the_file(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(skill_name="kid", telemetry=telemetry)
    def kid() -> None:
        return None

    @capture_telemetry(skill_name="mom", telemetry=telemetry)
    def mom() -> None:
        kid()

    mom()
    trace_id = the_trace_id(telemetry_path, "mom")
    before = telemetry.trace(trace_id)
    framework_append(telemetry_path, {"skill": "legacy.tool", "status": "success"})
    assert telemetry_path.read_bytes().startswith(b"[\n  {")  # indented now
    assert telemetry.trace(trace_id) == before


def test_trace_id_in_capitals_finds_the_same_trace(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with TelemetryContext("upper", telemetry=telemetry):
        pass
    trace_id = the_trace_id(telemetry_path, "upper")
    assert outline(telemetry.trace(trace_id.upper())) == [(0, "upper")]


# -- handmade entries ----------------------------------------------------------------------


def test_entry_whose_parent_is_not_in_the_trace_is_a_root(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("orphan", sid(2), "ffffffffffffffff", start=1),
            span("root", sid(1), None, start=0, duration_ms=5000),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "root"), (0, "orphan")]


def test_roots_are_ordered_by_start_not_by_file_order_or_end(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("third", sid(3), None, start=3, duration_ms=100),
            span("first", sid(1), None, start=1, duration_ms=9000),  # ends last
            span("second", sid(2), "0123456789abcdef", start=2, duration_ms=10),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "first"), (0, "second"), (0, "third")]


def test_siblings_are_ordered_by_timestamp_minus_duration(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    # Written as runs are: each when it ended. Starts: b at 1 s, c at 2 s, a at 3 s.
    write(
        telemetry_path,
        [
            span("a", sid(1), sid(0), start=3, duration_ms=500),  # ends 3.5
            span("c", sid(3), sid(0), start=2, duration_ms=2000),  # ends 4.0
            span("b", sid(2), sid(0), start=1, duration_ms=4000),  # ends 5.0
            span("parent", sid(0), None, start=0, duration_ms=6000),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "parent"), (1, "b"), (1, "c"), (1, "a")]


def test_an_entry_without_duration_starts_at_its_timestamp(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("no.duration", sid(1), sid(0), start=2, duration_ms=None),
            span("long", sid(2), sid(0), start=1, duration_ms=5000),  # ends after no.duration
            span("parent", sid(0), None, start=0, duration_ms=9000),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "parent"), (1, "long"), (1, "no.duration")]


def test_an_entry_without_timestamp_is_kept(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    undated = span("undated", sid(1), sid(0), start=1)
    del undated["timestamp"]
    write(telemetry_path, [undated, span("parent", sid(0), None, start=0, duration_ms=5000)])
    assert sorted(outline(telemetry.trace(TRACE))) == [(0, "parent"), (1, "undated")]


def test_entries_with_equal_starts_are_all_kept(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("x", sid(1), sid(0), start=1, duration_ms=0),
            span("y", sid(2), sid(0), start=1, duration_ms=3000),  # same start, ends later
            span("z", sid(3), sid(0), start=1, duration_ms=1000),
            span("parent", sid(0), None, start=0, duration_ms=9000),
        ],
    )
    tree = outline(telemetry.trace(TRACE))
    assert tree[0] == (0, "parent")
    assert sorted(tree[1:]) == [(1, "x"), (1, "y"), (1, "z")]


def test_entries_with_identical_starts_keep_the_order_they_were_recorded_in(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(telemetry_path, [span(name, sid(n), None, start=1) for n, name in enumerate("abc")])
    assert outline(telemetry.trace(TRACE)) == [(0, "a"), (0, "b"), (0, "c")]


def test_a_run_naming_itself_as_parent_is_a_root(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(telemetry_path, [span("selfish", sid(1), sid(1), start=0)])
    assert outline(telemetry.trace(TRACE)) == [(0, "selfish")]


def test_a_two_run_cycle_keeps_both_with_the_earlier_start_as_root(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("early", sid(1), sid(2), start=1),
            span("late", sid(2), sid(1), start=2),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "early"), (1, "late")]


def test_a_three_run_cycle_becomes_a_chain_from_its_earliest_run(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    # p1 -> parent p3, p2 -> parent p1, p3 -> parent p2; written in no particular order.
    write(
        telemetry_path,
        [
            span("p2", sid(2), sid(1), start=5),
            span("p3", sid(3), sid(2), start=6),
            span("p1", sid(1), sid(3), start=4),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "p1"), (1, "p2"), (2, "p3")]


def test_a_cycle_does_not_disturb_the_rest_of_the_trace(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("child", sid(2), sid(1), start=1),
            span("root", sid(1), None, start=0, duration_ms=5000),
            span("loop.a", sid(8), sid(9), start=2),
            span("loop.b", sid(9), sid(8), start=3),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [
        (0, "root"),
        (1, "child"),
        (0, "loop.a"),
        (1, "loop.b"),
    ]


def test_a_run_hanging_off_a_cycle_stays_under_its_parent(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("tail", sid(3), sid(2), start=1),  # parent: cycle.b, which is present
            span("cycle.a", sid(1), sid(2), start=2),
            span("cycle.b", sid(2), sid(1), start=3),
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "cycle.a"), (1, "cycle.b"), (2, "tail")]


def test_a_run_hanging_off_a_cycle_is_never_lost(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("tail", sid(3), sid(2), start=1),
            span("cycle.a", sid(1), sid(2), start=2),
            span("cycle.b", sid(2), sid(1), start=3),
        ],
    )
    assert sorted(skill for _, skill in outline(telemetry.trace(TRACE))) == [
        "cycle.a",
        "cycle.b",
        "tail",
    ]


def test_a_handmade_chain_of_3000_runs_written_innermost_first_is_3000_deep(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    depth = 3000
    chain = [
        span(f"d{n}", sid(n), sid(n - 1) if n else None, start=n / 1000, duration_ms=depth - n)
        for n in range(depth)
    ]
    write(telemetry_path, list(reversed(chain)))  # a run's entry is written when it ends
    assert outline(telemetry.trace(TRACE)) == [(n, f"d{n}") for n in range(depth)]


def test_other_traces_in_the_file_are_left_out(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(
        telemetry_path,
        [
            span("mine.child", sid(2), sid(1), start=1),
            span("theirs", sid(1), None, start=0, trace_id=OTHER_TRACE),  # same span id
            span("mine.root", sid(1), None, start=0, duration_ms=5000),
            {"timestamp": at(9), "skill": "untraced", "status": "success", "duration_ms": 1},
        ],
    )
    assert outline(telemetry.trace(TRACE)) == [(0, "mine.root"), (1, "mine.child")]
    assert outline(telemetry.trace(OTHER_TRACE)) == [(0, "theirs")]


def test_unknown_trace_id_gives_an_empty_list(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write(telemetry_path, [span("known", sid(1), None, start=0)])
    assert telemetry.trace(OTHER_TRACE) == []


def test_trace_of_a_missing_file_is_empty_and_creates_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    assert telemetry.trace(TRACE) == []
    assert not telemetry_path.exists()


# None is no longer refused: trace() without an id is the newest trace (issue 15), tested in
# test_api_manners.py and below.
@pytest.mark.parametrize(
    "bad",
    ["", "xyz", TRACE[:-1], TRACE + "0", "g" * 32, TRACE[:16] + "-" + TRACE[17:], 123],
    ids=["empty", "short-word", "31-digits", "33-digits", "not-hex", "dash", "int"],
)
def test_trace_refuses_an_id_that_is_not_32_hex_digits(
    telemetry: TelemetryCapture, bad: Any
) -> None:
    with pytest.raises(ValueError, match="32 hexadecimal digits"):
        telemetry.trace(bad)


def test_trace_of_none_is_the_newest_trace_or_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    assert telemetry.trace(None) == []  # no file: no trace, nothing created
    assert not telemetry_path.exists()
    with TelemetryContext("newest", telemetry=telemetry):
        pass
    assert [root["entry"]["skill"] for root in telemetry.trace(None)] == ["newest"]


# -- last_trace_id ---------------------------------------------------------------------------


def test_last_trace_id_is_none_for_a_missing_file(telemetry: TelemetryCapture) -> None:
    assert telemetry.last_trace_id() is None


def test_last_trace_id_is_none_when_no_entry_has_a_trace(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    copy_store(FIXTURE, telemetry_path)
    telemetry.capture("plain", "success", 1.0, "test")
    assert telemetry.last_trace_id() is None


def test_last_trace_id_is_the_trace_of_the_newest_traced_entry(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with TelemetryContext("older", telemetry=telemetry):
        pass
    with TelemetryContext("newer", telemetry=telemetry):
        pass
    telemetry.capture("untraced", "success", 1.0, "test")  # newest, but outside any trace
    assert telemetry.last_trace_id() == the_trace_id(telemetry_path, "newer")
    assert the_trace_id(telemetry_path, "newer") != the_trace_id(telemetry_path, "older")


def test_last_trace_id_skips_entries_whose_trace_id_is_null(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    nulled = span("nulled", sid(2), None, start=2)
    nulled["trace_id"] = None
    write(telemetry_path, [span("traced", sid(1), None, start=1), nulled])
    assert telemetry.last_trace_id() == TRACE


def test_last_trace_id_finds_a_trace_after_a_legacy_region(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    copy_store(FIXTURE, telemetry_path)
    with TelemetryContext("modern", telemetry=telemetry):
        pass
    assert telemetry.last_trace_id() == the_trace_id(telemetry_path, "modern")


# -- the module's building blocks ------------------------------------------------------------


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def test_start_micros_is_the_timestamp_minus_the_duration_in_microseconds() -> None:
    entry = {"timestamp": "2025-05-01T12:00:01.500000+00:00", "duration_ms": 250.5}
    expected = micros(datetime(2025, 5, 1, 12, 0, 1, 249500, tzinfo=timezone.utc))
    assert start_micros(entry) == expected


def test_start_micros_reads_timestamps_with_other_offsets() -> None:
    entry = {"timestamp": "2025-05-01T14:00:01.5+02:00", "duration_ms": 1000}
    assert start_micros(entry) == micros(
        datetime(2025, 5, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)
    )


@pytest.mark.parametrize(
    "duration",
    [None, "250", True, float("nan"), float("inf")],
    ids=["missing", "text", "bool", "nan", "infinite"],
)
def test_start_micros_without_a_usable_duration_is_the_timestamp(duration: object) -> None:
    entry: dict[str, Any] = {"timestamp": "2025-05-01T12:00:00+00:00"}
    if duration is not None:
        entry["duration_ms"] = duration
    assert start_micros(entry) == micros(datetime(2025, 5, 1, 12, tzinfo=timezone.utc))


@pytest.mark.parametrize("timestamp", [None, "yesterday-ish", 1714564800], ids=str)
def test_start_micros_is_none_without_a_timestamp(timestamp: object) -> None:
    assert start_micros({"timestamp": timestamp, "duration_ms": 5}) is None


def test_walk_gives_every_node_depth_first_with_its_depth() -> None:
    entries = [
        span("root", sid(0), None, start=0, duration_ms=9000),
        span("a", sid(1), sid(0), start=1),
        span("a.1", sid(3), sid(1), start=1.5),
        span("b", sid(2), sid(0), start=2),
        span("lone", sid(4), None, start=3),
    ]
    walked = [(depth, node["entry"]["skill"]) for depth, node in walk(build_tree(entries))]
    assert walked == [(0, "root"), (1, "a"), (2, "a.1"), (1, "b"), (0, "lone")]


def test_build_tree_and_walk_handle_a_chain_deeper_than_the_recursion_limit() -> None:
    depth = 5000
    chain = [span(f"d{n}", sid(n), sid(n - 1) if n else None, start=n) for n in range(depth)]
    walked = walk(build_tree(chain))
    assert [d for d, _ in walked] == list(range(depth))


def test_build_tree_of_nothing_is_empty() -> None:
    assert build_tree([]) == []
    assert walk([]) == []
