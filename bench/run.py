"""Benchmark: the cost of one TelemetryCapture.capture() against the original design.

Run with ``make bench`` (or ``.venv/bin/python bench/run.py``). Prints the median and p90 of
``capture()`` on files with 0, 10,000 and 100,000 existing entries, and of a reimplementation
of the original load-everything/rewrite-everything design at 0 and 10,000 entries, then the
issue's targets with PASS/MISS. The machine is shared and noisy: the bench reports, it does
not gate, so it exits 0 whatever the figures (a crash still exits non-zero). The results are
also written to bench/.cache/last_run.json for the README to quote.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from baseline import original_capture
from betty_telemetry import TelemetryCapture
from fixtures import CACHE_DIR, cached_canonical_file, cached_indented_file
from report import Target, fmt_ns, results_table, summarize, targets_lines
from timing import Config, Samples, Subject, run_interleaved, timer_overhead_ns, warm_up

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = CACHE_DIR / "last_run.json"
ROUNDS = 25
CAPTURE_CALLS = 200
CAPTURE_WARMUP = 200
BASELINE_SMALL_CALLS = 200
BASELINE_SMALL_WARMUP = 200
FSYNC_CALLS = 20
FSYNC_WARMUP = 20
BASELINE_LARGE_CALLS = 2
BASELINE_LARGE_WARMUP = 2
_ORIGINAL_EMPTY_FILE = b"[]"


def _capture_once(capture: TelemetryCapture) -> dict[str, Any]:
    """The capture the issue asks about, written out in full: a fresh inputs dict every call."""
    return capture.capture(
        skill="plugin.build",
        status="success",
        duration_ms=320.5,
        caller="CLI",
        inputs={"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
    )


def _original_once(path: Path) -> dict[str, Any]:
    return original_capture(
        path,
        skill="plugin.build",
        status="success",
        duration_ms=320.5,
        caller="CLI",
        inputs={"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
    )


# -- subjects: a fresh temp file per measurement, never the cached file itself --------------


def _new_path(workdir: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)) / "telemetry.json"


def _capture_subject(workdir: Path, name: str, entries: int, **options: Any) -> Subject:
    """The new design: a file that starts with ``entries`` entries and grows as it is timed.

    At 0 entries the file does not exist yet: the first capture creates it. ``options`` go to
    TelemetryCapture (background=True, durability="fsync").
    """
    path = _new_path(workdir, name)
    if entries:
        shutil.copyfile(cached_canonical_file(entries)[0], path)
    capture = TelemetryCapture(path, **options)
    return Subject(call=lambda: _capture_once(capture), close=capture.close, path=path)


def _restore_file(fd: int, content: bytes) -> None:
    if os.pwrite(fd, content, 0) != len(content):
        raise OSError("short write while restoring the baseline file")
    os.ftruncate(fd, len(content))


def _baseline_subject(workdir: Path, name: str, entries: int) -> Subject:
    """The original design, timed on a file holding exactly ``entries`` entries every call.

    Its cost grows with the file, so the file is restored (untimed) before each call, to the
    layout the original design leaves on disk: ``json.dump(..., indent=2)``.
    """
    path = _new_path(workdir, name)
    start = cached_indented_file(entries)[0].read_bytes() if entries else _ORIGINAL_EMPTY_FILE
    path.write_bytes(start)
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    return Subject(
        call=lambda: _original_once(path),
        prepare=lambda: _restore_file(fd, start),
        close=lambda: os.close(fd),
        path=path,
    )


_CAPTURE_OPTIONS: dict[str, dict[str, Any]] = {
    "capture": {},
    "background": {"background": True},
    "fsync": {"durability": "fsync"},
}


def _config(kind: str, entries: int, calls: int, warmup: int, workdir: Path) -> Config:
    name = f"{kind}@{entries // 1000}k" if entries else f"{kind}@0"
    if kind == "baseline":
        return Config(
            name, kind, entries, calls, warmup, lambda: _baseline_subject(workdir, name, entries)
        )
    options = _CAPTURE_OPTIONS[kind]
    return Config(
        name,
        kind,
        entries,
        calls,
        warmup,
        lambda: _capture_subject(workdir, name, entries, **options),
    )


def build_configs(workdir: Path) -> list[Config]:
    return [
        _config("capture", 0, CAPTURE_CALLS, CAPTURE_WARMUP, workdir),
        _config("capture", 10_000, CAPTURE_CALLS, CAPTURE_WARMUP, workdir),
        _config("capture", 100_000, CAPTURE_CALLS, CAPTURE_WARMUP, workdir),
        _config("capture", 1_000_000, CAPTURE_CALLS, CAPTURE_WARMUP, workdir),
        _config("background", 0, CAPTURE_CALLS, CAPTURE_WARMUP, workdir),
        _config("fsync", 0, FSYNC_CALLS, FSYNC_WARMUP, workdir),
        _config("baseline", 0, BASELINE_SMALL_CALLS, BASELINE_SMALL_WARMUP, workdir),
        _config("baseline", 10_000, BASELINE_LARGE_CALLS, BASELINE_LARGE_WARMUP, workdir),
    ]


LABELS = {
    "capture@0": "capture@0     (new)",
    "capture@10k": "capture@10k   (new)",
    "capture@100k": "capture@100k  (new)",
    "capture@1000k": "capture@1M    (new)",
    "background@0": "background@0  (queue)",
    "fsync@0": "fsync@0       (disk)",
    "baseline@0": "baseline@0    (orig.)",
    "baseline@10k": "baseline@10k  (orig.)",
}


# -- fixtures, checks, machine ----------------------------------------------------------------


def prepare_fixtures() -> list[str]:
    """Build (or reuse) every cached file up front, so no timing includes building one."""
    notes = []
    builders: list[tuple[str, Callable[[int], tuple[Path, bool]], int]] = [
        ("", cached_canonical_file, 10_000),
        ("", cached_canonical_file, 100_000),
        ("", cached_canonical_file, 1_000_000),
        (", indent=2", cached_indented_file, 10_000),
    ]
    for layout, builder, count in builders:
        started = time.perf_counter()
        path, built = builder(count)
        verb = f"built in {time.perf_counter() - started:.2f} s" if built else "reused"
        size = path.stat().st_size / 1_000_000
        notes.append(f"{path.relative_to(ROOT)} ({count:,} entries{layout}, {size:.1f} MB): {verb}")
    return notes


def check_file(samples: Samples, subject: Subject) -> str | None:
    """None if the file is a JSON array with the expected number of entries, else a problem."""
    config = samples.config
    assert subject.path is not None
    timed = len(samples.all)
    # A capture file keeps every entry (the warm-up ran on a scratch copy); a baseline file is
    # restored before each call.
    expected = config.entries + (timed if config.kind != "baseline" else 1)
    try:
        found = len(json.loads(subject.path.read_bytes()))
    except (OSError, ValueError) as error:
        return f"{config.name}: unreadable result file ({error})"
    if found != expected:
        return f"{config.name}: {found} entries in the file, expected {expected}"
    return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_worktree_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def command_line() -> str:
    executable = Path(sys.executable)
    with contextlib.suppress(ValueError):  # keep it absolute when outside the cwd
        executable = executable.relative_to(Path.cwd())
    return shlex.join([str(executable), *sys.argv])


# -- the run ----------------------------------------------------------------------------------


def paired_ratio(records: dict[str, dict[str, Any]], slow: str, fast: str) -> float:
    """Median over rounds of the ratio of round medians.

    Each round times every configuration back to back, so a noisy spell on this shared
    machine slows both sides of a ratio alike; pooled medians would compare different spells.
    """
    pairs = zip(records[slow]["round_medians_ns"], records[fast]["round_medians_ns"], strict=True)
    return float(statistics.median(a / b for a, b in pairs))


def compute_targets(records: dict[str, dict[str, Any]]) -> list[Target]:
    median_at_0 = records["capture@0"]["median_ns"] / 1_000
    return [
        Target(
            "capture@100k / capture@0 (paired by round)",
            paired_ratio(records, "capture@100k", "capture@0"),
            "x",
            "<=",
            1.2,
        ),
        Target(
            "baseline@10k / capture@10k (paired by round)",
            paired_ratio(records, "baseline@10k", "capture@10k"),
            "x",
            ">=",
            100,
        ),
        Target(
            "capture@1M / capture@0 (paired by round)",
            paired_ratio(records, "capture@1000k", "capture@0"),
            "x",
            "<=",
            1.2,
        ),
        Target("capture@0 median", median_at_0, "µs", "<=", 15),
        Target(
            "background@0 median (calling thread)",
            records["background@0"]["median_ns"] / 1_000,
            "µs",
            "<=",
            3,
        ),
    ]


def measure(workdir: Path) -> tuple[dict[str, Samples], list[str]]:
    configs = build_configs(workdir)
    warm_up(configs)
    subjects = {config.name: config.open() for config in configs}
    try:
        results = run_interleaved(subjects, configs, ROUNDS)
    finally:
        for subject in subjects.values():
            subject.close()  # a background capture writes what it queued
    problems = [check_file(results[name], subjects[name]) for name in subjects]
    return results, [problem for problem in problems if problem]


def print_report(summary: dict[str, Any], fixture_notes: list[str]) -> None:
    machine = summary["machine"]
    dirty = " (uncommitted changes)" if machine["git_worktree_dirty"] else ""
    load = " ".join(f"{value:.2f}" for value in machine["load_average_at_start"])
    lines = [
        "betty-telemetry benchmark: TelemetryCapture.capture() vs the original design",
        f"command : {summary['command']}   (cwd {summary['cwd']})",
        f"machine : nproc={machine['nproc']}, {machine['cpu']}, {machine['python']}, "
        f"{machine['platform']}",
        f"          load average at start {load}; git {machine['git_commit']}{dirty}",
        "method  : time.perf_counter_ns() around each call; gc disabled (gc.disable) during "
        "timed loops;",
        f"          warm-up calls on a scratch copy first; {ROUNDS} interleaved rounds, "
        "starting configuration rotated;",
        "          median and p90 over all samples; timer + call overhead "
        f"{fmt_ns(summary['timer_overhead_ns'])} per sample (not subtracted)",
        "          capture files start at N entries and grow while timed; the original "
        "design's file is",
        "          restored to N entries (indent=2 layout) before each call, untimed",
        "fixtures:",
        *(f"          {note}" for note in fixture_notes),
        "",
        *results_table(summary["results"], LABELS),
        "",
        "targets:",
        *targets_lines(summary["target_objects"]),
        "",
        "checks  : "
        + (
            "; ".join(summary["problems"])
            or "every timed file is a JSON array holding the expected number of entries"
        ),
        f"results : {RESULTS_FILE.relative_to(ROOT)}   wall time {summary['wall_time_s']:.1f} s",
    ]
    print("\n".join(lines))


def run() -> dict[str, Any]:
    started = time.perf_counter()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    fixture_notes = prepare_fixtures()
    overhead = timer_overhead_ns()
    with tempfile.TemporaryDirectory(prefix="run-", dir=CACHE_DIR) as workdir:
        results, problems = measure(Path(workdir))
    records = {name: summarize(samples) for name, samples in results.items()}
    targets = compute_targets(records)
    summary: dict[str, Any] = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "cwd": str(Path.cwd()),
        "machine": machine,
        "method": {
            "timer": "time.perf_counter_ns around each call",
            "gc": "disabled during timed loops",
            "rounds": ROUNDS,
            "interleaved": True,
            "statistics": "median and nearest-rank p90 over all samples of all rounds",
            "baseline_file": "restored to N entries (json.dump indent=2 layout) before each call",
        },
        "timer_overhead_ns": overhead,
        "results": records,
        "targets": [target.as_json() for target in targets],
        "problems": problems,
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        "wall_time_s": round(time.perf_counter() - started, 2),
    }
    RESULTS_FILE.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print_report({**summary, "target_objects": targets}, fixture_notes)
    return summary


def main() -> int:
    run()
    return 0  # the bench reports, it does not gate: a MISS still exits 0


if __name__ == "__main__":
    sys.exit(main())
