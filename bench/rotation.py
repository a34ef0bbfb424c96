"""Benchmark: rotating a 1,000,000-entry store, and what automatic rotation costs a capture.

Run by ``make bench`` after bench/stores.py, whose cached 1,000,000-entry files (JSON array,
JSON Lines, SQLite) it copies into a temporary folder and rotates once each: the time of
``rotate()`` (a file store renames its file under its lock, then gzips it; SQLite copies its
rows out and deletes them in one transaction, then gzips the copy) and the archive's size.

Then ``capture()`` per call on fresh stores, with ``max_bytes`` set far above what the run
writes (the check runs on every write, no rotation happens) and without it, interleaved
round by round (bench/timing.py): the ratio is what the check costs the write path.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from betty_telemetry import TelemetryCapture
from read_fixture import cached_read_file
from stores import ENTRIES, cached_database, cached_json_lines
from timing import Config, Subject, median, run_interleaved, warm_up

ROUNDS = 25
CALLS = 200
WARMUP = 200
CHECK_TARGET = 1.05  # a capture with automatic rotation on, over one without


def rotate_copies(paths: dict[str, Path], workdir: Path) -> None:
    print(f"rotate()  on {ENTRIES:,} entries (a copy of bench/stores.py's files)")
    for name, source in paths.items():
        copy = workdir / source.name
        shutil.copyfile(source, copy)
        size = copy.stat().st_size
        started = time.perf_counter()
        archive = TelemetryCapture(copy).rotate().archive
        seconds = time.perf_counter() - started
        assert archive is not None
        compressed = Path(archive).stat().st_size
        print(
            f"  {name:<10} {seconds:6.1f} s   {size / 2**20:5.0f} MB -> archive "
            f"{compressed / 2**20:4.0f} MB ({compressed / size:.0%})"
        )
        for leftover in workdir.iterdir():
            leftover.unlink()


def capture_cost(workdir: Path) -> float:
    subjects: dict[str, Subject] = {}
    configs = []
    for name, limit in (("without", None), ("max_bytes", "1000GB")):
        capture = TelemetryCapture(Path(tempfile.mkdtemp(dir=workdir)) / "t.json", max_bytes=limit)
        subjects[name] = Subject(
            call=lambda capture=capture: capture.capture(
                "plugin.build", "success", 320.5, "CLI", {"plugin_path": "./plugin.yaml"}
            )
        )
        configs.append(Config(name, "capture", 0, CALLS, WARMUP, lambda s=subjects[name]: s))
    warm_up(configs)
    results = run_interleaved(subjects, configs, ROUNDS)
    medians = {name: median(samples.all) for name, samples in results.items()}
    ratio = medians["max_bytes"] / medians["without"]
    print("capture() with automatic rotation on (never crossed) vs off")
    for name, value in medians.items():
        print(f"  {name:<10} {value / 1000:6.2f} µs median")
    verdict = "PASS" if ratio <= CHECK_TARGET else "MISS"
    print(f"target  : the check's cost {ratio:.2f}x   target <= {CHECK_TARGET:.2f}    {verdict}")
    return ratio


def main() -> int:
    json_path, _ = cached_read_file(ENTRIES)
    db_path, _ = cached_database(json_path)
    jsonl_path, _ = cached_json_lines(json_path)
    paths = {"json_array": json_path, "jsonl": jsonl_path, "sqlite": db_path}
    print("betty-telemetry benchmark: rotation")
    print(f"command : {sys.executable} bench/rotation.py\n")
    with tempfile.TemporaryDirectory(prefix="betty-rotation-bench-", dir=json_path.parent) as tmp:
        rotate_copies(paths, Path(tmp))
    with tempfile.TemporaryDirectory(prefix="betty-rotation-bench-") as tmp:
        capture_cost(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
