"""Turning timing samples into the printed report and the JSON summary."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from timing import Samples, median, percentile

_COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """One figure from the issue, its goal, and whether this run reached it."""

    name: str
    value: float
    unit: str
    op: str
    goal: float

    @property
    def passed(self) -> bool:
        return _COMPARE[self.op](self.value, self.goal)

    def line(self, width: int) -> str:
        verdict = "PASS" if self.passed else "MISS"
        value = f"{self.value:,.2f} {self.unit}".rstrip()
        goal = f"{self.op} {self.goal:g} {self.unit}".rstrip()
        return f"  {self.name:<{width}}  {value:>14}   target {goal:<10}  {verdict}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 4),
            "unit": self.unit,
            "target": f"{self.op} {self.goal:g}",
            "pass": self.passed,
        }


def fmt_ns(nanoseconds: float) -> str:
    """A duration in the unit that suits it: ns, µs, ms or s."""
    if nanoseconds < 1_000:
        return f"{nanoseconds:.0f} ns"
    if nanoseconds < 1_000_000:
        return f"{nanoseconds / 1_000:.1f} µs"
    if nanoseconds < 1_000_000_000:
        return f"{nanoseconds / 1_000_000:.2f} ms"
    return f"{nanoseconds / 1_000_000_000:.2f} s"


def summarize(samples: Samples) -> dict[str, Any]:
    """The JSON record of one configuration: median and p90 over all samples, per round too."""
    config = samples.config
    everything = samples.all
    return {
        "kind": config.kind,
        "entries": config.entries,
        "rounds": len(samples.rounds),
        "calls_per_round": config.calls_per_round,
        "warmup_calls": config.warmup_calls,
        "samples": len(everything),
        "median_ns": median(everything),
        "p90_ns": percentile(everything, 0.9),
        "min_ns": min(everything),
        "round_medians_ns": [median(round_samples) for round_samples in samples.rounds],
    }


_TABLE_HEADER = (
    f"  {'configuration':<22} {'entries':>8} {'calls':>8} {'median':>10} {'p90':>10}"
    "   round medians (min..max)"
)


def _table_row(name: str, record: dict[str, Any]) -> str:
    calls = f"{record['rounds']}x{record['calls_per_round']:,}"
    rounds = record["round_medians_ns"]
    spread = f"{fmt_ns(min(rounds))} .. {fmt_ns(max(rounds))}"
    return (
        f"  {name:<22} {record['entries']:>8,} {calls:>8} {fmt_ns(record['median_ns']):>10} "
        f"{fmt_ns(record['p90_ns']):>10}   {spread}"
    )


def results_table(records: dict[str, dict[str, Any]], labels: dict[str, str]) -> list[str]:
    return [_TABLE_HEADER] + [_table_row(labels[name], rec) for name, rec in records.items()]


def targets_lines(targets: Iterable[Target]) -> list[str]:
    targets = list(targets)
    width = max(len(target.name) for target in targets)
    return [target.line(width) for target in targets]
