"""The SQLite store: entries in a SQLite database (``.db``, ``.sqlite``, ``.sqlite3``).

For stores that grow large and are read often: filters run as SQL over indexed columns, a
trace is one index lookup, and statistics come from totals kept as entries arrive. Writers in
many processes take turns through SQLite's own locking (write-ahead log: readers never wait
for them); a lock held longer than ``lock_timeout`` raises LockTimeoutError, nothing written.

One connection per store, opened on first use and shared by its threads under a lock. A
connection must never cross a fork (SQLite's rule: the child would share its locks' state
with the parent), so every store closes it before a fork and opens a new one when next used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from typing import Any

from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.read.stats import compute_stats
from betty_telemetry.stores._errors import NOT_READ, NOT_RECORDED, CorruptStoreError
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite import rollup, summary
from betty_telemetry.stores.sqlite.columns import Row, row_of
from betty_telemetry.stores.sqlite.connect import (
    EXPECTED,
    cannot_share,
    create_file,
    file_status,
    open_database,
    open_read_only,
    translate,
    use_wal,
)
from betty_telemetry.stores.sqlite.follow import SqliteFollower, polling
from betty_telemetry.stores.sqlite.schema import (
    INSERT,
    NotOurs,
    create_schema,
    database_id,
    has_schema,
)
from betty_telemetry.stores.sqlite.where import where_for

logger = logging.getLogger("betty_telemetry")

FIRST_PAGE = 64
"""Rows a scan reads first; pages grow to LARGEST_PAGE. A query for the last ten entries
reads a few dozen rows, a full scan reads thousands per lock."""
LARGEST_PAGE = 4096


class SqliteStore:
    """Entries in one SQLite database, safe for concurrent writers in many processes."""

    def __init__(
        self, path: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, fsync: bool = False
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.fsync = fsync
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._fd = -1  # open on the database file: notices it being deleted or replaced
        self._ready = False  # our tables exist in the file the connection is open on
        _live_stores.add(self)

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
        with self._lock:
            try:
                connection = self._connection_for_writing()
                first, last = _insert(connection, rows)
            except sqlite3.Error as error:
                raise translate(error, self.path, NOT_RECORDED, self.lock_timeout) from error
        if rollup.crosses_fold(first, last):
            self._fold()

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

    def close(self) -> None:
        with self._lock:
            self._disconnect()

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
        return self._scan(wanted, newest_first)

    def _scan(
        self, wanted: EntryFilter, newest_first: bool
    ) -> Generator[dict[str, Any], None, None]:
        where = where_for(wanted)
        with self._reading() as connection:
            if connection is None:
                return
            low, high = _id_bounds(connection, wanted)
        # The trace index keeps a trace's rows in id order; otherwise rows are read in id order
        # from the table itself, whatever the filter (an index would need sorting every page).
        source = "entries INDEXED BY entries_trace" if wanted.trace_id else "entries NOT INDEXED"
        order, next_after = ("DESC", "id < ?") if newest_first else ("ASC", "id > ?")
        query = (
            f"SELECT id, body FROM {source} WHERE {next_after} AND id >= ? AND id <= ? "
            f"AND {where.sound} ORDER BY id {order} LIMIT ?"
        )
        position = high + 1 if newest_first else low - 1
        size = FIRST_PAGE
        while True:
            with self._reading() as connection:
                if connection is None:
                    return
                rows = connection.execute(
                    query, (position, low, high, *where.sound_params, size)
                ).fetchall()
            for _, body in rows:
                yield json.loads(body)
            if len(rows) < size:
                return
            position = rows[-1][0]
            size = min(size * 4, LARGEST_PAGE)

    def count(self, wanted: EntryFilter) -> int:
        where = where_for(wanted)
        with self._reading() as connection:
            if connection is None:
                return 0
            with _read_transaction(connection):
                exact = connection.execute(
                    f"SELECT count(*) FROM entries WHERE {where.exact}", where.exact_params
                ).fetchone()[0]
                odd = connection.execute(
                    f"SELECT body FROM entries WHERE odd AND {where.sound}", where.sound_params
                ).fetchall()
        return int(exact) + sum(1 for (body,) in odd if wanted.matches(json.loads(body)))

    def stats(self, wanted: EntryFilter, by: str, sort: str) -> list[dict[str, Any]]:
        """As ``compute_stats`` over the matching entries read newest first, exactly."""
        with self._reading() as connection:
            if connection is None:
                return compute_stats((), by, sort)
            with _read_transaction(connection):  # every query of the statistics: same rows
                return summary.stats(connection, wanted, by, sort)  # NotOurs: see _reading

    def trace_entries(self, trace_id: str) -> list[dict[str, Any]]:
        """Every entry of the trace, in the order stored, by the trace index."""
        with self._reading() as connection:
            if connection is None:
                return []
            rows = connection.execute(
                "SELECT body FROM entries WHERE trace_id = ? ORDER BY id", (trace_id,)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def follow(
        self, wanted: EntryFilter, backlog: int
    ) -> tuple[list[dict[str, Any]], SqliteFollower]:
        where = where_for(wanted)
        recent: list[dict[str, Any]] = []
        with self._reading() as connection:
            if connection is None:
                return [], self._follower(0, None)
            with _read_transaction(connection):  # the backlog and the follower's start at once
                top = connection.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0]
                cursor = connection.execute(
                    f"SELECT body FROM entries NOT INDEXED WHERE id <= ? AND {where.sound} "
                    "ORDER BY id DESC",
                    (top, *where.sound_params),
                )
                while len(recent) < backlog and (rows := cursor.fetchmany(FIRST_PAGE)):
                    entries = (json.loads(body) for (body,) in rows)
                    recent.extend(entry for entry in entries if wanted.matches(entry))
                cursor.close()
                database = database_id(connection)
        recent = recent[:backlog]
        recent.reverse()
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
            use_wal(connection)
            if not exists:
                create_schema(connection)
            self._ready = True
        return connection

    def _current_connection(self) -> sqlite3.Connection | None:
        """The open connection, unless its file was deleted or replaced since: then it is
        closed, and the path is opened again (one fstat: a stat of the path costs more).

        SQLite finds a database's -wal and -shm files by name, so a database must not be
        deleted or replaced while another process has it open (see the README); this only
        keeps a store from writing on into a file that is gone.
        """
        if self._connection is not None and os.fstat(self._fd).st_nlink == 0:
            self._disconnect()
        return self._connection

    def _connect(self) -> sqlite3.Connection:
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            connection = open_database(self.path, lock_timeout=self.lock_timeout, fsync=self.fsync)
        except BaseException:
            os.close(fd)
            raise
        self._connection, self._fd, self._ready = connection, fd, False
        return connection

    def _disconnect(self) -> None:
        connection, self._connection, self._ready = self._connection, None, False
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def __del__(self, _close: Callable[[int], None] = os.close) -> None:
        # A store dropped without close() (the spec's examples never close) must close its
        # connection now: sqlite3 connections sit in a reference cycle, so they would wait for
        # the garbage collector, their -wal and -shm files left behind meanwhile. ``_close`` is
        # bound now: at interpreter exit, module globals may already be gone.
        connection, self._connection = self._connection, None
        if connection is not None:
            try:  # noqa: SIM105 - contextlib may be gone at interpreter exit
                connection.close()
            except Exception:
                pass
        if self._fd >= 0:
            try:  # noqa: SIM105 - contextlib may be gone at interpreter exit
                _close(self._fd)
            except OSError:
                pass
            self._fd = -1


def _insert(connection: sqlite3.Connection, rows: list[Row]) -> tuple[int, int]:
    """Insert ``rows`` in one transaction; the first and last ids they got."""
    if len(rows) == 1:  # one statement is a transaction by itself: the capture's hot path
        last = connection.execute(INSERT, rows[0]).lastrowid
        assert last is not None
        return last, last
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(INSERT, rows)
        last = connection.execute("SELECT last_insert_rowid()").fetchone()[0]
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
    return last - len(rows) + 1, last


@contextlib.contextmanager
def _read_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One snapshot for several queries (WAL: writers go on meanwhile)."""
    connection.execute("BEGIN")
    try:
        yield
    finally:
        if connection.in_transaction:
            connection.execute("COMMIT")


def _id_bounds(connection: sqlite3.Connection, wanted: EntryFilter) -> tuple[int, int]:
    """The ids a scan reads between: the newest row now, and the first row since ``since``
    (by the moment index: a query for the last hour reads the last hour's rows only)."""
    high = connection.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0]
    low = 1
    if wanted.since is not None:
        found = connection.execute(
            "SELECT min(id) FROM entries INDEXED BY entries_moment WHERE moment >= ?",
            (wanted.since,),
        ).fetchone()[0]
        low = high + 1 if found is None else found
    return low, high


_live_stores: weakref.WeakSet[SqliteStore] = weakref.WeakSet()
_forking: list[SqliteStore] = []  # the stores whose locks a fork holds


def _before_fork() -> None:
    # SQLite's rule: a connection must never cross a fork. Close every store's connection
    # while no thread is inside SQLite (each store's lock is taken, and the followers'), so
    # neither process inherits one; each opens its own when next used.
    polling.acquire()
    _forking[:] = list(_live_stores)
    for store in _forking:
        store._lock.acquire()
        store._disconnect()


def _after_fork_in_parent() -> None:
    for store in _forking:
        store._lock.release()
    _forking.clear()
    polling.release()


def _after_fork_in_child() -> None:
    for store in _forking:
        store._lock = threading.Lock()
    _forking.clear()
    polling.release()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
