"""Many writers, one store: real processes, threads and forks, no entry lost or duplicated.

Every test runs on every store (``every_store``); what a file store's bytes must look like
afterwards is checked for the file stores. ``serial``: the writers need the machine's cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from tests.stores import JSON_ARRAY, JSON_LINES, kind_of, stored_entries

pytestmark = [pytest.mark.every_store, pytest.mark.serial]

WRITERS, PER_WRITER = 4, 5000  # the 4 processes x 5,000 captures

WRITER = """
import sys
from betty_telemetry import TelemetryCapture
path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
telemetry = TelemetryCapture(telemetry_file=path)
for n in range(count):
    telemetry.capture("stress.write", "success", n, writer, {"id": f"{writer}-{n}"})
"""


def ids_of(entries: list[dict[str, Any]]) -> list[str]:
    return [e["inputs"]["id"] for e in entries if "id" in (e.get("inputs") or {})]


def _ids(path: Path) -> list[str]:
    """The ids of every entry, in store order, the whole store checked (a JSON-array file
    parses as one array, each line of a JSON Lines file as one object)."""
    return ids_of(stored_entries(path))


def assert_canonical_layout(path: Path, count: int) -> None:
    """A file store holds one entry per line, each as our writer made it."""
    kind = kind_of(path)
    if kind not in (JSON_ARRAY, JSON_LINES):
        return
    lines = path.read_bytes().split(b"\n")
    if kind == JSON_ARRAY:
        assert lines[0] == b"["
        assert lines[-2:] == [b"]", b""]
        entries = lines[1:-2]
    else:
        assert lines[-1] == b""
        entries = lines[:-1]
    assert len(entries) == count
    assert all(entry.startswith(b'{"timestamp"') for entry in entries)


def test_four_processes_times_five_thousand_captures_give_twenty_thousand_entries(
    telemetry_path: Path,
) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(telemetry_path), f"w{w}", str(PER_WRITER)]
        )
        for w in range(WRITERS)
    ]
    assert [writer.wait(timeout=600) for writer in writers] == [0] * WRITERS
    ids = _ids(telemetry_path)
    assert len(ids) == WRITERS * PER_WRITER
    assert set(ids) == {f"w{w}-{n}" for w in range(WRITERS) for n in range(PER_WRITER)}
    for w in range(WRITERS):  # each writer's entries in the order it made them
        mine = [int(i.rsplit("-", 1)[1]) for i in ids if i.startswith(f"w{w}-")]
        assert mine == list(range(PER_WRITER))
    assert_canonical_layout(telemetry_path, len(ids))
    telemetry = TelemetryCapture(telemetry_path)
    assert sum(group["count"] for group in telemetry.stats()) == len(ids)


def test_threads_sharing_one_capture_lose_nothing(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path)

    def write(writer: str) -> None:
        for n in range(500):
            telemetry.capture("stress.thread", "success", n, writer, {"id": f"{writer}-{n}"})

    threads = [threading.Thread(target=write, args=(f"t{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = _ids(telemetry_path)
    assert sorted(ids) == sorted(f"t{t}-{n}" for t in range(4) for n in range(500))
    assert_canonical_layout(telemetry_path, len(ids))


def test_forked_children_using_the_parents_capture_do_not_collide(telemetry_path: Path) -> None:
    # After fork, parent and child would share one open file description, and so one flock
    # (or one SQLite connection): the child must open its own, or their writes would collide.
    telemetry = TelemetryCapture(telemetry_path)
    telemetry.capture("stress.fork", "success", 0, "parent", {"id": "parent-first"})
    children = []
    for c in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                for n in range(300):
                    telemetry.capture("stress.fork", "success", n, "child", {"id": f"c{c}-{n}"})
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    for n in range(300):
        telemetry.capture("stress.fork", "success", n, "parent", {"id": f"p-{n}"})
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0, 0, 0]
    expected = {"parent-first"} | {f"p-{n}" for n in range(300)}
    expected |= {f"c{c}-{n}" for c in range(3) for n in range(300)}
    ids = _ids(telemetry_path)
    assert len(ids) == len(expected)
    assert set(ids) == expected
    assert_canonical_layout(telemetry_path, len(ids))


def test_a_follower_sees_every_entry_of_concurrent_writers_once(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    telemetry.capture("start", "success", 0, "test", {"id": "start-0"})
    stream = telemetry.follow(poll_interval=0.005)  # its start is taken here, not at next()
    seen: list[str] = []
    done = threading.Event()

    def follow() -> None:
        for entry in stream:
            seen.append(entry["inputs"]["id"])
            if len(seen) >= 2 * 1000:
                break
        done.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(telemetry_path), f"f{w}", "1000"])
        for w in range(2)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    assert done.wait(60), f"the follower saw {len(seen)} of 2000 entries"
    stream.close()
    assert len(seen) == len(set(seen)) == 2000
    assert _ids(telemetry_path)[1:] == seen  # in store order
