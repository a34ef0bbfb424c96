"""The SQLite store's edges: paths that cannot be a database, empty and half-made databases,
SQLite's errors as the library's, totals that cannot be folded, values SQL cannot hold."""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from betty_telemetry import CorruptStoreError, LockTimeoutError, TelemetryCapture
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import SqliteStore
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite import rollup
from betty_telemetry.stores.sqlite.columns import _examined_row, _plain_row, row_of, storable
from betty_telemetry.stores.sqlite.connect import error_code, translate
from betty_telemetry.stores.sqlite.schema import NotOurs, create_schema

NOT_RECORDED = "the entry was not recorded"


def encoded(entry: dict[str, object]) -> Encoded:
    line = json.dumps(entry).encode()
    return Encoded(json.loads(line), line)


def test_a_path_under_a_file_says_the_path_is_wrong(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file\n")
    store = SqliteStore(str(blocker / "t.db"))
    with pytest.raises(NotADirectoryError, match="should be a folder is a file"):
        store.write([encoded({"skill": "x"})])
    with pytest.raises(NotADirectoryError, match="nothing was read"):
        store.count(EntryFilter())


def test_a_database_in_the_working_folder_needs_no_folder_made(tmp_path: Path) -> None:
    TelemetryCapture("t.db").capture("here", "success", 1.0, "test")  # the cwd is tmp_path
    assert TelemetryCapture(tmp_path / "t.db").query()[0]["skill"] == "here"


def test_an_empty_file_or_an_empty_database_reads_as_no_entries(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    path.touch()
    store = SqliteStore(str(path))
    assert store.count(EntryFilter()) == 0
    assert list(store.scan(EntryFilter())) == []
    assert store.stats(EntryFilter(), "skill", "count") == []
    assert store.trace_entries("0" * 32) == []
    recent, follower = store.follow(EntryFilter(), backlog=3)
    assert recent == []
    assert follower.poll() == []
    store.write([encoded({"skill": "first"})])
    assert [entry["skill"] for entry in follower.poll()] == ["first"]


def test_a_scan_ends_when_its_database_is_deleted_under_it(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(str(path))
    store.write([encoded({"skill": f"s{n}"}) for n in range(200)])
    with closing(store.scan(EntryFilter())) as entries:
        assert next(entries)["skill"] == "s199"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        assert len(list(entries)) == 63  # the rest of the first page, then nothing
    path.write_text("not a database\n")
    with pytest.raises(CorruptStoreError, match="starts with text that is not JSON"):
        SqliteStore(str(path)).follow(EntryFilter(), backlog=0)


def test_a_follower_of_a_file_that_became_corrupt_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteStore(str(path)).write([encoded({"skill": "x"})])
    _, follower = SqliteStore(str(path)).follow(EntryFilter(), backlog=0)
    path.unlink()
    path.write_bytes(b"\x00\x01binary" * 50)
    with pytest.raises(CorruptStoreError, match="binary data"):
        follower.poll()


LOCKER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_rollback_journal_database_locked_elsewhere_times_out_a_read(tmp_path: Path) -> None:
    # Not one of ours yet (no write-ahead log): an exclusive lock keeps readers out too.
    path = tmp_path / "t.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 0")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(LockTimeoutError, match="so nothing was read"):
            SqliteStore(str(path), lock_timeout=0.2).count(EntryFilter())
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_sqlite_errors_become_the_librarys(tmp_path: Path) -> None:
    path = str(tmp_path / "missing" / "t.db")
    locked = translate(sqlite3.OperationalError("database is locked"), path, NOT_RECORDED, 2)
    assert isinstance(locked, LockTimeoutError)
    full = translate(sqlite3.OperationalError("database or disk is full"), path, NOT_RECORDED, 2)
    assert isinstance(full, OSError)
    assert full.errno == errno.ENOSPC
    assert "the disk is full" in str(full)
    damaged = translate(sqlite3.DatabaseError("file is not a database"), path, NOT_RECORDED, 2)
    assert isinstance(damaged, CorruptStoreError)
    assert "something unreadable" in str(damaged)
    broken = translate(
        sqlite3.DatabaseError("database disk image is malformed"), path, NOT_RECORDED, 2
    )
    assert "its data is damaged" in str(broken)
    refused = translate(sqlite3.OperationalError("unable to open database file"), path, "", 2)
    assert isinstance(refused, PermissionError)
    other = translate(sqlite3.OperationalError("no such function: x"), path, NOT_RECORDED, 2)
    assert type(other) is OSError
    assert "SQLite reported an error on the file: no such function: x" in str(other)
    assert error_code(sqlite3.Error("database is locked")) == 5  # Python 3.10: by message


def test_values_sql_cannot_hold_make_a_row_odd() -> None:
    for value in ("plain", "é", None):
        assert storable(value)
    for value in ("é\x00", "a\x00", "\udc80", 5):
        assert not storable(value)

    class Name(str):
        pass

    line = b'{"skill": "agent.run", "status": "success"}'
    row = row_of(Encoded({"skill": Name("agent.run"), "status": "success"}, line))
    assert row[3] == "agent.run"
    assert type(row[3]) is str
    assert row[-1] == 0


def test_a_fold_that_fails_costs_no_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rollup, "FOLD_EVERY", 4)
    path = tmp_path / "t.db"
    store = SqliteStore(str(path))
    store.write([encoded({"skill": "a", "duration_ms": n}) for n in range(5)])
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT value FROM meta").fetchone()[0] == 5
        connection.isolation_level = None
        rollup.fold(connection)  # nothing new: nothing to do
        connection.execute("UPDATE rollup SET duration_sum = 'not a number'")
        with caplog.at_level(logging.DEBUG, logger="betty_telemetry"):
            store.write([encoded({"skill": "a"}) for _ in range(3)])
        assert "could not fold" in caplog.text
        assert connection.execute("SELECT value FROM meta").fetchone()[0] == 5
    assert store.count(EntryFilter()) == 8
    with pytest.raises(CorruptStoreError, match="table of totals is damaged"):
        store.stats(EntryFilter(), "skill", "count")


def test_tables_made_meanwhile_by_another_process_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteStore(str(path)).write([encoded({"skill": "a"})])
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        create_schema(connection)  # already there: nothing happens
        assert connection.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other, isolation_level=None)) as connection:
        connection.execute("CREATE TABLE mine (x)")
        with pytest.raises(NotOurs):
            create_schema(connection)
        assert not connection.in_transaction


@pytest.mark.parametrize(
    "entry",
    [
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "a", "status": "success"},
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "ä", "duration_ms": 1.5},
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "😀", "duration_ms": 1.5},
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "C:\\udir", "duration_ms": 2.0},
        {"timestamp": "2025-10-24T14:30:45.123456Z", "skill": "a", "duration_ms": 2.0},
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "a\x00", "duration_ms": 2.0},
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "\udc80", "duration_ms": 2.0},
        {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "a", "duration_ms": 1e301},
        {
            "timestamp": "2025-10-24T14:30:45.123456+00:00",
            "skill": "a",
            "status": "failure",
            "duration_ms": 3.0,
            "caller": "x",
            "error_message": "Boom",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        },
    ],
)
def test_the_short_way_for_our_own_entries_gives_the_full_examinations_row(
    entry: dict[str, object],
) -> None:
    line = json.dumps(entry).encode()
    stored = json.loads(line)
    short = _plain_row(stored, line)
    assert short is None or short == _examined_row(stored, line)
    assert row_of(Encoded(stored, line)) == _examined_row(stored, line)
