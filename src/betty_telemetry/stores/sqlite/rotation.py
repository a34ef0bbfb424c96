"""Rotating a SQLite store: its rows out to an archive and deleted, in one transaction.

A database cannot be renamed away under processes that have it open (SQLite finds its -wal
and -shm files by name), so its rotation copies instead, under SQLite's write lock
(``BEGIN IMMEDIATE``: writers wait, up to their busy timeout, as for any long write):

1. every row's body (the entry's JSON line, as stored) is written, in id order, to
   ``NAME.STAMP.rotating.partial``, and synced;
2. the rows and the totals are deleted, the stamp recorded in ``meta`` (``rotated:STAMP``)
   and a new database id set (followers start over, as they do on a new file): COMMIT;
3. the staged file takes its name (``NAME.STAMP.rotating``) and is compressed into
   ``NAME.STAMP.jsonl.gz`` like a file store's (see ``stores.archives``).

Killed before the commit, the rows are all still in the database and the ``.partial`` file,
its stamp not recorded, is deleted by the next rotation (an exception before the commit,
Ctrl-C included, deletes it at once); killed after it, the stamp is recorded and the next
rotation finishes steps 3. Both checks run under the same write lock, so they never take
another process's rotation under way for an interrupted one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

from betty_telemetry.stores._files import fsync_folder, remove_stale_temporaries
from betty_telemetry.stores._phases import step
from betty_telemetry.stores.archives import (
    PARTIAL_SUFFIX,
    compress_staged,
    free_staged_path,
    staged_files,
    stamp_of,
    unfinished_stagings,
)
from betty_telemetry.stores.base import ProgressHook
from betty_telemetry.stores.sqlite import runs

FORMAT_NAME = "jsonl"
"""What a SQLite store's archives hold: its rows' bodies, one per line."""
_ROWS_PER_FETCH = 2_000
_ROTATED = "rotated:"
# Old rows: those whose canonical moment is before the cut (a row without one is kept).
_OLD = "moment IS NOT NULL AND moment < ?"
_ALL = "1"


def rotate(
    connection: sqlite3.Connection, path: str, progress: ProgressHook | None = None
) -> str | None:
    """Rotate the database at ``path`` (see the module); the archive's path, or None if it
    held no row. Staged files of interrupted rotations are finished first. ``progress`` is
    told how far the copy of the rows, then its compression, got (each half the measure)."""
    archive, _, _ = _move_rows(connection, path, _ALL, (), progress)
    return archive


def prune(connection: sqlite3.Connection, path: str, before: str) -> tuple[str | None, int, int]:
    """Move the rows stamped before ``before`` into a new archive, as ``rotate`` moves them
    all (the same steps, the same recovery); the archive's path (None if no row was old
    enough), the rows moved and the rows kept. Rows without a readable time are kept."""
    return _move_rows(connection, path, _OLD, (before,), None)


def _move_rows(
    connection: sqlite3.Connection,
    path: str,
    where: str,
    params: tuple[str, ...],
    progress: ProgressHook | None,
) -> tuple[str | None, int, int]:
    """Move the rows ``where`` selects into a new archive (see the module): the archive's
    path (None if none was selected), the rows moved and the rows kept."""
    connection.execute("BEGIN IMMEDIATE")
    staged = None
    try:
        # A creation killed half-way may have left a second name of the database: litter.
        remove_stale_temporaries(os.path.dirname(path) or ".", os.stat(path))
        committed = _finish_or_drop_stagings(connection, path)
        (moved,) = connection.execute(
            f"SELECT count(*) FROM entries WHERE {where}", params
        ).fetchone()
        if moved:
            staged = free_staged_path(path)
            _write_rows(connection, staged + PARTIAL_SUFFIX, where, params, step(progress, 0, 2))
            _delete_rows(connection, where, params, stamp_of(staged))
        (kept,) = connection.execute("SELECT count(*) FROM entries").fetchone()
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
            if staged is not None:  # its rows stay in the database: the copy goes now
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged + PARTIAL_SUFFIX)
    if staged is not None:
        os.replace(staged + PARTIAL_SUFFIX, staged)
        committed.append(staged)
    compressing = step(progress, 1, 2)
    made = [
        compress_staged(file, FORMAT_NAME, compressing if file == staged else None)
        for file in committed
    ]
    return (made[-1] if staged is not None else None), moved, kept


def _delete_rows(
    connection: sqlite3.Connection, where: str, params: tuple[str, ...], stamp: str
) -> None:
    (top,) = connection.execute("SELECT max(id) FROM entries").fetchone()
    connection.execute(f"DELETE FROM entries WHERE {where}", params)
    # The totals are folded again from the rows left, by the next writes and by readers.
    connection.execute("DELETE FROM rollup")
    connection.execute("UPDATE meta SET value = 0 WHERE name = 'folded_to'")
    if where != _ALL:  # a run's rows may be split now: the rule read on the rows kept
        runs.mark_again(connection)
    (new_top,) = connection.execute("SELECT max(id) FROM entries").fetchone()
    if new_top != top:
        # The newest row went (all of them, or rows out of time order): new rows will take
        # ids a follower has seen (they start again at 1 once the table is empty). To it, this
        # is a new database, read from its first row (it may show rows kept again; it never
        # misses one).
        connection.execute(
            "UPDATE meta SET value = lower(hex(randomblob(16))) WHERE name = 'database_id'"
        )
    connection.execute("INSERT INTO meta (name, value) VALUES (?, 1)", (_ROTATED + stamp,))


def _finish_or_drop_stagings(connection: sqlite3.Connection, path: str) -> list[str]:
    """Under the write lock: name the committed ``.partial`` files and drop the others;
    return every staged file left to compress, oldest first."""
    recorded = recorded_stamps(connection)
    for stamp, partial in sorted(unfinished_stagings(path).items()):
        if stamp in recorded:  # committed, killed before its rename
            os.replace(partial, partial.removesuffix(PARTIAL_SUFFIX))
        else:  # killed before its commit: its rows are still in the database
            os.unlink(partial)
    return staged_files(path, FORMAT_NAME)


def recorded_stamps(connection: sqlite3.Connection) -> set[str]:
    """The stamps of the rotations this database has seen committed (as archives name them)."""
    return {
        name.removeprefix(_ROTATED)
        for (name,) in connection.execute(
            "SELECT name FROM meta WHERE name LIKE ?", (_ROTATED + "%",)
        )
    }


def _write_rows(
    connection: sqlite3.Connection,
    partial: str,
    where: str,
    params: tuple[str, ...],
    progress: ProgressHook | None,
) -> None:
    """The bodies of the rows ``where`` selects into ``partial``, synced; ``progress`` told
    the row ids passed."""
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with open(fd, "wb") as staged:
        low, high = connection.execute(
            f"SELECT min(id), max(id) FROM entries WHERE {where}", params
        ).fetchone()
        rows = connection.execute(f"SELECT id, body FROM entries WHERE {where} ORDER BY id", params)
        while batch := rows.fetchmany(_ROWS_PER_FETCH):
            staged.write(b"".join(body.encode() + b"\n" for (_, body) in batch))
            if progress is not None:
                progress(batch[-1][0] - low + 1, high - low + 1)
        staged.flush()
        os.fsync(staged.fileno())  # the rows are about to be deleted: their copy on disk first
    fsync_folder(os.path.dirname(partial) or ".")
