"""Benchmark: the three stores on the same 1,000,000 entries (JSON array, JSON Lines, SQLite).

Run with ``.venv/bin/python bench/stores.py``. The JSON-array file is bench/read.py's (built
once, cached); the SQLite database holds the same entries, written through ``SqliteStore``
(built once from it, cached beside it); so does the JSON Lines file. Measured:

- ``stats()`` (every entry, by skill) and ``trace(id)``: one call per fresh child process, as
  bench/read.py does, the stores alternating; the median of the runs, and their ratio.
- ``capture()``: per call, in this process, on fresh empty stores, the stores interleaved
  round by round (bench/timing.py); JSON Lines too when ``open_store`` knows ``.jsonl``.

Then the targets with PASS/MISS. The bench reports; it exits 0 whatever the figures. The
results also go to bench/.cache/stores_last_run.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores import SqliteStore
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite.schema import SCHEMA_VERSION
from fixtures import CACHE_DIR
from read_fixture import FORMAT_VERSION, cached_read_file
from report import Target, fmt_ns
from timing import Config, Subject, median, run_interleaved, warm_up

ENTRIES = 1_000_000
RUNS = 5  # fresh processes per store and operation
BUILD_BATCH = 5000
ROUNDS = 25
CAPTURE_CALLS = 200
CAPTURE_WARMUP = 200
RESULTS_FILE = CACHE_DIR / "stores_last_run.json"
HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
path, operation, argument = sys.argv[1:4]
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(path)
operations = {"stats": lambda: telemetry.stats(), "trace": lambda: telemetry.trace(argument)}
started = time.perf_counter()
result = operations[operation]()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "results": len(result), "digest": repr(result)[:2000]}))
"""


def cached_database(source: Path) -> tuple[Path, bool]:
    """The SQLite database holding ``source``'s entries, and whether this call built it."""
    # The schema's version in the name: a database of another version is built again.
    path = CACHE_DIR / f"read-{ENTRIES}-v{FORMAT_VERSION}-schema{SCHEMA_VERSION}.db"
    if path.exists():
        return path, False
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}.db")
    store = SqliteStore(str(partial))
    batch: list[Encoded] = []
    with source.open("rb") as lines:
        for raw in lines:
            line = raw.rstrip(b"\n").rstrip(b",")
            if line.startswith(b"{"):  # the canonical layout: one entry per line
                batch.append(Encoded(json.loads(line), line))
            if len(batch) == BUILD_BATCH:
                store.write(batch)
                batch = []
    store.write(batch)
    store.close()  # the last connection: the log is checkpointed into the file and removed
    os.replace(partial, path)
    return path, True


def cached_json_lines(source: Path) -> tuple[Path, bool]:
    """The JSON Lines file holding ``source``'s entries, and whether this call built it: the
    array's entry lines, without their commas and brackets."""
    path = CACHE_DIR / f"read-{ENTRIES}-v{FORMAT_VERSION}.jsonl"
    if path.exists():
        return path, False
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}.jsonl")
    with source.open("rb") as lines, partial.open("wb") as out:
        for raw in lines:
            line = raw.rstrip(b"\n").rstrip(b",")
            if line.startswith(b"{"):
                out.write(line + b"\n")
    os.replace(partial, path)
    return path, True


def run_child(path: Path, operation: str, argument: str = "") -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, str(path), operation, argument]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def measure_reads(paths: dict[str, Path], trace_id: str) -> dict[str, Any]:
    """Each operation RUNS times per store, alternating stores, one call per process."""
    found: dict[str, Any] = {}
    for operation, argument in (("stats", ""), ("trace", trace_id)):
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
        for _ in range(RUNS):
            for name, path in paths.items():
                runs[name].append(run_child(path, operation, argument))
        digests = {records[0]["digest"] for records in runs.values()}
        same = len(digests) == 1
        medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
        found[operation] = {
            "seconds": {name: [r["seconds"] for r in rs] for name, rs in runs.items()},
            "median_s": medians,
            "ratio": medians["sqlite"] / medians["json_array"],
            "jsonl_ratio": medians["jsonl"] / medians["json_array"],
            "same_result": same,
        }
    return found


def measure_captures(workdir: Path) -> dict[str, Any]:
    names = {"json_array": "telemetry.json", "jsonl": "telemetry.jsonl", "sqlite": "telemetry.db"}
    subjects: dict[str, Subject] = {}
    configs = []
    for name, file_name in names.items():
        capture = TelemetryCapture(Path(tempfile.mkdtemp(dir=workdir)) / file_name)
        subjects[name] = Subject(call=lambda capture=capture: _capture_once(capture))
        configs.append(
            Config(name, "capture", 0, CAPTURE_CALLS, CAPTURE_WARMUP, lambda s=subjects[name]: s)
        )
    warm_up(configs)
    results = run_interleaved(subjects, configs, ROUNDS)
    medians = {name: median(samples.all) for name, samples in results.items()}
    means = {name: statistics.mean(samples.all) for name, samples in results.items()}
    return {"median_ns": medians, "mean_ns": means}


def _capture_once(capture: TelemetryCapture) -> dict[str, Any]:
    return capture.capture(
        skill="plugin.build",
        status="success",
        duration_ms=320.5,
        caller="CLI",
        inputs={"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
    )


def targets(reads: dict[str, Any], captures: dict[str, Any]) -> list[Target]:
    stats, trace = reads["stats"], reads["trace"]
    capture_ratio = captures["median_ns"]["sqlite"] / captures["median_ns"]["json_array"]
    lines_ratio = captures["median_ns"]["jsonl"] / captures["median_ns"]["json_array"]
    return [
        Target("JSON Lines capture() / JSON-array capture()", lines_ratio, "x", "<=", 1),
        Target("SQLite stats() / JSON-array stats()", stats["ratio"], "x", "<=", 0.1),
        Target("SQLite stats()", stats["median_s"]["sqlite"], "s", "<=", 0.55),
        Target("SQLite trace(id)", trace["median_s"]["sqlite"] * 1e3, "ms", "<=", 5),
        Target("SQLite capture() / JSON-array capture()", capture_ratio, "x", "<=", 3),
    ]


def print_report(reads: dict[str, Any], captures: dict[str, Any], found: list[Target]) -> None:
    print("reads (one call per fresh process, stores alternating; median of runs):")
    for operation, record in reads.items():
        for name in record["seconds"]:
            runs = ", ".join(f"{s * 1e3:.1f}" for s in record["seconds"][name])
            print(
                f"  {operation:<6} {name:<11} median {record['median_s'][name] * 1e3:9.2f} ms"
                f"   runs (ms) {runs}"
            )
        same = "same result" if record["same_result"] else "RESULTS DIFFER"
        print(
            f"  {operation:<6} SQLite / JSON array {record['ratio']:.4f}x, JSON Lines / JSON "
            f"array {record['jsonl_ratio']:.2f}x  ({same})"
        )
    print("capture() per call (interleaved rounds, fresh empty stores):")
    for name, value in captures["median_ns"].items():
        print(f"  {name:<11} median {fmt_ns(value):>10}   mean {fmt_ns(captures['mean_ns'][name])}")
    print("targets:")
    for target in found:
        print(target.line(42))


def main() -> int:
    started = time.perf_counter()
    json_path, built = cached_read_file(ENTRIES)
    if built:
        print(f"built {json_path.name} in {time.perf_counter() - started:.0f} s (cached)")
    building = time.perf_counter()
    db_path, built = cached_database(json_path)
    if built:
        print(f"built {db_path.name} in {time.perf_counter() - building:.0f} s (cached)")
    jsonl_path, _ = cached_json_lines(json_path)
    trace_id = TelemetryCapture(db_path).last_trace_id()
    assert trace_id is not None
    paths = {"json_array": json_path, "jsonl": jsonl_path, "sqlite": db_path}
    reads = measure_reads(paths, trace_id)
    with tempfile.TemporaryDirectory(prefix="betty-stores-bench-") as tmp:
        captures = measure_captures(Path(tmp))
    found = targets(reads, captures)
    print(
        "files   : "
        + ", ".join(f"{path.name} {path.stat().st_size / 2**20:.0f} MB" for path in paths.values())
        + f" ({ENTRIES:,} entries each)"
    )
    print_report(reads, captures, found)
    summary = {
        "entries": ENTRIES,
        "trace_id": trace_id,
        "reads": reads,
        "captures": captures,
        "targets": [target.as_json() for target in found],
        "wall_time_s": time.perf_counter() - started,
    }
    RESULTS_FILE.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"results : {RESULTS_FILE.relative_to(HERE.parent)}   wall time "
        f"{summary['wall_time_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
