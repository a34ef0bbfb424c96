"""Ctrl-C never hangs a process that coverage measures, as the tests' children all are.

Coverage before 7.17.5 took its data lock, on every call into measured code, through Python
functions: a KeyboardInterrupt raised in one of them after the lock was taken left it held, and
the process hung for ever at its next measured call or at exit, when coverage saves. A test
typing Ctrl-C into ``tail -f`` then waited in vain, about once in a few hundred runs. Here a
child measured by coverage is interrupted thousands of times a second, at whatever point its
measured code has reached, and must still end: with the old coverage it never did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STORM = """
import signal, sys, time
import coverage

measuring = coverage.Coverage(
    data_file=sys.argv[1], auto_data=True, config_file=False, source=["betty_telemetry"],
    branch=True,
    concurrency=["thread"],  # the tests' setting: the one that takes the lock
)
measuring.start()
from betty_telemetry.model.entry import normalize_entry  # measured: its calls are traced

armed = False

def interrupt(signum, frame):  # what Ctrl-C does, once the loop below is ready for it
    global armed
    if armed:
        armed = False
        raise KeyboardInterrupt

entry = {"timestamp": "2026-03-01T00:00:00+00:00", "skill": "s", "status": "success",
         "duration_ms": 1, "caller": "c"}
signal.signal(signal.SIGALRM, interrupt)
signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
interrupts, end = 0, time.monotonic() + 1.0
while time.monotonic() < end:
    try:
        armed = True
        for _ in range(100):
            normalize_entry(entry)
        armed = False
    except KeyboardInterrupt:
        interrupts += 1
signal.setitimer(signal.ITIMER_REAL, 0)
print(interrupts, flush=True)
"""


def test_a_measured_process_interrupted_anywhere_still_ends(tmp_path: Path) -> None:
    # Measured by the coverage started in the script only, whether or not the tests are.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    try:
        result = subprocess.run(
            [sys.executable, "-c", STORM, str(tmp_path / ".coverage")],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("the measured process hung after being interrupted") from None
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 100  # interrupted often, at many points of measured code
    assert (tmp_path / ".coverage").exists()  # and coverage saved what it measured
