"""Benchmark: ``betty-telemetry report`` (the HTML report, the [report] extra) on 1,000,000
entries, on each store, against the library's own ``stats()`` on the same file.

Run with ``.venv/bin/python bench/html_report.py``. The files are bench/stores.py's (the JSON
array built once by bench/read_fixture.py, the JSON Lines file and the SQLite database made
from it, all cached). Each measurement is one call in a fresh child process, the stores and
operations alternating; the median of RUNS runs, and the child's peak memory (max RSS).

- ``report``: ``TelemetryCapture.report(path)``, everything included (the read, the digest,
  the page with plotly.js inlined, written to disk);
- ``stats``: ``TelemetryCapture.stats()`` by skill: the same read's floor, in the same run.

The issue's targets: the report of a million entries in at most 10 s, its file at most
10 MB. The bench reports; it exits 0 whatever the figures. Results also go to
bench/.cache/html_report_last_run.json.
"""

from __future__ import annotations

import json
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
from stores import ENTRIES, cached_database, cached_json_lines

RUNS = 3
RESULTS_FILE = CACHE_DIR / "html_report_last_run.json"
HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, resource, sys, time
path, operation, out = sys.argv[1:4]
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(path)
started = time.perf_counter()
if operation == "report":
    written = telemetry.report(out)
    runs, size = written.runs, written.size
else:
    runs, size = sum(row["count"] for row in telemetry.stats()), 0
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "runs": runs, "size": size}))
"""


def run_child(path: Path, operation: str, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, str(path), operation, str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def measure(paths: dict[str, Path], folder: Path) -> dict[str, Any]:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(RUNS):
        for operation in ("report", "stats"):
            for name, path in paths.items():
                out = folder / f"{name}.html"
                runs.setdefault((name, operation), []).append(run_child(path, operation, out))
    found: dict[str, Any] = {}
    for (name, operation), records in runs.items():
        found.setdefault(name, {})[operation] = {
            "seconds": [record["seconds"] for record in records],
            "median_s": statistics.median(record["seconds"] for record in records),
            "peak_mb": max(record["peak_bytes"] for record in records) / 2**20,
            "runs": records[0]["runs"],
            "size_mb": records[0]["size"] / 1_000_000,
        }
    for record in found.values():
        record["same_runs"] = record["report"]["runs"] == record["stats"]["runs"]
        record["ratio"] = record["report"]["median_s"] / record["stats"]["median_s"]
    return found


def targets(found: dict[str, Any]) -> list[Target]:
    listed = []
    for name, record in found.items():
        listed.append(Target(f"report on {name}", record["report"]["median_s"], "s", "<=", 10))
        listed.append(
            Target(f"report file from {name}", record["report"]["size_mb"], "MB", "<=", 10)
        )
    return listed


def main() -> int:
    started = time.perf_counter()
    json_path, _ = cached_read_file(ENTRIES)
    db_path, _ = cached_database(json_path)
    jsonl_path, _ = cached_json_lines(json_path)
    paths = {"json_array": json_path, "jsonl": jsonl_path, "sqlite": db_path}
    with tempfile.TemporaryDirectory() as folder:
        found = measure(paths, Path(folder))
    print(f"HTML report vs stats() on {ENTRIES:,} entries (fresh process each, median of {RUNS}):")
    for name, record in found.items():
        for operation in ("report", "stats"):
            figures = record[operation]
            runs = ", ".join(f"{seconds:.2f}" for seconds in figures["seconds"])
            size = f"   file {figures['size_mb']:.1f} MB" if operation == "report" else ""
            print(
                f"  {name:<11} {operation:<6} median {figures['median_s']:6.2f} s   "
                f"peak {figures['peak_mb']:6.0f} MB{size}   runs (s) {runs}"
            )
        same = "same runs" if record["same_runs"] else "RUN COUNTS DIFFER"
        print(f"  {name:<11} report / stats {record['ratio']:.2f}x  ({same})")
    found_targets = targets(found)
    print("targets:")
    for target in found_targets:
        print(target.line(30))
    summary = {
        "entries": ENTRIES,
        "stores": found,
        "targets": [target.as_json() for target in found_targets],
        "wall_time_s": time.perf_counter() - started,
    }
    RESULTS_FILE.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"results : {RESULTS_FILE.relative_to(HERE.parent)}   wall {summary['wall_time_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
