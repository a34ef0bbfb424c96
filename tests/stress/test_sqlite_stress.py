"""Many writers on one SQLite database, and writers killed mid-stream: real processes, no
entry lost or duplicated, the database intact and writable afterwards."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
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

# Logs an id only once capture() returned: every logged id must be stored, exactly once.
KILLED_WRITER = """
import os, sys
from betty_telemetry import TelemetryCapture
path, prefix, side = sys.argv[1:4]
telemetry = TelemetryCapture(path)
log = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(1, b"R")
n = 0
while True:
    entry_id = f"{prefix}-{n}"
    telemetry.capture("stress.crash", "success", n, prefix, {"id": entry_id, "pad": "x" * 4000})
    os.write(log, entry_id.encode() + b"\\n")
    n += 1
"""
# A SIGKILLed process never saves coverage data: measuring it would only slow it down.
WRITER_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}


def _integrity(path: Path) -> str:
    with closing(sqlite3.connect(path)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def test_four_processes_times_two_thousand_captures_give_eight_thousand_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry" / "telemetry.db"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{w}", "2000"])
        for w in range(4)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0, 0]
    telemetry = TelemetryCapture(path)
    ids = [entry["inputs"]["id"] for entry in telemetry.query()]
    assert len(ids) == 8000
    assert set(ids) == {f"w{w}-{n}" for w in range(4) for n in range(2000)}
    for w in range(4):  # each writer's entries in the order it wrote them
        mine = [int(i.split("-")[1]) for i in reversed(ids) if i.startswith(f"w{w}-")]
        assert mine == list(range(2000))
    assert telemetry.stats()[0]["count"] == 8000
    assert _integrity(path) == "ok"


def test_writers_killed_mid_stream_leave_every_recorded_entry_and_a_writable_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry.db"
    rng = random.Random(20261206)
    logged: list[str] = []
    for round_no in range(8):
        writers = []
        for w in range(3):
            side = tmp_path / f"r{round_no}w{w}.ids"
            process = subprocess.Popen(
                [sys.executable, "-c", KILLED_WRITER, str(path), f"r{round_no}w{w}", str(side)],
                stdout=subprocess.PIPE,
                env=WRITER_ENV,
            )
            writers.append((process, side))
        for process, _ in writers:
            assert process.stdout is not None
            assert process.stdout.read(1) == b"R"
        time.sleep(rng.uniform(0.02, 0.12))
        for process, side in writers:
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=60) == -signal.SIGKILL
            assert process.stdout is not None
            process.stdout.close()
            if side.exists():
                logged += side.read_text().split("\n")[:-1]
    assert len(logged) > 100
    assert _integrity(path) == "ok"
    telemetry = TelemetryCapture(path)
    stored = [entry["inputs"]["id"] for entry in telemetry.query(skill="stress.crash")]
    assert len(stored) == len(set(stored))  # none twice
    assert set(logged) <= set(stored)  # every capture that returned is there
    telemetry.capture("after.crash", "success", 1.0, "test")
    assert telemetry.query(limit=1)[0]["skill"] == "after.crash"
    assert sum(row["count"] for row in telemetry.stats()) == len(stored) + 1
