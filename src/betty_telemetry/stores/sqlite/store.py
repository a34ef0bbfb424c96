"""The SQLite store: entries in a SQLite database (``.db``, ``.sqlite``, ``.sqlite3``).

For stores that grow large and are read often: filters run as SQL over indexed columns, a
trace is one index lookup, and statistics come from totals kept as entries arrive. Writers in
many processes take turns through SQLite's own locking (write-ahead log: readers never wait
for them); a lock held longer than ``lock_timeout`` raises LockTimeoutError, nothing written.

One connection per store, opened on first use and shared by its threads under a lock, closed
before a fork (see forks.py) and opened again when next used.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Collection, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from betty_telemetry._config import logger
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.stats import compute_stats
from betty_telemetry.stores._errors import NOT_READ, NOT_RECORDED, CorruptStoreError
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT
from betty_telemetry.stores.archives import list_archives
from betty_telemetry.stores.auto_rotation import AutoRotation
from betty_telemetry.stores.base import Archive, Encoded, EntryFile, ProgressHook, Pruned
from betty_telemetry.stores.entry_files import EntryFiles, handed_over
from betty_telemetry.stores.sqlite import (
    entry_files,
    forks,
    queries,
    rollup,
    rotation,
    runs,
    summary,
)
from betty_telemetry.stores.sqlite.columns import row_of
from betty_telemetry.stores.sqlite.connect import (
    EXPECTED,
    REOPEN_AFTER,
    cannot_share,
    create_file,
    error_code,
    file_status,
    match_side_files,
    open_database,
    open_read_only,
    reading_apart,
    translate,
    use_wal,
)
from betty_telemetry.stores.sqlite.follow import SqliteFollower
from betty_telemetry.stores.sqlite.schema import (
    NotOurs,
    create_schema,
    has_schema,
)
from betty_telemetry.stores.sqlite.where import where_for

FIRST_PAGE = 64
"""Rows a scan reads first; pages grow to LARGEST_PAGE. A query for the last ten entries
reads a few dozen rows, a full scan reads thousands per lock."""
LARGEST_PAGE = 4096


_NOT_ROTATED = "Nothing was rotated"
_NOT_PRUNED = "Nothing was pruned"


class SqliteStore:
    """Entries in one SQLite database, safe for concurrent writers in many processes."""

    def __init__(
        self,
        path: str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        fsync: bool = False,
        max_bytes: int | None = None,
        max_entries: int | None = None,
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.fsync = fsync
        self.auto_rotation = AutoRotation.of(self, max_bytes=max_bytes, max_entries=max_entries)
        """Rotates the store once a write takes it past ``max_bytes`` or ``max_entries``."""
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # the file the connection is open on
        self._ready = False  # our tables exist in the file the connection is open on
        self._reopened = False  # the last write was refused as read-only (see _connect)
        forks.register(self)

    @property
    def location(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    # -- writing ---------------------------------------------------------------------------

    def write(self, batch: Sequence[Encoded]) -> None:
        """Store the batch in one transaction: all of it, or nothing."""
        if not batch:
            return
        rows = [row_of(encoded) for encoded in batch]
        replacing = runs.replacing(batch)
        with self._lock:
            try:
                connection = self._connection_for_writing()
                first, last = queries.insert(connection, rows, replacing)
            except sqlite3.Error as error:
                if error_code(error) in REOPEN_AFTER:
                    # SQLite opened a file it could not write read-only, and would keep it so:
                    # the next write opens it again, in case it has been made writable.
                    self._disconnect()
                    self._reopened = True
                raise translate(error, self.path, NOT_RECORDED, self.lock_timeout) from error
        if rollup.crosses_fold(first, last):
            self._fold()
        if self.auto_rotation is not None:
            self._wrote(first, last, rows)

    def _wrote(self, first: int, last: int, rows: list[tuple[Any, ...]]) -> None:
        """After a write: the check automatic rotation costs. Row ids count the entries (they
        start at 1 again after a rotation); the size is looked at every 32 rows."""
        assert self.auto_rotation is not None
        size = self.size() if (first - 1) // 32 != last // 32 else None
        batch_bytes = sum(len(row[0]) for row in rows)
        self.auto_rotation.after_write(size, last, batch_bytes, len(rows))

    def _fold(self) -> None:
        # The entries are stored: a fold that fails costs readers time, never an entry.
        with self._lock:
            try:
                connection = self._connection_for_writing()
                rollup.fold(connection)
            except (sqlite3.Error, OSError, ValueError, NotOurs) as error:
                logger.debug("betty_telemetry: could not fold %s: %s", self.path, error)

    def flush(self, timeout: float | None = None) -> bool:
        return True  # every write is committed (and synced, with fsync) when it returns

    # -- rotation --------------------------------------------------------------------------

    def size(self) -> int:
        """Bytes the entries take in the database: its pages in use, but for the first page
        and the root page of each table and index, which an empty store has too. (The file
        does not shrink when a rotation deletes the rows: freed pages are reused.)"""
        with self._lock, _sqlite_errors(self.path, NOT_READ, self.lock_timeout):
            connection = self._connection_for_reading()
            if connection is None:
                return 0
            (used,) = connection.execute(
                "SELECT (page_count - freelist_count - 1 - "
                "(SELECT count(*) FROM sqlite_master WHERE rootpage > 0)) * page_size "
                "FROM pragma_page_count, pragma_freelist_count, pragma_page_size"
            ).fetchone()
        return int(used)

    def archives(self) -> list[Archive]:
        """This store's archives, newest first (see ``stores.archives``)."""
        return list_archives(self.path, rotation.FORMAT_NAME)

    def rotate(self, progress: ProgressHook | None = None) -> str | None:
        """Move every row into a new compressed archive beside the database, in one
        transaction (see ``sqlite.rotation``); the archive's path, or None if it held none.
        ``progress`` is told how far the copy of the rows, then its compression, got."""
        if file_status(self.path, _NOT_ROTATED) is None:
            return None
        with self._lock:
            try:
                return rotation.rotate(self._connection_for_writing(), self.path, progress)
            except sqlite3.Error as error:
                raise translate(error, self.path, _NOT_ROTATED, self.lock_timeout) from error

    def prune(self, before: str) -> Pruned:
        """Move the rows stamped before ``before`` into a new compressed archive, in one
        transaction (see ``sqlite.rotation``)."""
        if file_status(self.path, _NOT_PRUNED) is None:
            return Pruned(None, 0, 0)
        with self._lock:
            try:
                archive, moved, kept = rotation.prune(
                    self._connection_for_writing(), self.path, before
                )
            except sqlite3.Error as error:
                raise translate(error, self.path, _NOT_PRUNED, self.lock_timeout) from error
        return Pruned(archive, moved, kept)

    def entry_files(self, *, archives: bool) -> AbstractContextManager[list[EntryFile]]:
        """The rows (and the archives') as JSON Lines files, taken in one moment (see
        ``sqlite.entry_files``): the rows copied, on a connection of their own."""

        def take(files: EntryFiles) -> None:
            with _sqlite_errors(self.path, NOT_READ, self.lock_timeout):
                entry_files.take(
                    files, self.path, archives=archives, lock_timeout=self.lock_timeout
                )

        return handed_over(take)

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    def hold_for_fork(self) -> None:
        """Before a fork: wait until no thread is inside SQLite, and close the connection
        (SQLite's rule: none may cross a fork); the lock stays held until ``after_fork``."""
        self._lock.acquire()
        self._disconnect()

    def after_fork(self, *, in_child: bool) -> None:
        if in_child:
            self._lock = threading.Lock()  # held by the parent's thread at the fork
        else:
            self._lock.release()

    # -- reading ---------------------------------------------------------------------------

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Entries that may match ``wanted`` (odd rows always do), read a page at a time by
        row id, each page under the lock and in a read transaction of its own: writers are
        never kept waiting, and entries stored meanwhile are not read."""
        return self._scan(wanted, newest_first, None)

    def scan_measured(
        self,
        wanted: EntryFilter,
        progress: ProgressHook | None,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """``scan``, telling ``progress`` how many row ids of the scan's range it went past."""
        return self._scan(wanted, newest_first, progress)

    def _scan(
        self, wanted: EntryFilter, newest_first: bool, progress: ProgressHook | None
    ) -> Generator[dict[str, Any], None, None]:
        where = where_for(wanted)
        with self._reading() as connection:
            if connection is None:
                return
            low, high = queries.id_bounds(connection, wanted)
        query = queries.page_query(wanted, where, newest_first)
        position = high + 1 if newest_first else low - 1
        size = FIRST_PAGE
        ids = max(high - low + 1, 0)
        while True:
            with self._reading() as connection:
                if connection is None:
                    return
                rows = connection.execute(
                    query, (position, low, high, *where.sound_params, size)
                ).fetchall()
            finished = len(rows) < size
            if progress is not None and ids:
                progress(
                    ids if finished else _ids_passed(rows[-1][0], low, high, newest_first), ids
                )
            for _, body in rows:
                yield json.loads(body)
            if finished:
                return
            position = rows[-1][0]
            size = min(size * 4, LARGEST_PAGE)

    def count(self, wanted: EntryFilter) -> int:
        with self._reading() as connection:
            return 0 if connection is None else queries.count(connection, wanted, where_for(wanted))

    def stats(self, wanted: EntryFilter, by: str, sort: str) -> list[dict[str, Any]]:
        """As ``compute_stats`` over the matching entries read newest first, exactly.

        On a connection of its own: statistics that stream every row take seconds, and must
        not keep this store's writers (the threads of this process) waiting meanwhile.
        """
        if file_status(self.path, NOT_READ) is None:
            return compute_stats((), by, sort)
        apart = reading_apart(self.path, lock_timeout=self.lock_timeout)
        with _sqlite_errors(self.path, NOT_READ, self.lock_timeout), apart as connection:
            if not has_schema(connection):
                return compute_stats((), by, sort)
            with queries.read_transaction(connection):  # every query sees the same rows
                return summary.stats(connection, wanted, by, sort)

    def trace_entries(self, trace_id: str) -> list[dict[str, Any]]:
        """Every entry of the trace, in the order stored, by the trace index."""
        with self._reading() as connection:
            return [] if connection is None else queries.trace_entries(connection, trace_id)

    def follow(
        self, wanted: EntryFilter, backlog: int
    ) -> tuple[list[dict[str, Any]], SqliteFollower]:
        with self._reading() as connection:
            if connection is None:
                return [], self._follower(0, None)
            recent, top, database = queries.backlog(connection, wanted, where_for(wanted), backlog)
        return recent, self._follower(top, database)

    def _follower(self, after: int, database: str | None) -> SqliteFollower:
        return SqliteFollower(
            self.path, lock_timeout=self.lock_timeout, after=after, database=database
        )

    # -- the connection --------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """Under the lock: a connection to read from, or None if there is nothing to read
        (no file, or a database not set up yet). SQLite's errors say what they mean."""
        with self._lock:
            temporary = None
            try:
                try:
                    connection = self._connection_for_reading()
                except sqlite3.OperationalError as error:
                    if not cannot_share(error):
                        raise
                    self._disconnect()  # a read-only folder: read without a -shm file
                    connection = temporary = open_read_only(
                        self.path, lock_timeout=self.lock_timeout, immutable=True
                    )
                    if not has_schema(connection):
                        connection = None
                yield connection
            except sqlite3.Error as error:
                raise translate(error, self.path, NOT_READ, self.lock_timeout) from error
            except NotOurs as error:
                raise CorruptStoreError(self.path, error.found, expected=EXPECTED) from None
            finally:
                if temporary is not None:
                    temporary.close()

    def _connection_for_reading(self) -> sqlite3.Connection | None:
        connection = self._current_connection()
        if connection is None:
            if file_status(self.path, NOT_READ) is None:
                return None
            connection = self._connect()
        if not self._ready:
            if not has_schema(connection):
                return None
            self._ready = True
        return connection

    def _connection_for_writing(self) -> sqlite3.Connection:
        connection = self._current_connection()
        if connection is None:
            if file_status(self.path, NOT_RECORDED) is None:
                create_file(self.path, fsync=self.fsync, outcome=NOT_RECORDED)
            connection = self._connect()
        if not self._ready:
            try:
                exists = has_schema(connection)
            except NotOurs as error:
                raise CorruptStoreError(self.path, error.found, expected=EXPECTED) from None
            use_wal(connection, self.lock_timeout)
            if not exists:
                create_schema(connection)
            self._ready = True
        return connection

    def _current_connection(self) -> sqlite3.Connection | None:
        """The open connection, unless its file was deleted or replaced since: then it is
        closed, and the path is opened again.

        Told by the path's inode, which cannot be another file's while our connection holds
        it open. A stat, not an fstat of a descriptor of our own: closing any descriptor of a
        file drops every POSIX lock this process holds on it, SQLite's included. SQLite finds
        a database's -wal and -shm files by name, so a database must not be deleted or
        replaced while a process has it open (see docs/stores.md): this only keeps a store from
        writing on into a file that is gone.
        """
        if self._connection is not None and _identity(self.path) != self._identity:
            self._disconnect()
        return self._connection

    def _connect(self) -> sqlite3.Connection:
        if self._reopened:  # after a read-only refusal: the side files may still be read-only
            match_side_files(self.path)
            self._reopened = False
        identity = _identity(self.path)
        connection = open_database(self.path, lock_timeout=self.lock_timeout, fsync=self.fsync)
        self._connection, self._identity, self._ready = connection, identity, False
        return connection

    def _disconnect(self) -> None:
        connection, self._connection, self._ready = self._connection, None, False
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def __del__(self) -> None:
        # A store dropped without close() (the spec's examples never close) must close its
        # connection now: sqlite3 connections sit in a reference cycle, so they would wait for
        # the garbage collector, their -wal and -shm files left behind meanwhile.
        connection, self._connection = self._connection, None
        if connection is not None:
            try:  # noqa: SIM105 - contextlib may be gone at interpreter exit
                connection.close()
            except Exception:
                pass


@contextlib.contextmanager
def _sqlite_errors(path: str, outcome: str, lock_timeout: float) -> Iterator[None]:
    """SQLite's errors, and a database that is not ours, as the library's errors."""
    try:
        yield
    except sqlite3.Error as error:
        raise translate(error, path, outcome, lock_timeout) from error
    except NotOurs as error:
        raise CorruptStoreError(path, error.found, expected=EXPECTED) from None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _ids_passed(reached: int, low: int, high: int, newest_first: bool) -> int:
    """How many ids of ``[low, high]`` a scan has gone past once it read row ``reached``."""
    return high - reached + 1 if newest_first else reached - low + 1
