"""Benchmark: what redaction costs, and that a larger catalogue costs nothing more.

Run by ``make bench`` (or ``.venv/bin/python bench/redaction.py``). Counts user-space
instructions per call with callgrind (noise cannot move them), for the catalogue as shipped
and for one three times larger (each format copied twice under the anchors it already has,
see ``redaction_case.copies``), on:

- ``capture()`` of a few plain inputs: the hot path (values seen before are cached);
- a 4 KiB text of log lines with no secret (too long to be cached: scanned whole);
- the same text with one credential in it;
- a 4 KiB base64 blob: the worst case for the token index (one long run of many words).

Prints each cost, the ratio larger / shipped (target: at most 1.05), and the wall-clock time
of each scan for scale. Reports, does not gate.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from pathlib import Path

from instructions import instructions
from redaction_case import TEXTS, rules_of, scan

CALLS = 100
TARGET_RATIO = 1.05
SCRIPT = Path(__file__).with_name("redaction_case.py")
CASES = ("capture()", *TEXTS)


def per_call(size: str, case: str) -> float:
    few = instructions(SCRIPT, [size, case], CALLS)
    many = instructions(SCRIPT, [size, case], CALLS * 6)
    return (many - few) / (CALLS * 5)


def wall_clock_us(case: str) -> float:
    """Median microseconds of one scan of ``case``, shipped catalogue, in this process."""
    rules, text = rules_of("shipped"), TEXTS[case]
    samples = []
    for _ in range(300):
        start = time.perf_counter_ns()
        scan(rules, text)
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def main() -> int:
    if shutil.which("valgrind") is None:
        print("bench/redaction.py: valgrind is not installed; skipped")
        return 0
    print("betty-telemetry benchmark: redaction cost, shipped catalogue and one 3x larger")
    print(f"command : {sys.executable} bench/redaction.py")
    print(f"method  : callgrind, ({CALLS * 6} calls - {CALLS} calls) / {CALLS * 5}\n")
    header = ("instructions per call", "shipped", "3x larger", "ratio", "time")
    print("  {:<22} {:>10} {:>10} {:>7} {:>9}".format(*header))
    worst = 0.0
    for case in CASES:
        shipped = per_call("shipped", case)
        larger = per_call("larger", case)
        worst = max(worst, larger / shipped)
        timing = "" if case == "capture()" else f"{wall_clock_us(case):.1f} µs"
        print(
            f"  {case:<22} {shipped:>10,.0f} {larger:>10,.0f} {larger / shipped:>6.3f}x {timing:>9}"
        )
    verdict = "PASS" if worst <= TARGET_RATIO else "MISS"
    print(f"\n  3x catalogue / shipped, worst case: {worst:.3f}x", end=" ")
    print(f"(target <= {TARGET_RATIO}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
