"""The SQL of the store's reads and writes, each run on a connection the store hands over
(under its lock): what to ask SQLite, kept apart from when and under which lock."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores.sqlite import runs
from betty_telemetry.stores.sqlite.columns import Row
from betty_telemetry.stores.sqlite.schema import INSERT, database_id
from betty_telemetry.stores.sqlite.where import Where

PAGE_ROWS = 64  # rows of a backlog read at a time


@contextlib.contextmanager
def read_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One snapshot for several queries (WAL: writers go on meanwhile)."""
    connection.execute("BEGIN")
    try:
        yield
    finally:
        if connection.in_transaction:
            connection.execute("COMMIT")


def insert(
    connection: sqlite3.Connection, rows: list[Row], replacing: list[tuple[int, str]]
) -> tuple[int, int]:
    """Insert ``rows`` in one transaction, marking the rows the entries ``replacing`` (see
    ``runs.replacing``) replace; the first and last ids they got."""
    if len(rows) == 1 and not replacing:  # one statement is a transaction: the hot path
        last = connection.execute(INSERT, rows[0]).lastrowid
        assert last is not None
        return last, last
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(INSERT, rows)
        last = connection.execute("SELECT last_insert_rowid()").fetchone()[0]
        if replacing:
            runs.supersede(connection, last - len(rows) + 1, replacing)
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
    return last - len(rows) + 1, last


def id_bounds(connection: sqlite3.Connection, wanted: EntryFilter) -> tuple[int, int]:
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


def page_query(wanted: EntryFilter, where: Where, newest_first: bool) -> str:
    """A page of a scan: parameters (after, low, high, *where.sound_params, size)."""
    # The trace index keeps a trace's rows in id order; otherwise rows are read in id order
    # from the table itself, whatever the filter (an index would need sorting every page).
    source = "entries INDEXED BY entries_trace" if wanted.trace_id else "entries NOT INDEXED"
    order, after = ("DESC", "id < ?") if newest_first else ("ASC", "id > ?")
    return (
        f"SELECT id, body FROM {source} WHERE {after} AND id >= ? AND id <= ? "
        f"AND {where.sound} ORDER BY id {order} LIMIT ?"
    )


def count(connection: sqlite3.Connection, wanted: EntryFilter, where: Where) -> int:
    """Rows that are not odd, counted in SQL; odd ones judged from their bodies."""
    with read_transaction(connection):
        exact = connection.execute(
            f"SELECT count(*) FROM entries WHERE {where.exact}", where.exact_params
        ).fetchone()[0]
        odd = connection.execute(
            f"SELECT body FROM entries WHERE odd AND {where.sound}", where.sound_params
        ).fetchall()
    return int(exact) + sum(1 for (body,) in odd if wanted.matches(json.loads(body)))


def backlog(
    connection: sqlite3.Connection, wanted: EntryFilter, where: Where, wanted_count: int
) -> tuple[list[dict[str, Any]], int, str | None]:
    """The last ``wanted_count`` matching entries (oldest first), the newest id and the
    database's id, all in one snapshot: a follower starts exactly after them."""
    recent: list[dict[str, Any]] = []
    with read_transaction(connection):
        top = connection.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()[0]
        cursor = connection.execute(
            f"SELECT body FROM entries NOT INDEXED WHERE id <= ? AND {where.sound} "
            "ORDER BY id DESC",
            (top, *where.sound_params),
        )
        while len(recent) < wanted_count and (rows := cursor.fetchmany(PAGE_ROWS)):
            entries = (json.loads(body) for (body,) in rows)
            recent.extend(entry for entry in entries if wanted.matches(entry))
        cursor.close()
        database = database_id(connection)
    recent = recent[:wanted_count]
    recent.reverse()
    return recent, top, database


def trace_entries(connection: sqlite3.Connection, trace_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        "SELECT body FROM entries WHERE trace_id = ? ORDER BY id", (trace_id,)
    ).fetchall()
    return [json.loads(body) for (body,) in rows]
