"""TelemetryCapture.follow and its ArrayFollower: entries as they are appended, from other
processes, across rotation, deletion, truncation, in-place rewrites by the original framework,
files that do not exist yet, and torn lines.

The public iterator's tests run over every store; the ArrayFollower's, step by step, and the
original framework's rewrites are the JSON array's own.

``ArrayFollower.poll`` is driven directly where a test needs a deterministic sequence of events; the
public iterator runs in a thread (``Following``) so that a hang fails the test instead of
blocking it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores import JsonArrayStore, open_store
from betty_telemetry.stores.json_array.follow import ArrayFollower
from tests.conftest import FIXTURE, run_python
from tests.original_framework import APPEND_SCRIPT, framework_append
from tests.stores import TEXT_STORES, copy_store, encoded, stored_entries

pytestmark = pytest.mark.every_store

TIMEOUT = 20.0
POLL = 0.01
Entry = dict[str, Any]

WRITER = """
import os, sys, time
from betty_telemetry import TelemetryCapture
path, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.002)
telemetry = TelemetryCapture(path)
for n in range(count):
    telemetry.capture(name, "success", float(n), "writer", {"n": n})
"""


# -- helpers -------------------------------------------------------------------------------


def legacy(skill: str) -> Entry:
    """An entry as the original framework writes it (no error_message, metadata or ids)."""
    return {
        "timestamp": "2025-10-23T18:08:55.963188+00:00",
        "skill": skill,
        "inputs": {"param": skill},
        "status": "success",
        "duration_ms": 1000,
        "caller": "framework",
    }


def normalized(entry: Entry) -> Entry:
    """``entry`` as readers return it: the spec's fields first, missing ones filled in."""
    fields = ("timestamp", "skill", "status", "duration_ms", "caller")
    result: Entry = {name: entry.get(name) for name in fields}
    result["inputs"] = entry.get("inputs", {})
    result["error_message"] = entry.get("error_message")
    result["metadata"] = entry.get("metadata", {})
    result.update((name, value) for name, value in entry.items() if name not in result)
    return result


def capture(telemetry: TelemetryCapture, skill: str, n: int = 0) -> Entry:
    return telemetry.capture(skill, "success", float(n), "test", {"n": n})


def skills(entries: list[Entry]) -> list[str]:
    return [entry["skill"] for entry in entries]


def poll_until(follower: ArrayFollower, count: int, attempts: int = 20) -> list[Entry]:
    """Poll until ``count`` entries came (or ``attempts`` polls gave nothing more)."""
    found: list[Entry] = []
    for _ in range(attempts):
        found += follower.poll()
        if len(found) >= count:
            break
    return found


def file_entries(path: Path) -> list[Entry]:
    """The store's entries, oldest first, the whole store checked (see ``stored_entries``)."""
    return stored_entries(path)


@pytest.fixture
def follower(telemetry_path: Path) -> Iterator[ArrayFollower]:
    instance = ArrayFollower(str(telemetry_path))
    yield instance
    instance.close()


class Following:
    """``telemetry.follow(**options)`` iterated in a thread; entries arrive in a queue."""

    def __init__(
        self,
        telemetry: TelemetryCapture,
        wake: Callable[[], object] | None = None,
        **options: Any,
    ) -> None:
        self._telemetry = telemetry
        self._wake = wake or (lambda: capture(telemetry, "follow.wake"))
        self._iterator = telemetry.follow(poll_interval=POLL, **options)
        self._queue: queue.Queue[Entry | BaseException] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for entry in self._iterator:
                self._queue.put(entry)
                if self._stop.is_set():
                    break
        except BaseException as exc:
            self._queue.put(exc)
        finally:
            self._iterator.close()

    def take(self, count: int, timeout: float = TIMEOUT) -> list[Entry]:
        """The next ``count`` entries; fails if they do not come within ``timeout``."""
        deadline = time.monotonic() + timeout
        taken: list[Entry] = []
        while len(taken) < count:
            try:
                item = self._queue.get(timeout=max(0.001, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"follow gave {len(taken)} of {count} entries in {timeout} s: {skills(taken)}"
                ) from None
            if isinstance(item, BaseException):
                raise item
            taken.append(item)
        return taken

    def take_through(self, skill: str, timeout: float = TIMEOUT) -> list[Entry]:
        """Entries up to and including the next one of ``skill``."""
        taken: list[Entry] = []
        deadline = time.monotonic() + timeout
        while not taken or taken[-1]["skill"] != skill:
            taken += self.take(1, max(0.001, deadline - time.monotonic()))
        return taken

    def sync(self) -> None:
        """Capture markers until the follower yields them: from then on, it sees every append.

        (The iterator starts reading at its first ``next``, in the thread, at an unknown
        moment; a marker captured before that is skipped, every one after is yielded.)
        """
        markers: list[Entry] = []
        deadline = time.monotonic() + TIMEOUT
        first: Entry | None = None
        while first is None:
            assert time.monotonic() < deadline, "the follower never started"
            markers.append(capture(self._telemetry, "follow.sync", len(markers)))
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                raise item
            first = item
        assert first in markers, first
        rest = markers[markers.index(first) + 1 :]
        assert self.take(len(rest)) == rest

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + TIMEOUT
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._wake()  # the iterator checks for the stop only when it yields
            self._thread.join(0.2)
        assert not self._thread.is_alive(), "the follow iterator did not stop"


@pytest.fixture
def follow(telemetry: TelemetryCapture) -> Iterator[Callable[..., Following]]:
    started: list[Following] = []

    def start(wake: Callable[[], object] | None = None, **options: Any) -> Following:
        following = Following(telemetry, wake, **options)
        started.append(following)
        return following

    yield start
    for following in started:
        following.stop()


# -- the public iterator -------------------------------------------------------------------


def test_follow_yields_new_entries_in_order_and_none_that_were_there_before(
    telemetry: TelemetryCapture, follow: Callable[..., Following]
) -> None:
    for n in range(5):
        capture(telemetry, "old", n)
    following = follow()
    following.sync()  # fails if an "old" entry comes first
    new = [capture(telemetry, "new", n) for n in range(5)]
    assert following.take(5) == new


def test_backlog_gives_the_last_entries_oldest_first_then_new_ones(
    telemetry: TelemetryCapture, follow: Callable[..., Following]
) -> None:
    old = [capture(telemetry, "old", n) for n in range(10)]
    following = follow(backlog=3)
    assert following.take(3) == old[-3:]
    new = capture(telemetry, "new")
    assert following.take(1) == [new]


def test_backlog_larger_than_the_file_gives_every_entry(
    telemetry: TelemetryCapture, follow: Callable[..., Following]
) -> None:
    old = [capture(telemetry, "old", n) for n in range(4)]
    following = follow(backlog=1000)
    assert following.take(4) == old
    end = capture(telemetry, "end")
    assert following.take(1) == [end]  # and nothing else of the backlog in between


def test_backlog_of_the_legacy_fixture_gives_its_last_entries_normalized(
    telemetry: TelemetryCapture, telemetry_path: Path, follow: Callable[..., Following]
) -> None:
    copy_store(FIXTURE, telemetry_path)
    expected = [normalized(entry) for entry in json.loads(FIXTURE.read_bytes())[-4:]]
    following = follow(backlog=4)
    assert following.take(4) == expected


T1 = "11111111111111111111111111111111"
T2 = "22222222222222222222222222222222"


def made(
    skill: str,
    status: str,
    caller: str,
    hour: int,
    duration_ms: float,
    error: str | None = None,
    trace_id: str | None = None,
) -> Entry:
    entry: Entry = {
        "timestamp": f"2025-03-01T{hour:02d}:00:00.000000+00:00",
        "skill": skill,
        "status": status,
        "duration_ms": duration_ms,
        "caller": caller,
        "inputs": {},
        "error_message": error,
        "metadata": {},
    }
    if trace_id is not None:
        entry.update(trace_id=trace_id, span_id=f"{hour:016x}", parent_id=None)
    return entry


MIXED = [
    made("agent.plan", "success", "api", 10, 10.0, trace_id=T1),
    made("agent.run", "failure", "cli", 11, 2500.0, "Timeout talking to Model", T2),
    made("workflow.compose", "success", "api", 12, 300.0, trace_id=T1),
    made("plugin.build", "error", "ci", 13, 4000.0, "disk FULL"),
    made("agent.review", "timeout", "cli", 14, 60000.0, "model timeout", T1),
    {  # written by the original framework: a legacy status, and "error" for the message
        "timestamp": "2025-03-01T15:00:00+00:00",
        "skill": "workflow.validate",
        "inputs": {},
        "status": "failed",
        "duration_ms": 5,
        "caller": "cli",
        "error": "Schema mismatch",
    },
]

FILTER_CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "skill": ({"skill": "agent.run"}, ["agent.run"]),
    "skill-glob": ({"skill": "agent.*"}, ["agent.plan", "agent.run", "agent.review"]),
    "status": ({"status": "failure"}, ["agent.run"]),
    "statuses": ({"status": ["error", "timeout"]}, ["plugin.build", "agent.review"]),
    "legacy-status": ({"status": "failed"}, ["workflow.validate"]),
    "caller": ({"caller": "cli"}, ["agent.run", "agent.review", "workflow.validate"]),
    "caller-glob": (
        {"caller": "c*"},
        ["agent.run", "plugin.build", "agent.review", "workflow.validate"],
    ),
    "since": (
        {"since": "2025-03-01T12:00:00Z"},
        ["workflow.compose", "plugin.build", "agent.review", "workflow.validate"],
    ),
    "until": ({"until": "2025-03-01T12:00:00Z"}, ["agent.plan", "agent.run", "workflow.compose"]),
    "window": (
        {"since": "2025-03-01T11:00:00Z", "until": "2025-03-01T13:00:00Z"},
        ["agent.run", "workflow.compose", "plugin.build"],
    ),
    "trace": ({"trace_id": T1}, ["agent.plan", "workflow.compose", "agent.review"]),
    "min-duration": ({"min_duration_ms": 2500}, ["agent.run", "plugin.build", "agent.review"]),
    "text": ({"text": "timeout"}, ["agent.run", "agent.review"]),
    "text-legacy-error": ({"text": "SCHEMA"}, ["workflow.validate"]),
    "combined": ({"skill": "agent.*", "status": "failure", "caller": "cli"}, ["agent.run"]),
}


def append_lines(path: Path, entries: list[Entry]) -> None:
    """Append ``entries`` one write each, as our writer does, to the store at ``path``."""
    store = open_store(path)
    for entry in entries:
        store.write([encoded(entry)])
    store.close()


def sentinel_for(expected: list[str]) -> Entry:
    """A copy of the last expected entry, told apart by its inputs: it matches the filters."""
    [last] = [entry for entry in MIXED if entry["skill"] == expected[-1]]
    return {**last, "inputs": {"sentinel": True}}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_backlog_holds_the_last_entries_matching_the_filters(
    telemetry_path: Path, follow: Callable[..., Following], case: str
) -> None:
    filters, expected = FILTER_CASES[case]
    sentinel = sentinel_for(expected)
    append_lines(telemetry_path, MIXED)
    following = follow(lambda: append_lines(telemetry_path, [sentinel]), backlog=2, **filters)
    assert skills(following.take(len(expected[-2:]))) == expected[-2:]
    append_lines(telemetry_path, [sentinel])
    assert following.take(1)[0]["inputs"] == {"sentinel": True}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_follow_yields_only_new_entries_matching_the_filters(
    telemetry_path: Path, follow: Callable[..., Following], case: str
) -> None:
    filters, expected = FILTER_CASES[case]
    sentinel = sentinel_for(expected)
    append_lines(telemetry_path, MIXED)
    following = follow(lambda: append_lines(telemetry_path, [sentinel]), backlog=1, **filters)
    assert skills(following.take(1)) == expected[-1:]  # started: later appends are followed
    append_lines(telemetry_path, [*MIXED, sentinel])
    found = following.take(len(expected) + 1)
    assert skills(found) == [*expected, sentinel["skill"]]
    assert found[-1]["inputs"] == {"sentinel": True}


def test_follow_yields_entries_captured_by_another_process(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    follow: Callable[..., Following],
    tmp_path: Path,
) -> None:
    following = follow()
    following.sync()
    go = tmp_path / "go"
    go.touch()
    result = run_python("-c", WRITER, str(telemetry_path), "other.process", "20", str(go))
    assert result.returncode == 0, result.stderr
    found = following.take(20)
    assert [(e["skill"], e["inputs"]["n"]) for e in found] == [
        ("other.process", n) for n in range(20)
    ]
    assert found == file_entries(telemetry_path)[-20:]


def test_follow_loses_and_repeats_nothing_when_several_processes_append_at_once(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    follow: Callable[..., Following],
    tmp_path: Path,
) -> None:
    processes, count = 4, 150
    following = follow()
    following.sync()
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(telemetry_path), f"writer.{w}", str(count), str(go)]
        )
        for w in range(processes)
    ]
    try:
        go.touch()  # all start writing at once
        found = following.take(processes * count, timeout=60)
    finally:
        codes = [writer.wait(timeout=60) for writer in writers]
    assert codes == [0] * processes
    keys = [(e["skill"], e["inputs"]["n"]) for e in found]
    assert Counter(keys) == Counter(
        (f"writer.{w}", n) for w in range(processes) for n in range(count)
    )
    for w in range(processes):  # each writer's entries in the order it wrote them
        assert [n for skill, n in keys if skill == f"writer.{w}"] == list(range(count))
    assert found == file_entries(telemetry_path)[-processes * count :]  # in file order


# Here the capture that wrote the file keeps it open while it is replaced or deleted: a SQLite
# database must be deleted or replaced only with its -wal and -shm files, and while no process
# writes to it (docs/stores.md, the SQLite store); test_sqlite_store follows one done so.
WHILE_A_CAPTURE_HOLDS_IT = pytest.mark.only_stores(
    "json",
    "jsonl",
    reason="a SQLite database is replaced or deleted only with its -wal and -shm files, and "
    "while no process has it open",
)


@WHILE_A_CAPTURE_HOLDS_IT
def test_follow_reads_the_old_file_then_the_new_one_after_rotation(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    follow: Callable[..., Following],
    tmp_path: Path,
) -> None:
    following = follow()
    following.sync()
    old = capture(telemetry, "before.rotation")
    fresh = tmp_path / f"fresh{telemetry_path.suffix}"
    append_lines(fresh, [made("rotated.1", "success", "x", 1, 1.0)])
    append_lines(fresh, [made("rotated.2", "success", "x", 2, 1.0)])
    os.replace(fresh, telemetry_path)
    after = capture(telemetry, "after.rotation")
    found = following.take_through("after.rotation")
    assert skills(found) == ["before.rotation", "rotated.1", "rotated.2", "after.rotation"]
    assert (found[0], found[-1]) == (old, after)


@WHILE_A_CAPTURE_HOLDS_IT
def test_follow_picks_up_a_file_deleted_and_created_again(
    telemetry: TelemetryCapture, telemetry_path: Path, follow: Callable[..., Following]
) -> None:
    following = follow()
    following.sync()
    telemetry_path.unlink()
    time.sleep(5 * POLL)  # let the follower see the path missing
    created = [capture(telemetry, "recreated", n) for n in range(3)]
    assert following.take(3) == created


@pytest.mark.only_stores(
    "json", "jsonl", reason="a file cut to empty in place (copytruncate) is a text log's fate"
)
def test_follow_continues_after_the_file_is_truncated_to_empty(
    telemetry: TelemetryCapture, telemetry_path: Path, follow: Callable[..., Following]
) -> None:
    following = follow()
    following.sync()
    os.truncate(telemetry_path, 0)
    new = [capture(telemetry, "after.truncation", n) for n in range(3)]
    assert following.take(3) == new


@pytest.mark.json_only("the original framework rewrites a JSON array only")
def test_follow_yields_an_entry_rewritten_in_by_the_framework_in_another_process_once(
    telemetry: TelemetryCapture, telemetry_path: Path, follow: Callable[..., Following]
) -> None:
    following = follow()
    following.sync()
    entry = legacy("framework.tool")
    result = run_python("-c", APPEND_SCRIPT, str(telemetry_path), json.dumps(entry))
    assert result.returncode == 0, result.stderr
    ours = capture(telemetry, "ours.after")
    assert following.take_through("ours.after") == [normalized(entry), ours]


@pytest.mark.only_stores("json", "jsonl", reason="a torn line is a text file's kind of damage")
def test_follow_yields_complete_entries_only_around_a_torn_line(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    store_kind: str,
    follow: Callable[..., Following],
) -> None:
    following = follow()
    following.sync()
    if store_kind == "json":
        tear(telemetry_path, b',\n{"timestamp": "2025-10-24T14:30:45.1')
    else:  # a JSON Lines append cut short: the start of a line, no newline
        with telemetry_path.open("ab") as handle:
            handle.write(b'{"timestamp": "2025-10-24T14:30:45.1')
    time.sleep(5 * POLL)
    repaired = capture(telemetry, "after.repair")
    assert following.take(1) == [repaired]


@pytest.mark.parametrize(
    "value",
    [0, -1, 60.001, 1e9, float("nan"), float("inf"), True, "1", None],
    ids=["zero", "negative", "above-60", "huge", "nan", "inf", "bool", "text", "none"],
)
def test_follow_refuses_a_bad_poll_interval(telemetry: TelemetryCapture, value: Any) -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        telemetry.follow(poll_interval=value)


@pytest.mark.parametrize("value", [-1, 1.5, True, "2", None], ids=str)
def test_follow_refuses_a_bad_backlog(telemetry: TelemetryCapture, value: Any) -> None:
    with pytest.raises(ValueError, match="backlog"):
        telemetry.follow(backlog=value)


def test_follow_refuses_a_bad_filter_before_iterating(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="status"):
        telemetry.follow(status="bogus")


@pytest.mark.parametrize("value", [60, 0.001], ids=["upper-bound", "small"])
def test_follow_accepts_poll_intervals_up_to_a_minute(
    telemetry: TelemetryCapture, value: float
) -> None:
    old = capture(telemetry, "only")
    iterator = telemetry.follow(poll_interval=value, backlog=1)
    try:
        assert next(iterator) == old
    finally:
        iterator.close()


def open_descriptors(path: Path) -> int:
    """How many of this process's descriptors are open on ``path``."""
    target = os.stat(path)
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            status = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        count += (status.st_dev, status.st_ino) == (target.st_dev, target.st_ino)
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_closing_the_follow_iterator_closes_the_file(
    telemetry: TelemetryCapture, telemetry_path: Path, store_kind: str
) -> None:
    capture(telemetry, "only")
    before = open_descriptors(telemetry_path)
    iterator = telemetry.follow(backlog=1)
    next(iterator)
    if store_kind in TEXT_STORES:  # a file store's follower keeps its file open between polls
        assert open_descriptors(telemetry_path) == before + 1
    iterator.close()
    assert open_descriptors(telemetry_path) == before


# -- the ArrayFollower, step by step ------------------------------------------------------------

ARRAY_INTERNALS = pytest.mark.json_only(
    "drives the JSON array's own follower, or rewrites or tears its bytes (JSON Lines: "
    "test_json_lines)"
)


@ARRAY_INTERNALS
def test_poll_gives_nothing_when_nothing_was_appended(
    telemetry: TelemetryCapture, follower: ArrayFollower
) -> None:
    capture(telemetry, "old")
    assert follower.start_at_end() == []
    assert follower.poll() == []
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_poll_gives_each_appended_entry_once(
    telemetry: TelemetryCapture, follower: ArrayFollower
) -> None:
    capture(telemetry, "old")
    follower.start_at_end()
    first = [capture(telemetry, "a", n) for n in range(3)]
    assert follower.poll() == first
    second = [capture(telemetry, "b", n) for n in range(2)]
    assert follower.poll() == second
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_start_at_end_backlog_is_the_newest_entries_oldest_first(
    telemetry: TelemetryCapture, follower: ArrayFollower
) -> None:
    old = [capture(telemetry, "old", n) for n in range(6)]
    assert follower.start_at_end(backlog=2) == old[-2:]
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_a_burst_larger_than_one_read_comes_over_several_polls_without_loss(
    telemetry_path: Path, follower: ArrayFollower
) -> None:
    entries = [
        {**made(f"burst.{n}", "success", "bulk", 10, float(n)), "inputs": {"pad": "p" * 200}}
        for n in range(8000)
    ]
    lines = [json.dumps(entry).encode() for entry in entries]
    assert sum(len(line) + 2 for line in lines) > 2 * (1 << 20)  # more than two reads' worth
    store = JsonArrayStore(str(telemetry_path))
    store.append(json.dumps(made("first", "success", "x", 1, 1.0)).encode())
    follower.start_at_end()
    for line in lines:
        store.append(line)
    store.close()
    found: list[Entry] = []
    polls = 0
    while len(found) < len(entries) and polls < 100:
        found += follower.poll()
        polls += 1
    assert found == entries
    assert polls > 1


@ARRAY_INTERNALS
def test_a_file_that_does_not_exist_yet_is_read_from_its_start_once_created(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    assert follower.start_at_end(backlog=5) == []
    assert follower.poll() == []
    assert not telemetry_path.exists()
    created = [capture(telemetry, "created", n) for n in range(3)]
    assert follower.poll() == created
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_rotation_reads_the_rest_of_the_old_file_then_the_new_file_from_its_start(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower, tmp_path: Path
) -> None:
    capture(telemetry, "seen")
    follower.start_at_end()
    unread = [capture(telemetry, "unread.old", n) for n in range(2)]
    fresh = tmp_path / "fresh.json"
    rotated = [made(f"rotated.{n}", "success", "x", n, 1.0) for n in range(3)]
    append_lines(fresh, rotated)
    os.replace(fresh, telemetry_path)
    found = poll_until(follower, 5)
    assert found == [*unread, *rotated]
    after = capture(telemetry, "after")
    assert follower.poll() == [after]


@ARRAY_INTERNALS
def test_a_replacement_that_repeats_the_old_entries_is_still_read_from_its_start(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower, tmp_path: Path
) -> None:
    old = [capture(telemetry, "old", n) for n in range(3)]
    follower.start_at_end()
    fresh = tmp_path / "fresh.json"
    shutil.copy(telemetry_path, fresh)  # a rewrite by os.replace: same entries, then more
    more = made("added.by.rewrite", "success", "x", 1, 1.0)
    append_lines(fresh, [more])
    os.replace(fresh, telemetry_path)
    assert poll_until(follower, 4) == [*old, more]


@ARRAY_INTERNALS
def test_rotation_to_an_indented_file_gives_all_of_its_entries(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower, tmp_path: Path
) -> None:
    capture(telemetry, "seen")
    follower.start_at_end()
    fresh = tmp_path / "fresh.json"
    shutil.copy(FIXTURE, fresh)
    os.replace(fresh, telemetry_path)
    expected = json.loads(FIXTURE.read_bytes())  # the follower gives entries as stored
    assert poll_until(follower, len(expected)) == expected


@ARRAY_INTERNALS
def test_entries_written_just_before_deletion_are_still_yielded(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "seen")
    follower.start_at_end()
    last = capture(telemetry, "last.words")
    telemetry_path.unlink()
    assert follower.poll() == [last]
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_a_deleted_file_created_again_is_read_from_its_start(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "seen")
    follower.start_at_end()
    telemetry_path.unlink()
    assert follower.poll() == []
    created = [capture(telemetry, "reborn", n) for n in range(2)]
    assert poll_until(follower, 2) == created


@ARRAY_INTERNALS
def test_truncation_seen_while_empty_then_new_captures_are_yielded(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    for n in range(5):
        capture(telemetry, "old", n)
    follower.start_at_end()
    os.truncate(telemetry_path, 0)
    assert follower.poll() == []
    new = [capture(telemetry, "new", n) for n in range(2)]
    assert follower.poll() == new


@ARRAY_INTERNALS
@pytest.mark.parametrize(("old_count", "new_count"), [(10, 1), (1, 30)], ids=["shorter", "longer"])
def test_truncation_then_captures_before_the_next_poll_yield_only_the_new_entries(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    follower: ArrayFollower,
    old_count: int,
    new_count: int,
) -> None:
    for n in range(old_count):
        capture(telemetry, "old.entry", n)
    follower.start_at_end()
    old_size = telemetry_path.stat().st_size
    os.truncate(telemetry_path, 0)
    new = [capture(telemetry, "new", n) for n in range(new_count)]
    assert (telemetry_path.stat().st_size > old_size) == (new_count > old_count)
    assert poll_until(follower, new_count) == new


@ARRAY_INTERNALS
def test_truncation_then_same_shaped_captures_before_the_next_poll_lose_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "same", 0)
    follower.start_at_end()
    os.truncate(telemetry_path, 0)  # as logrotate's copytruncate, or `: > telemetry.json`
    new = [capture(telemetry, "same", n) for n in range(30)]
    assert poll_until(follower, 30) == new


@ARRAY_INTERNALS
def test_an_in_place_rewrite_by_the_framework_yields_its_entry_once(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    for n in range(3):
        capture(telemetry, "ours", n)
    follower.start_at_end()
    entry = legacy("framework.tool")
    framework_append(telemetry_path, entry)
    assert follower.poll() == [entry]  # as stored
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_our_capture_after_a_framework_rewrite_is_yielded(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "ours")
    follower.start_at_end()
    framework_append(telemetry_path, legacy("framework.tool"))
    follower.poll()
    after = capture(telemetry, "ours.after")
    assert follower.poll() == [after]


@ARRAY_INTERNALS
def test_a_rewrite_and_a_capture_between_two_polls_are_both_yielded_once(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "ours")
    follower.start_at_end()
    entry = legacy("framework.tool")
    framework_append(telemetry_path, entry)
    after = capture(telemetry, "ours.after")
    assert follower.poll() == [entry, after]  # as stored
    assert follower.poll() == []


@ARRAY_INTERNALS
def test_our_capture_appended_to_the_legacy_fixture_is_yielded(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    telemetry_path.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, telemetry_path)
    follower.start_at_end()
    ours = capture(telemetry, "ours")
    assert follower.poll() == [ours]


def _start_legacy_fixture(telemetry: TelemetryCapture, path: Path) -> None:
    path.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, path)


def _start_after_one_framework_rewrite(telemetry: TelemetryCapture, path: Path) -> None:
    capture(telemetry, "ours")
    framework_append(path, legacy("framework.first"))


def _start_empty(telemetry: TelemetryCapture, path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")


@ARRAY_INTERNALS
@pytest.mark.parametrize(
    "start",
    [_start_legacy_fixture, _start_after_one_framework_rewrite, _start_empty],
    ids=["legacy-fixture", "second-rewrite", "empty-file"],
)
def test_a_framework_rewrite_of_an_indented_or_empty_file_is_yielded(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    follower: ArrayFollower,
    start: Callable[[TelemetryCapture, Path], None],
) -> None:
    start(telemetry, telemetry_path)
    follower.start_at_end()
    if telemetry_path.stat().st_size == 0:
        telemetry_path.write_text("[]")  # as the framework initialises a new registry file
        follower.poll()
    entry = legacy("framework.next")
    framework_append(telemetry_path, entry)
    ours = capture(telemetry, "ours.after")
    assert poll_until(follower, 2, attempts=5) == [entry, ours]  # as stored


def tear(path: Path, partial: bytes) -> None:
    """Leave ``path`` as a writer killed in the middle of its append would: ``partial`` written
    over the closing bracket, nothing after it."""
    data = path.read_bytes()
    with path.open("r+b") as handle:
        handle.seek(data.rindex(b"}") + 1)
        handle.write(partial)
        handle.truncate()


@ARRAY_INTERNALS
def test_a_follower_started_on_a_torn_file_yields_the_captures_after_the_repair(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "before.crash")
    tear(telemetry_path, b',\n{"skill": "half.written", "sta')
    assert follower.start_at_end() == []
    new = [capture(telemetry, "after.repair", n) for n in range(3)]
    assert poll_until(follower, 3, attempts=5) == new


@ARRAY_INTERNALS
def test_a_follower_started_on_a_torn_file_whose_partial_line_starts_like_any_entry_recovers(
    telemetry: TelemetryCapture, telemetry_path: Path, follower: ArrayFollower
) -> None:
    capture(telemetry, "before.crash")
    tear(telemetry_path, b',\n{"timestamp": "20')
    assert follower.start_at_end() == []
    new = [capture(telemetry, "after.repair", n) for n in range(3)]
    assert poll_until(follower, 3, attempts=5) == new


def _torn_states(before: bytes, new_line: bytes, scratch: Path) -> list[bytes]:
    """Every file a writer killed after k bytes of its append could leave behind: the write
    landed over the old bytes, or the file was cut first (slow path, lost blocks)."""
    scratch.write_bytes(before)
    JsonArrayStore(str(scratch)).append(new_line)
    after = scratch.read_bytes()
    offset = 0
    while offset < min(len(before), len(after)) and before[offset] == after[offset]:
        offset += 1
    data = after[offset:]
    over_old = [before[:offset] + data[:k] + before[offset + k :] for k in range(len(data) + 1)]
    cut_first = [after[:j] for j in range(offset, len(after) + 1)]
    return over_old + cut_first


@ARRAY_INTERNALS
def test_whatever_a_torn_append_left_the_follower_yields_exactly_the_entries_kept(
    tmp_path: Path,
) -> None:
    first, second = (made(f"kept.{n}", "success", "x", n, 1.0) for n in range(2))
    before = b"[\n" + json.dumps(first).encode() + b",\n" + json.dumps(second).encode() + b"\n]\n"
    torn_entry = made("torn", "success", "x", 3, 1.0)
    states = _torn_states(before, json.dumps(torn_entry).encode(), tmp_path / "scratch.json")
    assert len(states) > 100
    for k, torn in enumerate(states):
        path = tmp_path / f"torn-{k}.json"
        path.write_bytes(before)
        follower = ArrayFollower(str(path))
        try:
            follower.start_at_end()
            with path.open("r+b") as handle:  # same file, as the killed writer left it
                handle.write(torn)
                handle.truncate()
            found = follower.poll() + follower.poll()
            repaired = TelemetryCapture(path).capture("repair", "success", 1.0, "x")
            found += poll_until(follower, 1, attempts=3)
        finally:
            follower.close()
        kept = file_entries(path)[2:]
        assert found == kept, (k, torn[len(before) - 4 :])
        assert kept[-1] == repaired
        assert kept[:-1] in ([], [torn_entry]), (k, torn)
