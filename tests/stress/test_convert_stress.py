"""Convert killed at random moments: a converter forked from the test (so it starts at once)
is SIGKILLed after a random delay within the time a whole conversion takes, again and again.
Into a new destination, nothing is ever at its path but the whole conversion; appending, the
destination always reads whole, holding what it held and then the source's first entries,
in order; the source is never changed.

``serial``: the kills are timed against the conversion's own duration.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from betty_telemetry import convert
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import open_readable
from tests.entries import numbered_entry
from tests.stores import STORES, write_entries

pytestmark = pytest.mark.serial

ENTRIES = 8_000  # two batches: the kills land in the middle of the writing
KILLS = 5
KINDS = sorted(STORES)


def numbers(path: Path) -> list[int]:
    with open_readable(path) as store:
        return [e["inputs"]["n"] for e in store.scan(EntryFilter(), newest_first=False)]


def fork_convert(source: Path, destination: Path, append: bool) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, killed or exiting at once
        code = 0
        try:
            convert(source, destination, append=append)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def run_killed(source: Path, destination: Path, append: bool, delay: float) -> bool:
    """Convert, killed after ``delay`` seconds; whether it finished first."""
    pid = fork_convert(source, destination, append)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("append", [False, True], ids=["new", "append"])
def test_a_convert_killed_at_random_moments_leaves_every_file_valid(
    tmp_path: Path, kind: str, append: bool
) -> None:
    source = tmp_path / "source.jsonl"
    write_entries(source, [numbered_entry(n % 3000, inputs={"n": n}) for n in range(ENTRIES)])
    whole = tmp_path / f"whole{STORES[kind]}"
    started = time.monotonic()
    convert(source, whole)
    seconds = time.monotonic() - started
    rng = random.Random(f"{kind}-{append}")
    finished = 0
    for kill in range(KILLS):
        destination = tmp_path / f"d{kill}{STORES[kind]}"
        if append:
            write_entries(destination, [numbered_entry(0, inputs={"n": -1})])
        finished += run_killed(source, destination, append, rng.uniform(0, seconds * 1.2))
        if append:
            found = numbers(destination)
            assert found == [-1, *range(len(found) - 1)], f"kill {kill}: not a whole prefix"
        elif destination.exists():
            assert numbers(destination) == list(range(ENTRIES)), f"kill {kill}: half-made"
    assert numbers(source) == list(range(ENTRIES))
    print(f"\n{kind} {'append' if append else 'new'}: {KILLS} kills, {finished} finished first")
    assert finished < KILLS, "every conversion finished before its kill: this proved little"
