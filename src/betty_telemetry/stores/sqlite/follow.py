"""Following a SQLite telemetry database as entries are stored, by row id, like ``tail -F``.

Each poll opens the file read-only, reads the rows after the last id returned, and closes it:
between polls the follower holds nothing open. That matters for SQLite more than for a plain
file: a connection kept open on a database that is then deleted or replaced would share the
-wal and -shm files, which SQLite finds by name, with the new database at the path. A read-only
connection also never checkpoints or deletes them when it closes.

A database replaced, or deleted and created again, is read from its first row (each database
has an id of its own in ``meta``); what the old one got after the previous poll is not read.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from betty_telemetry.stores._errors import NOT_READ
from betty_telemetry.stores.sqlite.connect import file_status, reading_apart, translate
from betty_telemetry.stores.sqlite.schema import database_id

POLL_ROWS = 1000

Identity = tuple[int, int]


class SqliteFollower:
    """Entries stored after row ``after`` of the database at ``path`` (whose id was
    ``database`` then; None if there was none), oldest first, each time ``poll`` is called."""

    def __init__(self, path: str, *, lock_timeout: float, after: int, database: str | None) -> None:
        self.path = path
        self._lock_timeout = lock_timeout
        self._after = after
        self._database = database

    def poll(self) -> list[dict[str, Any]]:
        """Entries stored since the last poll (at most POLL_ROWS of them), oldest first."""
        if file_status(self.path, NOT_READ) is None:
            return []  # deleted: what comes at the path next is a new database
        try:
            database, rows = self._read()
        except sqlite3.Error as error:
            raise translate(error, self.path, NOT_READ, self._lock_timeout) from error
        if rows:
            self._after = rows[-1][0]
        self._database = database
        return [json.loads(body) for _, body in rows]

    def _read(self) -> tuple[str | None, list[tuple[int, Any]]]:
        with reading_apart(self.path, lock_timeout=self._lock_timeout) as connection:
            return self._rows(connection)

    def _rows(self, connection: sqlite3.Connection) -> tuple[str | None, list[tuple[int, Any]]]:
        connection.execute("BEGIN")  # the id and the rows: one snapshot
        try:
            database = database_id(connection)
            if database is None:
                return None, []  # not set up yet: a writer is creating it
            after = self._after if database == self._database else 0
            rows = connection.execute(
                "SELECT id, body FROM entries WHERE id > ? ORDER BY id LIMIT ?", (after, POLL_ROWS)
            ).fetchall()
            if database != self._database:
                self._after = 0
            return database, rows
        finally:
            connection.execute("COMMIT")

    def close(self) -> None:
        return None  # nothing is held open between polls
