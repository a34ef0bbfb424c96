"""Checking and repairing stores: what each holds, and fixing what can be fixed.

Each store's format is walked by its own module (``json_array.inspect``,
``json_lines.inspect``, ``sqlite.inspect``) into pieces; ``collect`` makes them a report
(``report``, format-neutral: what the lifecycle functions and the CLI see), and ``rewrite``
a repaired file. Archives (``.json.gz``, ``.jsonl.gz``) can be checked too, not repaired:
a rotation writes them whole, from the store as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone

from betty_telemetry.stores._errors import NOT_READ, explained
from betty_telemetry.stores._file_store import FileStore
from betty_telemetry.stores._lock import lock, unlock
from betty_telemetry.stores._snapshot import FileRewritten, content_end, open_readonly
from betty_telemetry.stores.archived import archive_format_of
from betty_telemetry.stores.archives import stamp
from betty_telemetry.stores.base import Store
from betty_telemetry.stores.checking.collect import Collector
from betty_telemetry.stores.checking.report import CheckReport, RepairReport
from betty_telemetry.stores.checking.rewrite import Walk, rewrite_locked, walk_report
from betty_telemetry.stores.checking.views import FrozenView, HeldView, Settled
from betty_telemetry.stores.json_array.inspect import walk_array
from betty_telemetry.stores.json_array.store import JsonArrayStore
from betty_telemetry.stores.json_lines.inspect import walk_lines
from betty_telemetry.stores.json_lines.lines import last_line_start
from betty_telemetry.stores.json_lines.store import JsonLinesStore
from betty_telemetry.stores.sqlite.connect import file_status
from betty_telemetry.stores.sqlite.inspect import walk_database
from betty_telemetry.stores.sqlite.store import SqliteStore

__all__ = ["check_archive", "check_store", "repair_store"]

_FILE_STORES: dict[type[FileStore], tuple[Walk, Settled, str]] = {
    JsonArrayStore: (walk_array, content_end, "JSON array"),
    JsonLinesStore: (walk_lines, last_line_start, "JSON Lines"),
}
_ARCHIVES: dict[str, tuple[Walk, str]] = {  # by the format inside (archive_format_of)
    "json": (walk_array, "JSON array archive (gzip)"),
    "jsonl": (walk_lines, "JSON Lines archive (gzip)"),
}
_NOTHING = "no telemetry file here: nothing was captured there yet"


def check_store(store: Store) -> CheckReport:
    """Check the store (see ``CheckReport``): reads it as a reader does, holding writers up
    no longer than a block read. FileNotFoundError if it has no file."""
    if isinstance(store, SqliteStore):
        if file_status(store.path, NOT_READ) is None:
            raise _missing(store.path)
        collector = Collector(store.path, "SQLite database", unit="row", repairs=False)
        for _ in collector.watch(walk_database(store.path, store.lock_timeout)):
            pass
        return collector.report()
    file_store, walk, settled, name = _file_store(store)
    path, lock_timeout = file_store.path, file_store.lock_timeout
    fd = open_readonly(path)
    if fd is None:
        raise _missing(path)
    try:
        try:
            return walk_report(FrozenView(fd, path, lock_timeout, settled), walk, path, name)
        except FileRewritten:  # rewritten in place meanwhile: read it again, holding it
            lock(fd, fcntl.LOCK_SH, lock_timeout, path, "it could not be checked")
            try:
                return walk_report(HeldView(fd), walk, path, name)
            finally:
                unlock(fd)
    finally:
        os.close(fd)


def check_archive(location: str) -> CheckReport:
    """Check an archive: decompressed into a temporary file, then walked as its store."""
    format_name = archive_format_of(location)
    if format_name is None:
        raise ValueError(f"{location} is not named as an archive (.json.gz, .jsonl.gz)")
    walk, name = _ARCHIVES[format_name]
    with _decompressed(location) as fd:
        return walk_report(HeldView(fd), walk, location, name, repairs=False)


def repair_store(store: Store, now: datetime | None = None) -> RepairReport:
    """Repair what can be repaired in the store (see ``rewrite``), after a backup."""
    if isinstance(store, SqliteStore):
        return _sqlite_repair(check_store(store))
    file_store, walk, _, name = _file_store(store)
    path = file_store.path
    if not os.path.lexists(path):
        raise _missing(path)
    moment = stamp(now or datetime.now(timezone.utc))
    with file_store.replacing("nothing was repaired, and nothing else was changed") as fd:
        done = rewrite_locked(fd, path, walk, name, moment)
    before = done.before
    if done.after is None:
        if not before.parseable:
            message = f"{path} is left unchanged: {before.problems[0].message}"
        else:
            message = f"{path} needs no repair: nothing was changed"
        remaining = tuple(problem for problem in before.problems if not problem.repairable)
        return RepairReport(path, False, message, None, None, (), remaining, before.entries)
    fixed = tuple(problem for problem in before.problems if problem.repairable)
    message = f"Repaired {path}: every one of its {done.after.entries:,} entries was kept"
    return RepairReport(
        path,
        True,
        message,
        done.backup,
        done.side_file,
        fixed,
        done.after.problems,
        done.after.entries,
    )


def _sqlite_repair(report: CheckReport) -> RepairReport:
    if report.clean:
        message = f"{report.path} needs no repair: nothing was changed"
    else:
        message = (
            f"{report.path} is left unchanged: a SQLite database is not repaired in place. "
            "Copy what can be read into a new store (betty-telemetry convert, or sqlite3's "
            ".recover), check it, then put it in place of this one while no process has it open"
        )
    return RepairReport(
        report.path, False, message, None, None, (), report.problems, report.entries, unit="row"
    )


def _file_store(store: Store) -> tuple[FileStore, Walk, Settled, str]:
    for kind, (walk, settled, name) in _FILE_STORES.items():
        if isinstance(store, kind):
            return store, walk, settled, name
    raise ValueError(
        f"{type(store).__name__} keeps no file, so there is nothing to check or repair"
    )


def _missing(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, _NOTHING, path)


@contextlib.contextmanager
def _decompressed(location: str) -> Iterator[int]:
    source = open_readonly(location)
    if source is None:
        raise _missing(location)
    os.close(source)  # a regular file: opened again by gzip
    with tempfile.TemporaryFile() as target:
        try:
            with gzip.open(location, "rb") as archive:
                shutil.copyfileobj(archive, target, 1 << 20)
        except (OSError, EOFError) as error:
            if isinstance(error, OSError) and error.errno is not None:
                raise explained(error, location, NOT_READ) from error
            raise ValueError(
                f"{location} is not a whole gzip archive ({error}): it cannot be checked"
            ) from None
        target.flush()
        yield target.fileno()
