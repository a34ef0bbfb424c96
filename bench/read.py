"""Benchmark: the read side on a 1,000,000-entry file, against stdlib ``json.load``.

Run with ``make bench`` (or ``.venv/bin/python bench/read.py``). Every measurement runs in a
fresh child process, so each reports its own peak memory (``ru_maxrss``: the whole process,
interpreter included) and nothing is shared between them but the page cache. Runs of
``stats()`` and ``json.load`` alternate, and their ratio is taken per pair. Also measured:
how long a capture waits while another process runs ``stats()`` over the whole file (readers
lock the file one block at a time). The bench reports; it exits 0 whatever the figures. The
results also go to bench/.cache/read_last_run.json.
"""

from __future__ import annotations

import json
import os
import shutil
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
PAIRS = 3
QUERY_REPEATS = 30
RESULTS_FILE = CACHE_DIR / "read_last_run.json"
HERE = Path(__file__).resolve().parent

# Each child: run one operation, print {"seconds": [...], "peak_mb": ..., "base_mb": ...}.
CHILD = r"""
import json, resource, statistics, sys, time
path, operation, repeats, argument = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
from betty_telemetry import TelemetryCapture
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = peak_mb()
telemetry = TelemetryCapture(path)
operations = {
    "failures": lambda: telemetry.query(status="failure", limit=10),
    "skill_since": lambda: telemetry.query(skill="agent.run", since=argument, limit=50),
    "window": lambda: telemetry.query(skill="hook.define", since=argument, limit=50),
    "trace_last": lambda: telemetry.trace(telemetry.last_trace_id()),
    "tail": lambda: telemetry.tail(10),
    "stats": lambda: telemetry.stats(),
    "json_load": lambda: json.load(open(path, "rb")),
}
seconds, sizes = [], []
for _ in range(repeats):
    started = time.perf_counter()
    result = operations[operation]()
    seconds.append(time.perf_counter() - started)
    sizes.append(len(result))
print(json.dumps({"seconds": seconds, "results": sizes[0], "peak_mb": peak_mb(), "base_mb": base}))
"""

# Captures in a loop for as long as the reader runs; prints the slowest capture.
WRITER = r"""
import json, sys, time
from betty_telemetry import TelemetryCapture
path, stop_file = sys.argv[1], sys.argv[2]
import os
telemetry = TelemetryCapture(path)
latencies = []
while not os.path.exists(stop_file):
    started = time.perf_counter()
    telemetry.capture("bench.concurrent", "success", 1.0, "bench")
    latencies.append(time.perf_counter() - started)
    time.sleep(0.002)
print(json.dumps({"captures": len(latencies), "max_s": max(latencies),
                  "median_s": sorted(latencies)[len(latencies) // 2]}))
"""


def run_child(path: Path, operation: str, repeats: int = 1, argument: str = "") -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, str(path), operation, str(repeats), argument]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    record: dict[str, Any] = json.loads(done.stdout)
    record["median_s"] = statistics.median(record["seconds"])
    record["first_s"] = record["seconds"][0]
    return record


def measure_queries(path: Path, since_recent: str, since_window: str) -> dict[str, Any]:
    """The limited reads: many calls in one process; the first call is reported too."""
    return {
        "failures": run_child(path, "failures", QUERY_REPEATS),
        "skill_since": run_child(path, "skill_since", QUERY_REPEATS, since_recent),
        "window": run_child(path, "window", QUERY_REPEATS, since_window),
        "trace_last": run_child(path, "trace_last", 5),
        "tail": run_child(path, "tail", QUERY_REPEATS),
    }


def measure_full_scans(path: Path) -> dict[str, Any]:
    """``stats()`` and ``json.load`` in alternating fresh processes; ratios per pair."""
    stats_runs, load_runs = [], []
    for _ in range(PAIRS):
        stats_runs.append(run_child(path, "stats"))
        load_runs.append(run_child(path, "json_load"))
    ratios = [s["first_s"] / j["first_s"] for s, j in zip(stats_runs, load_runs, strict=True)]
    return {"stats": stats_runs, "json_load": load_runs, "ratios": ratios}


def measure_writer_during_stats(path: Path, workdir: Path) -> dict[str, Any]:
    """Captures into a copy of the file while another process runs stats() over it."""
    copy = workdir / "concurrent.json"
    shutil.copyfile(path, copy)
    stop_file = workdir / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(copy), str(stop_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    reader = run_child(copy, "stats")
    stop_file.touch()
    output, _ = writer.communicate(timeout=60)
    record: dict[str, Any] = json.loads(output)
    record["reader_s"] = reader["first_s"]
    return record


def _last_timestamp(path: Path) -> str:
    from betty_telemetry import TelemetryCapture

    newest: str = TelemetryCapture(path).tail(1)[0]["timestamp"]
    return newest


def _minus_hours(timestamp: str, hours: float) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(timestamp) - timedelta(hours=hours)).isoformat()


def targets(queries: dict[str, Any], scans: dict[str, Any]) -> list[Target]:
    worst_stats_mb = max(run["peak_mb"] for run in scans["stats"])
    return [
        Target(
            "query(status='failure', limit=10)",
            queries["failures"]["median_s"] * 1e3,
            "ms",
            "<=",
            50,
        ),
        Target(
            "query(skill, since=6h, limit=50)",
            queries["skill_since"]["median_s"] * 1e3,
            "ms",
            "<=",
            50,
        ),
        Target(
            "query(skill, since=1h, limit=50)*", queries["window"]["median_s"] * 1e3, "ms", "<=", 50
        ),
        Target(
            "stats() / json.load (median of pairs)",
            statistics.median(scans["ratios"]),
            "x",
            "<=",
            1.0,
        ),
        Target("stats() peak memory (worst run)", worst_stats_mb, "MB", "<=", 200),
    ]


def print_report(summary: dict[str, Any]) -> None:
    queries, scans, writer = summary["queries"], summary["full_scans"], summary["writer"]
    print(
        f"file    : {summary['file']} ({summary['entries']:,} entries, {summary['file_mb']:.0f} MB)"
    )
    print("limited reads (one process each, median of repeated calls; first call; peak RSS):")
    labels = {
        "failures": "query(status='failure', limit=10)",
        "skill_since": "query(skill='agent.run', since=newest-6h, limit=50)",
        "window": "query(skill='hook.define', since=newest-1h, limit=50)*",
        "trace_last": "trace(last_trace_id())",
        "tail": "tail(10)",
    }
    for name, label in labels.items():
        record = queries[name]
        print(
            f"  {label:<56} {record['median_s'] * 1e3:8.2f} ms  first "
            f"{record['first_s'] * 1e3:8.2f} ms  {record['results']:>4} results  "
            f"peak {record['peak_mb']:5.0f} MB"
        )
    print("  * fewer than 50 match in the window: the read goes back to since - 10 min")
    print("full scans (fresh process per run, alternating):")
    for name in ("stats", "json_load"):
        runs = scans[name]
        times = ", ".join(f"{run['first_s']:.2f} s" for run in runs)
        peaks = ", ".join(f"{run['peak_mb']:.0f}" for run in runs)
        print(f"  {name:<10} {times:<30} peak MB {peaks}")
    print("  ratios stats/json.load per pair: " + ", ".join(f"{r:.2f}x" for r in scans["ratios"]))
    print(
        f"writer during a full stats() in another process ({writer['reader_s']:.2f} s): "
        f"{writer['captures']} captures, median {writer['median_s'] * 1e6:.0f} µs, "
        f"slowest {writer['max_s'] * 1e3:.1f} ms"
    )
    print("targets:")
    for target in summary["target_objects"]:
        print(target.line(40))


def main() -> int:
    started = time.perf_counter()
    path, built = cached_read_file(ENTRIES)
    if built:
        print(f"built {path} in {time.perf_counter() - started:.0f} s (cached for next runs)")
    newest = _last_timestamp(path)
    with tempfile.TemporaryDirectory(prefix="betty-read-bench-") as tmp:
        queries = measure_queries(path, _minus_hours(newest, 6), _minus_hours(newest, 1))
        scans = measure_full_scans(path)
        writer = measure_writer_during_stats(path, Path(tmp))
    found = targets(queries, scans)
    summary: dict[str, Any] = {
        "file": str(path.relative_to(HERE.parent)),
        "entries": ENTRIES,
        "file_mb": os.path.getsize(path) / 2**20,
        "queries": queries,
        "full_scans": scans,
        "writer": writer,
        "targets": [target.as_json() for target in found],
        "wall_time_s": time.perf_counter() - started,
    }
    print_report({**summary, "target_objects": found})
    RESULTS_FILE.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"results : {RESULTS_FILE.relative_to(HERE.parent)}   wall time "
        f"{summary['wall_time_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
