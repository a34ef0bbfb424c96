"""Crash safety, proved: writers killed with SIGKILL mid-capture lose nothing that was recorded.

Writer processes append; the test kills them at random moments (seeded delays) and starts new
ones. A writer logs an entry's id to its own side file only after capture() returned, so every
logged id must be in the store exactly once, whatever the kills tore.

The kill storm runs on every store. In a file store a kill can tear an append, which the next
writer must cut away: there the storm goes on until one did. A transactional store (SQLite)
has nothing to tear: there every returned capture must simply be in it once.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from tests.conftest import FIXTURE
from tests.stores import JSON_ARRAY, JSON_LINES, stored_entries

pytestmark = [pytest.mark.every_store, pytest.mark.serial]

# Each entry carries ~49 KiB: twelve pages per write, so a kill often lands inside one (the
# kernel stops a buffered write between two pages once SIGKILL is pending: a torn append). The
# padding is one short string repeated, which redaction checks once per process (it caches
# short plain strings), so most of a capture's time goes into encoding and writing it.
PAD_STRINGS = 16
WRITERS = 3
# Kills per store, WRITERS per round: 60 on the JSON array; 24 elsewhere, which saw tears in
# every run on JSON Lines and keeps the storms of all stores within the suite's time.
MIN_KILLS = {JSON_ARRAY: 60}
OTHER_MIN_KILLS = 24
MAX_ROUNDS = 40  # more rounds only while no kill has torn an append yet (rarely needed)
INTACT_END = {JSON_ARRAY: b"}\n]\n", JSON_LINES: b"}\n"}
"""How a file store ends when no kill tore its last append (the stores that can be torn)."""
KILL_DELAYS = (0.002, 0.006)  # seconds after "go", drawn per writer from a seeded RNG
TIMEOUT = 60.0
# A SIGKILLed process never saves coverage data: measuring the writers would only slow their
# Python code down, so that fewer kills would land inside a write.
WRITER_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
REPAIRED = re.compile(rb"Repaired .*: removed (\d+) bytes of a partial entry")

WRITER = """
import logging, os, sys
from betty_telemetry import TelemetryCapture
path, prefix, side, pad_strings = sys.argv[1:5]
limit = int(sys.argv[5]) or -1  # 0: for ever
pad = ["\\U0001f600" * 256] * int(pad_strings)
logging.basicConfig(format="%(name)s %(levelname)s %(message)s")
warm_up = {"id": "warm-up", "pad": pad} if pad else {"id": "warm-up"}
TelemetryCapture(side + ".warm-up.json").capture("stress.crash", "success", 0, "x", warm_up)
telemetry = TelemetryCapture(path)
log = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(1, b"R")  # ready: imported, warmed up (caches filled), set up
os.read(0, 1)  # wait for "go": the writers of a round start appending together
n = 0
while n != limit:
    entry_id = f"{prefix}-{n}"
    inputs = {"id": entry_id, "pad": pad} if pad else {"id": entry_id}
    telemetry.capture("stress.crash", "success", n, prefix, inputs)
    os.write(log, entry_id.encode() + b"\\n")  # only once capture() has returned
    n += 1
os.read(0, 1)  # then wait for the kill
"""


@dataclass
class Writer:
    prefix: str
    process: subprocess.Popen[bytes]
    side: Path
    stderr: Path

    @classmethod
    def start(cls, path: Path, logs: Path, prefix: str, pad_strings: int, limit: int) -> Writer:
        side = logs / f"{prefix}.ids"
        stderr = logs / f"{prefix}.err"
        args = [str(path), prefix, str(side), str(pad_strings), str(limit)]
        with stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-c", WRITER, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=WRITER_ENV,
            )
        return cls(prefix, process, side, stderr)

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        assert ready, f"writer {self.prefix} did not start within {TIMEOUT} s"
        assert self.process.stdout.read(1) == b"R", self.stderr.read_text()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"G")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        code = self.process.wait(timeout=TIMEOUT)
        assert code == -signal.SIGKILL, f"{self.prefix} exited {code}:\n{self.stderr.read_text()}"
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def logged_ids(self) -> list[str]:
        """Ids whose capture returned; a partial last line (killed mid-write) is not one."""
        if not self.side.exists():
            return []
        return self.side.read_bytes().decode().split("\n")[:-1]

    def repairs(self) -> list[int]:
        """Bytes removed by each torn-tail repair this writer made (one warning each)."""
        return [int(n) for n in REPAIRED.findall(self.stderr.read_bytes())]


@dataclass
class Outcome:
    kills: int = 0
    logged: dict[str, list[str]] = field(default_factory=dict)  # prefix -> ids, in order
    torn_at_round_end: int = 0
    repairs: list[int] = field(default_factory=list)  # bytes removed, one per warning


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["inputs"]["id"] for e in entries if "id" in (e.get("inputs") or {})]


def _kill_round(path: Path, logs: Path, rng: random.Random, round_no: int, out: Outcome) -> None:
    """Start WRITERS writers, let them append together, kill each after its own delay."""
    writers = [Writer.start(path, logs, f"r{round_no}w{w}", PAD_STRINGS, 0) for w in range(WRITERS)]
    try:
        for writer in writers:
            writer.wait_ready()
        delays = sorted((rng.uniform(*KILL_DELAYS), w) for w in range(WRITERS))
        for writer in writers:
            writer.go()
        start = time.monotonic()
        for delay, w in delays:
            time.sleep(max(0.0, start + delay - time.monotonic()))
            writers[w].kill()
            out.kills += 1
    finally:
        for writer in writers:
            writer.close()
    for writer in writers:
        out.logged[writer.prefix] = writer.logged_ids()
        out.repairs += writer.repairs()


def _check_writer_sequences(ids: list[str], logged: dict[str, list[str]]) -> None:
    """Each writer's entries are its ids 0..k in order, k its last logged id or the next one
    (a writer killed after its write landed but before capture() returned)."""
    found: dict[str, list[int]] = {prefix: [] for prefix in logged}
    for entry_id in ids:
        prefix, n = entry_id.rsplit("-", 1)
        found[prefix].append(int(n))
    for prefix, numbers in found.items():
        assert numbers == list(range(len(numbers))), f"{prefix}: gaps or disorder"
        assert len(numbers) - len(logged[prefix]) in (0, 1), prefix


def test_writers_killed_mid_capture_lose_no_recorded_entry_and_torn_tails_are_repaired(
    tmp_path: Path, telemetry_path: Path, store_kind: str
) -> None:
    path = telemetry_path
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(20251129)
    out = Outcome()
    round_no = 0
    min_kills = MIN_KILLS.get(store_kind, OTHER_MIN_KILLS)
    intact_end = INTACT_END.get(store_kind)
    tearable = intact_end is not None
    while out.kills < min_kills or (tearable and not out.repairs and round_no < MAX_ROUNDS):
        _kill_round(path, logs, rng, round_no, out)
        round_no += 1
        if intact_end is not None:
            out.torn_at_round_end += path.exists() and not path.read_bytes().endswith(intact_end)
        # A reader works on the file as this round's last kill left it, torn tail or not.
        newest = _ids(TelemetryCapture(path).query(limit=20))
        assert len(newest) == len(set(newest))
        assert {entry_id.rsplit("-", 1)[0] for entry_id in newest} <= set(out.logged)

    # (a) On the file as the last kill left it, a reader sees each complete entry once.
    reader = TelemetryCapture(path)
    seen = _ids(reader.query())
    assert len(seen) == len(set(seen))
    assert sum(group["count"] for group in reader.stats()) == len(seen)
    # (b) One more capture succeeds, repairing a torn tail: then any JSON tool reads the file
    # (a JSON array parses whole, each line of a JSON Lines file on its own).
    TelemetryCapture(path).capture("stress.crash", "success", 0, "final", {"id": "final-0"})
    entries = stored_entries(path)
    ids = _ids(entries)
    assert len(ids) == len(entries)
    assert ids[-1] == "final-0"
    assert sorted(ids[:-1]) == sorted(seen), "the reader saw exactly what the repair kept"
    # (c) Every id whose capture returned is there exactly once; (d) no id is there twice.
    counts = Counter(ids)
    assert [entry_id for entry_id, count in counts.items() if count > 1] == []
    logged = [entry_id for prefix_ids in out.logged.values() for entry_id in prefix_ids]
    assert [entry_id for entry_id in logged if counts[entry_id] != 1] == []
    _check_writer_sequences(ids[:-1], out.logged)
    # (e) Kills tore appends, and the next appends repaired them.
    print(
        f"\n{out.kills} kills in {round_no} rounds: {len(ids)} entries ({len(logged)} logged), "
        f"{out.torn_at_round_end} rounds ended with a torn tail, {len(out.repairs)} repairs "
        f"(bytes removed: {out.repairs}), file {path.stat().st_size >> 20} MiB"
    )
    assert out.kills >= min_kills
    if tearable:
        assert out.repairs, "no kill tore an append: this run proved nothing"
    else:
        assert out.repairs == [], "a store with nothing to tear repaired something"
    for made in path.parent.glob(f"{path.name}*"):  # ~100 MiB: pytest keeps its last runs
        made.unlink()
    shutil.rmtree(logs)


# -- a kill in the middle of a slow-path repair ------------------------------------------------

REPAIR_TRIALS = 15
LEGACY_COPIES = 20  # ~2 MiB of indented entries: the repair parses them all (tens of ms)


def _torn_by_the_original(entries: list[Any], new: dict[str, Any], rng: random.Random) -> bytes:
    """What an original writer killed mid-``json.dump(indent=2)`` leaves: its whole file cut
    inside the entry it was adding (anywhere from the comma on, before the entry's last ``}``).
    No line starts with ``{``, so our writer must parse the whole array to repair it."""
    full = json.dumps([*entries, new], indent=2)
    comma = full.rindex(",\n  {")  # the last entry's own lines are indented deeper
    return full[: rng.randrange(comma + 1, len(full) - len("}\n]"))].encode()


def _repair_time(path: Path, logs: Path, entries: list[Any], rng: random.Random) -> float:
    """How long a writer takes from "go" to a returned capture on such a file (the fastest of
    three): the span the kills are spread over."""
    times = []
    for attempt in range(3):
        path.write_bytes(_torn_by_the_original(entries, entries[0], rng))
        writer = Writer.start(path, logs, f"timing{attempt}", 0, 1)
        try:
            writer.wait_ready()
            started = time.monotonic()
            writer.go()
            while not writer.logged_ids():
                assert time.monotonic() < started + TIMEOUT, writer.stderr.read_text()
                time.sleep(0.0002)
            times.append(time.monotonic() - started)
        finally:
            writer.close()
    return min(times)


@pytest.mark.json_only("the original framework's indented JSON array, torn")
def test_a_writer_killed_while_repairing_an_indented_torn_file_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "telemetry.json"
    logs = tmp_path / "logs"
    logs.mkdir()
    legacy: list[dict[str, Any]] = json.loads(FIXTURE.read_bytes())
    entries: list[dict[str, Any]] = legacy * LEGACY_COPIES
    rng = random.Random(5)
    repair_time = _repair_time(tmp_path / "timing.json", logs, entries, rng)
    outcomes: Counter[str] = Counter()
    for trial in range(REPAIR_TRIALS):
        torn = _torn_by_the_original(entries, legacy[trial], rng)
        path.write_bytes(torn)
        writer = Writer.start(path, logs, f"k{trial}", 0, 1)
        try:
            writer.wait_ready()
            writer.go()
            time.sleep(rng.uniform(0, repair_time))  # mostly while it reads and parses
            writer.kill()
        finally:
            writer.close()
        returned = writer.logged_ids() == [f"k{trial}-0"]
        after_kill = path.read_bytes()
        # A reader copes with whatever the kill left, and sees exactly the complete entries.
        seen = TelemetryCapture(path).query()
        landed = [f"k{trial}-0"] if f"k{trial}-0" in _ids(seen) else []
        assert len(seen) == len(entries) + len(landed)
        assert landed or not returned
        outcomes[_outcome(returned, after_kill == torn, landed)] += 1
        # The next capture repairs the file: nothing complete is lost or doubled.
        TelemetryCapture(path).capture("stress.repair", "success", 0, "next", {"id": f"n{trial}"})
        now: list[dict[str, Any]] = json.loads(path.read_bytes())
        assert len(now) == len(entries) + len(landed) + 1
        assert now[: len(entries)] == entries
        assert _ids(now[len(entries) :]) == [*landed, f"n{trial}"]
        entries = now
    print(f"\nrepair takes {repair_time * 1000:.0f} ms; kills: {dict(outcomes)}")
    assert outcomes["mid-capture, file untouched"] >= 5, "too few kills landed in the repair"
    assert any("Repaired" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def _outcome(returned: bool, untouched: bool, landed: list[str]) -> str:
    if returned:
        return "after capture() returned"
    if untouched:
        return "mid-capture, file untouched"
    return "mid-capture, entry written" if landed else "mid-capture, file changed"
