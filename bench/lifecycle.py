"""Benchmark: converting and pruning 1,000,000-entry stores, time and peak memory.

Run by ``make bench`` after bench/stores.py, whose cached 1,000,000-entry files (JSON array,
JSON Lines, SQLite) it copies into a temporary folder. Each operation runs in a fresh child
process, which reports its time and its peak resident memory (``ru_maxrss``):

- ``convert`` JSON array -> SQLite, SQLite -> JSON Lines, JSON Lines -> JSON array: each
  reader and each writer once (target: <= 30 s, memory bounded: <= 200 MB);
- ``prune`` of the older half of each store (the rewrite of a file store under its lock, the
  one transaction of SQLite).

The bench reports; it exits 0 whatever the figures.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from read_fixture import cached_read_file
from stores import ENTRIES, cached_database, cached_json_lines

CONVERT_TARGET_SECONDS = 30.0
MEMORY_TARGET_MB = 200.0

CHILD = r"""
import json, resource, sys, time
operation, source, argument = sys.argv[1:4]
import betty_telemetry
started = time.perf_counter()
if operation == "convert":
    done = betty_telemetry.convert(source, argument)
    count = done.entries
else:
    pruned = betty_telemetry.TelemetryCapture(source).prune(before=argument)
    count = pruned.moved
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "entries": count, "peak_mb": peak_mb}))
"""


def run(operation: str, source: Path, argument: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, operation, str(source), argument],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def median_timestamp(path: Path) -> str:
    """The timestamp of the middle entry of the JSON Lines copy: pruning before it moves the
    older half."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines):
            if number == ENTRIES // 2:
                moment: str = json.loads(line)["timestamp"]
                return moment
    raise SystemExit(f"{path} holds fewer than {ENTRIES // 2} entries")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    json_path, _ = cached_read_file(ENTRIES)
    db_path, _ = cached_database(json_path)
    jsonl_path, _ = cached_json_lines(json_path)
    print("betty-telemetry benchmark: convert and prune")
    print(f"command : {sys.executable} bench/lifecycle.py\n")
    cut = median_timestamp(jsonl_path)
    with tempfile.TemporaryDirectory(prefix="betty-lifecycle-bench-", dir=json_path.parent) as tmp:
        work = Path(tmp)
        print(f"convert {ENTRIES:,} entries (one child process each)")
        for source, destination in (
            (json_path, work / "to.db"),
            (db_path, work / "to.jsonl"),
            (jsonl_path, work / "to.json"),
        ):
            result = run("convert", source, str(destination))
            ok = result["seconds"] <= CONVERT_TARGET_SECONDS and (
                result["peak_mb"] <= MEMORY_TARGET_MB
            )
            print(
                f"  {source.suffix[1:]:>5} -> {destination.suffix[1:]:<5} "
                f"{result['seconds']:6.1f} s  peak {result['peak_mb']:5.0f} MB   "
                f"target <= {CONVERT_TARGET_SECONDS:.0f} s, <= {MEMORY_TARGET_MB:.0f} MB  "
                f"{verdict(ok)}"
            )
            destination.unlink()
        print(f"\nprune the older half ({ENTRIES // 2:,} entries) into an archive")
        for source in (json_path, jsonl_path, db_path):
            copy = work / source.name
            shutil.copyfile(source, copy)
            result = run("prune", copy, cut)
            print(
                f"  {source.suffix[1:]:>5}  {result['seconds']:6.1f} s  "
                f"peak {result['peak_mb']:5.0f} MB   moved {int(result['entries']):,}"
            )
            for leftover in work.iterdir():
                leftover.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
