"""Benchmark: what ``@capture_telemetry`` adds to a call, sync and async.

Run by ``make bench`` after bench/run.py (or ``.venv/bin/python bench/decorator.py``). Each
configuration times the same five-argument function, undecorated and decorated (no inputs;
five inputs captured and redacted, one of them a secret), in interleaved rounds. The overhead
is the median over rounds of (decorated round median - undecorated round median), so a noisy
spell on this shared machine hits both sides of each difference alike.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from betty_telemetry import TelemetryCapture, capture_telemetry
from timing import Config, Subject, run_interleaved, warm_up

ROUNDS = 25
CALLS = 200
TARGET_SYNC_INPUTS_US = 20.0
ARGS = ("./plugin.yaml", "tar.gz", 3, True)
KWARGS = {"api_key": "sk-not-a-real-key-but-long-enough"}


def build(plugin_path: str, output_format: str, retries: int, verbose: bool, api_key: str) -> int:
    return retries


async def build_async(
    plugin_path: str, output_format: str, retries: int, verbose: bool, api_key: str
) -> int:
    return retries


def _drive(coroutine: Coroutine[Any, Any, int]) -> None:
    """Run a coroutine that never suspends, without an event loop's own cost in the timing."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("the benchmarked coroutine suspended")


def _configs(telemetry: TelemetryCapture) -> list[Config]:
    def sync(func: Callable[..., int]) -> Callable[[], Subject]:
        return lambda: Subject(call=lambda: func(*ARGS, **KWARGS))

    def async_(func: Callable[..., Coroutine[Any, Any, int]]) -> Callable[[], Subject]:
        return lambda: Subject(call=lambda: _drive(func(*ARGS, **KWARGS)))

    decorated = capture_telemetry(skill_name="bench.build", telemetry=telemetry)
    with_inputs = capture_telemetry(
        skill_name="bench.build", telemetry=telemetry, capture_inputs=True
    )
    variants: dict[str, Callable[[], Subject]] = {
        "sync plain": sync(build),
        "sync decorated": sync(decorated(build)),
        "sync decorated+inputs": sync(with_inputs(build)),
        "async plain": async_(build_async),
        "async decorated": async_(decorated(build_async)),
        "async decorated+inputs": async_(with_inputs(build_async)),
    }
    return [Config(name, "bench", 0, CALLS, CALLS, opener) for name, opener in variants.items()]


def _overhead_us(rounds: dict[str, list[list[int]]], decorated: str, plain: str) -> float:
    differences = [
        statistics.median(d) - statistics.median(p)
        for d, p in zip(rounds[decorated], rounds[plain], strict=True)
    ]
    return statistics.median(differences) / 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        telemetry = TelemetryCapture(Path(folder) / "telemetry.json")
        configs = _configs(telemetry)
        warm_up(configs)
        subjects = {config.name: config.open() for config in configs}
        results = run_interleaved(subjects, configs, ROUNDS)
    rounds = {name: samples.rounds for name, samples in results.items()}
    print("betty-telemetry benchmark: @capture_telemetry overhead per call")
    print(f"command : {sys.executable} bench/decorator.py")
    print(f"method  : {ROUNDS} interleaved rounds x {CALLS} calls, gc off; overhead = median")
    print("          over rounds of (decorated round median - plain round median)")
    print(f"\n  {'configuration':<26} {'median':>10}   {'overhead':>10}")
    for kind in ("sync", "async"):
        plain = f"{kind} plain"
        for name in (plain, f"{kind} decorated", f"{kind} decorated+inputs"):
            median = statistics.median(results[name].all) / 1000
            overhead = "" if name == plain else f"{_overhead_us(rounds, name, plain):8.1f} µs"
            print(f"  {name:<26} {median:8.2f} µs   {overhead:>10}")
    measured = _overhead_us(rounds, "sync decorated+inputs", "sync plain")
    verdict = "PASS" if measured <= TARGET_SYNC_INPUTS_US else "MISS"
    print(
        f"\ntarget  : sync overhead with 5 inputs captured and redacted {measured:.1f} µs"
        f"   target <= {TARGET_SYNC_INPUTS_US:.0f} µs    {verdict}"
    )
    return 0  # the bench reports, it does not gate


if __name__ == "__main__":
    sys.exit(main())
