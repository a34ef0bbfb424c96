"""Benchmark: one capture from the command line, against the original Betty script, per call.

Run with ``make bench`` (or ``.venv/bin/python bench/cli_capture.py [CALLS]``). Every call is
a fresh process, as a shell or a hook starts it: what is measured is the interpreter's start,
the imports and the one append, from ``subprocess.run`` to its end. Interleaved, one call of
each command in turn, ``CALLS`` times (default 40), same Python, each writing to its own file,
new for this run:

- ``python -c pass``: the floor, what any Python command costs here;
- the original framework's ``skills/telemetry.capture/telemetry_capture.py``, read with git
  from the Betty repository named by ``$BETTY_REPO`` (a checkout or a bare git directory;
  default: this machine's mirror of epieczko/betty; none there: the bench says so and stops),
  its hard-coded
  ``/home/user/betty/registry/telemetry.json`` rewritten to a file of this run;
- ours, as the same skill script (``skills/telemetry.capture/telemetry_capture.py``);
- ours, as the ``betty-telemetry`` command (the console script pip made, bare form).

The package and the skill folder are compiled first (``compileall``): a real install has its
``.pyc`` files (pip writes them; Python writes the folder's on its first run), and on machines
with PYTHONDONTWRITEBYTECODE every call would otherwise compile them from source. Scripts run
as ``__main__`` are compiled from source every time, the original's and ours alike.

Also counted, from one ``-X importtime`` run of each of ours: the modules a capture imports
(all, and the package's own). The issue's target: at most 1.3x the original per call. The
bench reports; it exits 0 whatever the figures. Results also go to
bench/.cache/cli_capture_last_run.json.
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

from fixtures import CACHE_DIR
from report import Target, targets_lines

ROOT = Path(__file__).resolve().parents[1]
CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
RESULTS_FILE = CACHE_DIR / "cli_capture_last_run.json"
BETTY_REPO = Path(os.environ.get("BETTY_REPO", "/work/.mirror/epieczko+betty/repo"))
ORIGINAL_SCRIPT = "skills/telemetry.capture/telemetry_capture.py"
HARD_CODED = "/home/user/betty/registry/telemetry.json"
OURS_SCRIPT = ROOT / "skills" / "telemetry.capture" / "telemetry_capture.py"
ARGS = ["plugin.build", "success", "320", "CLI", '{"plugin": "core", "version": "1.2.0"}']
TARGET_RATIO = 1.3


def original_source() -> str:
    """The original script, as the Betty repository's HEAD has it."""
    shown = subprocess.run(
        ["git", "-C", str(BETTY_REPO), "show", f"HEAD:{ORIGINAL_SCRIPT}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        print(f"cli_capture: skipped, no Betty repository at {BETTY_REPO} (set BETTY_REPO)")
        raise SystemExit(0)
    return shown.stdout


def commands(workdir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each command to time, and its environment (ours write where BETTY_TELEMETRY_FILE says)."""
    original = workdir / "original_telemetry_capture.py"
    source = original_source()
    if HARD_CODED not in source:
        raise SystemExit(f"the original script no longer names {HARD_CODED}: update the bench")
    original.write_text(source.replace(HARD_CODED, str(workdir / "original.json")))
    console = Path(sys.executable).with_name("betty-telemetry")
    env = dict(os.environ)
    return {
        "python -c pass": ([sys.executable, "-c", "pass"], env),
        "original script": ([sys.executable, str(original), *ARGS], env),
        "ours, skill script": (
            [sys.executable, str(OURS_SCRIPT), *ARGS],
            {**env, "BETTY_TELEMETRY_FILE": str(workdir / "script.json")},
        ),
        "ours, betty-telemetry": (
            [str(console), *ARGS],
            {**env, "BETTY_TELEMETRY_FILE": str(workdir / "console.json")},
        ),
    }


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command} failed ({done.returncode}): {done.stderr.decode()}")
    return seconds


def imported_modules(command: list[str], env: dict[str, str]) -> list[str]:
    """The modules a run of ``command`` imports, from ``-X importtime`` (Python itself first)."""
    if command[0] != sys.executable:  # the console script: run its interpreter explicitly
        command = [sys.executable, *command]
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and not line.rstrip().endswith("imported package")
    ]


def main() -> None:
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src"), str(OURS_SCRIPT.parent)],
        check=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-cli-capture-") as tmp:
        workdir = Path(tmp)
        to_time = commands(workdir)
        for command, env in to_time.values():  # warm the disk cache, check each one runs
            timed(command, env)
        samples: dict[str, list[float]] = {name: [] for name in to_time}
        for _ in range(CALLS):
            for name, (command, env) in to_time.items():
                samples[name].append(timed(command, env))
        modules = {
            name: imported_modules(command, env)
            for name, (command, env) in to_time.items()
            if name.startswith("ours")
        }
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    report(medians, modules)


def report(medians: dict[str, float], modules: dict[str, list[str]]) -> None:
    original = medians["original script"]
    print(f"CLI capture, one fresh process per call: median of {CALLS} interleaved calls each")
    print(f"  (Python {sys.version.split()[0]}, {sys.executable})")
    for name, ms in medians.items():
        print(f"  {name:<24} {ms:8.1f} ms   {ms / original:5.2f}x the original")
    for name, names in modules.items():
        own = [module for module in names if module.startswith("betty_telemetry")]
        print(f"  {name:<24} imports {len(names)} modules, {len(own)} of betty_telemetry")
    targets = [
        Target(f"{name} / original", medians[name] / original, "x", "<=", TARGET_RATIO)
        for name in medians
        if name.startswith("ours")
    ]
    print("\n".join(targets_lines(targets)))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps(
            {
                "calls": CALLS,
                "median_ms": {name: round(ms, 2) for name, ms in medians.items()},
                "modules": {name: len(names) for name, names in modules.items()},
                "targets": [target.as_json() for target in targets],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
