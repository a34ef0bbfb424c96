"""Many writers, one file: real processes and threads, no entry lost or duplicated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from betty_telemetry import TelemetryCapture

WRITER = """
import sys
from betty_telemetry import TelemetryCapture
path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
telemetry = TelemetryCapture(telemetry_file=path)
for n in range(count):
    telemetry.capture("stress.write", "success", n, writer, {"id": f"{writer}-{n}"})
"""


def _ids(path: Path) -> list[str]:
    entries = json.loads(path.read_bytes())
    return [entry["inputs"]["id"] for entry in entries]


def test_four_processes_times_two_thousand_captures_give_eight_thousand_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{w}", "2000"])
        for w in range(4)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0, 0]
    ids = _ids(path)
    assert len(ids) == 8000
    assert set(ids) == {f"w{w}-{n}" for w in range(4) for n in range(2000)}
    lines = path.read_bytes().split(b"\n")
    assert lines[0] == b"["
    assert lines[-2:] == [b"]", b""]
    assert len(lines) == 8000 + 3  # canonical layout: one entry per line
    assert all(entry.startswith(b'{"timestamp"') for entry in lines[1:-2])


def test_threads_sharing_one_capture_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    telemetry = TelemetryCapture(path)

    def write(writer: str) -> None:
        for n in range(500):
            telemetry.capture("stress.thread", "success", n, writer, {"id": f"{writer}-{n}"})

    threads = [threading.Thread(target=write, args=(f"t{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(_ids(path)) == sorted(f"t{t}-{n}" for t in range(4) for n in range(500))


def test_forked_children_using_the_parents_capture_do_not_collide(tmp_path: Path) -> None:
    # After fork, parent and child would share one open file description, and so one flock:
    # the child must open its own, or their appends would interleave.
    path = tmp_path / "t.json"
    telemetry = TelemetryCapture(path)
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
    ids = _ids(path)
    assert len(ids) == len(expected)
    assert set(ids) == expected
