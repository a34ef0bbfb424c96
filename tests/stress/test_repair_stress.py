"""Repair under SIGKILL and under concurrent writers (issue 11, item 5).

A ``betty-telemetry repair`` process is killed at random moments of its work on a damaged
file of some megabytes: the file must then be either exactly as it was or exactly the
repaired file (never half), a backup or side file that has its name must be whole, and a
repair run afterwards must finish the job. And while writer processes append, files damaged
by another program (which rewrites the whole file, as the original framework does) are
repaired, some repairs killed: every entry whose capture returned is in the file once, and
every complete entry of the damaged files too.

``serial``: the writers and the repairs need the machine's cores; kills are timed to the ms.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry.lifecycle.checking import check
from tests.entries import numbered_entry
from tests.stores import stored_entries
from tests.stress.test_crash import WRITER_ENV

pytestmark = [pytest.mark.serial, pytest.mark.slow]

KILLS = 12
TIMEOUT = 120.0
REPAIR = [sys.executable, "-m", "betty_telemetry", "repair", "--file"]


def damaged_file(entries: int, pad: int, every: int) -> tuple[bytes, list[bytes], bytes]:
    """A JSON array of ``entries`` (each about ``pad`` bytes) with a line of garbage before
    every ``every``-th one and a torn tail; the entry lines, and the bytes a repair moves
    aside."""
    lines = [
        json.dumps(numbered_entry(n % 3600, inputs={"n": n, "pad": "p" * pad})).encode()
        for n in range(entries)
    ]
    body: list[bytes] = []
    moved: list[bytes] = []
    for n, entry in enumerate(lines):
        if n % every == every // 2:
            garbage = f"garbage line {n} \x00\x01".encode()
            body.append(garbage)
            moved.append(garbage + b",\n")
        body.append(entry)
    torn = lines[0][:333]
    moved.append(torn + b"\n")
    return b"[\n" + b",\n".join(body) + b",\n" + torn, lines, b"".join(moved)


def repaired_bytes(lines: list[bytes]) -> bytes:
    return b"[\n" + b",\n".join(lines) + b"\n]\n"


def beside(path: Path, marker: str) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.{marker}-*"))


def start_repair(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*REPAIR, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=WRITER_ENV
    )


def repair_time(path: Path, damaged: bytes) -> float:
    """How long a whole ``repair`` process takes on ``damaged`` (the fastest of two)."""
    times = []
    for _ in range(2):
        path.write_bytes(damaged)
        started = time.monotonic()
        done = subprocess.run([*REPAIR, str(path)], capture_output=True, env=WRITER_ENV)
        times.append(time.monotonic() - started)
        assert done.returncode == 0, done.stderr
        for made in [*beside(path, "bak"), *beside(path, "damaged")]:
            made.unlink()
    return min(times)


def test_a_repair_killed_at_random_moments_leaves_the_file_as_it_was_or_repaired(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry.json"
    damaged, lines, moved = damaged_file(25_000, 600, 500)  # about 20 MiB
    repaired = repaired_bytes(lines)
    spent = repair_time(path, damaged)
    rng = random.Random(20261206)
    outcomes: Counter[str] = Counter()
    for _ in range(KILLS):
        path.write_bytes(damaged)
        process = start_repair(path)
        time.sleep(rng.uniform(0.1, spent * 1.4))  # some after it is done
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=TIMEOUT)
        content = path.read_bytes()
        assert content in (damaged, repaired), "a killed repair left a half-written file"
        outcomes["untouched" if content == damaged else "repaired"] += 1
        for backup in beside(path, "bak"):  # a copy that has its name is whole
            assert backup.read_bytes() == damaged
            backup.unlink()
        for side in beside(path, "damaged"):
            assert side.read_bytes() == moved
            side.unlink()
        if content == damaged:  # a later repair finishes the job
            done = subprocess.run([*REPAIR, str(path)], capture_output=True, env=WRITER_ENV)
            assert done.returncode == 0, done.stderr
            assert path.read_bytes() == repaired
            for made in [*beside(path, "bak"), *beside(path, "damaged")]:
                made.unlink()
        assert check(path).clean
    print(f"\nrepair of {len(damaged) >> 20} MiB takes {spent:.2f} s; after kills: {outcomes}")
    assert outcomes["untouched"] >= 2, "no kill landed before the file was replaced"
    # Temporary files of killed repairs are all that may remain; later rotations remove them.
    left = [name for name in os.listdir(tmp_path) if name != "telemetry.json"]
    assert all(name.startswith(".telemetry-") and name.endswith(".new") for name in left)


def damage_in_place(path: Path, marker: int) -> None:
    """What another program does: under the file's lock, rewrite it whole with a line of
    garbage after its first entry (``os.replace``, as the original framework's tools and our
    repair do)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        content = os.pread(fd, os.fstat(fd).st_size, 0)
        first_end = content.index(b"},\n") + 3
        garbage = f"<<< damage {marker} >>>,\n".encode()
        temporary = path.with_name(f".damage-{marker}")
        temporary.write_bytes(content[:first_end] + garbage + content[first_end:])
        os.replace(temporary, path)
    finally:
        os.close(fd)


WRITER = """
import os, sys, time
from betty_telemetry import TelemetryCapture
path, side = sys.argv[1:3]
prefix = os.path.basename(side)
telemetry = TelemetryCapture(path)
log = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(1, b"R")
n = 0
while True:
    entry_id = f"{prefix}-{n}"
    telemetry.capture("stress.repair", "success", n, prefix, {"id": entry_id})
    os.write(log, entry_id.encode() + b"\\n")  # only once capture() has returned
    n += 1
    time.sleep(0.001)
"""
ROUNDS = 10


def test_writers_appending_while_damaged_files_are_repaired_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    damaged, lines, _ = damaged_file(3000, 300, 400)
    path.write_bytes(damaged[: damaged.rindex(b",\n")] + b"\n]\n")  # no torn tail: writers run
    original = [json.loads(entry) for entry in lines]
    rng = random.Random(11)
    sides = [tmp_path / f"w{n}" for n in range(3)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(side)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=WRITER_ENV,
        )
        for side in sides
    ]
    repairs: Counter[str] = Counter()
    # A kill lands at a random point of a repair, as long as the last whole one took (the
    # first round runs whole): fixed delays fell after the end once the CLI started faster.
    lasted = 0.5
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.read(1) == b"R"
        for marker in range(ROUNDS):
            damage_in_place(path, marker)
            started = time.monotonic()
            process = start_repair(path)
            if marker % 2:
                time.sleep(rng.uniform(0.3, 0.9) * lasted)
                process.send_signal(signal.SIGKILL)
                process.communicate(timeout=TIMEOUT)
                repairs["killed"] += process.returncode == -signal.SIGKILL
            else:
                out, err = process.communicate(timeout=TIMEOUT)
                lasted = time.monotonic() - started
                assert process.returncode == 0, err
                repairs["repaired" if out.startswith(b"Repaired") else "nothing to do"] += 1
            assert all(writer.poll() is None for writer in writers), "a writer failed"
    finally:
        for writer in writers:
            writer.kill()
            _, err = writer.communicate(timeout=TIMEOUT)
            assert b"Traceback" not in err, err.decode()
    done = subprocess.run([*REPAIR, str(path)], capture_output=True, env=WRITER_ENV)
    assert done.returncode == 0, done.stderr  # also cuts a writer's torn last append
    entries = stored_entries(path)  # the whole file parses as one array
    assert check(path).clean
    ids = Counter(_id(entry) for entry in entries)
    logged = [entry_id for side in sides for entry_id in side.read_text().split("\n")[:-1]]
    assert [entry_id for entry_id in logged if ids[entry_id] != 1] == []
    assert [entry_id for entry_id, count in ids.items() if count > 1] == []
    assert [entry for entry in entries if entry["skill"] != "stress.repair"] == original
    print(f"\n{repairs} while 3 writers appended {len(logged)} entries")
    assert repairs["killed"] >= 1
    assert repairs["repaired"] >= 1


def _id(entry: dict[str, Any]) -> str | None:
    inputs = entry.get("inputs") or {}
    value = inputs.get("id", inputs.get("n"))
    return None if value is None else str(value)
