"""Readers do not block writers for a whole scan: ``iter_entries`` reads a snapshot of the file a
block at a time, each block under a brief shared lock, and notices when another program
rewrites the file in place between blocks (``stores._snapshot.Snapshot``)."""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores._snapshot import FileRewritten, Snapshot
from tests.conftest import FIXTURE
from tests.original_framework import APPEND_SCRIPT

BIG = 300_000
MEDIUM = 5_000
TIMEOUT = 20.0
Entry = dict[str, Any]

CAPTURE_ONE = """
import sys
from betty_telemetry import TelemetryCapture
print("ready", flush=True)
TelemetryCapture(sys.argv[1]).capture(sys.argv[2], "success", 1.0, "writer")
"""

FRAMEWORK_ENTRY = json.dumps({"skill": "framework.tool", "status": "success", "duration_ms": 1})

SLOW_FRAMEWORK_APPEND = """
import fcntl, json, sys, time
with open(sys.argv[1], "r+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    data = json.load(f)
    data.append({"skill": "framework.tool", "status": "success", "duration_ms": 1})
    text = json.dumps(data, indent=2)
    f.seek(0)
    f.truncate()
    f.write(text[: len(text) // 2])
    f.flush()
    print("half written", flush=True)
    time.sleep(0.5)
    f.write(text[len(text) // 2 :])
    f.flush()
    fcntl.flock(f, fcntl.LOCK_UN)
"""

PRUNE_TO_NEWEST_TEN = """
import fcntl, json, sys
with open(sys.argv[1], "r+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    data = json.load(f)[-10:]
    f.seek(0)
    f.truncate()
    json.dump(data, f, indent=2)
    f.flush()
    fcntl.flock(f, fcntl.LOCK_UN)
"""

_LINE = (
    '{"timestamp": "2025-01-01T%02d:%02d:%02d.%06d+00:00", "skill": "bulk.%d", '
    '"status": "success", "duration_ms": %d.5, "caller": "bulk", "inputs": {"n": %d}, '
    '"error_message": null, "metadata": {}}'
)


def bulk_line(n: int) -> str:
    """Entry ``n`` of a bulk file: unique, timestamps rising with ``n``."""
    seconds = n // 1000
    return _LINE % (seconds // 3600, seconds // 60 % 60, seconds % 60, n % 1000, n, n, n)


@functools.cache
def bulk_bytes(count: int) -> bytes:
    """A file of ``count`` entries in our layout, written directly as bytes."""
    return ("[\n" + ",\n".join(bulk_line(n) for n in range(count)) + "\n]\n").encode()


def newest_first(count: int) -> list[Entry]:
    """The entries of ``bulk_bytes(count)``, newest first, parsed one by one."""
    return [json.loads(bulk_line(n)) for n in reversed(range(count))]


@pytest.fixture
def medium_file(telemetry_path: Path) -> Path:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(bulk_bytes(MEDIUM))
    return telemetry_path


def run_script(script: str, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr


def wait_for_line(process: subprocess.Popen[str], expected: str) -> None:
    """Wait (with a timeout) until ``process`` prints ``expected``."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
    assert ready, f"the child did not print {expected!r} in {TIMEOUT} s"
    assert process.stdout.readline().strip() == expected


def keys(entries: list[Entry]) -> list[str]:
    return [json.dumps(entry, sort_keys=True) for entry in entries]


# -- writers are not blocked ---------------------------------------------------------------


@pytest.mark.parametrize("read_first", [3, BIG // 2], ids=["at-the-start", "half-way"])
def test_a_capture_in_another_process_completes_while_a_scan_is_paused(
    telemetry_path: Path, read_first: int
) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(bulk_bytes(BIG))
    telemetry = TelemetryCapture(telemetry_path)
    entries = telemetry.iter_entries()
    try:
        read = [entry["skill"] for entry in itertools.islice(entries, read_first)]
        assert read == [f"bulk.{BIG - 1 - i}" for i in range(read_first)]
        # If the scan held its shared lock, this capture would wait until it ended: time out.
        result = subprocess.run(
            [sys.executable, "-c", CAPTURE_ONE, str(telemetry_path), "during.scan"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert result.returncode == 0, result.stderr
        assert next(entries)["skill"] == f"bulk.{BIG - 1 - read_first}"  # still going
    finally:
        entries.close()
    assert telemetry.query(limit=1)[0]["skill"] == "during.scan"


def test_a_writer_waits_while_a_reader_holds_the_shared_lock(medium_file: Path) -> None:
    # The control for the test above: a held shared lock does block a writer.
    fd = os.open(medium_file, os.O_RDONLY)
    writer = subprocess.Popen(
        [sys.executable, "-c", CAPTURE_ONE, str(medium_file), "blocked"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with Snapshot(fd, hold_lock=True):
            wait_for_line(writer, "ready")  # it captures right after printing this
            with pytest.raises(subprocess.TimeoutExpired):
                writer.wait(timeout=0.5)
        assert writer.wait(timeout=TIMEOUT) == 0
    finally:
        os.close(fd)
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()
    assert TelemetryCapture(medium_file).query(limit=1)[0]["skill"] == "blocked"


def test_a_paused_scan_yields_its_snapshot_and_not_entries_appended_since(
    medium_file: Path,
) -> None:
    telemetry = TelemetryCapture(medium_file)
    entries = telemetry.iter_entries()
    try:
        read = list(itertools.islice(entries, 10))
        run_script(CAPTURE_ONE, str(medium_file), "appended.during.scan")
        read += list(entries)
    finally:
        entries.close()
    assert read == newest_first(MEDIUM)


# -- the file rewritten in place by another program ------------------------------------------


@pytest.mark.parametrize("read_first", [1, 100, 1000, MEDIUM - 1, MEDIUM])
def test_a_framework_rewrite_during_a_scan_neither_repeats_nor_skips_entries(
    medium_file: Path, read_first: int
) -> None:
    telemetry = TelemetryCapture(medium_file)
    entries = telemetry.iter_entries()
    try:
        read = list(itertools.islice(entries, read_first))
        run_script(APPEND_SCRIPT, str(medium_file), FRAMEWORK_ENTRY)
        assert medium_file.read_bytes().startswith(b"[\n  {")  # rewritten, indented
        read += list(entries)
    finally:
        entries.close()
    assert len(set(keys(read))) == len(read)
    assert read == newest_first(MEDIUM)


def test_a_scan_waits_for_a_rewrite_in_progress_and_yields_its_snapshot(
    medium_file: Path,
) -> None:
    telemetry = TelemetryCapture(medium_file)
    entries = telemetry.iter_entries()
    rewriter = subprocess.Popen(
        [sys.executable, "-c", SLOW_FRAMEWORK_APPEND, str(medium_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        read = list(itertools.islice(entries, 5))
        wait_for_line(rewriter, "half written")  # the file is half a JSON array right now
        read += list(entries)
        assert rewriter.wait(timeout=TIMEOUT) == 0
    finally:
        entries.close()
        if rewriter.poll() is None:
            rewriter.kill()
            rewriter.wait()
        if rewriter.stdout is not None:
            rewriter.stdout.close()
    assert read == newest_first(MEDIUM)


HOLD_EXCLUSIVE_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "r+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(0.6)
    fcntl.flock(f, fcntl.LOCK_UN)
"""


def test_each_block_is_read_under_the_shared_lock(medium_file: Path) -> None:
    telemetry = TelemetryCapture(medium_file)
    entries = telemetry.iter_entries()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_EXCLUSIVE_LOCK, str(medium_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        read = list(itertools.islice(entries, 5))
        wait_for_line(holder, "locked")
        started = time.monotonic()
        read += list(entries)  # the next block waits until the writer lets go
        waited = time.monotonic() - started
        assert holder.wait(timeout=TIMEOUT) == 0
    finally:
        entries.close()
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert waited >= 0.3
    assert read == newest_first(MEDIUM)


def test_a_rewrite_that_dropped_the_entry_last_read_ends_the_scan_with_a_warning(
    medium_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry = TelemetryCapture(medium_file)
    entries = telemetry.iter_entries()
    try:
        read = list(itertools.islice(entries, 20))
        run_script(PRUNE_TO_NEWEST_TEN, str(medium_file))
        with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
            read += list(entries)
    finally:
        entries.close()
    expected = newest_first(MEDIUM)
    assert 20 <= len(read) < MEDIUM
    assert read == expected[: len(read)]  # what it gave is the snapshot's start, in order
    assert "rewritten by another program" in caplog.text


def test_a_rewrite_during_a_scan_of_identical_entries_yields_each_once(
    telemetry_path: Path,
) -> None:
    line = bulk_line(7)
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_text("[\n" + ",\n".join([line] * 3000) + "\n]\n")
    entries = TelemetryCapture(telemetry_path).iter_entries()
    try:
        read = list(itertools.islice(entries, 100))
        run_script(APPEND_SCRIPT, str(telemetry_path), FRAMEWORK_ENTRY)
        read += list(entries)
    finally:
        entries.close()
    assert len(read) == 3000


SAME_SHAPE = """
import sys
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(sys.argv[1])
for n in range(int(sys.argv[2])):
    telemetry.capture("same", "success", 1.0, "t", {"n": 100 + n})
"""


def test_a_scan_paused_while_the_file_is_truncated_and_refilled_yields_only_its_snapshot(
    telemetry_path: Path,
) -> None:
    run_script(SAME_SHAPE, str(telemetry_path), "400")
    snapshot = TelemetryCapture(telemetry_path).query()
    entries = TelemetryCapture(telemetry_path).iter_entries()
    try:
        read = list(itertools.islice(entries, 5))
        os.truncate(telemetry_path, 0)  # logrotate's copytruncate, or `: > telemetry.json`
        run_script(SAME_SHAPE, str(telemetry_path), "400")
        read += list(entries)
    finally:
        entries.close()
    assert [entry for entry in read if entry not in snapshot] == []


# -- Snapshot ------------------------------------------------------------------------------


@pytest.fixture
def descriptor(telemetry_path: Path) -> Iterator[int]:
    telemetry_path.parent.mkdir(parents=True, exist_ok=True)
    if not telemetry_path.exists():
        telemetry_path.write_bytes(bulk_bytes(3))
    fd = os.open(telemetry_path, os.O_RDONLY)
    yield fd
    os.close(fd)


@pytest.mark.parametrize(
    "content",
    [bulk_bytes(3), bulk_bytes(3).rstrip(b"\n"), FIXTURE.read_bytes(), b"[\n"],
    ids=["ours", "no-final-newline", "legacy-indented", "open-bracket"],
)
def test_content_end_is_just_after_the_last_entry(telemetry_path: Path, content: bytes) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(content)
    fd = os.open(telemetry_path, os.O_RDONLY)
    try:
        with Snapshot(fd, hold_lock=False) as snapshot:
            assert snapshot.size == len(content)
            last = content.rfind(b"}")
            assert snapshot.content_end == (last + 1 if last >= 0 else content.index(b"[") + 1)
    finally:
        os.close(fd)


def test_snapshot_read_gives_the_bytes_as_they_were(telemetry_path: Path, descriptor: int) -> None:
    with Snapshot(descriptor, hold_lock=False) as snapshot:
        assert snapshot.read(0, snapshot.size) == bulk_bytes(3)


def test_an_append_after_the_snapshot_is_not_a_rewrite(
    telemetry_path: Path, descriptor: int
) -> None:
    with Snapshot(descriptor, hold_lock=False) as snapshot:
        TelemetryCapture(telemetry_path).capture("appended", "success", 1.0, "t")
        assert snapshot.read(0, 2) == b"[\n"


def test_an_in_place_rewrite_after_the_snapshot_makes_read_raise(
    telemetry_path: Path, descriptor: int
) -> None:
    with Snapshot(descriptor, hold_lock=False) as snapshot:
        run_script(APPEND_SCRIPT, str(telemetry_path), FRAMEWORK_ENTRY)
        with pytest.raises(FileRewritten):
            snapshot.read(0, 2)


def test_a_snapshot_without_hold_lock_leaves_the_file_unlocked(
    telemetry_path: Path, descriptor: int
) -> None:
    other = os.open(telemetry_path, os.O_RDONLY)  # another open file: flock conflicts with it
    try:
        with Snapshot(descriptor, hold_lock=False) as snapshot:
            snapshot.read(0, 10)
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise if still locked
            fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)


def test_a_snapshot_with_hold_lock_keeps_the_shared_lock_until_it_ends(
    telemetry_path: Path, descriptor: int
) -> None:
    other = os.open(telemetry_path, os.O_RDONLY)
    try:
        with Snapshot(descriptor, hold_lock=True):
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)  # readers share it
            fcntl.flock(other, fcntl.LOCK_UN)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
