"""Benchmark: the CLI's output on a 1,000,000-entry file, as a person and a pipeline see it.

Run with ``make bench`` (or ``.venv/bin/python bench/cli_stream.py``), on bench/read.py's
cached file (built once). Each command runs as a fresh process, its stdout into a pipe read
here; measured: when its first row came out, how long it ran, and its peak memory (resident
set, interpreter included), taken by a small launcher process (``wait4``): a process forked
from a large one would count the large one's memory as its own.

- ``query --all``: the whole table, every row read here.
- ``query --all --csv | head -1``: a real shell pipeline; the time is the pipeline's, to
  the moment ``head`` has its line and the command has ended (quietly: checked).
- ``query --all --jsonl``: for comparison, the format that streamed already.
- ``stats`` on a pseudo-terminal with its progress line drawn, against the same with
  ``TERM=dumb`` (no line), alternating: what the line costs the work.

The issue's targets: the first row within 1 s, under 100 MB. The bench reports; it exits 0
whatever the figures. The results also go to bench/.cache/cli_stream_last_run.json.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fixtures import CACHE_DIR
from read_fixture import cached_read_file
from report import Target

ENTRIES = 1_000_000
PAIRS = 7
RESULTS_FILE = CACHE_DIR / "cli_stream_last_run.json"
CLI = [sys.executable, "-m", "betty_telemetry"]
# As a user runs it: stdout buffered (PYTHONUNBUFFERED makes every row a system call).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}

# Runs a command and writes its exit code and peak memory (kB) into a file (see the module).
LAUNCHER = """
import json, os, subprocess, sys
report, *command = sys.argv[1:]
child = subprocess.Popen(command)
_, status, usage = os.wait4(child.pid, 0)
with open(report, "w") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "peak_kb": usage.ru_maxrss}, out)
"""


def launched(report: Path, command: list[str]) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, str(report), *command]


def read_report(report: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(report.read_text())
    return {"code": record["code"], "peak_mb": record["peak_kb"] / 1024}


def stream(args: list[str], workdir: Path) -> dict[str, Any]:
    """The command, its stdout read to the end here, line by line."""
    report = workdir / "report.json"
    started = time.perf_counter()
    process = subprocess.Popen(
        launched(report, [*CLI, *args]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    first_s = time.perf_counter() - started
    lines = 1 if first else 0
    for _ in process.stdout:
        lines += 1
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    return {
        "first_row_s": first_s,
        "seconds": seconds,
        "lines": lines,
        "stderr": stderr.decode(),
        **read_report(report),
    }


def pipeline_head(args: list[str], workdir: Path) -> dict[str, Any]:
    """``betty-telemetry ARGS | head -1`` run by the shell."""
    report = workdir / "report.json"
    command = shlex.join(launched(report, [*CLI, *args])) + " | head -1"
    started = time.perf_counter()
    done = subprocess.run(["sh", "-c", command], capture_output=True, check=False, env=ENV)
    seconds = time.perf_counter() - started
    return {
        "command": f"betty-telemetry {shlex.join(args)} | head -1",
        "seconds": seconds,
        "lines": len(done.stdout.splitlines()),
        "stderr": done.stderr.decode(),
        **read_report(report),
    }


def stats_on_terminal(path: Path, term: str) -> tuple[float, float]:
    """``stats`` with stdout and stderr on a pseudo-terminal: with ``TERM=xterm`` the progress
    line is drawn, with ``TERM=dumb`` (a terminal that cannot erase a line) it is not. Its
    wall time and CPU time (user and system, of the command alone)."""
    started = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execve(sys.executable, [*CLI, "stats", "--file", str(path)], {**ENV, "TERM": term})
        finally:
            os._exit(127)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the command ended: the terminal is closed
                break
            if not data:
                break
            output += data
    _, _, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    os.close(master)
    assert (b"\x1b[K" in output) == (term != "dumb"), "the progress line is drawn, or not"
    return seconds, usage.ru_utime + usage.ru_stime


def measure(path: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        table = stream(["query", "--all", "--file", str(path)], workdir)
        jsonl = stream(["query", "--all", "--jsonl", "--file", str(path)], workdir)
        csv_head = pipeline_head(["query", "--all", "--csv", "--file", str(path)], workdir)
    drawn, plain = [], []
    for pair in range(PAIRS):  # alternating, each first in turn
        terms = ("xterm", "dumb") if pair % 2 else ("dumb", "xterm")
        runs = {term: stats_on_terminal(path, term) for term in terms}
        drawn.append(runs["xterm"])
        plain.append(runs["dumb"])
    return {
        "table": table,
        "jsonl": jsonl,
        "csv_head": csv_head,
        "stats_drawn": drawn,
        "stats_plain": plain,
        "progress_cost_wall": _median_ratio(drawn, plain, 0),
        "progress_cost_cpu": _median_ratio(drawn, plain, 1),
    }


def _median_ratio(
    drawn: list[tuple[float, float]], plain: list[tuple[float, float]], index: int
) -> float:
    return statistics.median(d[index] / p[index] for d, p in zip(drawn, plain, strict=True))


def targets(results: dict[str, Any]) -> list[Target]:
    table, csv_head = results["table"], results["csv_head"]
    return [
        Target("query --all: first row", table["first_row_s"], "s", "<=", 1.0),
        Target("query --all: peak memory", table["peak_mb"], "MB", "<=", 100),
        Target("query --all --csv | head -1: time", csv_head["seconds"], "s", "<=", 1.0),
        Target("query --all --csv | head -1: peak memory", csv_head["peak_mb"], "MB", "<=", 100),
        Target(
            "stats drawing progress / not: CPU time", results["progress_cost_cpu"], "x", "<=", 1.05
        ),
    ]


def print_report(results: dict[str, Any], path: Path) -> None:
    print(f"file    : {path} ({ENTRIES:,} entries, {path.stat().st_size / 2**20:.0f} MB)")
    print("commands (fresh process each; stdout into a pipe; peak RSS of the command):")
    for name, label in (("table", "query --all"), ("jsonl", "query --all --jsonl")):
        run = results[name]
        print(
            f"  {label:<30} first row {run['first_row_s']:6.2f} s   whole {run['seconds']:6.1f} s"
            f"   {run['lines']:>9,} lines   peak {run['peak_mb']:5.0f} MB   exit {run['code']}"
        )
    head = results["csv_head"]
    print(
        f"  {head['command'].replace(str(path), 'FILE'):<30} {head['seconds']:6.2f} s "
        f"  {head['lines']} line   peak {head['peak_mb']:5.0f} MB   exit {head['code']}"
        f"   stderr {head['stderr']!r}"
    )
    for name, label in (("stats_drawn", "progress drawn"), ("stats_plain", "TERM=dumb, none")):
        runs = ", ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in results[name])
        print(f"  stats on a pty, {label:<15} wall/CPU s: {runs}")
    print(
        f"  median ratios, drawn over none: wall {results['progress_cost_wall']:.3f}x "
        f"(this machine's noise is about 10%), CPU {results['progress_cost_cpu']:.3f}x"
    )
    checks = targets(results)
    width = max(len(target.name) for target in checks)
    print("targets:")
    for target in checks:
        print(target.line(width))


def main() -> int:
    path, built = cached_read_file(ENTRIES)
    print("betty-telemetry benchmark: the CLI's streamed output and progress")
    print(
        f"command : {sys.executable} bench/cli_stream.py" + ("  (file built now)" if built else "")
    )
    results = measure(path)
    print_report(results, path)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    summary = {**results, "targets": [target.as_json() for target in targets(results)]}
    RESULTS_FILE.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
