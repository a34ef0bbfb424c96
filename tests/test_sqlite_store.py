"""The SQLite store: round trips, the same answers as the JSON array, errors, locks, forks,
followers, and the CLI on a ``.db`` file. Real files and real processes throughout."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    CorruptStoreError,
    LockTimeoutError,
    NotARegularFileError,
    TelemetryCapture,
    capture_telemetry,
)
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import JsonArrayStore, SqliteStore, open_store
from betty_telemetry.stores.base import Encoded, Store, SummarizingStore, TraceIndexedStore
from betty_telemetry.stores.sqlite import rollup
from betty_telemetry.stores.sqlite.schema import SCHEMA_VERSION
from tests.conftest import FIXTURE, CliHere, run_python
from tests.entries import UTC, new_entry
from tests.stores import stored_entries

Entry = dict[str, Any]
T0 = datetime(2025, 11, 3, 12, 0, tzinfo=UTC)  # after the legacy entries: time rises
TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"


def encoded(entry: Entry) -> Encoded:
    line = json.dumps(entry).encode()
    return Encoded(json.loads(line), line)


def legacy_entries() -> list[Entry]:
    value = json.loads(FIXTURE.read_bytes())
    assert isinstance(value, list)
    return value


def traced_entries() -> list[Entry]:
    """Two traces (a root with children, and one nested deeper) among plain entries, with
    failures, errors, several callers and a non-canonical timestamp."""
    made: list[Entry] = []
    for n in range(40):
        at = T0 + timedelta(minutes=7 * n)
        status = ("success", "failure", "error", "timeout", "failed")[n % 5]
        extra: dict[str, Any] = {}
        if n % 4 == 0:
            extra = {"trace_id": TRACE_A, "span_id": f"{n:016x}", "parent_id": f"{0:016x}"}
        elif n % 4 == 1:
            extra = {"trace_id": TRACE_B, "span_id": f"{n:016x}", "parent_id": f"{n - 4:016x}"}
        made.append(
            new_entry(
                ("agent.run", "agent.build", "plugin.build", "workflow.compose")[n % 4],
                status,
                at=at,
                duration_ms=float(n * 13 % 97) if n % 6 else n,
                caller=("CLI", "API", "hook:pre-commit")[n % 3],
                error_message="Disk FULL: ß" if status != "success" else None,
                **extra,
            )
        )
    made[5]["timestamp"] = "2025-11-03T14:35:00+02:00"
    return made


def both_stores(tmp_path: Path, entries: list[Entry]) -> tuple[Path, Path]:
    """The same entries in a JSON-array file and in a SQLite database."""
    paths = tmp_path / "t.json", tmp_path / "t.db"
    batch = [encoded(entry) for entry in entries]
    for store in (JsonArrayStore(str(paths[0])), SqliteStore(str(paths[1]))):
        store.write(batch[:7])
        for item in batch[7:]:
            store.write([item])
        store.close()
    return paths


# -- the store --------------------------------------------------------------------------


def test_open_store_picks_sqlite_by_extension_in_any_case(tmp_path: Path) -> None:
    for name in ("t.db", "t.sqlite", "t.SQLITE3", "t.DB"):
        assert isinstance(open_store(tmp_path / name), SqliteStore)
    assert isinstance(open_store(tmp_path / "t.json"), JsonArrayStore)
    store = open_store(tmp_path / "t.db")
    assert isinstance(store, Store)
    assert isinstance(store, SummarizingStore)
    assert isinstance(store, TraceIndexedStore)
    assert store.location == str(tmp_path / "t.db")
    assert repr(store) == f"SqliteStore({str(tmp_path / 't.db')!r})"


def test_every_field_and_extra_key_reads_back_exactly_as_stored(tmp_path: Path) -> None:
    entries = [
        *legacy_entries(),
        new_entry("ünïcode.skill", at=T0, caller="日本", extra={"nested": [1, 2.5, None]}),
        {"skill": "bare"},
        {"timestamp": 5, "skill": ["odd"], "status": 3, "duration_ms": 2**60, "x": "\udc80"},
    ]
    store = SqliteStore(str(tmp_path / "t.db"))
    store.write([encoded(entry) for entry in entries])
    with closing(store.scan(EntryFilter(), newest_first=False)) as found:
        assert list(found) == entries
    assert store.count(EntryFilter()) == len(entries)


def test_first_write_creates_folders_a_private_file_and_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "t.db"
    store = SqliteStore(str(path), fsync=True)
    assert store.count(EntryFilter()) == 0
    assert list(store.scan(EntryFilter())) == []
    assert not path.parent.exists()  # reading creates nothing
    store.write([encoded(new_entry(at=T0))])
    assert path.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._connection is not None
    assert store._connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    store.close()
    assert store.count(EntryFilter()) == 1  # opened again


def test_an_empty_batch_writes_nothing_and_creates_nothing(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))
    store.write([])
    assert store.flush() is True
    assert not (tmp_path / "t.db").exists()


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(str(path))
    good = encoded(new_entry(at=T0))
    store.write([good])
    with closing(sqlite3.connect(path)) as connection:  # a row SQLite will refuse
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.skill = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(OSError, match="SQLite reported an error on the file: refused"):
        store.write([good, good, encoded(new_entry("poison", at=T0))])
    assert store.count(EntryFilter()) == 1
    store.write([good, good])
    assert store.count(EntryFilter()) == 3


def test_an_entry_encoded_as_utf8_reads_back(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))
    entry = {"skill": "ünï", "note": "日本"}
    store.write([Encoded(entry, json.dumps(entry, ensure_ascii=False).encode())])
    assert list(store.scan(EntryFilter(skill=None))) == [entry]
    assert store.count(EntryFilter.build(skill="ünï")) == 1


def test_folded_totals_and_recent_rows_give_the_same_stats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup, "FOLD_EVERY", 8)
    monkeypatch.setattr(rollup, "FOLD_MOST", 5)
    entries = traced_entries()
    json_path, db_path = both_stores(tmp_path, entries)
    store = SqliteStore(str(db_path))
    with closing(sqlite3.connect(db_path)) as connection:
        folded = connection.execute("SELECT value FROM meta").fetchone()[0]
    assert 0 < folded < len(entries)
    for sort in ("count", "key"):
        want = TelemetryCapture(json_path).stats(sort=sort)
        assert store.stats(EntryFilter(), "skill", sort) == want


def test_a_table_holding_odd_rows_gives_the_same_stats(tmp_path: Path) -> None:
    entries = [*traced_entries(), {"skill": 5, "status": None, "duration_ms": 10**30}]
    json_path, db_path = both_stores(tmp_path, entries)
    for by in ("skill", "caller", "status"):
        assert TelemetryCapture(db_path).stats(by) == TelemetryCapture(json_path).stats(by)


# -- the same answers as the JSON array -------------------------------------------------


READS: list[tuple[str, dict[str, Any]]] = [
    ("query", {}),
    ("query", {"limit": 3, "offset": 2}),
    ("query", {"skill": "agent.*"}),
    ("query", {"skill": "agent.run"}),
    ("query", {"skill": "[ap]*.build"}),
    ("query", {"status": "failure"}),
    ("query", {"status": ["error", "failed"]}),
    ("query", {"caller": "hook:*"}),
    ("query", {"since": T0 + timedelta(hours=2)}),
    ("query", {"until": T0 + timedelta(hours=2)}),
    ("query", {"since": "2025-11-03T12:30:00", "until": "2025-11-03T13:00:00Z"}),
    ("query", {"trace_id": TRACE_B}),
    ("query", {"min_duration_ms": 50}),
    ("query", {"text": "disk full: SS"}),
    ("query", {"skill": "plugin.*", "status": "error", "text": "full"}),
    ("tail", {"n": 4}),
    ("tail", {"n": 3, "skill": "agent.run"}),
    ("last_trace_id", {}),
]


@pytest.mark.parametrize(("method", "arguments"), READS)
def test_reads_equal_the_json_arrays(
    tmp_path: Path, method: str, arguments: dict[str, Any]
) -> None:
    json_path, db_path = both_stores(tmp_path, [*legacy_entries(), *traced_entries()])
    want = getattr(TelemetryCapture(json_path), method)(**arguments)
    assert getattr(TelemetryCapture(db_path), method)(**arguments) == want


def test_stats_trace_and_streams_equal_the_json_arrays(tmp_path: Path) -> None:
    json_path, db_path = both_stores(tmp_path, [*legacy_entries(), *traced_entries()])
    ours, theirs = TelemetryCapture(db_path), TelemetryCapture(json_path)
    for by in ("skill", "caller", "status", "day", "hour"):
        for sort in ("count", "key"):
            assert ours.stats(by, sort=sort) == theirs.stats(by, sort=sort)
    assert ours.stats(since="2025-11-03T13:00:00") == theirs.stats(since="2025-11-03T13:00:00")
    assert ours.stats(skill="agent.*", text="full") == theirs.stats(skill="agent.*", text="full")
    for trace_id in (TRACE_A, TRACE_B, "f" * 32):
        assert ours.trace(trace_id) == theirs.trace(trace_id)
    with closing(ours.iter_entries()) as mine, closing(theirs.iter_entries()) as other:
        assert list(mine) == list(other)
    failed = ours.iter_entries(status="failed"), theirs.iter_entries(status="failed")
    with closing(failed[0]) as mine, closing(failed[1]) as other:
        assert list(mine) == list(other)


def test_follow_gives_the_backlog_then_new_entries_like_the_json_array(tmp_path: Path) -> None:
    json_path, db_path = both_stores(tmp_path, traced_entries())
    streams = [
        TelemetryCapture(path).follow(backlog=3, poll_interval=0.01, skill="agent.*")
        for path in (json_path, db_path)
    ]
    backlogs = [[next(stream) for _ in range(3)] for stream in streams]
    assert backlogs[0] == backlogs[1]
    for path in (json_path, db_path):
        writer = TelemetryCapture(path)
        writer.capture("plugin.build", "success", 1.0, "CLI")
        writer.capture("agent.new", "success", 2.0, "CLI")
        writer.close()
    news = [next(stream) for stream in streams]
    assert [entry["skill"] for entry in news] == ["agent.new", "agent.new"]
    for stream in streams:
        stream.close()


# -- following --------------------------------------------------------------------------


def test_a_follower_survives_the_database_being_replaced(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteStore(str(path)).write([encoded(new_entry("old.one", at=T0))])
    recent, follower = SqliteStore(str(path)).follow(EntryFilter(), backlog=5)
    assert [entry["skill"] for entry in recent] == ["old.one"]
    assert follower.poll() == []
    other = tmp_path / "other.db"
    writer = SqliteStore(str(other))
    writer.write([encoded(new_entry(f"new.{n}", at=T0)) for n in range(2)])
    writer.close()
    os.replace(other, path)
    assert [entry["skill"] for entry in follower.poll()] == ["new.0", "new.1"]
    SqliteStore(str(path)).write([encoded(new_entry("new.2", at=T0))])
    assert [entry["skill"] for entry in follower.poll()] == ["new.2"]
    follower.close()


def test_a_follower_survives_the_database_being_deleted_and_created_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.db"
    writer = SqliteStore(str(path))
    writer.write([encoded(new_entry("first", at=T0))])
    recent, follower = writer.follow(EntryFilter(), backlog=0)
    assert recent == []
    writer.write([encoded(new_entry("second", at=T0))])
    assert [entry["skill"] for entry in follower.poll()] == ["second"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert follower.poll() == []
    writer.write([encoded(new_entry("third", at=T0))])  # notices its file went: a new one
    assert [entry["skill"] for entry in follower.poll()] == ["third"]
    assert writer.count(EntryFilter()) == 1


def test_following_a_database_not_there_yet_reads_it_from_its_first_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "later" / "t.db"
    recent, follower = SqliteStore(str(path)).follow(EntryFilter(), backlog=10)
    assert recent == []
    assert follower.poll() == []
    path.parent.mkdir()
    path.touch()
    assert follower.poll() == []  # not set up yet
    SqliteStore(str(path)).write([encoded(new_entry("first", at=T0))])
    assert [entry["skill"] for entry in follower.poll()] == ["first"]


# -- errors -----------------------------------------------------------------------------


LOCKER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("COMMIT")
"""


def test_a_database_locked_by_another_process_times_out_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.db"
    store = SqliteStore(str(path), lock_timeout=0.3)
    store.write([encoded(new_entry("before", at=T0))])
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        with pytest.raises(LockTimeoutError, match="stayed locked") as caught:
            store.write([encoded(new_entry("during", at=T0))])
        assert 0.25 < time.monotonic() - started < 5
        assert "the entry was not recorded" in str(caught.value)
        assert store.count(EntryFilter()) == 1  # readers go on (write-ahead log)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    store.write([encoded(new_entry("after", at=T0))])
    assert [e["skill"] for e in store.scan(EntryFilter(), newest_first=False)] == [
        "before",
        "after",
    ]


def test_a_file_that_is_not_a_database_is_refused_quoting_none_of_it(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    content = b'[{"password": "hunter2"}]\n' * 100
    path.write_bytes(content)
    store = SqliteStore(str(path))
    with pytest.raises(CorruptStoreError) as caught:
        store.write([encoded(new_entry(at=T0))])
    message = str(caught.value)
    assert "not a SQLite database of telemetry entries" in message
    assert "it starts with a JSON array" in message
    assert "hunter2" not in message
    with pytest.raises(CorruptStoreError):
        store.count(EntryFilter())
    assert path.read_bytes() == content


def test_a_database_with_other_tables_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE secrets (value TEXT)")
        connection.execute("INSERT INTO secrets VALUES ('hunter2')")
        connection.commit()
    before = path.read_bytes()
    for attempt in (
        lambda store: store.write([encoded(new_entry(at=T0))]),
        lambda store: store.stats(EntryFilter(), "skill", "count"),
    ):
        with pytest.raises(CorruptStoreError, match="1 other table") as caught:
            attempt(SqliteStore(str(path)))
        assert "hunter2" not in str(caught.value)
    assert path.read_bytes() == before


def test_a_database_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteStore(str(path)).write([encoded(new_entry(at=T0))])
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CorruptStoreError, match=f"user_version {SCHEMA_VERSION + 1}"):
        SqliteStore(str(path)).write([encoded(new_entry(at=T0))])


def test_a_fifo_or_a_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "t.db"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFileError, match="FIFO"):
        SqliteStore(str(fifo)).write([encoded(new_entry(at=T0))])
    with pytest.raises(NotARegularFileError, match="FIFO"):
        SqliteStore(str(fifo)).count(EntryFilter())
    folder = tmp_path / "folder.db"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="the path is a folder"):
        SqliteStore(str(folder)).write([encoded(new_entry(at=T0))])


PERMISSIONS = r"""
import json, os, sys
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import SqliteStore
from betty_telemetry.stores.base import Encoded
path, fault = sys.argv[1:3]
folder = os.path.dirname(path)
os.chmod(path if fault == "file" else folder, 0o400 if fault == "file" else 0o500)
report = {"control": not os.access(path if fault == "file" else folder, os.W_OK)}
store = SqliteStore(path)
report["count"] = store.count(EntryFilter())
report["skills"] = [e["skill"] for e in store.scan(EntryFilter())]
report["stats"] = len(store.stats(EntryFilter(), "skill", "count"))
report["followed"] = len(store.follow(EntryFilter(), 2)[0]) + len(
    SqliteStore(path).follow(EntryFilter(), 0)[1].poll()
)
line = b'{"skill": "new"}'
try:
    store.write([Encoded(json.loads(line), line)])
except OSError as error:
    report["error"] = [type(error).__name__, str(error)]
report["after"] = SqliteStore(path).count(EntryFilter())
os.chmod(path if fault == "file" else folder, 0o700)
print(json.dumps(report))
"""


@pytest.mark.skipif(
    not Path("/usr/bin/setpriv").exists() and os.geteuid() == 0,
    reason="root ignores permission bits, and setpriv is missing to drop that",
)
@pytest.mark.parametrize("fault", ["file", "folder"])
def test_a_read_only_database_or_folder_is_read_but_not_written(tmp_path: Path, fault: str) -> None:
    folder = tmp_path / "registry"
    path = folder / "t.db"
    store = SqliteStore(str(path))
    store.write([encoded(new_entry(f"s.{n}", at=T0)) for n in range(3)])
    store.close()  # the last connection: the log is checkpointed and removed
    prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]
    command = [*prefix, sys.executable, "-c", PERMISSIONS, str(path), fault]
    if os.geteuid() != 0:
        command = command[len(prefix) :]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["control"] is True
    assert report["count"] == 3
    assert report["skills"] == ["s.2", "s.1", "s.0"]
    assert report["stats"] == 3
    assert report["followed"] == 2
    kind, message = report["error"]
    assert kind == "PermissionError"
    assert "lacks permission on the file or one of its folders" in message
    assert "the entry was not recorded" in message
    assert report["after"] == 3


@pytest.mark.skipif(
    not Path("/usr/bin/setpriv").exists() and os.geteuid() == 0,
    reason="root ignores permission bits, and setpriv is missing to drop that",
)
def test_a_database_cannot_be_made_in_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir(mode=0o500)
    script = (
        "import json, sys\n"
        "from betty_telemetry.stores import SqliteStore\n"
        "from betty_telemetry.stores.base import Encoded\n"
        "try:\n"
        "    SqliteStore(sys.argv[1]).write([Encoded({}, b'{}')])\n"
        "except PermissionError as error:\n"
        "    print(error)\n"
    )
    prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]
    command = [*prefix, sys.executable, "-c", script, str(folder / "t.db")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    folder.chmod(0o700)
    assert "lacks permission on the file or one of its folders" in result.stdout, result.stderr
    assert result.stdout.rstrip().endswith(f"{str(folder / 't.db')!r}")
    assert not (folder / "t.db").exists()


# -- processes and threads --------------------------------------------------------------


def test_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))

    def write(writer: int) -> None:
        for n in range(150):
            store.write([encoded({"skill": "thread", "id": f"{writer}-{n}"})])
            if n % 50 == 0:
                assert store.count(EntryFilter()) > 0

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [entry["id"] for entry in store.scan(EntryFilter())]
    assert sorted(ids) == sorted(f"{t}-{n}" for t in range(4) for n in range(150))


def test_forked_children_using_the_parents_store_open_their_own_connection(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.db"
    telemetry = TelemetryCapture(path)
    telemetry.capture("fork", "success", 0, "parent", {"id": "parent-first"})
    children = []
    for c in range(3):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                for n in range(100):
                    telemetry.capture("fork", "success", n, "child", {"id": f"c{c}-{n}"})
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    for n in range(100):
        telemetry.capture("fork", "success", n, "parent", {"id": f"p-{n}"})
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0, 0, 0]
    ids = [entry["inputs"]["id"] for entry in telemetry.query()]
    expected = {"parent-first"} | {f"p-{n}" for n in range(100)}
    expected |= {f"c{c}-{n}" for c in range(3) for n in range(100)}
    assert sorted(ids) == sorted(expected)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_closing_one_store_keeps_the_locks_of_another_on_the_same_database(
    tmp_path: Path,
) -> None:
    # Closing any descriptor of a file drops every POSIX lock the process holds on it: a
    # store that did so would let another process think it had the last connection, and
    # delete the log under this one.
    path = tmp_path / "t.db"
    kept, closed = SqliteStore(str(path)), SqliteStore(str(path))
    kept.write([encoded({"skill": "kept.1"})])
    closed.write([encoded({"skill": "closed.1"})])
    closed.close()
    other = run_python(
        "-c",
        "import sys\n"
        "from betty_telemetry.stores import SqliteStore\n"
        "from betty_telemetry.stores.base import Encoded\n"
        "store = SqliteStore(sys.argv[1])\n"
        'store.write([Encoded({}, b\'{"skill": "other"}\')])\n'
        "store.close()\n",
        str(path),
    )
    assert other.returncode == 0, other.stderr
    assert Path(f"{path}-wal").exists()  # our connection is still open: nobody removed it
    kept.write([encoded({"skill": "kept.2"})])
    check = run_python(
        "-c",
        "import sys\n"
        "from betty_telemetry.model.filters import EntryFilter\n"
        "from betty_telemetry.stores import SqliteStore\n"
        "print([e['skill'] for e in SqliteStore(sys.argv[1]).scan(EntryFilter(), "
        "newest_first=False)])\n",
        str(path),
    )
    assert check.stdout.strip() == "['kept.1', 'closed.1', 'other', 'kept.2']", check.stderr


# -- the CLI ----------------------------------------------------------------------------


def test_the_cli_captures_and_reads_a_database(cli_here: CliHere, tmp_path: Path) -> None:
    path = tmp_path / "registry" / "t.db"
    for skill, status in (("plugin.build", "success"), ("agent.run", "failure")):
        result = cli_here("capture", skill, status, "120", "CLI", "--file", str(path))
        assert result.returncode == 0, result.stderr
    query = cli_here("query", "--status", "failure", "--json", "--file", str(path))
    assert [entry["skill"] for entry in json.loads(query.stdout)] == ["agent.run"]
    stats = cli_here("stats", "--json", "--file", str(path))
    assert {row["key"] for row in json.loads(stats.stdout)} == {"plugin.build", "agent.run"}
    tail = cli_here("tail", "-n", "1", "--file", str(path))
    assert tail.returncode == 0
    assert "agent.run" in tail.stdout
    assert "plugin.build" not in tail.stdout
    telemetry = TelemetryCapture(path)

    @capture_telemetry("outer", telemetry=telemetry)
    def outer() -> None:
        inner()

    @capture_telemetry("inner", telemetry=telemetry)
    def inner() -> None:
        pass

    outer()
    telemetry.close()
    trace = cli_here("trace", "--last", "--file", str(path))
    assert trace.returncode == 0, trace.stderr
    assert trace.stdout.index("outer") < trace.stdout.index("inner")


def test_the_cli_reports_a_corrupt_database_clearly(cli_here: CliHere, tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    path.write_text("password=hunter2\n")
    result = cli_here("query", "--file", str(path))
    assert result.returncode == 1
    assert "not a SQLite database of telemetry entries" in result.stderr
    assert "hunter2" not in result.stderr


def test_background_mode_writes_each_batch_in_one_transaction(tmp_path: Path) -> None:
    telemetry = TelemetryCapture(tmp_path / "t.db", background=True)
    for n in range(300):
        telemetry.capture("queued", "success", float(n), "test", {"n": n})
    assert telemetry.flush(timeout=30)
    assert [entry["inputs"]["n"] for entry in telemetry.tail(300)] == list(range(300))
    assert telemetry.stats()[0]["count"] == 300
    telemetry.close()


def test_stats_need_not_wait_for_the_stores_own_connection(tmp_path: Path) -> None:
    # Statistics that stream every row take seconds: a thread capturing meanwhile must not
    # wait for them, so they read on a connection of their own.
    store = SqliteStore(str(tmp_path / "t.db"))
    store.write([encoded(entry) for entry in traced_entries()])
    found: list[list[dict[str, Any]]] = []
    with store._lock:  # the store's connection is busy (a capture in another thread)
        reader = threading.Thread(
            target=lambda: found.append(store.stats(EntryFilter(), "caller", "count"))
        )
        reader.start()
        reader.join(timeout=30)
    assert [row["count"] for row in found[0]] == [14, 13, 13]


FIRST_WRITER = """
import sys, time
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    pass
for n in range(50):
    telemetry.capture(f"{sys.argv[3]}.{n}", "success", 1.0, "test")
"""


def test_processes_that_set_up_a_new_database_at_once_all_record(tmp_path: Path) -> None:
    # Switching a new database to WAL needs it to itself, and SQLite refuses the others at
    # once instead of waiting: each must wait its turn, as for a write.
    path = tmp_path / "new.db"
    start = time.time() + 1.0
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_WRITER, str(path), str(start), f"w{n}"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    errors = [writer.communicate(timeout=60)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0] * 4, errors
    assert len(stored_entries(path)) == 200
