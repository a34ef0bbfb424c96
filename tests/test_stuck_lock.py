"""A stuck lock holder costs the host one lock timeout, not one per call (issue 6, item 6).

Another process holds the file's ``flock`` and is stopped (SIGSTOP): it will not let go until
it is resumed or killed. The decorator and the context manager wait for the lock once; after
that LockTimeoutError their entries go to a queue that a thread writes, in order, retrying
until the lock is free, and every later call only queues while entries wait there. Once they
are written, calls write directly again. Nothing is dropped. The programmatic API still
raises LockTimeoutError. The same holds in background mode, whose writer keeps a batch that
met a lock timeout and retries it instead of dropping it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    LockTimeoutError,
    TelemetryCapture,
    TelemetryContext,
    capture_telemetry,
)
from betty_telemetry.capture.defaults import default_capture
from tests.conftest import run_python
from tests.lock_holder import HOLDER, start_holder

LOCK_TIMEOUT = 1.0
CALLS = 50
ONE_TIMEOUT_AT_MOST = 2.5  # seconds for all the calls: one timeout, and margin for a busy box
WAIT = 20.0
WAITING = "Telemetry is waiting for a locked file"


@contextmanager
def stopped_holder(path: Path) -> Iterator[Callable[[str], None]]:
    """Another process takes ``path``'s exclusive lock and is stopped with SIGSTOP while it
    holds it. Yields ``release(how)``: "continue" (SIGCONT, then it lets go and exits) or
    "kill" (SIGKILL: the kernel drops its lock)."""
    holder = start_holder(path)
    assert holder.stdin is not None
    assert holder.stdout is not None

    def release(how: str) -> None:
        if holder.poll() is not None:
            return
        if how == "kill":
            os.kill(holder.pid, signal.SIGKILL)
        else:
            os.kill(holder.pid, signal.SIGCONT)
            holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=WAIT)

    try:
        os.kill(holder.pid, signal.SIGSTOP)
        yield release
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGCONT)
            holder.kill()
            holder.wait(timeout=WAIT)
        holder.stdout.close()


def seeded(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = TelemetryCapture(path)
    seed.capture("seed", "success", 1.0, "test")
    seed.close()
    return path.read_bytes()


def stored(path: Path) -> list[dict[str, Any]]:
    entries = json.loads(path.read_bytes())
    assert isinstance(entries, list)
    return entries


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "betty_telemetry"]


@pytest.fixture
def from_environment(telemetry_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The decorator and context manager find the file and the timeout in the environment."""
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(telemetry_path))
    monkeypatch.setenv("BETTY_TELEMETRY_LOCK_TIMEOUT", str(LOCK_TIMEOUT))
    return telemetry_path


@capture_telemetry(skill_name="stuck.decorated", capture_inputs=True)
def decorated(n: int) -> int:
    return n * 10


def in_context(n: int) -> dict[str, Any] | None:
    with TelemetryContext("stuck.context", caller="test", inputs={"n": n}) as ctx:
        pass
    return ctx.entry


def assert_all_written_once_in_order(path: Path, skill: str, count: int) -> None:
    entries = stored(path)
    assert entries[0]["skill"] == "seed"
    assert [(e["skill"], e["inputs"]["n"]) for e in entries[1:]] == [
        (skill, n) for n in range(count)
    ]


@pytest.mark.parametrize("release_by", ["continue", "kill"])
def test_fifty_decorated_calls_cost_one_lock_timeout_and_all_are_written_in_order(
    from_environment: Path, release_by: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = from_environment
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    before = seeded(path)
    with stopped_holder(path) as release:
        started = time.monotonic()
        assert [decorated(n) for n in range(CALLS)] == [n * 10 for n in range(CALLS)]
        elapsed = time.monotonic() - started
        assert LOCK_TIMEOUT * 0.9 <= elapsed < ONE_TIMEOUT_AT_MOST, elapsed  # not 50 s
        time.sleep(LOCK_TIMEOUT * 1.5)  # the writer thread meets the timeout too, and retries
        assert path.read_bytes() == before  # nothing can be written while it holds the lock
        release(release_by)
        capture = default_capture()
        assert capture.flush(WAIT)
    assert_all_written_once_in_order(path, "stuck.decorated", CALLS)
    assert capture.dropped == 0
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{WAITING}: LockTimeoutError: {path} stayed locked")
    assert "wait in a queue" in warning


def test_once_everything_waiting_is_written_calls_write_directly_again(
    from_environment: Path,
) -> None:
    path = from_environment
    seeded(path)
    with stopped_holder(path) as release:
        decorated(0)  # meets the timeout: the detour starts
        decorated(1)
        release("continue")
    capture = default_capture()
    assert capture.flush(WAIT)
    decorated(2)  # no flush: written before the call returns
    assert_all_written_once_in_order(path, "stuck.decorated", 3)
    assert capture.pipeline._detour is not None
    assert not capture.pipeline._detour.busy()


def test_fifty_context_blocks_cost_one_lock_timeout_and_all_are_written_in_order(
    from_environment: Path,
) -> None:
    path = from_environment
    before = seeded(path)
    with stopped_holder(path) as release:
        started = time.monotonic()
        queued = [in_context(n) for n in range(CALLS)]
        elapsed = time.monotonic() - started
        assert LOCK_TIMEOUT * 0.9 <= elapsed < ONE_TIMEOUT_AT_MOST, elapsed
        assert [entry["inputs"]["n"] for entry in queued if entry is not None] == list(
            range(CALLS)
        )  # each block's entry, as queued
        assert path.read_bytes() == before
        release("continue")
        capture = default_capture()
        assert capture.flush(WAIT)
    assert_all_written_once_in_order(path, "stuck.context", CALLS)
    assert capture.dropped == 0


def test_every_kind_of_function_waits_once_in_all(from_environment: Path) -> None:
    path = from_environment
    seeded(path)

    @capture_telemetry(skill_name="stuck.kind", capture_inputs=True)
    async def coroutine(n: int) -> int:
        await asyncio.sleep(0)
        return n

    @capture_telemetry(skill_name="stuck.kind", capture_inputs=True)
    def generator(n: int) -> Iterator[int]:
        yield n

    @capture_telemetry(skill_name="stuck.kind", capture_inputs=True)
    def plain(n: int) -> int:
        return n

    with stopped_holder(path) as release:
        started = time.monotonic()
        for n in range(0, 30, 3):
            assert plain(n) == n
            assert asyncio.run(coroutine(n + 1)) == n + 1
            assert list(generator(n + 2)) == [n + 2]
        assert time.monotonic() - started < ONE_TIMEOUT_AT_MOST
        release("kill")
        assert default_capture().flush(WAIT)
    assert_all_written_once_in_order(path, "stuck.kind", 30)


def test_the_api_still_raises_lock_timeout_error_and_the_queued_entries_are_kept(
    telemetry_path: Path,
) -> None:
    seeded(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path, lock_timeout=LOCK_TIMEOUT / 2)

    @capture_telemetry(skill_name="stuck.decorated", capture_inputs=True, telemetry=telemetry)
    def work(n: int) -> int:
        return n

    with stopped_holder(telemetry_path) as release:
        work(0)  # the detour starts
        started = time.monotonic()
        with pytest.raises(LockTimeoutError):
            telemetry.capture("stuck.api", "success", 1.0, "test")
        assert time.monotonic() - started >= LOCK_TIMEOUT / 2 * 0.9  # it did wait, as documented
        work(1)
        release("continue")
        assert telemetry.flush(WAIT)
    assert_all_written_once_in_order(telemetry_path, "stuck.decorated", 2)
    assert telemetry.dropped == 0


@pytest.mark.parametrize("kind", ["decorator", "context"])
def test_in_background_mode_calls_never_wait_and_nothing_is_dropped(
    from_environment: Path,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = from_environment
    monkeypatch.setenv("BETTY_TELEMETRY_MODE", "background")
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    before = seeded(path)
    call = decorated if kind == "decorator" else in_context
    with stopped_holder(path) as release:
        started = time.monotonic()
        for n in range(CALLS):
            call(n)
        assert time.monotonic() - started < 0.5  # only queued
        time.sleep(LOCK_TIMEOUT * 2)  # the writer's attempts time out; it keeps the batch
        assert path.read_bytes() == before
        release("continue")
        capture = default_capture()
        assert capture.background
        assert capture.flush(WAIT)
    skill = "stuck.decorated" if kind == "decorator" else "stuck.context"
    assert_all_written_once_in_order(path, skill, CALLS)
    assert capture.dropped == 0
    assert [w for w in warnings_of(caplog) if w.startswith(WAITING)] == warnings_of(caplog)
    assert len(warnings_of(caplog)) == 1


def test_a_full_queue_still_drops_and_records_the_drops_once_the_lock_is_free(
    telemetry_path: Path,
) -> None:
    # Kept batches do not make the queue unbounded: beyond queue_size, entries are dropped,
    # counted and recorded as before.
    seeded(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path, background=True, queue_size=5, lock_timeout=0.2)
    writer = telemetry.pipeline._batching
    assert writer is not None
    with stopped_holder(telemetry_path) as release:
        telemetry.capture("first", "success", 1.0, "test", {"n": -1})
        deadline = time.monotonic() + WAIT
        while writer._queue:  # the writer took it, and now waits for the lock with it
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(0.05)
        for n in range(8):
            telemetry.capture("burst", "success", 1.0, "test", {"n": n})
        time.sleep(0.6)  # several lock timeouts: retried, never dropped
        assert telemetry.dropped == 3
        release("continue")
        assert telemetry.flush(WAIT)
    entries = stored(telemetry_path)
    assert [(e["skill"], e["inputs"].get("n")) for e in entries[1:7]] == [
        ("first", -1),
        *[("burst", n) for n in range(5)],
    ]
    [report] = [e for e in entries if e["skill"] == "betty_telemetry.dropped"]
    assert report["metadata"]["dropped"] == 3
    assert all("queue was full" in reason for reason in report["metadata"]["reasons"])
    assert len(entries) == 1 + 6 + 1
    telemetry.close()


EXIT_SCRIPT = textwrap.dedent(
    """
    import os, signal, subprocess, sys, threading
    from betty_telemetry import capture_telemetry

    path = os.environ["BETTY_TELEMETRY_FILE"]
    holder = subprocess.Popen(
        [sys.executable, "-c", sys.argv[1], path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline() == "locked\\n"
    os.kill(holder.pid, signal.SIGSTOP)

    @capture_telemetry(skill_name="stuck.exit", capture_inputs=True)
    def work(n):
        return n

    for n in range(5):
        work(n)

    def resume():
        os.kill(holder.pid, signal.SIGCONT)
        holder.stdin.close()

    threading.Timer(1.0, resume).start()  # while the interpreter exits, the lock goes
    print("leaving", flush=True)
    """
)


def test_entries_queued_at_exit_are_written_by_the_exit_hook(from_environment: Path) -> None:
    path = from_environment
    seeded(path)
    result = run_python("-c", EXIT_SCRIPT, HOLDER, env={"BETTY_TELEMETRY_LOCK_TIMEOUT": "0.3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "leaving\n"
    assert_all_written_once_in_order(path, "stuck.exit", 5)
