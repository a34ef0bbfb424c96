"""Faults of the file system and of other processes, through every interface (issue 5, item 3).

Each fault must give a clear error from ``TelemetryCapture.capture`` and the CLI, a pass-through
and one warning from the decorator and the context manager, leave the entries recorded earlier
intact, and stop mattering once it is removed (under a stuck lock, the decorator's and context
manager's entries wait in a queue and are written then, in order). The faults:

- ``file-size-limit``: RLIMIT_FSIZE just above the file's size, an entry bigger than the room.
- ``read-only-folder``: the file does not exist yet and its folder is 0o500.
- ``read-only-file``: the file holds entries and is 0o400.
- ``path-is-a-folder`` and ``parent-is-a-file``: the path cannot be a file.
- ``stuck-lock``: another process holds the store's exclusive lock (the file's ``flock``, a
  SQLite database's exclusive transaction) and never lets go.

Every fault is made, exercised and removed inside one child process (the ``HARNESS`` script),
which reports what it saw as JSON. Tests and CI run as root, which ignores permission bits, so
the permission faults run in a child without capabilities (util-linux ``setpriv``) that first
checks that writing really is refused there.

Every fault is made on every store.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import LockTimeoutError, TelemetryCapture
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT
from tests.conftest import run_cli, run_python
from tests.lock_holder import HOLDER, start_holder
from tests.stores import kind_of, stored_entries

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]

SETPRIV = shutil.which("setpriv")
DROP_CAPABILITIES = [
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--ambient-caps=-all",
]
NEEDS_SETPRIV = pytest.mark.skipif(
    SETPRIV is None,
    reason="util-linux setpriv is missing: permission faults cannot be made while running as "
    "root without it (root ignores permission bits)",
)

LOCK_TIMEOUT = 0.3
LOCK_ENV = {"BETTY_TELEMETRY_LOCK_TIMEOUT": str(LOCK_TIMEOUT)}
SLOW_LIMIT = 5.0  # "well before": a capture stuck on the lock would take the 10 s default

# Written out from the requirement, not imported from the library.
NOT_RECORDED = "the entry was not recorded, and nothing else was changed"
NOTHING_READ = "nothing was read"
NO_PERMISSION = (
    "this process lacks permission on the file or one of its folders: check their permissions",
    "or choose another file (telemetry_file=..., --file, BETTY_TELEMETRY_FILE)",
)
LOCK_HINTS = ("stayed locked", "lock_timeout", "BETTY_TELEMETRY_LOCK_TIMEOUT")
BLOCKER_TEXT = "a regular file\n"

HARNESS = (
    f"HOLDER = {HOLDER!r}\n"
    + r'''
import builtins, json, logging, os, resource, runpy, shutil, subprocess, sys, tempfile

import betty_telemetry
from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry

# One fault, made, exercised and removed once per scenario: a mode on a path of its own.
fault, expected_name, scenarios = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
expected = getattr(betty_telemetry, expected_name, None) or getattr(builtins, expected_name)
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
big = {"pad": "x" * 500}  # far bigger than the 100 bytes the size limit leaves
mode = path = folder = report = holder = telemetry = work = None


class Keep(logging.Handler):
    def emit(self, record):
        report["warnings"].append([record.name, record.levelname, record.getMessage()])


logging.getLogger("betty_telemetry").addHandler(Keep())


def refused(attempt):
    """The control: True if this process really is refused (no root override)."""
    try:
        attempt()
    except PermissionError:
        return True
    return False


def apply_fault():
    global holder
    if fault == "file-size-limit":
        # Soft limit only, lifted again in remove_fault: coverage writes its data at exit.
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 100, hard))
    elif fault == "read-only-folder":
        os.makedirs(folder)
        os.chmod(folder, 0o500)
        report["control"] = refused(lambda: open(os.path.join(folder, "probe"), "xb").close())
    elif fault == "read-only-file":
        os.chmod(path, 0o400)
        report["control"] = refused(lambda: open(path, "r+b").close())
    elif fault == "unreadable-file":
        os.chmod(path, 0o200)
        report["control"] = refused(lambda: open(path, "rb").close())
    elif fault == "path-is-a-folder":
        os.makedirs(os.path.join(path, "inside"))
    elif fault == "parent-is-a-file":
        with open(folder, "x") as blocker:
            blocker.write("a regular file\n")
    elif fault == "stuck-lock":
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline() == "locked\n"
    else:
        raise AssertionError(f"unknown fault {fault}")


def remove_fault():
    if fault == "file-size-limit":
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    elif fault == "read-only-folder":
        os.chmod(folder, 0o700)
    elif fault in ("read-only-file", "unreadable-file"):
        os.chmod(path, 0o600)
    elif fault == "path-is-a-folder":
        shutil.rmtree(path)
    elif fault == "parent-is-a-file":
        os.remove(folder)
    elif fault == "stuck-lock":
        holder.stdin.close()
        holder.wait()


def state():
    """What the path looks like now (taken while the fault is still there)."""
    if os.path.isfile(folder):
        with open(folder) as blocker:
            return {"blocker": blocker.read()}
    if os.path.isdir(path):
        return {"folder": sorted(os.listdir(path))}
    if os.path.exists(path):
        # Read by another process: closing a descriptor of a SQLite database here would drop
        # every POSIX lock this process holds on it, SQLite's own (the lock holder, exiting,
        # would then take itself for the last user and delete the write-ahead log).
        content = subprocess.run(["cat", path], capture_output=True, check=True).stdout
        return {"file": content.decode("latin-1")}  # any store's bytes, one to one
    return {"missing": sorted(os.listdir(folder))}


def describe(error):
    return {
        "type": type(error).__name__,
        "errno": error.errno,
        "filename": error.filename,
        "strerror": error.strerror,
        "message": str(error),
    }


sentinel, boom = object(), RuntimeError("the host's own failure")


def decorated():
    @capture_telemetry(skill_name="faults.decorated", telemetry=telemetry, capture_inputs=True)
    def work(pad, fail=False):
        if fail:
            raise boom
        return sentinel

    return work


def in_context(fail=False):
    result = None
    with TelemetryContext("faults.context", caller="x", inputs=big, telemetry=telemetry) as ctx:
        if fail:
            raise boom
        result = sentinel
    # The block's result, and whether an entry was recorded (or queued, under a stuck lock).
    return [result is sentinel, ctx.entry is not None]


def run_cli(*args):
    """The CLI as its process would run it (``python -m betty_telemetry``): its exit code and
    what it wrote to its stdout and stderr (pipes: a file could meet the size limit)."""
    sys.argv = ["betty-telemetry", *args]
    pipes = [os.pipe() for _ in range(2)]
    kept = [os.dup(1), os.dup(2)]
    for fd, (_, end) in zip((1, 2), pipes):
        os.dup2(end, fd)
        os.close(end)
    try:
        runpy.run_module("betty_telemetry", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exited:
        code = exited.code
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, old in zip((1, 2), kept):
            os.dup2(old, fd)
            os.close(old)
    out, err = (os.fdopen(read, encoding="utf-8").read() for read, _ in pipes)
    report["cli"] = {"code": code, "stdout": out, "stderr": err}


def exercise():
    if mode == "api":
        try:
            telemetry.capture("faults.api", "success", 1.0, "test", big)
        except expected as error:  # `except PermissionError` (etc.) still catches it
            report["error"] = describe(error)
    elif mode == "query":
        try:
            telemetry.query()
        except expected as error:
            report["error"] = describe(error)
    elif mode == "decorator":
        report["returned"] = [work("x" * 500) is sentinel for _ in range(2)]
        try:
            work("x" * 500, fail=True)
        except RuntimeError as error:
            report["raised"] = error is boom
    elif mode == "context":
        report["returned"] = [in_context() for _ in range(2)]
        try:
            in_context(fail=True)
        except RuntimeError as error:
            report["raised"] = error is boom
    elif mode == "cli":
        run_cli("faults.cli", "success", "1", "test", json.dumps(big), "--file", path)
    elif mode == "cli-query":
        run_cli("query", "--file", path)


def recover():
    """Once the fault is removed, the same interface, with the same capture, works again."""
    if mode == "api":
        report["recovered"] = telemetry.capture("faults.api", "success", 2.0, "test")
    elif mode == "query":
        report["recovered"] = telemetry.query()
    elif mode == "decorator":
        report["recovered"] = work("y") is sentinel
    elif mode == "context":
        with TelemetryContext("faults.context", caller="x", telemetry=telemetry) as ctx:
            pass
        report["recovered"] = ctx.entry


for mode, path in scenarios:
    folder = os.path.dirname(path)
    report = {"mode": mode, "control": None, "warnings": []}
    telemetry = TelemetryCapture(path, lock_timeout=0.3)
    work = decorated()
    apply_fault()
    try:
        exercise()
    finally:
        if mode not in ("query", "cli-query"):
            report["during"] = state()
        remove_fault()
    recover()
    telemetry.close()  # what the end of a process would do: entries still queued are written
    print(json.dumps(report), flush=True)
'''
)


@dataclass(frozen=True)
class Fault:
    error: str
    """The exception's class name; the child catches it with ``except <that class>``."""
    errno: int | None
    hints: tuple[str, ...]
    """What the message must say the fault means (besides the path and the outcome)."""
    seeded: bool
    """The file holds earlier entries before the fault."""
    during: dict[str, Any] | None = None
    """How the path looks under the fault, when there is no file to compare."""
    capless: bool = False
    """Made by permission bits: the child runs without capabilities."""
    queued: bool = False
    """The decorator's and context manager's entries made under the fault wait in a queue and
    are written once it is removed, in order (a stuck lock), instead of being lost."""
    stores: tuple[str, ...] = ()
    """The stores the fault means something for, if not every store; ``elsewhere`` says why."""
    elsewhere: str = ""


FAULTS = {
    "file-size-limit": Fault(
        "OSError",
        errno.EFBIG,
        ("file size limit",),
        seeded=True,
        stores=("json", "jsonl"),
        elsewhere="a limit just above the data file's size leaves SQLite room: it writes to its "
        "write-ahead log, a file of its own, first",
    ),
    "read-only-folder": Fault(
        "PermissionError",
        errno.EACCES,
        NO_PERMISSION,
        seeded=False,
        during={"missing": []},
        capless=True,
    ),
    "read-only-file": Fault(
        "PermissionError", errno.EACCES, NO_PERMISSION, seeded=True, capless=True
    ),
    "path-is-a-folder": Fault(
        "IsADirectoryError",
        errno.EISDIR,
        ("the path is a folder",),
        seeded=False,
        during={"folder": ["inside"]},
    ),
    "parent-is-a-file": Fault(
        "NotADirectoryError",
        errno.ENOTDIR,
        ("a part of the path that should be a folder is a file",),
        seeded=False,
        during={"blocker": BLOCKER_TEXT},
    ),
    "stuck-lock": Fault("LockTimeoutError", None, LOCK_HINTS, seeded=True, queued=True),
}
READ_FAULTS = {
    "path-is-a-folder": FAULTS["path-is-a-folder"],
    "unreadable-file": Fault(
        "PermissionError", errno.EACCES, NO_PERMISSION, seeded=True, capless=True
    ),
}


def fault_params(faults: dict[str, Fault]) -> list[Any]:
    return [
        pytest.param(name, marks=[NEEDS_SETPRIV] if fault.capless else [], id=name)
        for name, fault in faults.items()
    ]


WRITE_FAULT_NAMES = fault_params(FAULTS)
READ_FAULT_NAMES = fault_params(READ_FAULTS)


@dataclass(frozen=True)
class Outcome:
    """One harness run: the fault made, one interface exercised, the fault removed."""

    fault: Fault
    path: Path
    earlier: list[Entry]
    before: bytes | None
    process: subprocess.CompletedProcess[str]
    report: dict[str, Any]


def seed(path: Path, count: int = 3) -> list[Entry]:
    """Record ``count`` entries in ``path``; returns them as recorded."""
    telemetry = TelemetryCapture(path)
    try:
        return [
            telemetry.capture(f"earlier.{n}", "success", float(n), "test", {"n": n})
            for n in range(count)
        ]
    finally:
        telemetry.close()


def entries_in(path: Path) -> list[Entry]:
    """The store's entries, oldest first, the whole store checked (see ``stored_entries``)."""
    return stored_entries(path)


def entries_held_in(content: bytes, path: Path, scratch: Path) -> list[Entry]:
    """The entries ``content``, a copy of the store at ``path``, holds (read from a scratch
    copy with the same extension)."""
    copy = scratch / f"copy{path.suffix}"
    copy.write_bytes(content)
    return stored_entries(copy)


WRITE_MODES = ("api", "cli", "decorator", "context")
READ_MODES = ("query", "cli-query")


class FaultRuns:
    """The harness's outcomes, each fault run once per store (in one child, every mode on a
    path of its own) the first time a test asks for one of its modes: a child costs far
    more than the scenarios it runs, and the tests of one mode check the same outcome."""

    def __init__(self, folders: pytest.TempPathFactory) -> None:
        self._folders = folders
        self._outcomes: dict[tuple[str, str, str], Outcome] = {}

    def exercise(self, name: str, mode: str, suffix: str) -> Outcome:
        """Fault ``name`` through interface ``mode`` on a file of the store ``suffix`` picks."""
        fault = {**FAULTS, **READ_FAULTS}[name]
        kind = kind_of(f"telemetry{suffix}")
        if fault.stores and kind not in fault.stores:
            pytest.skip(f"{name} is no fault of the {kind} store: {fault.elsewhere}")
        if (name, mode, suffix) not in self._outcomes:
            modes = READ_MODES if mode in READ_MODES else WRITE_MODES
            self._run(name, fault, modes, suffix)
        return self._outcomes[name, mode, suffix]

    def _run(self, name: str, fault: Fault, modes: tuple[str, ...], suffix: str) -> None:
        top = self._folders.mktemp(f"{name}-{suffix.lstrip('.')}")
        paths = {mode: top / mode / "registry" / f"telemetry{suffix}" for mode in modes}
        for mode in modes:
            (top / mode).mkdir()  # as a test's own folder: where the fault's folder goes
        earlier = {mode: seed(path) if fault.seeded else [] for mode, path in paths.items()}
        before = {mode: path.read_bytes() if fault.seeded else None for mode, path in paths.items()}
        launcher = [SETPRIV, *DROP_CAPABILITIES] if fault.capless and SETPRIV else []
        scenarios = json.dumps([[mode, str(path)] for mode, path in paths.items()])
        process = subprocess.run(
            [*launcher, sys.executable, "-c", HARNESS, name, fault.error, scenarios],
            capture_output=True,
            text=True,
            env={**os.environ, **LOCK_ENV},  # the CLI reads its lock timeout from here
            timeout=120,
        )
        reports = {
            report["mode"]: report for report in map(json.loads, process.stdout.splitlines())
        }
        for mode, path in paths.items():
            assert mode in reports, f"no report (exit {process.returncode}):\n{process.stderr}"
            report = reports[mode]
            if fault.capless:
                assert report["control"] is True, "the child could write: the fault would not bite"
            ran = process
            if "cli" in report:  # what the CLI's own process would have: its code and output
                cli = report["cli"]
                ran = subprocess.CompletedProcess(mode, cli["code"], cli["stdout"], cli["stderr"])
            outcome = Outcome(fault, path, earlier[mode], before[mode], ran, report)
            self._outcomes[name, mode, suffix] = outcome


@pytest.fixture(scope="session")
def faults(tmp_path_factory: pytest.TempPathFactory) -> FaultRuns:
    return FaultRuns(tmp_path_factory)


def assert_explained(error: dict[str, Any], fault: Fault, path: Path, outcome: str) -> None:
    """Same type and errno as the OS gave, with the path, the meaning and the outcome."""
    assert error["type"] == fault.error
    assert error["errno"] == fault.errno
    assert str(path) in error["message"]
    for hint in fault.hints:
        assert hint in error["message"]
    assert outcome in error["message"]
    if fault.errno is not None:
        assert error["filename"] == str(path)
        assert error["strerror"].endswith(outcome)


def assert_left_intact(outcome: Outcome, scratch: Path) -> None:
    """Under the fault the file was byte-identical, or a sound store of the earlier entries
    (a valid array, for the JSON array); with no file, the path was left as the fault made
    it."""
    during = outcome.report["during"]
    if outcome.before is None:
        assert during == outcome.fault.during
        return
    content = during["file"].encode("latin-1")
    if content != outcome.before:
        assert entries_held_in(content, outcome.path, scratch) == outcome.earlier


def assert_one_warning(outcome: Outcome) -> None:
    warnings = outcome.report["warnings"]
    assert len(warnings) == 1, warnings
    logger, level, message = warnings[0]
    assert (logger, level) == ("betty_telemetry", "WARNING")
    assert outcome.fault.error in message
    assert str(outcome.path) in message
    for hint in outcome.fault.hints:
        assert hint in message


# -- the programmatic API --------------------------------------------------------------------


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_capture_raises_an_explained_error_of_the_os_error_type(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "api", store_suffix)
    assert outcome.process.returncode == 0, outcome.process.stderr
    assert_explained(outcome.report["error"], outcome.fault, outcome.path, NOT_RECORDED)


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_capture_raises_without_logging_a_warning(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "api", store_suffix)
    assert "error" in outcome.report
    assert outcome.report["warnings"] == []


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_capture_failure_leaves_the_earlier_entries_intact(
    fault: str, faults: FaultRuns, store_suffix: str, tmp_path: Path
) -> None:
    assert_left_intact(faults.exercise(fault, "api", store_suffix), tmp_path)


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_the_same_capture_records_again_once_the_fault_is_removed(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "api", store_suffix)
    recovered = outcome.report["recovered"]
    assert recovered["skill"] == "faults.api"
    assert entries_in(outcome.path) == [*outcome.earlier, recovered]


# -- the CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_cli_capture_prints_one_error_naming_the_path_and_exits_1(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "cli", store_suffix)
    stderr = outcome.process.stderr
    assert outcome.process.returncode == 1, stderr
    assert outcome.process.stdout == ""  # no entry printed
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1
    if outcome.fault.errno is None:
        assert stderr.startswith(f"Error: {outcome.path} ")
    else:
        assert stderr.startswith(f"Error: {outcome.path}: ")
    for hint in outcome.fault.hints:
        assert hint in stderr
    assert NOT_RECORDED in stderr


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_cli_capture_failure_leaves_the_earlier_entries_intact(
    fault: str, faults: FaultRuns, store_suffix: str, tmp_path: Path
) -> None:
    assert_left_intact(faults.exercise(fault, "cli", store_suffix), tmp_path)


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_cli_capture_records_again_once_the_fault_is_removed(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "cli", store_suffix)
    result = run_cli("faults.cli", "success", "2", "test", "--file", str(outcome.path))
    assert result.returncode == 0, result.stderr
    entries = entries_in(outcome.path)
    assert entries[:-1] == outcome.earlier
    assert (entries[-1]["skill"], entries[-1]["duration_ms"]) == ("faults.cli", 2.0)


# -- the decorator ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_decorated_function_returns_and_raises_unchanged_under_the_fault(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "decorator", store_suffix)
    assert outcome.process.returncode == 0, outcome.process.stderr
    assert outcome.report["returned"] == [True, True]  # the same object, by identity
    assert outcome.report["raised"] is True  # the host's own exception, by identity


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_decorator_logs_one_warning_over_several_failed_calls(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    assert_one_warning(faults.exercise(fault, "decorator", store_suffix))


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_decorator_failures_leave_the_earlier_entries_intact(
    fault: str, faults: FaultRuns, store_suffix: str, tmp_path: Path
) -> None:
    assert_left_intact(faults.exercise(fault, "decorator", store_suffix), tmp_path)


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_decorator_records_again_once_the_fault_is_removed(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "decorator", store_suffix)
    assert outcome.report["recovered"] is True
    entries = entries_in(outcome.path)
    earlier = len(outcome.earlier)
    assert entries[:earlier] == outcome.earlier
    during = entries[earlier:-1]
    if outcome.fault.queued:  # the three calls made under the fault, in order
        assert [(e["skill"], e["status"]) for e in during] == [
            ("faults.decorated", "success"),
            ("faults.decorated", "success"),
            ("faults.decorated", "error"),
        ]
        assert [e["inputs"]["fail"] for e in during] == [False, False, True]
    else:
        assert during == []
    assert (entries[-1]["skill"], entries[-1]["status"]) == ("faults.decorated", "success")
    assert entries[-1]["inputs"] == {"pad": "y", "fail": False}


# -- the context manager ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_context_block_result_and_exception_pass_through_under_the_fault(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "context", store_suffix)
    assert outcome.process.returncode == 0, outcome.process.stderr
    # The block's result, by identity; no entry, but under a stuck lock the one queued.
    recorded = outcome.fault.queued
    assert outcome.report["returned"] == [[True, recorded], [True, recorded]]
    assert outcome.report["raised"] is True


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_context_logs_one_warning_over_several_failed_blocks(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    assert_one_warning(faults.exercise(fault, "context", store_suffix))


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_context_failures_leave_the_earlier_entries_intact(
    fault: str, faults: FaultRuns, store_suffix: str, tmp_path: Path
) -> None:
    assert_left_intact(faults.exercise(fault, "context", store_suffix), tmp_path)


@pytest.mark.parametrize("fault", WRITE_FAULT_NAMES)
def test_context_records_again_once_the_fault_is_removed(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "context", store_suffix)
    recovered = outcome.report["recovered"]
    assert (recovered["skill"], recovered["caller"]) == ("faults.context", "x")
    entries = entries_in(outcome.path)
    earlier = len(outcome.earlier)
    assert entries[:earlier] == outcome.earlier
    assert entries[-1] == recovered
    during = entries[earlier:-1]
    if outcome.fault.queued:  # the three blocks run under the fault, in order
        assert [(e["skill"], e["status"]) for e in during] == [
            ("faults.context", "success"),
            ("faults.context", "success"),
            ("faults.context", "error"),
        ]
    else:
        assert during == []


# -- reads of a file that cannot be read -----------------------------------------------------


@pytest.mark.parametrize("fault", READ_FAULT_NAMES)
def test_query_raises_an_explained_error_ending_nothing_was_read(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "query", store_suffix)
    assert outcome.process.returncode == 0, outcome.process.stderr
    assert_explained(outcome.report["error"], outcome.fault, outcome.path, NOTHING_READ)
    assert outcome.report["error"]["strerror"].endswith(NOTHING_READ)


@pytest.mark.parametrize("fault", READ_FAULT_NAMES)
def test_query_reads_everything_again_once_the_fault_is_removed(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "query", store_suffix)
    assert outcome.report["recovered"] == outcome.earlier[::-1]  # newest first
    if outcome.before is not None:
        assert outcome.path.read_bytes() == outcome.before


@pytest.mark.parametrize("fault", READ_FAULT_NAMES)
def test_cli_query_prints_one_error_naming_the_path_and_exits_1(
    fault: str, faults: FaultRuns, store_suffix: str
) -> None:
    outcome = faults.exercise(fault, "cli-query", store_suffix)
    stderr = outcome.process.stderr
    assert outcome.process.returncode == 1, stderr
    assert outcome.process.stdout == ""
    assert "Traceback" not in stderr
    assert stderr.startswith(f"Error: {outcome.path}: ")
    for hint in outcome.fault.hints:
        assert hint in stderr
    assert stderr.endswith(f"{NOTHING_READ}\n")


# -- the lock: timeouts, readers, the setting ------------------------------------------------


@contextlib.contextmanager
def stuck_writer(path: Path) -> Iterator[None]:
    """Another process holds ``path``'s exclusive lock until the block ends."""
    holder = start_holder(path)
    assert holder.stdin is not None
    try:
        yield
    finally:
        holder.stdin.close()  # it exits at the end of its input, releasing the lock
        try:
            holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def assert_lock_message(message: str, path: Path) -> None:
    assert str(path) in message
    for hint in LOCK_HINTS:
        assert hint in message


def test_capture_waits_lock_timeout_then_raises_lock_timeout_error(telemetry_path: Path) -> None:
    seed(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path, lock_timeout=LOCK_TIMEOUT)
    with stuck_writer(telemetry_path):
        started = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            telemetry.capture("late", "success", 1, "test")
        elapsed = time.monotonic() - started
    assert type(caught.value) is LockTimeoutError
    assert LOCK_TIMEOUT <= elapsed < SLOW_LIMIT
    assert_lock_message(str(caught.value), telemetry_path)


READERS_WAIT_FOR_WRITERS = ("json",)
"""Stores whose readers take the lock a writer holds (the JSON array's shared flock); the JSON
Lines store's readers take none (appends change no byte before the end), nor do SQLite's (a
write-ahead log)."""


def test_query_waits_lock_timeout_while_a_writer_holds_the_lock(
    telemetry_path: Path, store_kind: str
) -> None:
    earlier = seed(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path, lock_timeout=LOCK_TIMEOUT)
    with stuck_writer(telemetry_path):
        started = time.monotonic()
        if store_kind not in READERS_WAIT_FOR_WRITERS:  # the reader does not wait at all
            assert telemetry.query() == earlier[::-1]
            assert time.monotonic() - started < LOCK_TIMEOUT
            return
        with pytest.raises(LockTimeoutError) as caught:
            telemetry.query()
        elapsed = time.monotonic() - started
    assert LOCK_TIMEOUT <= elapsed < SLOW_LIMIT
    assert_lock_message(str(caught.value), telemetry_path)
    assert "could not be read" in str(caught.value)


def run_cli_timed(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = run_cli(*args, env=LOCK_ENV)
    return result, time.monotonic() - started


def test_cli_capture_honours_the_lock_timeout_variable(telemetry_path: Path) -> None:
    seed(telemetry_path)
    before = telemetry_path.read_bytes()
    with stuck_writer(telemetry_path):
        result, elapsed = run_cli_timed(
            "late", "success", "1", "test", "--file", str(telemetry_path)
        )
    assert result.returncode == 1
    assert LOCK_TIMEOUT <= elapsed < SLOW_LIMIT
    assert result.stderr.startswith(f"Error: {telemetry_path} stayed locked")
    assert "Traceback" not in result.stderr
    assert_lock_message(result.stderr, telemetry_path)
    assert telemetry_path.read_bytes() == before


def test_cli_query_honours_the_lock_timeout_variable(telemetry_path: Path, store_kind: str) -> None:
    seed(telemetry_path)
    with stuck_writer(telemetry_path):
        result, elapsed = run_cli_timed("query", "--file", str(telemetry_path))
    if store_kind not in READERS_WAIT_FOR_WRITERS:  # the reader does not wait at all
        assert result.returncode == 0, result.stderr
        assert [
            row.split()[3] for row in result.stdout.splitlines()[1:]
        ] == [  # date, time, offset, skill
            "earlier.2",
            "earlier.1",
            "earlier.0",
        ]
        return
    assert result.returncode == 1
    assert LOCK_TIMEOUT <= elapsed < SLOW_LIMIT
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {telemetry_path} stayed locked")
    assert "Traceback" not in result.stderr
    assert_lock_message(result.stderr, telemetry_path)


def test_zero_lock_timeout_fails_at_once_when_the_file_is_locked(telemetry_path: Path) -> None:
    seed(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path, lock_timeout=0)
    with stuck_writer(telemetry_path):
        started = time.monotonic()
        with pytest.raises(LockTimeoutError):
            telemetry.capture("late", "success", 1, "test")
        elapsed = time.monotonic() - started
    assert elapsed < 0.2


def test_zero_lock_timeout_captures_when_the_lock_is_free(telemetry_path: Path) -> None:
    earlier = seed(telemetry_path)
    with stuck_writer(telemetry_path):
        pass  # a writer came and went
    entry = TelemetryCapture(telemetry_path, lock_timeout=0).capture("now", "success", 1, "test")
    assert entries_in(telemetry_path) == [*earlier, entry]


def test_the_default_lock_timeout_is_ten_seconds(telemetry_path: Path) -> None:
    assert DEFAULT_LOCK_TIMEOUT == 10.0
    assert TelemetryCapture(telemetry_path).lock_timeout == 10.0


def test_the_lock_timeout_variable_sets_the_timeout(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_LOCK_TIMEOUT", "0.3")
    assert TelemetryCapture(telemetry_path).lock_timeout == 0.3


@pytest.mark.parametrize("text", ["abc", "-1", "nan", "inf"])
def test_a_bad_lock_timeout_variable_is_a_value_error_naming_it(
    text: str, telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_LOCK_TIMEOUT", text)
    with pytest.raises(ValueError, match="BETTY_TELEMETRY_LOCK_TIMEOUT"):
        TelemetryCapture(telemetry_path)


@pytest.mark.parametrize(
    "value", ["1", -1, True, math.nan], ids=["text", "negative", "bool", "nan"]
)
def test_a_bad_lock_timeout_argument_is_a_value_error_naming_it(
    value: Any, telemetry_path: Path
) -> None:
    with pytest.raises(ValueError, match="lock_timeout"):
        TelemetryCapture(telemetry_path, lock_timeout=value)


def test_cli_reports_a_bad_lock_timeout_variable_without_a_traceback(
    telemetry_path: Path,
) -> None:
    env = {"BETTY_TELEMETRY_LOCK_TIMEOUT": "abc"}
    result = run_cli("s", "success", "1", "test", "--file", str(telemetry_path), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert "BETTY_TELEMETRY_LOCK_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not telemetry_path.exists()


# -- bugs --------------------------------------------------------------------------------------


def test_a_lock_timeout_error_is_not_its_own_cause(telemetry_path: Path) -> None:
    seed(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path, lock_timeout=0)
    with stuck_writer(telemetry_path), pytest.raises(LockTimeoutError) as caught:
        telemetry.capture("late", "success", 1, "test")
    assert caught.value.__cause__ is not caught.value


AT_LIMIT_SCRIPT = """
import resource, sys
from betty_telemetry import TelemetryCapture
path = sys.argv[1]
size = len(open(path, "rb").read())
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))  # no room left at all
try:
    TelemetryCapture(path).capture("over.limit", "success", 1, "test")
except OSError as error:
    raised = error.errno
finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
print("raised", raised)
"""


@pytest.mark.json_only("a compact JSON array at the size limit")
def test_a_compact_file_at_the_size_limit_stays_a_valid_array(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    earlier = [{"skill": "other.tool", "status": "success"}]
    path.write_text(json.dumps(earlier))  # compact: [{...}]
    result = run_python("-c", AT_LIMIT_SCRIPT, str(path))
    assert result.stdout == f"raised {errno.EFBIG}\n", result.stderr
    content = path.read_bytes()
    assert content.rstrip().endswith(b"]"), content
    assert json.loads(content) == earlier
