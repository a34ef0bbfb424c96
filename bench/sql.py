"""Benchmark: SQL (DuckDB, the [sql] extra) over 1,000,000 entries, on each store, against the
library's own ``stats()`` on the same file.

Run with ``.venv/bin/python bench/sql.py``. The files are bench/stores.py's (the JSON array
built once by bench/read_fixture.py, the JSON Lines file and the SQLite database made from it,
all cached). Each measurement is one call in a fresh child process, the stores alternating;
the median of RUNS runs, and the child's peak memory (max RSS). Measured:

- ``sql``: ``SELECT skill, count(*), avg(duration_ms), quantile_cont(duration_ms, 0.95)
  FROM entries GROUP BY skill``, everything included (the store's files handed over: the JSON
  array and the SQLite rows copied as JSON Lines; DuckDB started, the view made, the query);
- ``stats``: ``TelemetryCapture.stats()`` by skill (counts, failure rates, exact p50/p95/p99).

Both give the same count per skill (checked). The bench reports; it exits 0 whatever the
figures. The results also go to bench/.cache/sql_last_run.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fixtures import CACHE_DIR
from read_fixture import cached_read_file
from report import Target
from stores import ENTRIES, cached_database, cached_json_lines

RUNS = 3
RESULTS_FILE = CACHE_DIR / "sql_last_run.json"
HERE = Path(__file__).resolve().parent
QUERY = (
    "SELECT skill, count(*) AS n, avg(duration_ms), quantile_cont(duration_ms, 0.95) "
    "FROM entries GROUP BY skill"
)

CHILD = r"""
import json, resource, sys, time
path, operation, query = sys.argv[1:4]
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(path)
started = time.perf_counter()
if operation == "sql":
    counts = {skill: n for skill, n, *_ in telemetry.sql(query).rows}
else:
    counts = {row["key"]: row["count"] for row in telemetry.stats()}
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "counts": counts}))
"""


def run_child(path: Path, operation: str) -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, str(path), operation, QUERY]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def measure(paths: dict[str, Path]) -> dict[str, Any]:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(RUNS):
        for operation in ("sql", "stats"):
            for name, path in paths.items():
                runs.setdefault((name, operation), []).append(run_child(path, operation))
    found: dict[str, Any] = {}
    for (name, operation), records in runs.items():
        found.setdefault(name, {})[operation] = {
            "seconds": [record["seconds"] for record in records],
            "median_s": statistics.median(record["seconds"] for record in records),
            "peak_mb": max(record["peak_bytes"] for record in records) / 2**20,
            "counts": records[0]["counts"],
        }
    for record in found.values():
        record["same_counts"] = record["sql"]["counts"] == record["stats"]["counts"]
        record["ratio"] = record["sql"]["median_s"] / record["stats"]["median_s"]
        for operation in ("sql", "stats"):
            del record[operation]["counts"]
    return found


def targets(found: dict[str, Any]) -> list[Target]:
    # The issue sets no figure for SQL: ours is that a question over a month of a busy
    # machine's entries is answered in seconds, not minutes, whatever the store.
    return [
        Target(f"sql GROUP BY on {name}", record["sql"]["median_s"], "s", "<=", 10)
        for name, record in found.items()
    ]


def main() -> int:
    started = time.perf_counter()
    json_path, _ = cached_read_file(ENTRIES)
    db_path, _ = cached_database(json_path)
    jsonl_path, _ = cached_json_lines(json_path)
    paths = {"json_array": json_path, "jsonl": jsonl_path, "sqlite": db_path}
    found = measure(paths)
    print(f"SQL vs stats() on {ENTRIES:,} entries (one call per fresh process, median of {RUNS}):")
    print(f"  query: {QUERY}")
    for name, record in found.items():
        for operation in ("sql", "stats"):
            figures = record[operation]
            runs = ", ".join(f"{seconds:.2f}" for seconds in figures["seconds"])
            print(
                f"  {name:<11} {operation:<5} median {figures['median_s']:6.2f} s   "
                f"peak {figures['peak_mb']:6.0f} MB   runs (s) {runs}"
            )
        same = "same counts" if record["same_counts"] else "COUNTS DIFFER"
        print(f"  {name:<11} sql / stats {record['ratio']:.2f}x  ({same})")
    found_targets = targets(found)
    print("targets:")
    for target in found_targets:
        print(target.line(30))
    summary = {
        "entries": ENTRIES,
        "query": QUERY,
        "stores": found,
        "targets": [target.as_json() for target in found_targets],
        "wall_time_s": time.perf_counter() - started,
    }
    RESULTS_FILE.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    where = RESULTS_FILE.relative_to(HERE.parent)
    print(f"results : {where}   wall time {summary['wall_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
