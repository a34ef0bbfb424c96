"""A telemetry path that is not a regular file: a FIFO, a device, a socket (issue 6, item 2).

Each is refused at once, never blocking, with an error naming the path, saying what it is and
that telemetry needs a regular file: ``NotARegularFileError`` (an OSError) from the API, for
writes and reads; one warning from the decorator and the context manager, which go on; and
``Error: PATH: ...`` with exit code 1 from the CLI. Nothing is written anywhere. Every store
refuses them alike.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import betty_telemetry
from betty_telemetry import (
    NotARegularFileError,
    TelemetryCapture,
    TelemetryContext,
    capture_telemetry,
)
from tests.conftest import CliHere, run_cli
from tests.stores import JSON_ARRAY, kind_of

pytestmark = pytest.mark.every_store

NOT_RECORDED = "the entry was not recorded, and nothing else was changed"
NOTHING_READ = "nothing was read"
NOT_REGULAR = "not a regular file"
WHAT_TO_DO = "give the path of a file"
BLOCKS_AFTER = 5.0  # seconds: everything here must fail at once, not block


class Blocked(Exception):
    """The call was still running after BLOCKS_AFTER seconds."""


@contextlib.contextmanager
def never_blocks() -> Iterator[None]:
    """Fail the test, instead of hanging the suite, if the block blocks."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Blocked(f"still blocked after {BLOCKS_AFTER} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, BLOCKS_AFTER)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Each makes a special file at a path of the store under test (its extension is ``suffix``).


def make_fifo(folder: Path, suffix: str) -> Path:
    path = folder / f"telemetry{suffix}"
    os.mkfifo(path)
    return path


def make_socket(folder: Path, suffix: str) -> Path:
    path = folder / f"telemetry{suffix}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))  # listening or not, open() of a socket fails with ENXIO
    server.close()
    return path


def make_block_device(folder: Path, suffix: str) -> Path:
    path = folder / f"telemetry{suffix}"
    try:
        os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(7, 0))  # a loop device's numbers
    except PermissionError:
        pytest.skip("this process may not create device nodes")
    return path


def device(name: str) -> Callable[[Path, str], Path]:
    """``/dev/NAME`` itself for the JSON array (any extension picks it); for another store a
    link to it named as that store's files are."""

    def make(folder: Path, suffix: str) -> Path:
        if kind_of(f"x{suffix}") == JSON_ARRAY:
            return Path("/dev") / name
        path = folder / f"telemetry{suffix}"
        path.symlink_to(Path("/dev") / name)
        return path

    return make


SPECIAL_FILES: dict[str, tuple[str, Callable[[Path, str], Path]]] = {
    "fifo": ("a FIFO (named pipe)", make_fifo),
    "dev-null": ("a character device", device("null")),
    "dev-zero": ("a character device", device("zero")),
    "socket": ("a socket", make_socket),
    "block-device": ("a block device", make_block_device),
}
KINDS = list(SPECIAL_FILES)


@pytest.fixture(params=KINDS)
def special(request: pytest.FixtureRequest, tmp_path: Path, store_suffix: str) -> tuple[Path, str]:
    """The path of a special file for the store under test, and what the error must call
    it."""
    folder = tmp_path / "special"
    folder.mkdir()
    description, make = SPECIAL_FILES[request.param]
    return make(folder, store_suffix), description


def assert_refused(error: BaseException, path: Path, description: str, outcome: str) -> None:
    assert isinstance(error, NotARegularFileError)
    assert isinstance(error, OSError)
    assert error.errno == errno.EINVAL
    assert error.filename == str(path)
    message = str(error)
    assert str(path) in message
    assert f"the path is {description}, {NOT_REGULAR}" in message
    assert WHAT_TO_DO in message
    assert error.strerror is not None
    assert error.strerror.endswith(outcome)


def assert_unchanged(path: Path) -> None:
    """Nothing was created beside a special file we made, and it is still what it was."""
    if path.parent.name == "special":
        assert os.listdir(path.parent) == [path.name]
        assert not stat.S_ISREG(os.lstat(path).st_mode)


def telemetry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "betty_telemetry" and record.levelno == logging.WARNING
    ]


def test_not_a_regular_file_error_is_an_os_error_exported_by_the_package() -> None:
    assert issubclass(NotARegularFileError, OSError)
    assert "NotARegularFileError" in betty_telemetry.__all__


# -- the programmatic API --------------------------------------------------------------------


def test_capture_refuses_a_special_file_at_once(special: tuple[Path, str]) -> None:
    path, description = special
    with never_blocks(), pytest.raises(NotARegularFileError) as caught:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    assert_refused(caught.value, path, description, NOT_RECORDED)
    assert_unchanged(path)


def test_capture_in_background_mode_drops_and_warns_once(
    special: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, description = special
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    telemetry = TelemetryCapture(path, background=True)
    with never_blocks():
        for _ in range(3):
            telemetry.capture("s", "success", 1.0, "c")
        assert telemetry.flush(timeout=4)
    telemetry.close()
    assert telemetry.dropped >= 3
    refused = [m for m in telemetry_warnings(caplog) if NOT_REGULAR in m]
    assert len(refused) == 1
    assert str(path) in refused[0]
    assert description in refused[0]
    assert_unchanged(path)


READS: dict[str, Callable[[TelemetryCapture], Any]] = {
    "query": lambda t: t.query(),
    "query-filtered": lambda t: t.query(status="failure", since="1h", limit=5),
    "iter_entries": lambda t: list(t.iter_entries()),
    "stats": lambda t: t.stats(),
    "tail": lambda t: t.tail(5),
    "trace": lambda t: t.trace("4bf92f3577b34da6a3ce929d0e0e4736"),
    "last_trace_id": lambda t: t.last_trace_id(),
    "follow": lambda t: t.follow(backlog=3),
}


@pytest.mark.parametrize("read", list(READS))
def test_every_read_refuses_a_special_file_at_once(special: tuple[Path, str], read: str) -> None:
    path, description = special
    with never_blocks(), pytest.raises(NotARegularFileError) as caught:
        READS[read](TelemetryCapture(path))
    assert_refused(caught.value, path, description, NOTHING_READ)
    assert_unchanged(path)


# -- the decorator and the context manager ---------------------------------------------------


def test_decorator_warns_once_and_the_function_goes_on(
    special: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, description = special
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    result = object()

    @capture_telemetry(skill_name="special.decorated", telemetry=TelemetryCapture(path))
    def work() -> object:
        return result

    with never_blocks():
        assert [work() for _ in range(3)] == [result] * 3
    [warning] = telemetry_warnings(caplog)
    assert "NotARegularFileError" in warning
    assert str(path) in warning
    assert f"{description}, {NOT_REGULAR}" in warning
    assert_unchanged(path)


def test_decorator_with_the_path_from_the_environment_warns_once(
    special: tuple[Path, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = special
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(path))
    caplog.set_level(logging.WARNING, logger="betty_telemetry")

    @capture_telemetry(skill_name="special.env")
    def work(x: int) -> int:
        return x * 2

    with never_blocks():
        assert [work(n) for n in range(3)] == [0, 2, 4]
    assert len(telemetry_warnings(caplog)) == 1


def test_context_manager_warns_once_and_the_block_goes_on(
    special: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, description = special
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    telemetry = TelemetryCapture(path)
    ran = 0
    with never_blocks():
        for _ in range(3):
            with TelemetryContext("special.context", caller="x", telemetry=telemetry) as ctx:
                ran += 1
            assert ctx.entry is None
        with (
            pytest.raises(KeyError),
            TelemetryContext("special.context", caller="x", telemetry=telemetry),
        ):
            raise KeyError("the host's own")
    assert ran == 3
    [warning] = telemetry_warnings(caplog)
    assert f"{description}, {NOT_REGULAR}" in warning
    assert_unchanged(path)


# -- the CLI ---------------------------------------------------------------------------------

CLI_COMMANDS = {
    "capture": ["capture", "s", "success", "1", "CLI"],
    "bare-capture": ["s", "success", "1", "CLI", '{"k": "v"}'],
    "query": ["query"],
    "query-json": ["query", "--json", "--all"],
    "stats": ["stats"],
    "tail": ["tail", "-n", "3"],
    "tail-f": ["tail", "-f"],
    "trace": ["trace", "--last"],
}


def assert_cli_refused(
    result: subprocess.CompletedProcess[str], command: str, path: Path, description: str
) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"Error: {path}: the path is {description}, {NOT_REGULAR}")
    assert result.stderr.count("\n") == 1
    outcome = NOT_RECORDED if "capture" in command else NOTHING_READ
    assert result.stderr.rstrip("\n").endswith(outcome)
    assert_unchanged(path)


@pytest.mark.parametrize("command", list(CLI_COMMANDS))
def test_cli_prints_one_error_naming_the_path_and_exits_1(
    special: tuple[Path, str], command: str, cli_here: CliHere
) -> None:
    path, description = special
    with never_blocks():
        result = cli_here(*CLI_COMMANDS[command], "--file", str(path))
    assert_cli_refused(result, command, path, description)


@pytest.mark.parametrize("command", list(CLI_COMMANDS))
def test_cli_process_on_a_fifo_exits_1_at_once(
    tmp_path: Path, store_suffix: str, command: str
) -> None:
    # The one special file that would block a process opening it: the real process too must
    # refuse it at once (were it to block, or to follow it, the timeout ends it).
    folder = tmp_path / "special"
    folder.mkdir()
    path = make_fifo(folder, store_suffix)
    args = [*CLI_COMMANDS[command], "--file", str(path)]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "betty_telemetry", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"betty-telemetry {' '.join(args)} blocked")
    assert_cli_refused(result, command, path, SPECIAL_FILES["fifo"][0])


def test_cli_where_still_names_a_special_file(tmp_path: Path) -> None:
    # `where` only resolves the path: it opens nothing, so it cannot block either.
    result = run_cli("where", "--file", str(make_fifo(tmp_path, ".json")))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == str(tmp_path / "telemetry.json")


def test_a_regular_file_is_still_read_and_written(telemetry_path: Path) -> None:
    with never_blocks():
        entry = TelemetryCapture(telemetry_path).capture("s", "success", 1.0, "c")
        assert TelemetryCapture(telemetry_path).query() == [entry]
