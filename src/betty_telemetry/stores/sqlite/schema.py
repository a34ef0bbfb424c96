"""The database's tables and indexes, their version, and how a database is recognized as ours.

Each entry is one row of ``entries``: its JSON line as the body (so every field and extra
key reads back exactly as stored), and beside it the values the filters and statistics look
at, in columns the indexes serve. ``rollup`` holds per (skill, status) totals of the rows up
to ``meta.folded_to`` (see ``rollup.py``): statistics by skill then read a few hundred rows
instead of a million. A row a newer entry of its run replaces (model.runs) is marked
``superseded`` when that entry is stored (see ``runs.py``), so the totals and the durations
index describe one row per run. The version lives in ``PRAGMA user_version``.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2
TABLE = "entries"

# Why each column and index exists:
# - id: the order entries were stored in; scans and followers page by it.
# - moment: the timestamp as canonical UTC text (since/until compare it as text, as
#   EntryFilter does); timestamp: the stored text, only where it differs from moment (most
#   entries have a canonical one: a copy would cost 32 bytes a row for nothing).
# - skill, status, caller, trace_id: the stored text (NULL if missing or not text);
#   duration_ms: the stored number as REAL; error: error_message, or the legacy ``error``.
# - odd: 1 when a value cannot be told apart in a column (a skill that is a number, text SQLite
#   cannot hold, an integer beyond 2**53...): such rows are always read back and judged in
#   Python, so SQL never has to be exact about them. Legacy shapes (``failed``, integer
#   durations, missing fields) are not odd.
# - span_id: the stored text, NULL if not text (a span id SQL cannot hold makes the row odd);
#   superseded: 1 once a newer entry of the row's run replaces it (runs.py). Only ever set,
#   never cleared, but by a prune, which marks the rows kept again.
# Indexes: (skill, duration_ms) gives every skill's durations in order, so a percentile is one
# walk to an offset; it holds only the durations statistics count (not a pending row's, nor a
# superseded row's), which is also what keeps it out of the way of other queries' plans.
# trace_id (only rows that have one) finds a trace; span_id (likewise) finds the rows a final
# entry replaces; moment bounds since/until; the odd index holds only odd rows, so it costs
# normal writes nothing; the pending index holds the runs still going (a few rows), where a
# skill's first and last pending rows are found again when one of them is replaced.
COUNTED = "status IS NOT 'pending' AND NOT superseded"
"""The rows whose durations statistics count (a query must say so, word for word, for SQLite
to walk the durations index)."""
STILL_PENDING = "status = 'pending' AND NOT superseded"
"""The pending rows no final entry replaced yet (word for word, as COUNTED)."""

_DDL = (
    """CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        body TEXT NOT NULL,
        moment TEXT,
        timestamp TEXT,
        skill TEXT,
        status TEXT,
        duration_ms REAL,
        caller TEXT,
        trace_id TEXT,
        error TEXT,
        odd INTEGER NOT NULL DEFAULT 0,
        span_id TEXT,
        superseded INTEGER NOT NULL DEFAULT 0
    )""",
    f"CREATE INDEX entries_skill_duration ON entries (skill, duration_ms) WHERE {COUNTED}",
    "CREATE INDEX entries_trace ON entries (trace_id) WHERE trace_id IS NOT NULL",
    "CREATE INDEX entries_span ON entries (span_id) WHERE span_id IS NOT NULL",
    f"CREATE INDEX entries_pending ON entries (skill, moment) WHERE {STILL_PENDING}",
    "CREATE INDEX entries_moment ON entries (moment)",
    "CREATE INDEX entries_odd ON entries (odd) WHERE odd",
    """CREATE TABLE rollup (
        skill TEXT,
        status TEXT,
        entries INTEGER NOT NULL,
        durations INTEGER NOT NULL,
        duration_sum TEXT NOT NULL,
        first_moment TEXT,
        first_id INTEGER,
        last_moment TEXT,
        last_id INTEGER
    )""",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value)",
    "INSERT INTO meta (name, value) VALUES ('folded_to', 0)",
    # Tells a follower that the file at the path is another database now, even when the
    # file system gave the new file the old one's inode number.
    "INSERT INTO meta (name, value) VALUES ('database_id', lower(hex(randomblob(16))))",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

INSERT = (
    "INSERT INTO entries (body, moment, timestamp, skill, status, duration_ms, caller, "
    "trace_id, error, span_id, odd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class NotOurs(Exception):
    """The database holds something else; ``found`` says what, quoting none of it."""

    def __init__(self, found: str) -> None:
        super().__init__(found)
        self.found = found


def has_schema(connection: sqlite3.Connection) -> bool:
    """Whether the database holds our tables (False: it is empty, ours to set up).

    Raises NotOurs for a database with other tables, or ours in a newer version.
    """
    names = {
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        )
    }
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if TABLE not in names:
        if names:
            raise NotOurs(
                f"a SQLite database with {len(names)} other table(s) and no telemetry table"
            )
        return False
    if version == 1 and {"rollup", "meta"} <= names:
        raise NotOurs(
            "a SQLite database of an earlier development version of betty-telemetry (schema "
            f"1; this version reads {SCHEMA_VERSION}): export its entries with "
            "sqlite3 FILE 'SELECT body FROM entries ORDER BY id' > OLD.jsonl, then "
            "betty-telemetry convert OLD.jsonl NEW.db"
        )
    if version != SCHEMA_VERSION or not {"rollup", "meta"} <= names:
        raise NotOurs(
            f"a SQLite database whose {TABLE!r} table is not betty-telemetry's version "
            f"{SCHEMA_VERSION} (user_version {version})"
        )
    return True


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables in one transaction, unless another process just did."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if not has_schema(connection):
            for statement in _DDL:
                connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def database_id(connection: sqlite3.Connection) -> str | None:
    """The id this database got when its tables were made; None before."""
    tables = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
    if tables is None:
        return None
    row = connection.execute("SELECT value FROM meta WHERE name = 'database_id'").fetchone()
    return None if row is None else str(row[0])
