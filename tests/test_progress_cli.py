"""Feedback on long work, as a person at a terminal sees it, in real processes on a real
pseudo-terminal: a progress line on stderr for a command that runs past half a second (never
for a fast one, never on a pipe, never between machine-readable lines on the terminal),
erased so that the screen then holds exactly the command's output; and Ctrl-C, typed at the
terminal, ending any command quietly with exit code 130, every file left valid and complete.

A command is made slow without a large file where that is enough: another process holding
the store's lock (reads wait for it), or a pipe nobody reads (the command waits to write).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry.stores import open_store
from betty_telemetry.stores.base import RotatingStore
from tests.conftest import CliHere, run_cli
from tests.entries import make_entries
from tests.lock_holder import start_holder
from tests.stores import JSON_ARRAY, SQLITE, kind_of, stored_entries, write_entries
from tests.terminal import Terminal, drawn_lines, screen

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]
INTERRUPTED = 130
READS_WAIT = pytest.mark.only_stores(
    JSON_ARRAY,
    reason="a JSON array's readers take its lock a block at a time, so another process holding "
    "it makes them wait; JSON Lines and SQLite readers never wait for a writer",
)


def seeded(folder: Path, suffix: str, count: int) -> Path:
    path = folder / f"telemetry{suffix}"
    write_entries(path, make_entries(count))
    return path


def fingerprint(path: Path) -> object:
    """What must not change: a file store's bytes; a database's entries (SQLite's own file
    may change on a read: its log is checkpointed)."""
    if kind_of(path) == SQLITE:
        return stored_entries(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


Piped = Callable[..., list[str]]


@pytest.fixture
def piped(cli_here: CliHere) -> Piped:
    """What a command prints into a pipe, as lines: the output a terminal must show too. Run
    in this process, whose stdout is no terminal either: the command's output, not its
    process, is what the terminal's is compared with."""

    def run(*args: str) -> list[str]:
        result = cli_here(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    return run


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    """Terminals started by a test; any still running at its end is killed."""
    started: list[Terminal] = []
    yield started
    for terminal in started:
        terminal.kill()


@pytest.fixture
def small(tmp_path: Path, store_suffix: str) -> Path:
    return seeded(tmp_path, store_suffix, 40)


def has_drawn(terminal: Terminal) -> bool:
    return bool(drawn_lines(terminal.output))


# -- the progress line ------------------------------------------------------------------------


@READS_WAIT
def test_a_command_kept_waiting_shows_progress_then_exactly_its_output(
    small: Path, terminals: list[Terminal], piped: Piped
) -> None:
    args = ("stats", "--color", "never", "--file", str(small))
    expected = piped(*args)
    holder = start_holder(small)
    try:
        terminal = Terminal(*args)
        terminals.append(terminal)
        terminal.wait_for(has_drawn, "a progress line")
    finally:
        holder.communicate()  # lets go of the lock
    assert terminal.first_output_at is not None
    assert terminal.first_output_at >= 0.5  # not before half a second: no flicker
    assert terminal.finish() == 0
    assert all(line.startswith("stats  ") for line in drawn_lines(terminal.output))
    assert screen(terminal.output) == expected
    assert expected[0].startswith("SKILL")


def test_fast_commands_draw_no_progress(
    small: Path, terminals: list[Terminal], piped: Piped
) -> None:
    for command in (("stats",), ("query", "--all"), ("tail",), ("trace", "--last")):
        args = (*command, "--color", "never", "--file", str(small))
        terminal = Terminal(*args)
        terminals.append(terminal)
        assert terminal.finish() == 0
        assert b"\x1b[K" not in terminal.output, command
        assert screen(terminal.output) == piped(*args)


@READS_WAIT
def test_progress_never_goes_to_a_pipe(
    small: Path, terminals: list[Terminal], piped: Piped
) -> None:
    args = ("stats", "--color", "never", "--file", str(small))
    holder = start_holder(small)
    try:
        terminal = Terminal(*args, stderr_on_terminal=False)
        terminals.append(terminal)
        deadline = time.monotonic() + 1.5  # three times the delay: a line would be drawn
        while time.monotonic() < deadline:
            terminal.pump()
    finally:
        holder.communicate()
    assert terminal.finish() == 0
    assert terminal.stderr == b""
    assert screen(terminal.output) == piped(*args)


@READS_WAIT
def test_machine_output_on_the_terminal_gets_no_progress(
    small: Path, terminals: list[Terminal], piped: Piped
) -> None:
    holder = start_holder(small)
    try:
        terminal = Terminal("stats", "--json", "--file", str(small))
        terminals.append(terminal)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            terminal.pump()
    finally:
        holder.communicate()
    assert terminal.finish() == 0
    assert b"\x1b[K" not in terminal.output
    assert json.loads("\n".join(screen(terminal.output))) == json.loads(
        "\n".join(piped("stats", "--json", "--file", str(small)))
    )


def test_output_into_a_pipe_shows_progress_with_the_fraction_done(
    tmp_path: Path, store_suffix: str, terminals: list[Terminal]
) -> None:
    path = seeded(tmp_path, store_suffix, 3000)
    terminal = Terminal("query", "--all", "--jsonl", "--file", str(path), stdout_on_terminal=False)
    terminals.append(terminal)
    # Its stdout is not read: once the pipe is full the command waits, part way through.
    terminal.wait_for(
        lambda t: any("%" in line for line in drawn_lines(t.output)),
        "a progress line with the fraction done",
        read_pipes=False,
    )
    assert terminal.finish() == 0
    drawn = [line for line in drawn_lines(terminal.output) if "%" in line]
    assert re.fullmatch(r"query  [█░]+ +\d+%  [\d,]+ entries  [\d,]+/s  \d+s", drawn[0])
    assert screen(terminal.output) == []  # erased: the terminal shows nothing of it
    printed = [json.loads(line) for line in terminal.stdout.decode().splitlines()]
    assert [entry["inputs"]["n"] for entry in printed] == list(range(2999, -1, -1))


@READS_WAIT
def test_table_rows_go_above_the_progress_line(
    tmp_path: Path, store_suffix: str, terminals: list[Terminal], piped: Piped
) -> None:
    path = seeded(tmp_path, store_suffix, 10_000)
    args = ("query", "--all", "--color", "never", "--file", str(path))
    expected = piped(*args)
    terminal = Terminal(*args)
    terminals.append(terminal)
    terminal.wait_for(lambda t: t.output.count(b"\n") >= 3, "the first rows")
    # The command now waits to write more rows (nothing reads the terminal): the lock is
    # taken before it reads its next block, and it waits for that, silent, in mid-table.
    holder = start_holder(path)
    try:
        start = len(terminal.output)
        terminal.wait_for(lambda t: bool(drawn_lines(t.output[start:])), "a line under the rows")
    finally:
        holder.communicate()
    assert terminal.finish() == 0
    output = bytes(terminal.output)
    drawn_at = output.index(b"\x1b[K", start)
    assert output[:drawn_at].count(b"\n") >= 3  # rows above the line ...
    assert output[drawn_at:].count(b"\n") >= 1000  # ... and more after it, in its place
    assert screen(output) == expected


# -- Ctrl-C -----------------------------------------------------------------------------------


def interrupted(terminal: Terminal) -> list[str]:
    """Type Ctrl-C; check the command ended quietly with 130; the screen's lines."""
    terminal.type(b"\x03")
    assert terminal.finish() == INTERRUPTED
    assert b"Traceback" not in terminal.output
    return screen(terminal.output)


def test_ctrl_c_ends_a_long_query_quietly(
    tmp_path: Path, store_suffix: str, terminals: list[Terminal]
) -> None:
    path = seeded(tmp_path, store_suffix, 10_000)
    before = fingerprint(path)
    terminal = Terminal("query", "--all", "--file", str(path))
    terminals.append(terminal)
    terminal.wait_for(lambda t: t.output.count(b"\n") >= 3, "the first rows")
    terminal.wait_until_stopped()  # its rows fill the terminal faster than it shows them
    lines = interrupted(terminal)
    assert lines[-1].endswith("Interrupted")  # after the rows (and the ^C the terminal echoes)
    assert len(lines) < 10_001
    assert fingerprint(path) == before


@READS_WAIT
def test_ctrl_c_while_a_progress_line_shows_leaves_one_word(
    small: Path, terminals: list[Terminal]
) -> None:
    before = fingerprint(small)
    holder = start_holder(small)
    try:
        terminal = Terminal("stats", "--file", str(small))
        terminals.append(terminal)
        terminal.wait_for(has_drawn, "a progress line")
        assert interrupted(terminal) == ["Interrupted"]  # the line (and the echoed ^C) erased
    finally:
        holder.communicate()
    assert fingerprint(small) == before


def test_ctrl_c_ends_tail_follow_without_a_word(
    small: Path, terminals: list[Terminal], piped: Piped
) -> None:
    terminal = Terminal("tail", "-f", "-n", "3", "--color", "never", "--file", str(small))
    terminals.append(terminal)
    terminal.wait_for(lambda t: t.output.count(b"\n") >= 4, "the last entries")
    lines = interrupted(terminal)
    assert lines[0].startswith("TIMESTAMP")
    assert [line.split()[:2] for line in lines[1:4]] == [
        line.split()[:2] for line in piped("tail", "-n", "3", "--file", str(small))[1:]
    ]
    assert lines[4:] in ([], ["^C"])  # what the terminal echoes: the command says nothing


def test_ctrl_c_while_rotate_waits_for_the_lock_rotates_nothing(
    small: Path, terminals: list[Terminal]
) -> None:
    before = fingerprint(small)
    holder = start_holder(small)
    try:
        terminal = Terminal("rotate", "--file", str(small))
        terminals.append(terminal)
        terminal.wait_for(has_drawn, "a progress line")
        assert interrupted(terminal) == ["Interrupted"]
    finally:
        holder.communicate()
    assert fingerprint(small) == before
    store = open_store(small)
    assert isinstance(store, RotatingStore)
    assert store.archives() == []
    store.close()


# -- Ctrl-C in the middle of a rotation ------------------------------------------------------

ROTATED = 60_000  # ~20 MB: compressing it takes long enough to be interrupted in the middle


def archive_entries(path: Path) -> list[Entry]:
    """The entries of an archive, compressed or staged (a store's file as it was)."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    if data.lstrip().startswith(b"["):
        entries: list[Entry] = json.loads(data)
        return entries
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def interrupt_when_present(command: list[str], folder: Path, ending: str) -> int:
    """Run ``command``; send it SIGINT as soon as a file whose name ends with ``ending``
    appears in ``folder``; its exit code (its stderr must be one line at most)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "betty_telemetry", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not any(name.endswith(ending) for name in os.listdir(folder)):
        assert process.poll() is None, "the rotation ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert stderr == b"Interrupted\n"
    return process.returncode


def check_interrupted_rotation(folder: Path, path: Path, archives_left: int) -> None:
    """Every entry is in a valid file, once: the live store or the archive left; nothing
    half-written is left; the next rotation finishes the job."""
    assert [p.name for p in folder.iterdir() if p.name.endswith(".partial")] == []
    store = open_store(path)
    assert isinstance(store, RotatingStore)
    archives = [Path(archive.path) for archive in store.archives()]
    store.close()
    assert len(archives) == archives_left
    kept = [entry for archive in archives for entry in archive_entries(archive)]
    numbers = sorted(entry["inputs"]["n"] for entry in kept + stored_entries(path))
    assert numbers == list(range(ROTATED))
    result = run_cli("rotate", "--file", str(path))
    assert result.returncode == 0, result.stderr
    store = open_store(path)
    assert isinstance(store, RotatingStore)
    [archive] = store.archives()
    store.close()
    assert archive.compressed
    numbers = [entry["inputs"]["n"] for entry in archive_entries(Path(archive.path))]
    assert numbers == list(range(ROTATED))
    assert stored_entries(path) == []


@pytest.mark.slow
def test_ctrl_c_while_a_rotation_compresses_leaves_a_valid_staged_archive(
    tmp_path: Path, store_suffix: str
) -> None:
    path = seeded(tmp_path, store_suffix, ROTATED)
    command = ["rotate", "--file", str(path)]
    assert interrupt_when_present(command, tmp_path, ".gz.partial") == INTERRUPTED
    check_interrupted_rotation(tmp_path, path, archives_left=1)  # staged, not compressed


@pytest.mark.slow
@pytest.mark.only_stores(SQLITE, reason="only a SQLite store copies its entries out first")
def test_ctrl_c_while_a_rotation_copies_rows_keeps_them_in_the_database(tmp_path: Path) -> None:
    path = seeded(tmp_path, ".db", ROTATED)
    command = ["rotate", "--file", str(path)]
    assert interrupt_when_present(command, tmp_path, ".rotating.partial") == INTERRUPTED
    check_interrupted_rotation(tmp_path, path, archives_left=0)  # rolled back: all still there


@READS_WAIT
def test_ctrl_c_after_the_reader_went_away_says_only_that(tmp_path: Path) -> None:
    path = seeded(tmp_path, ".json", 10_000)
    environment = dict(os.environ)
    environment.pop("PYTHONUNBUFFERED", None)  # stdout buffered, as it is for a user
    process = subprocess.Popen(
        [sys.executable, "-m", "betty_telemetry", "query", "--all", "--jsonl", "--file", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    assert process.stdout is not None
    wait_asleep(process.pid)  # the pipe is full: it waits to write
    holder = start_holder(path)  # taken between two of its block reads
    try:
        read_until_quiet(process.stdout.fileno())  # it writes on, then waits for the lock
        wait_asleep(process.pid)
        process.stdout.close()  # the reader goes away; rows wait in the command's buffer
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        holder.communicate()
    assert process.returncode == INTERRUPTED
    assert stderr == b"Interrupted\n"  # no complaint about the closed pipe, no traceback


def wait_asleep(pid: int) -> None:
    """Until the process's main thread has been asleep (waiting) for a while."""
    deadline = time.monotonic() + 30
    asleep = 0
    while asleep < 5:
        assert time.monotonic() < deadline, "the command never stopped to wait"
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
        asleep = asleep + 1 if state == "S" else 0
        time.sleep(0.02)


def read_until_quiet(fd: int, quiet: float = 0.5) -> None:
    while select.select([fd], [], [], quiet)[0]:
        if not os.read(fd, 65536):
            return


@READS_WAIT
@pytest.mark.parametrize(
    ("command", "label"),
    [
        (("prune", "--before", "2999-01-01"), "prune"),
        (("check",), "check"),
        (("repair",), "repair"),
        (("doctor",), "doctor"),
    ],
)
def test_the_lifecycle_commands_show_progress_while_they_wait(
    small: Path, terminals: list[Terminal], command: tuple[str, ...], label: str
) -> None:
    holder = start_holder(small)
    try:
        terminal = Terminal(*command, "--file", str(small))
        terminals.append(terminal)
        terminal.wait_for(has_drawn, "a progress line")
    finally:
        holder.communicate()  # lets go of the lock
    assert terminal.finish() == 0
    assert all(line.startswith(f"{label}  ") for line in drawn_lines(terminal.output))


@READS_WAIT
def test_convert_shows_progress_while_its_destination_is_locked(
    small: Path, terminals: list[Terminal], tmp_path: Path
) -> None:
    destination = tmp_path / "destination.json"
    destination.write_text("[]")
    holder = start_holder(destination)
    try:
        terminal = Terminal("convert", str(small), str(destination), "--append")
        terminals.append(terminal)
        terminal.wait_for(has_drawn, "a progress line")
    finally:
        holder.communicate()
    assert terminal.finish() == 0
    assert all(line.startswith("convert  ") for line in drawn_lines(terminal.output))
    assert len(stored_entries(destination)) == 40
