"""Walking a SQLite store for ``check``: SQLite's own check, then every row's body.

Pages are SQLite's to check (``PRAGMA quick_check``: every page and index entry readable and
consistent, in one pass, without the slower cross-check of every index against its table);
the rows are ours: each body must be one JSON value, an entry. Places are row ids. Read on a
connection of its own, read-only, a page of rows at a time: writers go on meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

from betty_telemetry.stores._damage import line_damage
from betty_telemetry.stores._errors import NOT_READ, CorruptStoreError
from betty_telemetry.stores.checking import pieces as P
from betty_telemetry.stores.checking.pieces import Piece
from betty_telemetry.stores.sqlite.connect import reading_apart, translate
from betty_telemetry.stores.sqlite.schema import NotOurs, has_schema

ROWS_PER_PAGE = 4096
_CHECK = "PRAGMA quick_check"


def walk_database(path: str, lock_timeout: float) -> Iterator[Piece]:
    """The pieces of the database at ``path`` (which exists): SQLite's findings, then each
    row, in id order."""
    try:
        with reading_apart(path, lock_timeout=lock_timeout) as connection:
            try:
                if not has_schema(connection):
                    return  # a database not set up yet: an empty store
            except NotOurs as error:
                yield Piece(P.UNREADABLE, 0, 0, None, what=f"not a telemetry database: {error}")
                return
            for (result,) in connection.execute(_CHECK):
                if result != "ok":
                    yield Piece(P.INTEGRITY, 0, 0, None, what=f"SQLite's check: {result}")
            yield from _rows(connection)
    except sqlite3.DatabaseError as error:
        found = translate(error, path, NOT_READ, lock_timeout)
        if not isinstance(found, CorruptStoreError):
            raise found from error
        kind = P.INTEGRITY if found.found == "its data is damaged" else P.UNREADABLE
        what = f"not a SQLite database: {found.found}" if kind == P.UNREADABLE else found.found
        yield Piece(kind, 0, 0, None, what=what)


def _rows(connection: sqlite3.Connection) -> Iterator[Piece]:
    last = 0
    while True:
        rows = connection.execute(
            "SELECT id, body FROM entries WHERE id > ? ORDER BY id LIMIT ?", (last, ROWS_PER_PAGE)
        ).fetchall()
        for row_id, body in rows:
            try:
                value = json.loads(body)
            except (ValueError, TypeError, RecursionError):
                text = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else b""
                what = (
                    f"a row whose body is not an entry: {line_damage(text) if text else 'no text'}"
                )
                yield Piece(P.DAMAGE, 0, 0, row_id, what=what)
                continue
            yield Piece(P.ELEMENT, 0, 0, row_id, value=value)
        if len(rows) < ROWS_PER_PAGE:
            return
        last = rows[-1][0]
