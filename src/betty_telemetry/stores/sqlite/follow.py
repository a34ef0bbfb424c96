"""Following a SQLite telemetry database as entries are stored, by row id, like ``tail -F``.

Each poll opens the file read-only, reads the rows after the last id returned, and closes it:
between polls the follower holds nothing open. That matters for SQLite more than for a plain
file: a connection kept open on a database that is then deleted or replaced would share the
-wal and -shm files, which SQLite finds by name, with the new database at the path. A read-only
connection also never checkpoints or deletes them when it closes.

A file replaced or deleted and created again (another inode at the path) is read from its
first row; what the old file got after the previous poll is not read.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from betty_telemetry.stores._errors import NOT_READ
from betty_telemetry.stores.sqlite.connect import (
    cannot_share,
    file_status,
    open_read_only,
    translate,
)

POLL_ROWS = 1000

Identity = tuple[int, int]

polling = threading.Lock()
"""Held while any follower reads: a fork waits for it (see store._before_fork)."""


class SqliteFollower:
    """Entries stored after row ``after`` of the database at ``path`` (whose file had
    ``identity`` then; None if there was none), oldest first, each time ``poll`` is called."""

    def __init__(
        self, path: str, *, lock_timeout: float, after: int, identity: Identity | None
    ) -> None:
        self.path = path
        self._lock_timeout = lock_timeout
        self._after = after
        self._identity = identity

    def poll(self) -> list[dict[str, Any]]:
        """Entries stored since the last poll (at most POLL_ROWS of them), oldest first."""
        status = file_status(self.path, NOT_READ)
        if status is None:
            return []  # deleted: what comes at the path next is a new file
        identity = (status.st_dev, status.st_ino)
        after = self._after if identity == self._identity else 0
        try:
            with polling:
                rows = self._read(after)
        except sqlite3.Error as error:
            raise translate(error, self.path, NOT_READ, self._lock_timeout) from error
        after_read = file_status(self.path, NOT_READ)
        if after_read is None or (after_read.st_dev, after_read.st_ino) != identity:
            return []  # replaced while being read: read the new file at the next poll
        self._identity = identity
        self._after = rows[-1][0] if rows else after
        return [json.loads(body) for _, body in rows]

    def _read(self, after: int) -> list[tuple[int, Any]]:
        connection = open_read_only(self.path, lock_timeout=self._lock_timeout, immutable=False)
        try:
            try:
                return self._rows(connection, after)
            except sqlite3.OperationalError as error:
                if not cannot_share(error):
                    raise
            connection.close()
            connection = open_read_only(self.path, lock_timeout=self._lock_timeout, immutable=True)
            return self._rows(connection, after)
        finally:
            connection.close()

    def _rows(self, connection: sqlite3.Connection, after: int) -> list[tuple[int, Any]]:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE name = 'entries'")
        if tables.fetchone() is None:
            return []  # not set up yet: a writer is creating it
        return connection.execute(
            "SELECT id, body FROM entries WHERE id > ? ORDER BY id LIMIT ?", (after, POLL_ROWS)
        ).fetchall()

    def close(self) -> None:
        return None  # nothing is held open between polls
