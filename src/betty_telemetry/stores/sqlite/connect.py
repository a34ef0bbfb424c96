"""Opening the database file, and what SQLite's errors mean for the telemetry file.

The file is created by us, not by SQLite: readable by its owner only, its folders made, a
FIFO or a folder refused before SQLite opens it (a FIFO would block it for ever). Every
connection waits ``lock_timeout`` for a lock (``busy_timeout``) and syncs as the store's
durability says. SQLite's errors become the library's: LockTimeoutError, CorruptStoreError,
or an OSError that says what to do (``_errors.explained``); none of them quotes the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator

from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores._errors import CorruptStoreError, explained, not_a_regular_file
from betty_telemetry.stores._files import (
    TEMPORARY_PREFIX,
    TEMPORARY_SUFFIX,
    fsync_folder,
    missing_folders,
)
from betty_telemetry.stores._lock import LockTimeoutError
from betty_telemetry.stores.sqlite.where import add_functions

EXPECTED = "a SQLite database"  # CorruptStoreError adds "of telemetry entries"

# SQLite's primary result codes (the low byte of an extended code).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
REOPEN_AFTER = frozenset({_READONLY})
"""Result codes after which a store drops its connection: SQLite keeps a file it opened
read-only so, even once the file may be written again."""
# Python 3.10 has no error codes on sqlite3's exceptions: SQLite's fixed messages say the same.
_BY_MESSAGE = {
    "database is locked": _BUSY,
    "database table is locked": _LOCKED,
    "attempt to write a readonly database": _READONLY,
    "disk I/O error": _IOERR,
    "database disk image is malformed": _CORRUPT,
    "database or disk is full": _FULL,
    "unable to open database file": _CANTOPEN,
    "file is not a database": _NOTADB,
}


def file_status(path: str, outcome: str) -> os.stat_result | None:
    """The status of the file at ``path``, None if there is none; a FIFO, a device or a
    folder raise the error that says so."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise explained(error, path, outcome) from error
    if stat.S_ISDIR(status.st_mode):
        folder = IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        raise explained(folder, path, outcome)
    if not stat.S_ISREG(status.st_mode):
        raise not_a_regular_file(path, status.st_mode, outcome)
    return status


def create_file(path: str, *, fsync: bool, outcome: str) -> None:
    """An empty file at ``path`` (SQLite makes it a database), 0600, its folders made; if
    another process created it meanwhile, theirs stays.

    Made under a temporary name and linked into place once closed: closing a descriptor of a
    file drops every POSIX lock the process holds on it, and another store of this process
    may already be setting up the file at the path.
    """
    folder = os.path.dirname(path)
    try:
        created = missing_folders(folder)
        if folder:
            os.makedirs(folder, exist_ok=True)
        try:
            fd, temporary = tempfile.mkstemp(
                prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=folder or "."
            )
        except OSError as error:  # name the file we meant to create, not the temporary one
            raise type(error)(error.errno, error.strerror, path) from None
        os.close(fd)  # mkstemp makes it 0600
        try:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):  # see remove_stale_temporaries
                os.unlink(temporary)
        if fsync:  # the file's name, and any folder made for it, must survive power loss
            for made in reversed(created):
                fsync_folder(os.path.dirname(made) or ".")
            fsync_folder(folder or ".")
    except OSError as error:
        raise explained(error, path, outcome) from error


def open_database(path: str, *, lock_timeout: float, fsync: bool) -> sqlite3.Connection:
    """A connection to the database at ``path`` (which exists), in autocommit mode: the
    store begins its transactions itself."""
    connection = sqlite3.connect(
        path,
        timeout=lock_timeout,
        isolation_level=None,
        check_same_thread=False,  # the store's lock serializes its threads
    )
    try:
        connection.execute(f"PRAGMA synchronous = {'FULL' if fsync else 'NORMAL'}")
        add_functions(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def open_read_only(path: str, *, lock_timeout: float, immutable: bool) -> sqlite3.Connection:
    """A read-only connection: one that can neither change the file nor, when it closes,
    checkpoint it or delete its -wal and -shm files.

    ``immutable`` is for a file in a folder where SQLite cannot make its -shm file: nobody can
    write to the database there, so it cannot change under the read (see ``cannot_share``).
    """
    options = "mode=ro&immutable=1" if immutable else "mode=ro"
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?{options}"
    connection = sqlite3.connect(
        uri, timeout=lock_timeout, isolation_level=None, check_same_thread=False, uri=True
    )
    add_functions(connection)
    return connection


apart = threading.Lock()
"""Held while a connection opened apart from the store's is open (``reading_apart``): a fork
waits for it (see forks.py)."""


@contextlib.contextmanager
def reading_apart(path: str, *, lock_timeout: float) -> Iterator[sqlite3.Connection]:
    """A read-only connection of its own, for a read that must not hold the store's
    connection (and so its writers) for long, or that outlives no poll: closed at the end.
    In a read-only folder, an immutable one (see ``open_read_only``)."""
    with apart:
        connection = open_read_only(path, lock_timeout=lock_timeout, immutable=False)
        try:
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError as error:
                if not cannot_share(error):
                    raise
                connection.close()
                connection = open_read_only(path, lock_timeout=lock_timeout, immutable=True)
            yield connection
        finally:
            connection.close()


def cannot_share(error: sqlite3.Error) -> bool:
    """Whether SQLite could not read a database because it cannot make its -shm file (the
    folder is read-only): an immutable read-only connection can read it then."""
    return error_code(error) in (_READONLY, _CANTOPEN)


def use_wal(connection: sqlite3.Connection, lock_timeout: float) -> None:
    """Write-ahead logging: readers never block the writer nor the writer them, and a commit
    appends to the log instead of rewriting pages. Kept in the file once set.

    Switching needs the database to itself, and SQLite does not wait for that (its busy
    timeout does not apply): when several processes set up a new database at once, all but
    one are refused at once. So this waits, up to ``lock_timeout``, as a write would.
    """
    deadline = time.monotonic() + lock_timeout
    pause = 0.001
    while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if error_code(error) not in (_BUSY, _LOCKED) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def match_side_files(path: str) -> None:
    """Give the database's -wal and -shm files the database's own permissions, where they are
    ours and have fewer: SQLite makes them with the database's mode of the moment, so a
    database read while it was read-only (0400) leaves a -shm that keeps it read-only for
    ever after the database itself is made writable again."""
    try:
        database = os.stat(path)
    except OSError:
        return
    for suffix in ("-wal", "-shm"):
        side = path + suffix
        with contextlib.suppress(OSError):
            status = os.stat(side)
            wanted = stat.S_IMODE(database.st_mode)
            if status.st_uid == os.getuid() and stat.S_IMODE(status.st_mode) & wanted != wanted:
                os.chmod(side, wanted)


def error_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code for ``error`` (by its message on older Pythons)."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    return _BY_MESSAGE.get(str(error))


def translate(error: sqlite3.Error, path: str, outcome: str, lock_timeout: float) -> Exception:
    """The library's error for what SQLite reported on ``path``: what it means and what to
    do, naming the file, with ``outcome`` (what did not happen)."""
    code = error_code(error)
    if code in (_BUSY, _LOCKED):
        return LockTimeoutError(path, lock_timeout, outcome)
    if code in (_NOTADB, _CORRUPT):
        found = "its data is damaged" if code == _CORRUPT else f"it starts with {_head(path)}"
        return CorruptStoreError(path, found, expected=EXPECTED)
    folder = os.path.dirname(path) or "."
    if code in (_READONLY, _CANTOPEN):
        # Name what refused us: the file when it exists and may not be used so, else the
        # folder (where SQLite could not create the file, or its -wal and -shm files).
        wanted = os.W_OK if code == _READONLY else os.R_OK | os.W_OK
        where = path if os.path.exists(path) and not os.access(path, wanted) else folder
        number = errno.EROFS if _read_only_file_system(folder) else errno.EACCES
        return explained(PermissionError(number, os.strerror(number), where), path, outcome)
    if code == _FULL:
        return explained(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path), path, outcome)
    return OSError(errno.EIO, f"SQLite reported an error on the file: {error}; {outcome}", path)


def _head(path: str) -> str:
    # Opened and closed: fine here, SQLite holds no lock on a file that is not a database.
    try:
        with open(path, "rb") as file:
            return kind_of(file.read(64))
    except OSError:
        return "something unreadable"


def _read_only_file_system(folder: str) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
