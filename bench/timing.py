"""Timing loops: per-call perf_counter_ns samples, gc off, configurations interleaved."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def _nothing() -> None:
    return None


@dataclass
class Subject:
    """One thing to time: ``call`` is timed; ``prepare`` (if any) runs untimed before each call;
    ``settle`` runs untimed after each round's calls (to flush what a background thread holds,
    so its writing does not run during the next configuration's timing)."""

    call: Callable[[], object]
    prepare: Callable[[], None] | None = None
    close: Callable[[], None] = _nothing
    settle: Callable[[], None] = _nothing
    path: Path | None = None  # the file it writes, checked after timing


@dataclass(frozen=True)
class Config:
    """A configuration: how to open a fresh subject, and how many calls to time per round."""

    name: str
    kind: str
    entries: int
    calls_per_round: int
    warmup_calls: int
    open: Callable[[], Subject]


@dataclass
class Samples:
    """Every timed call of one configuration, round by round, in nanoseconds."""

    config: Config
    rounds: list[list[int]] = field(default_factory=list)

    @property
    def all(self) -> list[int]:
        return [sample for round_samples in self.rounds for sample in round_samples]


def time_calls(subject: Subject, count: int) -> list[int]:
    """Time ``count`` calls of ``subject``, one perf_counter_ns pair around each, gc disabled."""
    perf = time.perf_counter_ns
    call = subject.call
    prepare = subject.prepare
    samples: list[int] = []
    record = samples.append
    gc.collect()
    gc.disable()
    try:
        for _ in range(count):
            if prepare is not None:
                prepare()
            start = perf()
            call()
            record(perf() - start)
    finally:
        gc.enable()
    return samples


def warm_up(configs: Sequence[Config]) -> None:
    """Run each configuration's warm-up calls on a scratch subject, then throw it away."""
    for config in configs:
        subject = config.open()
        try:
            time_calls(subject, config.warmup_calls)
        finally:
            subject.close()


def run_interleaved(
    subjects: dict[str, Subject], configs: Sequence[Config], rounds: int
) -> dict[str, Samples]:
    """Each round times every configuration once; the starting configuration rotates."""
    results = {config.name: Samples(config) for config in configs}
    for round_index in range(rounds):
        shift = round_index % len(configs)
        for config in [*configs[shift:], *configs[:shift]]:
            subject = subjects[config.name]
            samples = time_calls(subject, config.calls_per_round)
            subject.settle()
            results[config.name].rounds.append(samples)
    return results


def timer_overhead_ns(count: int = 20_000) -> int:
    """Median cost of the timing itself: a perf_counter_ns pair around a no-op call."""
    return int(statistics.median(time_calls(Subject(call=_nothing), count)))


def percentile(samples: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile: the smallest sample >= ``fraction`` of all samples."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[int]) -> float:
    return float(statistics.median(samples))
