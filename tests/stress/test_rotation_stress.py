"""Rotation under load, proved: while writer processes append, a rotator process moves the
store into compressed archives beside it, over and over; afterwards the live store and all the
archives hold every acknowledged entry exactly once, and no archive changed after it was made.

Each writer captures unique skills (``w{p}.{i}``); the rotator logs every archive it made with
the SHA-256 of its bytes, taken the moment ``rotate()`` returned. The reading is strict: every
archive must decompress whole and parse in its format (a JSON array for a JSON-array store,
one JSON object per line for the others), and the live store must read as ``stored_entries``
reads it. The last test SIGKILLs the rotator at random moments of its loop (seeded), checks
every file it left, and lets the next rotator, and a final ``rotate()``, finish the leftovers.
One more has no rotator: the writers' store rotates itself past a size, on their threads.

``serial``: the writers and the rotator need the machine's cores; kills are timed to the ms.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores import RotatingStore
from tests.stores import JSON_ARRAY, SQLITE, stored_entries

pytestmark = [pytest.mark.every_store, pytest.mark.serial]

Entry = dict[str, Any]
Sources = list[tuple[str, list[Entry]]]
"""Where entries were found (a file's name) and the entries, oldest file first."""

WRITERS, PER_WRITER = 4, 800  # sized for make test: ~12 s for the file under coverage
ROTATE_PAUSE = 0.002  # seconds the rotator sleeps between two rotations
# Background writers queue faster than their threads write: they pace their captures, so
# that the rotations happen while entries go on being queued and written in batches.
BACKGROUND_PAUSE = 0.0002
MAX_BYTES = 16 << 10  # the threshold test's max_bytes: ~90 entries of ~180 bytes
TIMEOUT = 120.0
# The kill test: writers pace their captures, so that they write all through the kills (and
# each rotation has a few dozen entries to move); the rotator, forked from the test process
# (so it starts rotating at once), is killed this long after the fork (under this load a
# rotation takes ~5-40 ms), at least MIN_KILLS times, and on until a kill left an unfinished
# rotation behind (rarely needed), at most MAX_KILLS.
WRITER_PAUSE = 0.0005
KILL_DELAYS = (0.0005, 0.05)
MIN_KILLS, MAX_KILLS = 20, 80

SETUP = "setup.0"  # the entry the test process creates the store with
STAMP = r"\d{8}T\d{6}\.\d{6}Z"
TEMPORARY = re.compile(r"\.telemetry-\w+\.new")
"""A temporary file of a JSON array's creation (``stores._files.create_complete``), which a
process that dies (or exits, its rotation thread running) between making and removing it
leaves behind."""
UNFINISHED = (".rotating", ".partial")
"""What an interrupted rotation may leave: a staged file, a half-written copy."""

WRITER = """
import json, os, sys, time
from betty_telemetry import TelemetryCapture
path, prefix, count, background, pause, max_bytes, stop, result = sys.argv[1:9]
count, pause = int(count), float(pause)  # count 0: until the stop file exists
# max_bytes: the store rotates itself on a thread, once a write of ours takes it past that
telemetry = TelemetryCapture(path, background=background == "1", max_bytes=int(max_bytes) or None)
os.write(1, b"R")  # ready: imported, set up
os.read(0, 1)  # wait for "go": the writers start together
began = time.monotonic()
n = 0
while n < count if count else not os.path.exists(stop):
    try:
        telemetry.capture(f"{prefix}.{n}", "success", n, prefix)
    except BaseException:
        sys.stderr.write(f"capture {n} of {prefix} failed, {time.monotonic() - began:.3f} s in\\n")
        raise
    n += 1
    if pause:
        time.sleep(pause)
flushed = telemetry.flush(timeout=60)  # background mode: every queued entry written
telemetry.close()
with open(result, "w") as out:
    json.dump({"written": n, "dropped": telemetry.dropped, "flushed": flushed}, out)
"""

ROTATOR = """
import hashlib, json, os, sys, time
from betty_telemetry import TelemetryCapture
path, log, stop, max_bytes, pause, result = sys.argv[1:7]
thresholds = {"max_bytes": int(max_bytes)} if int(max_bytes) else {}
telemetry = TelemetryCapture(path)
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
calls = 0
os.write(1, b"R")
while not os.path.exists(stop):
    rotation = telemetry.rotate(**thresholds)
    calls += 1
    if rotation.archive is not None:
        with open(rotation.archive, "rb") as archive:
            digest = hashlib.sha256(archive.read()).hexdigest()
        made = {"archive": rotation.archive, "sha256": digest, "reason": rotation.reason}
        os.write(out, json.dumps(made).encode() + b"\\n")  # one write: whole, or not at all
    time.sleep(float(pause))
telemetry.close()
with open(result, "w") as out_file:
    json.dump({"calls": calls}, out_file)
"""


# -- the processes --------------------------------------------------------------------------


@dataclass
class Child:
    """A Python process running one of the scripts above: it says "R" once ready, may wait
    for "G", and leaves its outcome as JSON in ``result``."""

    name: str
    process: subprocess.Popen[bytes]
    stderr: Path
    result: Path

    @classmethod
    def start(cls, script: str, args: list[object], logs: Path, name: str) -> Child:
        stderr, result = logs / f"{name}.err", logs / f"{name}.json"
        result.unlink(missing_ok=True)
        with stderr.open("ab") as err:
            process = subprocess.Popen(
                [sys.executable, "-c", script, *map(str, args), str(result)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        return cls(name, process, stderr, result)

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        assert ready, f"{self.name} did not start within {TIMEOUT} s"
        assert self.process.stdout.read(1) == b"R", f"{self.name}: {self.stderr.read_text()}"

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"G")
        self.process.stdin.flush()

    def finish(self) -> dict[str, Any]:
        """Wait for the process to end by itself; its outcome."""
        code = self.process.wait(timeout=TIMEOUT)
        assert code == 0, f"{self.name} exited {code}:\n{self.stderr.read_text()}"
        outcome: dict[str, Any] = json.loads(self.result.read_bytes())
        return outcome

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def start_writers(
    path: Path,
    logs: Path,
    stop: Path,
    *,
    count: int,
    background: bool,
    pause: float,
    max_bytes: int = 0,
) -> list[Child]:
    return [
        Child.start(
            WRITER,
            [path, f"w{p}", count, int(background), pause, max_bytes, stop],
            logs,
            f"w{p}",
        )
        for p in range(WRITERS)
    ]


def start_rotator(path: Path, logs: Path, stop: Path, *, max_bytes: int = 0) -> Child:
    args: list[object] = [path, logs / "rotations.log", stop, max_bytes, ROTATE_PAUSE]
    return Child.start(ROTATOR, args, logs, "rotator")


def fork_rotator(path: Path, logs: Path) -> int:
    """A rotator forked from this process, which has imported everything already: it starts
    rotating at once, and rotates in a loop (as ROTATOR does) until it is killed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, killed
        try:
            telemetry = TelemetryCapture(path)
            log = os.open(logs / "rotations.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            while True:
                rotation = telemetry.rotate()
                if rotation.archive is not None:
                    digest = hashlib.sha256(Path(rotation.archive).read_bytes()).hexdigest()
                    made = {
                        "archive": rotation.archive,
                        "sha256": digest,
                        "reason": rotation.reason,
                    }
                    os.write(log, json.dumps(made).encode() + b"\n")
                time.sleep(ROTATE_PAUSE)
        except BaseException:
            with open(logs / f"rotator-{os.getpid()}.err", "w") as err:
                traceback.print_exc(file=err)
        os._exit(1)
    return pid


def kill_rotator(pid: int, logs: Path) -> None:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    err = logs / f"rotator-{pid}.err"
    code = os.waitstatus_to_exitcode(status)
    assert code == -signal.SIGKILL, f"the rotator exited {code} before its kill:\n" + (
        err.read_text() if err.exists() else ""
    )


def create_store(path: Path) -> None:
    """Create the store, holding its first entry (SETUP), before any other process uses it.

    The processes then share a store in use, as a rotator meets one. (Several processes making
    their first capture into a brand-new SQLite database at once is a race of its own, with
    or without rotation: one may fail at once with "database is locked".)"""
    path.parent.mkdir(parents=True)
    telemetry = TelemetryCapture(path)
    try:
        telemetry.capture(SETUP, "success", 0, "setup")
    finally:
        telemetry.close()


def written_skills(outcomes: list[dict[str, Any]]) -> set[str]:
    """The skills captured, all acknowledged: SETUP, and each writer's, whose captures
    returned (direct mode), or were queued, flushed and never dropped (background mode)."""
    expected = {SETUP}
    for p, outcome in enumerate(outcomes):
        assert outcome["dropped"] == 0, f"w{p} dropped entries: {outcome}"
        assert outcome["flushed"], f"w{p} could not flush its queue: {outcome}"
        expected |= {f"w{p}.{n}" for n in range(outcome["written"])}
    return expected


# -- reading the store and its archives -----------------------------------------------------


def archive_format(store_kind: str) -> str:
    """What a store's archives, and its staged files (``.rotating``), hold: a JSON-array
    store's file as it was (``json``); a JSON Lines store's file, or SQLite's rows, as JSON
    Lines (``jsonl``)."""
    return "json" if store_kind == JSON_ARRAY else "jsonl"


def parse(content: bytes, fmt: str, name: str) -> list[Entry]:
    """Every entry of ``content``, strictly: a whole JSON array (``json``), or one JSON
    object per line, each line ended (``jsonl``)."""
    try:
        if fmt == "json":
            entries = json.loads(content)
            assert isinstance(entries, list), f"{name}: not a JSON array: {content[:200]!r}"
        else:
            assert content == b"" or content.endswith(b"\n"), f"{name}: {content[-200:]!r}"
            entries = [json.loads(line) for line in content.split(b"\n")[:-1]]
    except ValueError as error:
        raise AssertionError(f"{name} does not parse as {fmt}: {error}") from error
    assert all(isinstance(entry, dict) for entry in entries), f"{name}: not all objects"
    return entries


def read_archive(file: Path, fmt: str) -> list[Entry]:
    """The entries of a compressed archive, which must decompress whole (gzip checks its
    length and CRC) and parse whole."""
    try:
        content = gzip.decompress(file.read_bytes())
    except (OSError, EOFError) as error:
        raise AssertionError(f"archive {file.name} does not decompress: {error!r}") from error
    return parse(content, fmt, file.name)


def archive_names(path: Path, store_kind: str) -> list[str]:
    """The names of the store's compressed archives, oldest first (stamps sort as time)."""
    pattern = re.compile(rf"{re.escape(path.name)}\.{STAMP}\.{archive_format(store_kind)}\.gz")
    return sorted(name for name in os.listdir(path.parent) if pattern.fullmatch(name))


def read_everything(path: Path, store_kind: str, *, killed: bool = False) -> Sources:
    """Every entry of the store's archives, oldest first, then of the live store, once no
    rotation is under way: checks that nothing unfinished is left, that the folder holds
    nothing else, and that the library lists the same archives.

    ``killed``: a process was SIGKILLed, maybe while it created a JSON-array file: its
    temporary file is then allowed (nothing removes it), if it holds no more than an empty
    array. Processes that exit by themselves must leave none."""
    folder = path.parent
    names = sorted(os.listdir(folder))
    temporary = [name for name in names if TEMPORARY.fullmatch(name)]
    if killed:
        for name in temporary:
            content = (folder / name).read_bytes()
            assert content in (b"", b"[\n]\n"), (
                f"{name} holds {len(content)} bytes, not a new empty array: a process killed "
                "between create_complete's link and unlink left a second name of a store file, "
                f"which keeps a copy of its entries (and grew with it): {content[:300]!r}"
            )
        names = [name for name in names if name not in temporary]
    else:
        assert temporary == [], (
            "temporary files of a JSON array's creation are left, which nothing removes "
            f"(a process exited while its store rotated itself?): {temporary}"
        )
    unfinished = [name for name in names if name.endswith(UNFINISHED)]
    assert unfinished == [], f"files of an unfinished rotation are left: {unfinished}"
    archives = archive_names(path, store_kind)
    store_files = {path.name}
    if store_kind == SQLITE:
        store_files |= {f"{path.name}-wal", f"{path.name}-shm"}
    strays = [name for name in names if name not in store_files and name not in archives]
    assert strays == [], f"unexpected files beside the store: {strays}"
    telemetry = TelemetryCapture(path)
    try:
        assert telemetry.archives() == [str(folder / name) for name in reversed(archives)]
        store = telemetry.store
        assert isinstance(store, RotatingStore)
        listed = store.archives()
        assert all(archive.compressed for archive in listed)
        assert {archive.format for archive in listed} <= {archive_format(store_kind)}
    finally:
        telemetry.close()
    fmt = archive_format(store_kind)
    sources: Sources = [(name, read_archive(folder / name, fmt)) for name in archives]
    sources.append((f"{path.name} (live)", stored_entries(path)))
    return sources


def check_exactly_once(sources: Sources, expected: set[str]) -> None:
    """Every expected skill is found once, in one file; nothing else is found."""
    places: dict[str, list[str]] = defaultdict(list)
    for name, entries in sources:
        for entry in entries:
            places[str(entry.get("skill"))].append(name)
    missing = sorted(expected - places.keys(), key=_writer_order)
    extra = sorted(places.keys() - expected)
    doubled = {skill: where for skill, where in places.items() if len(where) > 1}
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing, first {missing[:10]}")
    if doubled:
        first = dict(sorted(doubled.items(), key=lambda item: _writer_order(item[0]))[:10])
        problems.append(f"{len(doubled)} found more than once, first (skill: files) {first}")
    if extra:
        problems.append(f"{len(extra)} never written, first {extra[:10]}")
    counts = {name: len(entries) for name, entries in sources}
    assert problems == [], (
        f"{len(expected)} entries acknowledged, {sum(counts.values())} found: "
        + "; ".join(problems)
        + f"\n{len(sources)} files (entries in each, oldest archive first): {counts}"
    )


def check_writer_order(sources: Sources) -> None:
    """Archives oldest first, then the live store: each writer's entries in the order it
    made them (a rotation is atomic, so none of its later entries lands in an older file)."""
    last: dict[str, tuple[int, str]] = {}
    for name, entries in sources:
        for entry in entries:
            writer, number = _writer_order(str(entry["skill"]))
            before = last.get(writer)
            assert before is None or before[0] < number, (
                f"{writer}.{number} in {name} comes after {writer}.{before[0]} in {before[1]}"
            )
            last[writer] = (number, name)


def _writer_order(skill: str) -> tuple[str, int]:
    writer, _, number = skill.partition(".")
    return writer, int(number)


def made_archives(logs: Path) -> list[dict[str, str]]:
    """The archives the rotators logged, each with the SHA-256 of its bytes when made."""
    log = logs / "rotations.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_bytes().split(b"\n")[:-1]]


def check_archives_unchanged(made: list[dict[str, str]]) -> None:
    """Nothing was written into an archive after the rotation that made it returned."""
    changed = []
    for record in made:
        archive = Path(record["archive"])
        digest = hashlib.sha256(archive.read_bytes()).hexdigest() if archive.exists() else None
        if digest != record["sha256"]:
            changed.append((archive.name, "gone" if digest is None else "changed"))
    assert changed == [], f"{len(changed)} of {len(made)} archives changed: {changed[:10]}"


# -- rotation while writers write -----------------------------------------------------------


@dataclass
class Run:
    expected: set[str]
    made: list[dict[str, str]]
    calls: int
    seconds: float


def rotate_under_load(
    tmp_path: Path, path: Path, *, background: bool, max_bytes: int, automatic: bool = False
) -> Run:
    """WRITERS writers capture PER_WRITER entries each while a rotator rotates in a loop
    (``max_bytes`` > 0: only past that size); once they are done, the rotator stops.
    ``automatic``: no rotator, the writers' own store rotates itself past ``max_bytes``."""
    logs = tmp_path / "logs"
    logs.mkdir()
    stop = logs / "stop"
    pause = BACKGROUND_PAUSE if background else 0.0
    create_store(path)
    rotators = [] if automatic else [start_rotator(path, logs, stop, max_bytes=max_bytes)]
    writers = start_writers(
        path,
        logs,
        stop,
        count=PER_WRITER,
        background=background,
        pause=pause,
        max_bytes=max_bytes if automatic else 0,
    )
    try:
        for child in [*rotators, *writers]:
            child.wait_ready()
        started = time.monotonic()
        for writer in writers:
            writer.go()
        outcomes = [writer.finish() for writer in writers]
        seconds = time.monotonic() - started
        stop.touch()
        calls = sum(rotator.finish()["calls"] for rotator in rotators)
    finally:
        for child in [*rotators, *writers]:
            child.close()
    expected = written_skills(outcomes)
    assert len(expected) == 1 + WRITERS * PER_WRITER
    return Run(expected, made_archives(logs), calls, seconds)


@pytest.mark.parametrize("background", [False, True], ids=["direct", "background"])
def test_rotating_in_a_loop_while_four_processes_write_loses_and_doubles_nothing(
    tmp_path: Path, telemetry_path: Path, store_kind: str, background: bool
) -> None:
    run = rotate_under_load(tmp_path, telemetry_path, background=background, max_bytes=0)
    telemetry = TelemetryCapture(telemetry_path)
    try:
        final = telemetry.rotate()
    finally:
        telemetry.close()
    sources = read_everything(telemetry_path, store_kind)
    print(
        f"\n{len(run.made)} rotations in {run.calls} calls while the writers wrote "
        f"({run.seconds:.2f} s), final: {final.archive is not None}; "
        f"{len(sources) - 1} archives, live store {len(sources[-1][1])} entries"
    )
    check_exactly_once(sources, run.expected)
    check_writer_order(sources)
    check_archives_unchanged(run.made)
    assert len(run.made) > 1, f"the rotator rotated {len(run.made)} times: this proved little"
    assert all(record["reason"] == "asked to rotate now" for record in run.made)
    assert sources[-1][1] == [], "the final rotation left entries in the store"


def test_rotating_past_max_bytes_in_a_loop_while_four_processes_write_loses_nothing(
    tmp_path: Path, telemetry_path: Path, store_kind: str
) -> None:
    run = rotate_under_load(tmp_path, telemetry_path, background=False, max_bytes=MAX_BYTES)
    sources = read_everything(telemetry_path, store_kind)  # the live store below the threshold
    print(
        f"\n{len(run.made)} rotations in {run.calls} calls ({run.seconds:.2f} s); "
        f"live store {len(sources[-1][1])} entries"
    )
    check_exactly_once(sources, run.expected)
    check_writer_order(sources)
    check_archives_unchanged(run.made)
    assert len(run.made) > 1, f"the rotator rotated {len(run.made)} times: this proved little"
    assert all("max_bytes=" in record["reason"] for record in run.made), run.made[:3]
    if store_kind != SQLITE:  # a file store's size is its file's: the archive's whole content
        small = [
            record["archive"]
            for record in run.made
            if len(gzip.decompress(Path(record["archive"]).read_bytes())) < MAX_BYTES
        ]
        assert small == [], f"archives of stores below max_bytes={MAX_BYTES}: {small[:5]}"


def test_four_processes_whose_store_rotates_itself_past_max_bytes_lose_nothing(
    tmp_path: Path, telemetry_path: Path, store_kind: str
) -> None:
    """Automatic rotation: each writer's store rotates itself on a thread once a write of
    its own takes it past max_bytes, so four processes rotate the store, at once at times. A
    writer may exit while its rotation runs: the final ``rotate()`` finishes what it left."""
    run = rotate_under_load(
        tmp_path, telemetry_path, background=False, max_bytes=MAX_BYTES, automatic=True
    )
    telemetry = TelemetryCapture(telemetry_path)
    try:
        staged = [path for path in telemetry.archives() if path.endswith(".rotating")]
        telemetry.rotate()
    finally:
        telemetry.close()
    sources = read_everything(telemetry_path, store_kind)
    print(
        f"\n{len(sources) - 1} archives ({run.seconds:.2f} s); staged files left by a writer "
        f"that exited while its store rotated: {len(staged)}"
    )
    check_exactly_once(sources, run.expected)
    check_writer_order(sources)
    assert len(sources) - 1 > 1, f"the store rotated itself {len(sources) - 1} times"


# -- the rotator killed at random moments ---------------------------------------------------


def check_left_files(path: Path, store_kind: str) -> list[str]:
    """Right after a rotator was killed (the writers still writing, no other rotator): every
    compressed archive decompresses and parses whole, every staged file parses in its
    format; a ``.partial`` file may be torn. Returns the unfinished files' names."""
    folder = path.parent
    unfinished = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".partial"):
            unfinished.append(name)
        elif name.endswith(".rotating"):
            unfinished.append(name)
            parse((folder / name).read_bytes(), archive_format(store_kind), name)
    for name in archive_names(path, store_kind):
        read_archive(folder / name, archive_format(store_kind))
    return unfinished


def test_a_rotator_killed_at_random_moments_loses_nothing_and_leaves_every_file_valid(
    tmp_path: Path, telemetry_path: Path, store_kind: str
) -> None:
    path = telemetry_path
    create_store(path)
    logs = tmp_path / "logs"
    logs.mkdir()
    stop = logs / "stop"
    rng = random.Random(20261206)
    left: Counter[str] = Counter()  # kinds of unfinished files a kill left
    kills_leaving_some = 0
    writers = start_writers(path, logs, stop, count=0, background=False, pause=WRITER_PAUSE)
    try:
        for writer in writers:
            writer.wait_ready()
        for writer in writers:
            writer.go()
        kills = 0
        while kills < MIN_KILLS or (kills_leaving_some == 0 and kills < MAX_KILLS):
            rotator = fork_rotator(path, logs)
            try:
                time.sleep(rng.uniform(*KILL_DELAYS))
            finally:
                kill_rotator(rotator, logs)
            kills += 1
            unfinished = check_left_files(path, store_kind)
            kills_leaving_some += bool(unfinished)
            left.update(re.sub(rf"^.*\.{STAMP}", "NAME.STAMP", name) for name in unfinished)
        stop.touch()
        outcomes = [writer.finish() for writer in writers]
    finally:
        for writer in writers:
            writer.close()
    expected = written_skills(outcomes)
    made = made_archives(logs)
    telemetry = TelemetryCapture(path)
    try:
        telemetry.rotate()  # finishes what the last kill left, and moves the rest
    finally:
        telemetry.close()
    temporary = [name for name in os.listdir(path.parent) if TEMPORARY.fullmatch(name)]
    print(
        f"\n{kills} kills, {kills_leaving_some} left an unfinished rotation ({dict(left)}); "
        f"{len(made)} rotations logged, {len(expected)} entries; temporary files of a "
        f"creation the kills left, which nothing removes: {temporary}"
    )
    sources = read_everything(path, store_kind, killed=True)
    check_exactly_once(sources, expected)
    check_writer_order(sources)
    check_archives_unchanged(made)
    assert sources[-1][1] == [], "the final rotation left entries in the store"
    assert len(made) > 1, f"the rotators rotated {len(made)} times before their kills"
    assert kills_leaving_some, f"no kill of {kills} interrupted a rotation: this proved little"
