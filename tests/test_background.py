"""Background mode: ``TelemetryCapture(background=True)`` queues, one thread writes (issue 5, 4).

Everything here runs for real: the writer is held up by another process holding the file's
``flock`` (the lock every writer must take), batching is observed by counting the write system
calls of a child process (with strace, where it is installed and may trace, and with the
kernel's own per-process count of write calls, ``syscw`` in ``/proc/<pid>/io``), and exit,
fork and write failures happen in real child processes and on real files.
"""

from __future__ import annotations

import json
import logging
import re
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    ENTRY_FIELDS,
    REDACTED,
    TelemetryCapture,
    TelemetryContext,
    capture_telemetry,
    current_span,
)
from betty_telemetry.capture.defaults import default_capture
from betty_telemetry.stores import Encoded
from tests.conftest import run_python
from tests.stores import JSON_ARRAY, TEXT_STORES, kind_of, stored_entries
from tests.tracing import strace_usable

pytestmark = pytest.mark.every_store

DROPPED = "betty_telemetry.dropped"
WAIT = 10.0  # seconds any single wait may take before the test fails instead of hanging
HEX16 = re.compile(r"[0-9a-f]{16}")

# A separate process takes the file's exclusive lock and keeps it until its stdin closes: the
# flock the JSON stores take, or an exclusive transaction of a SQLite database. Either creates
# an empty file first, which every store takes for an empty store.
HOLD_LOCK = textwrap.dedent(
    """
    import fcntl, os, sqlite3, sys
    path, kind = sys.argv[1:3]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if kind == "sqlite":
        database = sqlite3.connect(path, isolation_level=None)
        database.execute("BEGIN EXCLUSIVE")
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()
    """
)


@contextmanager
def lock_held_elsewhere(path: Path) -> Iterator[Callable[[], None]]:
    """Hold ``path``'s exclusive flock in another process; yields a function releasing it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), kind_of(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None

    def release() -> None:
        if holder.poll() is None:
            holder.stdin.close()  # type: ignore[union-attr]
            holder.wait(timeout=WAIT)  # it exited: the kernel dropped its lock

    try:
        ready, _, _ = select.select([holder.stdout], [], [], WAIT)
        assert ready, "the lock holder did not start"
        assert holder.stdout.readline() == "locked\n"
        yield release
    finally:
        try:
            release()
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait(timeout=WAIT)
            holder.stdout.close()


def stored(path: Path) -> list[dict[str, Any]]:
    """The store's entries, oldest first: a JSON-array file parsed as the ASCII array it must
    be, each line of a JSON Lines file as one object (see ``stored_entries``)."""
    if kind_of(path) == JSON_ARRAY:
        path.read_bytes().decode("ascii")
    return stored_entries(path)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.002)


def writer_waits_for_the_lock(capture: TelemetryCapture) -> None:
    """Once the writer has taken everything queued (and a moment more, to get from taking it to
    the lock, where it then waits), nothing it holds can take in later drops."""
    assert capture.pipeline._batching is not None
    queue = capture.pipeline._batching._queue
    wait_until(lambda: len(queue) == 0)
    time.sleep(0.05)


def background(path: Path, **options: Any) -> TelemetryCapture:
    return TelemetryCapture(path, background=True, lock_timeout=60, **options)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "betty_telemetry" and r.levelno >= logging.WARNING
    ]


# -- capture() checks at once, queues, returns the entry as queued ------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"status": "finished"}, id="unknown-status"),
        pytest.param({"status": None}, id="status-none"),
        pytest.param({"duration_ms": -1.0}, id="negative-duration"),
        pytest.param({"duration_ms": float("nan")}, id="nan-duration"),
        pytest.param({"duration_ms": float("inf")}, id="infinite-duration"),
        pytest.param({"duration_ms": "5"}, id="text-duration"),
        pytest.param({"duration_ms": True}, id="bool-duration"),
        pytest.param({"skill": ""}, id="empty-skill"),
        pytest.param({"skill": " \t\n"}, id="blank-skill"),
        pytest.param({"skill": 7}, id="number-skill"),
        pytest.param({"caller": ""}, id="empty-caller"),
        pytest.param({"caller": "\u2003"}, id="blank-unicode-caller"),
        pytest.param({"caller": None}, id="caller-none"),
        pytest.param({"inputs": ["a", "b"]}, id="list-inputs"),
        pytest.param({"inputs": "a=b"}, id="text-inputs"),
        pytest.param({"metadata": 42}, id="number-metadata"),
        pytest.param({"error_message": ValueError("x")}, id="exception-error-message"),
    ],
)
def test_background_capture_refuses_bad_arguments_at_once_and_queues_nothing(
    tmp_path: Path, arguments: dict[str, Any], store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    call = {"skill": "s", "status": "success", "duration_ms": 1.0, "caller": "c", **arguments}
    with pytest.raises(ValueError):  # noqa: PT011 - each argument has its own message
        capture.capture(**call)
    assert capture.flush(WAIT)
    assert capture.pipeline._batching is not None
    assert (
        capture.pipeline._batching._thread is None
    )  # nothing was ever queued: no writer was started
    assert not path.exists()


def test_background_capture_returns_the_entry_as_queued_before_redaction(
    tmp_path: Path, store_suffix: str
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    inputs = {"api_key": "k-123456789", "note": "x" * 5000, "tags": ("a", "b")}
    metadata: dict[Any, Any] = {"password": "hunter2", 3: "three"}
    error = "failed: token=abcdefgh"
    returned = capture.capture("job.run", "failure", 12, "CLI", inputs, error, metadata)
    assert list(returned) == list(ENTRY_FIELDS)
    assert returned["skill"] == "job.run"
    assert returned["status"] == "failure"
    assert returned["duration_ms"] == 12.0
    assert type(returned["duration_ms"]) is float
    assert returned["caller"] == "CLI"
    assert returned["inputs"] == {"api_key": "k-123456789", "note": "x" * 5000, "tags": ("a", "b")}
    assert returned["inputs"] is not inputs  # a copy: the caller may reuse its dict at once
    assert returned["metadata"] == {"password": "hunter2", 3: "three"}
    assert returned["metadata"] is not metadata
    assert returned["error_message"] == "failed: token=abcdefgh"
    assert capture.flush(WAIT)


def test_background_capture_of_none_inputs_and_metadata_returns_empty_mappings(
    tmp_path: Path,
    store_suffix: str,
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    returned = capture.capture("s", "success", 0.5, "c")
    assert returned["inputs"] == {}
    assert returned["metadata"] == {}
    assert returned["error_message"] is None
    assert capture.flush(WAIT)


def test_the_stored_entry_is_redacted_while_the_returned_one_is_not(
    tmp_path: Path, store_suffix: str
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    returned = capture.capture("s", "success", 1.0, "c", inputs={"api_key": "k-123456789"})
    [entry] = capture.query()
    assert returned["inputs"]["api_key"] == "k-123456789"
    assert entry["inputs"]["api_key"] == REDACTED
    assert entry["metadata"]["redactions"] == [{"path": "inputs.api_key", "rule": "key:apikey"}]


def test_the_stored_timestamp_is_the_one_taken_when_capture_was_called(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    with lock_held_elsewhere(path) as release:
        returned = capture.capture("s", "success", 1.0, "c")
        time.sleep(0.05)  # the write happens well after the call
        release()
        assert capture.flush(WAIT)
    [entry] = stored(path)
    assert entry["timestamp"] == returned["timestamp"]


# Every kind of value the redaction and coercion rules touch, in one call.
def touchy_arguments() -> dict[str, Any]:
    return {
        "skill": "plugin.build",
        "status": "failure",
        "duration_ms": 12,
        "caller": "CLI",
        "inputs": {
            "api_key": "abc123456",
            "note": "connect with password=hunter22 please",
            "url": "postgres://user:pw1234@db.example/app",
            "long": "x" * 5000,
            "tags": {"b", "a"},
            "raw": b"\x00\xffbytes",
            "point": (1, 2.5, float("nan"), float("inf")),
            3: None,
            "nested": {"password": "p", "ok": [1, {"authToken": "t"}]},
            "json": '{"secret": "s", "keep": 1}',
            "object": object.__new__(type("Opaque", (), {"__repr__": lambda self: "<opaque>"})),
        },
        "error_message": "failed with ghp_" + "a" * 36,
        "metadata": {"environment": "prod", "aws": "AKIA" + "B" * 16, "ratio": -0.0},
    }


def test_a_background_entry_is_stored_as_a_direct_capture_of_the_same_arguments(
    tmp_path: Path,
    store_suffix: str,
) -> None:
    direct = TelemetryCapture(tmp_path / f"direct{store_suffix}")
    queued = background(tmp_path / f"background{store_suffix}")
    direct_returned = direct.capture(**touchy_arguments())
    queued.capture(**touchy_arguments())
    [direct_stored] = direct.query()
    [background_stored] = queued.query()
    assert direct_stored == direct_returned
    assert list(background_stored) == list(direct_stored)
    for field in ENTRY_FIELDS[1:]:
        assert background_stored[field] == direct_stored[field], field
    # and what the rules did is really there, not two identical mistakes
    assert background_stored["inputs"]["api_key"] == REDACTED
    assert background_stored["inputs"]["tags"] == ["a", "b"]
    assert "truncated" in background_stored["metadata"]
    assert "ghp_" not in background_stored["error_message"]


def test_inside_a_run_the_queued_and_the_stored_entry_carry_the_same_trace_ids(
    tmp_path: Path,
    store_suffix: str,
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    with TelemetryContext(
        "outer.run", caller="test", telemetry=background(tmp_path / f"o{store_suffix}")
    ):
        span = current_span()
        returned = capture.capture("inner.step", "success", 1.0, "outer.run")
    assert span is not None
    assert returned["trace_id"] == span.trace_id
    assert returned["parent_id"] == span.span_id
    assert HEX16.fullmatch(returned["span_id"])
    assert returned["span_id"] != span.span_id
    [entry] = capture.query(skill="inner.step")
    ids = ("trace_id", "span_id", "parent_id")
    assert {key: entry[key] for key in ids} == {key: returned[key] for key in ids}


def test_outside_a_run_a_background_entry_has_only_the_spec_fields(
    tmp_path: Path, store_suffix: str
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    returned = capture.capture("s", "success", 1.0, "c")
    [entry] = capture.query()
    assert list(returned) == list(ENTRY_FIELDS)
    assert list(entry) == list(ENTRY_FIELDS)


def test_capture_only_enqueues_while_the_writer_waits_for_the_lock(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    with lock_held_elsewhere(path) as release:
        started = time.perf_counter()
        for index in range(100):
            capture.capture("queued", "success", float(index), "c", inputs={"i": index})
        elapsed = time.perf_counter() - started
        time.sleep(0.3)  # three writer intervals: it has tried, and waits for the lock
        assert path.stat().st_size == 0  # nothing written while the lock is held
        release()
        assert capture.flush(WAIT)
    assert elapsed < 0.05  # a direct capture would wait up to lock_timeout (60 s) on the first
    assert [entry["inputs"]["i"] for entry in stored(path)] == list(range(100))


# -- one writer, batches -----------------------------------------------------------------------


def test_a_burst_is_written_whole_and_in_order_as_a_valid_json_array(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    for index in range(2000):
        capture.capture(f"burst.{index % 7}", "success", float(index), "c", inputs={"i": index})
    assert capture.flush(30)
    entries = stored(path)
    assert [entry["inputs"]["i"] for entry in entries] == list(range(2000))
    assert [entry["skill"] for entry in entries] == [f"burst.{i % 7}" for i in range(2000)]
    timestamps = [entry["timestamp"] for entry in entries]
    assert timestamps == sorted(timestamps)


BURST_SCRIPT = textwrap.dedent(
    """
    import sys
    from betty_telemetry import TelemetryCapture

    direct_path, background_path, io_report = sys.argv[1:4]

    def write_calls():
        if io_report == "-":
            return 0
        with open("/proc/self/io") as io:  # the kernel's count, for all threads of the process
            return next(int(line.split()[1]) for line in io if line.startswith("syscw:"))

    direct = TelemetryCapture(direct_path)
    before = write_calls()
    for i in range(200):
        direct.capture("direct", "success", 1.0, "burst", inputs={"i": i})
    direct_calls = write_calls() - before

    queued = TelemetryCapture(background_path, background=True)
    before = write_calls()
    for i in range(2000):
        queued.capture("background", "success", 1.0, "burst", inputs={"i": i})
    assert queued.flush(60)
    background_calls = write_calls() - before
    if io_report != "-":
        with open(io_report, "w") as report:
            report.write(f"{direct_calls} {background_calls}")
    """
)


SYSCALL = re.compile(r"\b(pwrite64|write|flock|fdatasync|fsync)\((\d+)<([^>]*)>(.*)")
# How each file store writes: the JSON array at an offset (before its closing bracket), JSON
# Lines at the end of an O_APPEND descriptor.
WRITE_CALL = {"json": "pwrite64", "jsonl": "write"}


def traced_calls(trace: Path) -> list[tuple[str, str, str]]:
    """(system call, path of its descriptor, rest of the line) for each call started."""
    calls = []
    for line in trace.read_text().splitlines():
        match = SYSCALL.search(line)
        if match:
            calls.append((match.group(1), match.group(3), match.group(4)))
    return calls


@pytest.mark.only_stores("json", "jsonl", reason="counts a file store's write and flock calls")
def test_the_writer_appends_each_batch_with_one_lock_and_one_write_under_strace(
    tmp_path: Path, store_kind: str, store_suffix: str
) -> None:
    if not strace_usable():
        pytest.skip("strace is not installed, or cannot trace here (ptrace not permitted)")
    direct_path, background_path = tmp_path / f"d{store_suffix}", tmp_path / f"b{store_suffix}"
    trace = tmp_path / "t"
    write = WRITE_CALL[store_kind]
    traced = subprocess.run(
        [
            *("strace", "-f", "-qq", "-y", "-e", f"trace={write},flock", "-o", str(trace)),
            *(sys.executable, "-c", BURST_SCRIPT, str(direct_path), str(background_path), "-"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert traced.returncode == 0, traced.stderr
    calls = traced_calls(trace)

    def count(name: str, path: Path, flag: str = "") -> int:
        return sum(
            1 for call, on, rest in calls if call == name and on == str(path) and flag in rest
        )

    # The control: a direct capture is one write each, so the count sees every write.
    assert count(write, direct_path) == 200
    writes = count(write, background_path)
    locks = count("flock", background_path, "LOCK_EX")
    assert 1 <= writes <= 2000 // 20  # 2,000 entries in a handful of batches
    assert locks == writes  # one lock taken per batch, one write under it
    assert len(stored(background_path)) == 2000


def test_the_kernel_counts_far_fewer_write_calls_than_entries_in_background_mode(
    tmp_path: Path, store_kind: str, store_suffix: str
) -> None:
    if not Path("/proc/self/io").exists():
        pytest.skip("/proc/<pid>/io (per-process I/O accounting) is not available")
    direct_path, background_path, report = (
        tmp_path / f"d{store_suffix}",
        tmp_path / f"b{store_suffix}",
        tmp_path / "r",
    )
    run_python("-c", BURST_SCRIPT, str(direct_path), str(background_path), str(report), check=True)
    direct_calls, background_calls = map(int, report.read_text().split())
    assert direct_calls >= 200  # the control: one write call per direct capture, at least
    if store_kind in TEXT_STORES:  # one write per batch: 2,000 entries in a handful
        assert 1 <= background_calls <= 2000 // 20
    else:  # SQLite writes a batch page by page: still ten times fewer calls per entry, at least
        assert background_calls >= 1
        assert background_calls / 2000 <= direct_calls / 200 / 10
    assert len(stored(background_path)) == 2000


# -- flush and close ---------------------------------------------------------------------------


def test_flush_returns_true_once_everything_queued_is_written(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    for index in range(10):
        capture.capture("s", "success", float(index), "c")
    assert capture.flush(WAIT) is True
    assert len(stored(path)) == 10


def test_flush_returns_false_when_the_writer_cannot_finish_in_time(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    with lock_held_elsewhere(path) as release:
        capture.capture("s", "success", 1.0, "c")
        started = time.monotonic()
        assert capture.flush(0.2) is False
        assert 0.15 <= time.monotonic() - started < 5
        release()
        assert capture.flush(WAIT) is True
    assert len(stored(path)) == 1


def test_flush_with_nothing_ever_queued_returns_true_at_once(
    tmp_path: Path, store_suffix: str
) -> None:
    assert background(tmp_path / f"t{store_suffix}").flush(0) is True


def test_close_writes_what_is_queued(tmp_path: Path, store_suffix: str) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path)
    for index in range(25):
        capture.capture("s", "success", float(index), "c", inputs={"i": index})
    capture.close()
    assert [entry["inputs"]["i"] for entry in stored(path)] == list(range(25))


# -- interpreter exit --------------------------------------------------------------------------


def test_everything_queued_is_written_at_normal_interpreter_exit(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    script = textwrap.dedent(
        """
        import sys
        from betty_telemetry import TelemetryCapture
        capture = TelemetryCapture(sys.argv[1], background=True)
        for i in range(500):
            capture.capture("exit.test", "success", 1.0, "child", inputs={"i": i})
        # no flush(), no close(): the interpreter just ends
        """
    )
    child = run_python("-c", script, str(path))
    assert child.returncode == 0, child.stderr
    assert child.stderr == ""
    assert [entry["inputs"]["i"] for entry in stored(path)] == list(range(500))


def test_the_mode_variable_makes_the_decorator_and_context_write_in_the_background(
    tmp_path: Path,
    store_suffix: str,
) -> None:
    path = tmp_path / f"t{store_suffix}"
    script = textwrap.dedent(
        """
        from betty_telemetry import TelemetryContext, capture_telemetry
        from betty_telemetry.capture.defaults import default_capture

        @capture_telemetry(skill_name="decorated", caller="child", capture_inputs=True)
        def work(i):
            return i

        for i in range(250):
            work(i)
        for i in range(250):
            with TelemetryContext("context", caller="child") as ctx:
                ctx.set_inputs({"i": i})
        print(default_capture().background)
        # exits without flush or close
        """
    )
    child = run_python(
        "-c",
        script,
        env={"BETTY_TELEMETRY_MODE": "background", "BETTY_TELEMETRY_FILE": str(path)},
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout == "True\n"
    entries = stored(path)
    assert [(e["skill"], e["inputs"]["i"]) for e in entries] == [
        *(("decorated", i) for i in range(250)),
        *(("context", i) for i in range(250)),
    ]


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("direct", False), ("", False)])
def test_the_default_capture_is_direct_unless_the_mode_variable_says_background(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    if value is not None:
        monkeypatch.setenv("BETTY_TELEMETRY_MODE", value)
    assert default_capture().background is expected


def test_the_mode_variable_is_read_ignoring_case_and_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MODE", " Background ")
    assert default_capture().background is True


def test_the_mode_variable_does_not_change_an_explicit_telemetry_capture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_suffix: str
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MODE", "background")
    assert TelemetryCapture(tmp_path / f"t{store_suffix}").background is False


def test_an_invalid_mode_makes_the_decorator_warn_once_and_the_function_still_work(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MODE", "turbo")

    @capture_telemetry(skill_name="decorated", caller="test")
    def double(value: int) -> int:
        return value * 2

    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        results = [double(value) for value in range(3)]
    assert results == [0, 2, 4]
    [warning] = warnings_of(caplog)
    assert "BETTY_TELEMETRY_MODE" in warning.getMessage()
    assert "turbo" in warning.getMessage()
    assert not (tmp_path / "registry").exists()


def test_an_invalid_mode_makes_the_context_manager_warn_once_and_the_block_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MODE", "later")
    ran = []
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        for index in range(3):
            with TelemetryContext("block", caller="test"):
                ran.append(index)
    assert ran == [0, 1, 2]
    [warning] = warnings_of(caplog)
    assert "BETTY_TELEMETRY_MODE" in warning.getMessage()
    assert not (tmp_path / "registry").exists()


# -- fork ----------------------------------------------------------------------------------


FORK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from betty_telemetry import TelemetryCapture

    capture = TelemetryCapture(sys.argv[1], background=True, lock_timeout=60)
    for i in range(5):
        capture.capture("parent", "success", 1.0, "fork", inputs={"i": i})
    parents_thread = capture.pipeline._batching._thread
    pid = os.fork()
    if pid == 0:
        inherited = capture.pipeline._batching._thread
        for i in range(3):
            capture.capture("child", "success", 1.0, "fork", inputs={"i": i})
        own = capture.pipeline._batching._thread
        print(json.dumps({
            "who": "child",
            "inherited_thread": inherited is not None,
            "own_thread_alive": own is not None and own.is_alive(),
            "own_is_parents": own is parents_thread,
        }), flush=True)
        sys.exit(0)  # a normal exit: atexit writes what the child queued
    print(json.dumps({"who": "parent"}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"who": "done", "child_status": status, "flushed": capture.flush(30)}))
    """
)


def test_after_fork_parent_and_child_each_write_their_own_entries_exactly_once(
    tmp_path: Path,
    store_suffix: str,
) -> None:
    path = tmp_path / f"t{store_suffix}"
    with lock_held_elsewhere(path) as release:
        process = subprocess.Popen(
            [sys.executable, "-c", FORK_SCRIPT, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            reports: dict[str, dict[str, Any]] = {}
            while set(reports) != {"parent", "child"}:
                ready, _, _ = select.select([process.stdout], [], [], WAIT)
                assert ready, "the forking process did not report"
                line = process.stdout.readline()
                assert line, process.stderr.read() if process.stderr else ""
                report = json.loads(line)
                reports[report["who"]] = report
            # Both queued while the lock was held: nothing can have been written yet.
            assert path.stat().st_size == 0
            release()
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=WAIT)
    assert process.returncode == 0, err
    done = json.loads(out)
    assert done == {"who": "done", "child_status": 0, "flushed": True}
    assert reports["child"] == {
        "who": "child",
        "inherited_thread": False,  # the child does not inherit the parent's queue or thread
        "own_thread_alive": True,
        "own_is_parents": False,
    }
    written = sorted((e["skill"], e["inputs"]["i"]) for e in stored(path))
    assert written == [*(("child", i) for i in range(3)), *(("parent", i) for i in range(5))]


# -- a bounded queue -----------------------------------------------------------------------


def test_a_full_queue_drops_counts_warns_once_and_records_the_drops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path, queue_size=100)
    with lock_held_elsewhere(path) as release:
        # A first entry, taken by the writer, which then waits for the lock with it: the queue
        # is empty and the writer blocked, so the next 150 captures meet a known state.
        capture.capture("first", "success", 1.0, "c")
        writer_waits_for_the_lock(capture)
        with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
            started = time.perf_counter()
            for index in range(150):
                capture.capture("burst", "success", 1.0, "c", inputs={"i": index})
            elapsed = time.perf_counter() - started
        assert elapsed < 0.5  # none of them waited for the writer
        assert capture.pipeline._batching is not None
        assert capture.pipeline._batching.dropped_total == 50
        [warning] = warnings_of(caplog)
        assert str(path) in warning.getMessage()
        release()
        assert capture.flush(WAIT)
    entries = stored(path)
    assert [e["skill"] for e in entries] == ["first", *["burst"] * 100, DROPPED]
    assert [e["inputs"]["i"] for e in entries[1:101]] == list(range(100))  # the first 100 kept
    report = entries[-1]
    assert report["status"] == "error"
    assert report["metadata"]["dropped"] == 50
    reasons = report["metadata"]["reasons"]
    assert sum(reasons.values()) == 50
    assert all("queue" in reason for reason in reasons)


def test_the_drops_report_is_visible_to_query_and_stats(tmp_path: Path, store_suffix: str) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path, queue_size=10)
    with lock_held_elsewhere(path) as release:
        capture.capture("first", "success", 1.0, "c")
        writer_waits_for_the_lock(capture)
        for _ in range(13):
            capture.capture("burst", "success", 1.0, "c")
        release()
        [report] = capture.query(skill=DROPPED)  # query flushes first
    assert report["metadata"]["dropped"] == 3
    groups = {group["key"]: group for group in capture.stats()}
    assert groups[DROPPED]["count"] == 1
    assert groups[DROPPED]["statuses"] == {"error": 1}
    assert groups["burst"]["count"] == 10


def test_a_queue_size_must_be_a_whole_number(tmp_path: Path) -> None:
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="queue_size"):
            TelemetryCapture(tmp_path / "t.json", background=True, queue_size=bad)  # type: ignore[arg-type]


# -- write failures --------------------------------------------------------------------------


def test_a_write_failure_never_raises_into_the_caller_and_is_reported_once_writable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    path.mkdir()  # the path is a folder: every write fails
    capture = background(path)
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        for index in range(3):
            capture.capture("lost", "success", float(index), "c")
        assert capture.flush(WAIT)
    assert warnings_of(caplog)
    assert all(str(path) in record.getMessage() for record in warnings_of(caplog))
    assert capture.pipeline._batching is not None
    assert capture.pipeline._batching.dropped_total == 3
    path.rmdir()  # writable again, with the same TelemetryCapture
    capture.capture("after", "success", 1.0, "c")
    assert capture.flush(WAIT)
    entries = stored(path)
    assert [entry["skill"] for entry in entries] == ["after", DROPPED]
    assert entries[1]["metadata"]["dropped"] == 3
    assert sum(entries[1]["metadata"]["reasons"].values()) == 3
    assert "3 telemetry entries were not recorded" in entries[1]["error_message"]


def test_a_write_failure_lasting_several_batches_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    path.mkdir()
    capture = background(path)
    try:
        with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
            for index in range(4):  # four batches, each failing the same way
                capture.capture("lost", "success", float(index), "c")
                assert capture.flush(WAIT)
        assert len(warnings_of(caplog)) == 1
    finally:
        path.rmdir()  # let the pending drops report be written, not retried at exit
        assert capture.flush(WAIT)


def test_every_queued_entry_is_written_or_counted_as_dropped(
    tmp_path: Path, store_suffix: str
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    capture.capture("huge", "success", 1.0, "c", inputs={"n": 10**5000})
    assert capture.flush(WAIT)
    assert capture.pipeline._batching is not None
    written = len(capture.query(skill="huge"))
    reported = sum(e["metadata"]["dropped"] for e in capture.query(skill=DROPPED))
    assert written + capture.pipeline._batching.dropped_total == 1
    assert written + reported == 1


# -- reads see their own writes --------------------------------------------------------------


def test_query_right_after_capture_sees_the_entry(tmp_path: Path, store_suffix: str) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    returned = capture.capture("seen", "success", 3.0, "c", inputs={"k": "v"})
    [entry] = capture.query(skill="seen")
    assert entry == returned


def test_stats_and_tail_right_after_capture_see_the_entries(
    tmp_path: Path, store_suffix: str
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    for index in range(3):
        capture.capture("seen", "success", float(index), "c")
    assert [group["count"] for group in capture.stats()] == [3]
    assert [entry["duration_ms"] for entry in capture.tail(5)] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("size", [0, -1, True, 1.5, "10"])
def test_a_queue_that_could_hold_nothing_is_refused(
    tmp_path: Path, size: object, store_suffix: str
) -> None:
    # A queue of size 0 would drop every entry before a writer existed to report the drops.
    with pytest.raises(ValueError, match="queue_size must be a whole number >= 1"):
        background(tmp_path / f"t{store_suffix}", queue_size=size)
    assert not (tmp_path / f"t{store_suffix}").exists()


def test_drops_with_a_one_entry_queue_are_reported_in_the_file(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    capture = background(path, queue_size=1)
    for _ in range(200):
        capture.capture("s", "success", 1.0, "c")
    assert capture.flush(WAIT)
    entries = stored(path)
    reports = [entry for entry in entries if entry["skill"] == DROPPED]
    kept = [entry for entry in entries if entry["skill"] == "s"]
    assert capture.dropped == sum(report["metadata"]["dropped"] for report in reports)
    assert len(kept) + capture.dropped == 200


def test_a_context_entry_does_not_change_after_the_block_in_background_mode(
    tmp_path: Path,
    store_suffix: str,
) -> None:
    capture = background(tmp_path / f"t{store_suffix}")
    with TelemetryContext("big", caller="test", telemetry=capture) as context:
        context.set_inputs({f"k{index}": "y" * 4000 for index in range(20)})  # ~80 KiB
    assert context.entry is not None
    before = json.loads(json.dumps(context.entry))
    assert capture.flush(WAIT)
    assert context.entry == before


def test_a_failure_inside_a_batch_never_stops_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_suffix: str
) -> None:
    # Nothing in a batch should fail once entries are built; if something does all the same,
    # flush() must not wait for ever on a dead thread, and later entries must still be written.
    from betty_telemetry.capture import batching as _background

    def broken(dropped: dict[str, int]) -> Encoded:
        raise RuntimeError("the drops report could not be built")

    path = tmp_path / f"t{store_suffix}"
    telemetry = TelemetryCapture(path, background=True, queue_size=1)
    try:
        monkeypatch.setattr(_background, "_drops_entry", broken)
        for _ in range(50):  # overflows the queue: the next batch carries a drops report
            telemetry.capture("bg.broken", "success", 1.0, "t")
        assert telemetry.flush(10)
        monkeypatch.undo()
        telemetry.capture("bg.after", "success", 1.0, "t")
        assert telemetry.flush(10)
    finally:
        telemetry.close()
    assert "bg.after" in [entry["skill"] for entry in TelemetryCapture(path).query()]
