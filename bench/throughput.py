"""Benchmark: entries per second into one file, from 1, 2 and 4 writer processes at once.

Run with ``make bench`` (or ``.venv/bin/python bench/throughput.py``). Each writer process
captures COUNT entries as fast as it can, in direct mode (each capture appends under the
lock) or in background mode (captures are queued; one thread per process appends batches),
then exits normally (a background writer writes what is queued at exit). The clock runs from
the moment all writers are released together to the moment the last one has exited; the file
is then checked to hold every entry. The machine has 2 cores: 4 processes share them.
Results also go to bench/.cache/throughput_last_run.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fixtures import CACHE_DIR

COUNT = 5_000
PROCESSES = (1, 2, 4)
MODES = ("direct", "background")
REPEATS = 3
RESULTS_FILE = CACHE_DIR / "throughput_last_run.json"

WRITER = r"""
import os, sys, time
from betty_telemetry import TelemetryCapture
path, go, mode, count, name = sys.argv[1:6]
telemetry = TelemetryCapture(path, background=(mode == "background"))
inputs = {"plugin_path": "./plugin.yaml", "output_format": "tar.gz"}
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.0005)
for n in range(int(count)):
    telemetry.capture("plugin.build", "success", 320.5, name, inputs)
"""


def run_once(workdir: Path, mode: str, processes: int) -> float:
    """Seconds for ``processes`` writers to capture COUNT entries each; checks the file."""
    path = workdir / f"{mode}-{processes}-{time.monotonic_ns()}.json"
    go = path.with_suffix(".go")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(go), mode, str(COUNT), f"w{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    for writer in writers:  # every interpreter started and imported before the clock starts
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"
    started = time.perf_counter()
    go.touch()
    codes = [writer.wait(timeout=600) for writer in writers]
    elapsed = time.perf_counter() - started
    entries = json.loads(path.read_bytes())
    if codes != [0] * processes or len(entries) != COUNT * processes:
        raise SystemExit(f"{mode} x{processes}: exit codes {codes}, {len(entries)} entries")
    return elapsed


def main() -> int:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="throughput-", dir=CACHE_DIR) as tmp:
        for processes in PROCESSES:
            for mode in MODES:
                seconds = [run_once(Path(tmp), mode, processes) for _ in range(REPEATS)]
                best = min(seconds)
                results[f"{mode}x{processes}"] = {
                    "seconds": seconds,
                    "entries_per_s": COUNT * processes / best,
                }
    print("betty-telemetry benchmark: throughput into one file (entries per second)")
    print(f"method  : {COUNT:,} captures per writer process; best of {REPEATS} runs; the file is")
    print("          checked to hold every entry; 2 cores on this machine")
    print(f"  {'processes':>9}  {'direct':>12}  {'background':>12}")
    for processes in PROCESSES:
        direct = results[f"directx{processes}"]["entries_per_s"]
        background = results[f"backgroundx{processes}"]["entries_per_s"]
        print(f"  {processes:>9}  {direct:>12,.0f}  {background:>12,.0f}")
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
