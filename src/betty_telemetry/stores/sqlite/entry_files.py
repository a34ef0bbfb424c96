"""A SQLite store's entries, and its archives', as JSON Lines files for an outside reader.

DuckDB reads SQLite through an extension it downloads at first use, which a machine without
network never gets. So the rows' bodies (each the entry's JSON line, as stored) are copied
into a private JSON Lines file, in one read transaction (WAL: writers go on meanwhile), a few
thousand rows at a time; the archives, JSON Lines already, are handed over as they are.

One moment: a rotation copies the rows into an archive and deletes them in one transaction
that records its stamp in ``meta``. The archives are opened first, then the transaction
begins: a stamp it sees recorded that no opened archive has, and that is not older than the
listing (or whose archive was still being written then), is a rotation in between, whose
entries would be in neither. Then all is taken again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from betty_telemetry.stores._errors import NOT_READ
from betty_telemetry.stores.archives import stamp, unfinished_stagings
from betty_telemetry.stores.entry_files import ATTEMPTS, EntryFiles, copy_lines, open_archives
from betty_telemetry.stores.sqlite.connect import file_status, reading_apart
from betty_telemetry.stores.sqlite.queries import read_transaction
from betty_telemetry.stores.sqlite.rotation import FORMAT_NAME, recorded_stamps
from betty_telemetry.stores.sqlite.schema import has_schema

ROWS_PER_FETCH = 2_000
_CLOCK_SLACK = timedelta(seconds=1)  # a rotation takes its stamp a moment before its file
Together = Callable[[set[str]], bool]


def take(files: EntryFiles, path: str, *, archives: bool, lock_timeout: float) -> None:
    """The database's rows (copied) and, with ``archives``, its archives (pinned)."""
    attempt = 1
    while True:
        opened_before = files.opened()
        listed_at = stamp(datetime.now(timezone.utc) - _CLOCK_SLACK)
        unfinished = set(unfinished_stagings(path)) if archives else set()
        opened, complete = open_archives(files, path, FORMAT_NAME) if archives else ([], True)
        listing = _Listing(
            {stamp(archive.rotated_at) for _, archive in opened}, unfinished, listed_at, complete
        )
        final = not archives or attempt == ATTEMPTS
        if _copy_rows(files, path, lock_timeout, None if final else listing.accounts_for):
            for fd, archive in opened:
                files.add_pinned(fd, compressed=archive.compressed, origin=archive.path)
            return
        files.close_since(opened_before)
        attempt += 1


@dataclass(frozen=True)
class _Listing:
    """The archives as they were opened: their stamps, the stamps of archives still being
    written then, when they were listed (less the clock's slack), and whether every archive
    listed could be opened."""

    pinned: set[str]
    unfinished: set[str]
    listed_at: str
    complete: bool

    def accounts_for(self, recorded: set[str]) -> bool:
        """Whether the rotations ``recorded`` in the database are all in the archives opened
        (or older than the listing: pruned since, as only old archives are)."""
        return self.complete and all(
            found in self.pinned or (found not in self.unfinished and found < self.listed_at)
            for found in recorded
        )


def _copy_rows(
    files: EntryFiles, path: str, lock_timeout: float, together: Together | None
) -> bool:
    """Copy every row's body, unless ``together`` says the archives opened are out of date
    (then False, nothing copied)."""
    if file_status(path, NOT_READ) is None:
        return True
    with reading_apart(path, lock_timeout=lock_timeout) as connection:
        if not has_schema(connection):
            return True
        with read_transaction(connection):
            if together is not None and not together(recorded_stamps(connection)):
                return False
            copy_lines(files, path, _bodies(connection))
    return True


def _bodies(connection: sqlite3.Connection) -> Iterator[bytes]:
    rows = connection.execute("SELECT body FROM entries ORDER BY id")
    while batch := rows.fetchmany(ROWS_PER_FETCH):
        for (body,) in batch:
            yield body.encode()
