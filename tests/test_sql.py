"""SQL over a store with DuckDB (the [sql] extra): the view ``entries`` on every store, its
archives, legacy and damaged files, each output format, bad SQL, and DuckDB missing.
DuckDB runs for real on real files. Where a rotation, a pruning or a rewrite must land at one
exact moment of a read, a hook placed there does the real thing (the store is not mocked)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shlex
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import SqlError, TelemetryCapture
from betty_telemetry.cli import sql_command
from betty_telemetry.cli.sql_command import SQL_EXAMPLES, plain
from betty_telemetry.read import sql as sql_module
from betty_telemetry.read.sql_view import COLUMN_NAMES
from betty_telemetry.stores import CorruptStoreError, MemoryStore, open_store
from betty_telemetry.stores import entry_files as entry_files_module
from betty_telemetry.stores.archives import list_archives
from betty_telemetry.stores.json_array import as_lines
from tests.conftest import FIXTURE, CliHere, run_cli, run_python
from tests.entries import new_entry
from tests.stores import JSON_ARRAY, JSON_LINES, copy_store, encoded, kind_of, write_entries

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]
AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
COUNT_BY_SKILL = "SELECT skill, count(*) AS n FROM entries GROUP BY skill ORDER BY skill"


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder temporary files go to, watched: a read must leave nothing in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def entries(*skills: str, **changes: Any) -> list[Entry]:
    return [new_entry(skill, at=AT, **changes) for skill in skills]


def counts(result: sql_module.SqlResult) -> dict[str, int]:
    return dict(result.rows)


# -- the view on every store -------------------------------------------------------------------


def test_group_by_counts_every_entry_as_stats_does(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    for skill, times in (("agent.run", 3), ("plugin.build", 2), ("deploy", 1)):
        for _ in range(times):
            telemetry.capture(skill, "success", 12.5, "cli")
    result = telemetry.sql(COUNT_BY_SKILL)
    assert result.columns == ("skill", "n")
    assert result.types == ("VARCHAR", "BIGINT")
    assert counts(result) == {"agent.run": 3, "deploy": 1, "plugin.build": 2}
    assert counts(result) == {row["key"]: row["count"] for row in telemetry.stats()}


def test_the_view_has_typed_columns_and_parsed_json(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    telemetry.capture(
        "agent.run", "failure", 1500, "API", {"path": "a.yaml"}, "boom", {"env": "prod"}
    )
    result = telemetry.sql("SELECT * FROM entries")
    assert result.columns == COLUMN_NAMES
    [row] = result.dicts()
    assert isinstance(row["timestamp"], datetime)
    assert row["timestamp"].utcoffset() is not None
    assert row["timestamp"].utcoffset().total_seconds() == 0
    assert (row["skill"], row["status"], row["caller"]) == ("agent.run", "failure", "API")
    assert row["duration_ms"] == 1500.0
    assert type(row["duration_ms"]) is float
    assert row["inputs"] == {"path": "a.yaml"}
    assert row["metadata"] == {"env": "prod"}
    assert row["error_message"] == "boom"
    assert row["entry"]["skill"] == "agent.run"
    assert row["source"] == str(telemetry_path)


def test_time_functions_work_on_the_timestamp(telemetry_path: Path) -> None:
    write_entries(telemetry_path, [new_entry("a", at=AT), new_entry("b", at=AT.replace(day=3))])
    result = TelemetryCapture(telemetry_path).sql(
        "SELECT strftime(date_trunc('day', timestamp), '%Y-%m-%d') AS day, count(*) "
        "FROM entries GROUP BY 1 ORDER BY 1"
    )
    assert result.rows == [("2026-01-02", 1), ("2026-01-03", 1)]


def test_parameters_fill_placeholders(telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries("a", "b", "b"))
    telemetry = TelemetryCapture(telemetry_path)
    assert telemetry.sql("SELECT count(*) FROM entries WHERE skill = ?", ["b"]).rows == [(2,)]
    named = telemetry.sql("SELECT count(*) FROM entries WHERE skill = $s", {"s": "a"})
    assert named.rows == [(1,)]


def test_odd_values_give_nulls_and_entries_missing_fields_give_nulls(
    telemetry_path: Path,
) -> None:
    write_entries(
        telemetry_path,
        [
            {"timestamp": "not a time", "skill": 42, "duration_ms": "12", "status": True},
            {"skill": "bare"},
            {"timestamp": "2026-01-02T03:04:05", "skill": "naive", "duration_ms": 7},
        ],
    )
    result = TelemetryCapture(telemetry_path).sql(
        "SELECT skill, timestamp, duration_ms, status, caller, inputs, metadata, trace_id "
        "FROM entries ORDER BY skill"
    )
    assert result.rows == [
        ("42", None, None, "true", None, None, None, None),  # text fields: the JSON as text
        ("bare", None, None, None, None, None, None, None),
        ("naive", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), 7.0, *[None] * 5),
    ]


def test_the_original_frameworks_legacy_entries_read_as_they_are(telemetry_path: Path) -> None:
    copy_store(FIXTURE, telemetry_path)
    fixture: list[Entry] = json.loads(FIXTURE.read_bytes())
    telemetry = TelemetryCapture(telemetry_path)
    [(total, failed, with_error, durations, executions)] = telemetry.sql(
        "SELECT count(*), count(*) FILTER (status = 'failed'), count(error_message), "
        "count(duration_ms), count(entry->>'execution_id') FROM entries"
    ).rows
    assert total == len(fixture)
    assert failed == sum(1 for entry in fixture if entry.get("status") == "failed")
    assert with_error == sum(
        1 for entry in fixture if entry.get("error_message") or entry.get("error")
    )
    assert durations == len(fixture)  # integer durations read as numbers
    assert executions == sum(1 for entry in fixture if "execution_id" in entry)
    legacy = telemetry.sql(
        "SELECT error_message, metadata FROM entries WHERE entry->>'error' IS NOT NULL LIMIT 1"
    ).rows
    assert legacy[0][0] == next(entry["error"] for entry in fixture if "error" in entry)
    assert legacy[0][1] is None  # no metadata field: NULL


def test_an_empty_store_gives_an_empty_view_with_its_columns(telemetry_path: Path) -> None:
    write_entries(telemetry_path, [])
    result = TelemetryCapture(telemetry_path).sql("SELECT * FROM entries")
    assert result.columns == COLUMN_NAMES
    assert result.rows == []


def test_a_blank_file_gives_an_empty_view(telemetry_path: Path) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(b"")
    assert TelemetryCapture(telemetry_path).sql("SELECT count(*) FROM entries").rows == [(0,)]


def test_a_missing_store_gives_an_empty_view(tmp_path: Path, store_suffix: str) -> None:
    path = tmp_path / f"never{store_suffix}"
    assert TelemetryCapture(path).sql("SELECT count(*) FROM entries").rows == [(0,)]
    assert not path.exists()


def test_the_store_is_only_read_and_every_copy_is_removed(
    telemetry_path: Path, private_temp: Path
) -> None:
    write_entries(telemetry_path, entries("a", "b"))
    before = telemetry_path.read_bytes()
    telemetry = TelemetryCapture(telemetry_path)
    with pytest.raises(SqlError):
        telemetry.sql("DELETE FROM entries")
    made = telemetry.sql("CREATE TABLE kept AS SELECT * FROM entries; SELECT count(*) FROM kept")
    assert made.rows == [(2,)]
    assert telemetry_path.read_bytes() == before
    assert list(private_temp.iterdir()) == []
    # Each query has a database of its own: nothing is kept from one to the next.
    with pytest.raises(SqlError, match="kept"):
        telemetry.sql("SELECT * FROM kept")


def test_copies_are_private_while_the_query_runs(telemetry_path: Path, private_temp: Path) -> None:
    write_entries(telemetry_path, entries("a"))
    with TelemetryCapture(telemetry_path).stream_sql("SELECT 1") as rows:
        modes = {
            path.relative_to(private_temp): oct(path.stat().st_mode & 0o777)
            for path in private_temp.rglob("*")
        }
        assert list(rows) == [(1,)]
    folders = {path: mode for path, mode in modes.items() if "/" not in str(path)}
    assert set(folders.values()) == {"0o700"}
    assert {mode for path, mode in modes.items() if str(path).endswith(".jsonl")} <= {"0o600"}
    if kind_of(telemetry_path) != JSON_LINES:  # a JSON Lines file is read as it is
        assert any(str(path).endswith(".jsonl") for path in modes)


def test_streamed_rows_come_in_batches(telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries(*[f"s{n}" for n in range(25)]))
    telemetry = TelemetryCapture(telemetry_path)
    with telemetry.stream_sql("SELECT skill FROM entries") as rows:
        assert rows.columns == ("skill",)
        sizes = [len(batch) for batch in rows.batches(10)]
    assert sizes == [10, 10, 5]
    result = telemetry.sql("SELECT skill FROM entries ORDER BY skill")
    assert len(result) == 25
    assert next(iter(result)) == ("s0",)


def test_a_path_with_a_quote_is_read(tmp_path: Path, store_suffix: str) -> None:
    path = tmp_path / f"it's {store_suffix[1:]}{store_suffix}"
    write_entries(path, entries("a"))
    result = TelemetryCapture(path).sql("SELECT skill, source FROM entries")
    assert result.rows == [("a", str(path))]


# -- archives ----------------------------------------------------------------------------------


def rotated_store(path: Path) -> TelemetryCapture:
    """Entries a, b in the oldest archive, c in the next, d live."""
    telemetry = TelemetryCapture(path)
    for skill in ("a", "b"):
        telemetry.capture(skill, "success", 1.0, "cli")
    assert telemetry.rotate().archive is not None
    telemetry.capture("c", "success", 1.0, "cli")
    assert telemetry.rotate().archive is not None
    telemetry.capture("d", "success", 1.0, "cli")
    return telemetry


def test_archives_are_read_only_when_asked(telemetry_path: Path) -> None:
    telemetry = rotated_store(telemetry_path)
    assert counts(telemetry.sql(COUNT_BY_SKILL)) == {"d": 1}
    assert counts(telemetry.sql(COUNT_BY_SKILL, archives=True)) == {"a": 1, "b": 1, "c": 1, "d": 1}
    sources = telemetry.sql(
        "SELECT source, count(*) FROM entries GROUP BY 1 ORDER BY 1", archives=True
    ).rows
    assert sources == sorted(
        [(str(telemetry_path), 1)]
        + [(path, 2 if n == 1 else 1) for n, path in enumerate(telemetry.archives())]
    )


def test_a_staged_archive_not_compressed_yet_is_read(telemetry_path: Path) -> None:
    telemetry = rotated_store(telemetry_path)
    newest = telemetry.archives()[0]
    staged = newest.removesuffix(".gz").rsplit(".", 1)[0] + ".rotating"
    Path(staged).write_bytes(gzip.decompress(Path(newest).read_bytes()))
    os.unlink(newest)  # as a rotation killed before it compressed the staged file leaves it
    assert telemetry.archives()[0] == staged
    assert counts(telemetry.sql(COUNT_BY_SKILL, archives=True)) == {"a": 1, "b": 1, "c": 1, "d": 1}


def test_only_archives_and_no_live_file(cli_here: CliHere, telemetry_path: Path) -> None:
    telemetry = rotated_store(telemetry_path)
    telemetry.close()
    for path in [telemetry_path, *telemetry_path.parent.glob(telemetry_path.name + "-*")]:
        path.unlink()
    assert counts(telemetry.sql(COUNT_BY_SKILL, archives=True)) == {"a": 1, "b": 1, "c": 1}
    result = cli_here(
        "sql", "SELECT count(*) FROM entries", "--archives", "--file", str(telemetry_path)
    )
    assert (result.returncode, result.stdout.split()) == (0, ["count_star()", "3"]), result.stderr


def test_a_rotation_while_the_files_are_taken_counts_nothing_twice_nor_misses_it(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real rotation lands right after the archives were listed: the files are taken again,
    and every entry is read once."""
    telemetry = rotated_store(telemetry_path)
    listing = entry_files_module.list_archives
    rotations = []

    def listed_then_rotated(location: str, format_name: str) -> Any:
        found = listing(location, format_name)
        if not rotations:
            rotations.append(open_store(telemetry_path).rotate())
        return found

    monkeypatch.setattr(entry_files_module, "list_archives", listed_then_rotated)
    result = telemetry.sql(COUNT_BY_SKILL, archives=True)
    assert rotations[0] is not None
    assert counts(result) == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert (
        len(
            list_archives(
                str(telemetry_path), "jsonl" if kind_of(telemetry_path) != JSON_ARRAY else "json"
            )
        )
        == 3
    )


def test_an_archive_pruned_while_the_files_are_taken_is_left_out(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oldest archive is deleted (as a pruning does) right after it was listed: the files
    are taken again, and the query reads what is there."""
    telemetry = rotated_store(telemetry_path)
    oldest = telemetry.archives()[-1]
    listing = entry_files_module.list_archives

    def listed_then_pruned(location: str, format_name: str) -> Any:
        found = listing(location, format_name)
        if os.path.exists(oldest):
            os.unlink(oldest)
        return found

    monkeypatch.setattr(entry_files_module, "list_archives", listed_then_pruned)
    assert counts(telemetry.sql(COUNT_BY_SKILL, archives=True)) == {"c": 1, "d": 1}


def test_rotations_that_keep_coming_are_waited_for_a_few_times_only(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    telemetry = rotated_store(telemetry_path)
    listing = entry_files_module.list_archives
    listed = []

    def listed_then_rotated(location: str, format_name: str) -> Any:
        found = listing(location, format_name)
        listed.append(location)
        store = open_store(telemetry_path)
        store.write([encoded(new_entry(f"r{len(listed)}", at=AT))])
        store.rotate()
        store.close()
        return found

    monkeypatch.setattr(entry_files_module, "list_archives", listed_then_rotated)
    telemetry.sql("SELECT count(*) FROM entries", archives=True)
    assert len(listed) == entry_files_module.ATTEMPTS


@pytest.mark.only_stores(JSON_ARRAY, reason="the fixture's own layout, indented, archived")
def test_an_archive_in_another_layout_is_read(telemetry_path: Path) -> None:
    copy_store(FIXTURE, telemetry_path)  # the original framework's indented array
    telemetry = TelemetryCapture(telemetry_path)
    assert telemetry.rotate().archive is not None
    telemetry.capture("new", "success", 1.0, "cli")
    [(total,)] = telemetry.sql("SELECT count(*) FROM entries", archives=True).rows
    assert total == len(json.loads(FIXTURE.read_bytes())) + 1


# -- damaged files -----------------------------------------------------------------------------


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="a file whose lines can be damaged")
def test_a_damaged_line_and_a_torn_tail_are_skipped(telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries("a", "b", "c"))
    lines = telemetry_path.read_bytes().split(b"\n")
    at = 2 if kind_of(telemetry_path) == JSON_ARRAY else 1  # before the second entry
    lines.insert(at, b'{"skill": "broken", "status": ' + (b"," if at == 2 else b""))
    damaged = b"\n".join(lines).rstrip(b"\n]") + b'\n{"skill": "torn", "sta'
    telemetry_path.write_bytes(damaged)
    assert counts(TelemetryCapture(telemetry_path).sql(COUNT_BY_SKILL)) == {"a": 1, "b": 1, "c": 1}


@pytest.mark.only_stores(JSON_ARRAY, reason="another program rewrites the array in place")
def test_a_file_rewritten_in_place_while_copied_is_copied_again(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original framework rewrites the whole file (indented, one entry more) while the
    copy runs: the copy starts again under the lock, and reads the file as it is now."""
    write_entries(telemetry_path, entries("a", "b"))
    transform = as_lines._transform
    rewritten = []

    def rewritten_meanwhile(first: bytes, read: Any, out: Any) -> None:
        if not rewritten:
            rewritten.append(True)
            data = json.loads(telemetry_path.read_bytes()) + entries("c")
            with open(telemetry_path, "r+") as file:  # in place: the same file
                file.write(json.dumps(data, indent=2))
        transform(first, read, out)

    monkeypatch.setattr(as_lines, "_transform", rewritten_meanwhile)
    result = TelemetryCapture(telemetry_path).sql(COUNT_BY_SKILL)
    assert rewritten == [True]
    assert counts(result) == {"a": 1, "b": 1, "c": 1}


@pytest.mark.only_stores(JSON_ARRAY, reason="the JSON array's own reader, for another layout")
def test_a_damaged_line_in_another_layout_is_skipped_with_a_warning(
    telemetry_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = json.dumps(entries("a", "b"), indent=2).split("\n")
    good.insert(good.index("  },") + 1, '  {"skill": nope},')
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_text("\n".join(good))
    assert counts(TelemetryCapture(telemetry_path).sql(COUNT_BY_SKILL)) == {"a": 1, "b": 1}
    assert "damaged line" in caplog.text


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="a file of another format")
def test_a_file_that_is_not_its_stores_format_is_refused(telemetry_path: Path) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(b'{"a": 1}' if kind_of(telemetry_path) == JSON_ARRAY else b"[1]\n")
    with pytest.raises(CorruptStoreError):
        TelemetryCapture(telemetry_path).sql("SELECT count(*) FROM entries")


# -- errors ------------------------------------------------------------------------------------


def test_bad_sql_says_what_duckdb_said_and_names_the_columns(telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries("a"))
    telemetry = TelemetryCapture(telemetry_path)
    with pytest.raises(SqlError, match="syntax error") as syntax:
        telemetry.sql("SELEC skill FROM entries")
    assert "timestamp (TIMESTAMP WITH TIME ZONE), skill (VARCHAR)" in str(syntax.value)
    with pytest.raises(SqlError, match='"nope" not found'):
        telemetry.sql("SELECT nope FROM entries")
    with pytest.raises(ValueError, match="query must be SQL text"):
        telemetry.sql("  ")


def test_a_failure_while_rows_are_read_is_an_sql_error_naming_the_store(
    telemetry_path: Path,
) -> None:
    write_entries(telemetry_path, entries("a"))
    with pytest.raises(SqlError, match="Conversion Error"):
        TelemetryCapture(telemetry_path).sql("SELECT CAST(skill AS INTEGER) FROM entries")


def test_a_store_that_cannot_hand_over_its_entries_is_refused() -> None:
    class Plain:  # a Store of one's own, without entry_files
        location = "plain"

        def __init__(self) -> None:
            self.inner = MemoryStore()

        def write(self, batch: Any) -> None: ...
        def flush(self, timeout: float | None = None) -> bool:
            return True

        def close(self) -> None: ...
        def scan(self, wanted: Any, **options: Any) -> Iterator[Entry]:
            return iter(())

        def follow(self, wanted: Any, backlog: int) -> Any: ...
        def count(self, wanted: Any) -> int:
            return 0

    with pytest.raises(ValueError, match="Plain cannot hand its entries to SQL"):
        sql_module.run(Plain(), "SELECT 1", archives=False)  # type: ignore[arg-type]


@pytest.mark.json_only(reason="a store kept in memory")
def test_a_store_in_memory_is_read() -> None:
    telemetry = TelemetryCapture(":memory:")
    telemetry.capture("a", "success", 1.0, "cli")
    assert telemetry.sql("SELECT skill, source FROM entries").rows == [("a", ":memory:")]


# -- the command line --------------------------------------------------------------------------


def sql_cli(cli: CliHere, path: Path, query: str, *options: str) -> Any:
    return cli("sql", query, "--file", str(path), *options)


def test_cli_prints_a_table(cli_here: CliHere, telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries("agent.run", "agent.run", "b"))
    result = sql_cli(cli_here, telemetry_path, COUNT_BY_SKILL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "skill      n",
        "agent.run  2",
        "b          1",
    ]


def test_cli_table_shows_nulls_and_no_rows(cli_here: CliHere, telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries("a"))
    nulls = sql_cli(cli_here, telemetry_path, "SELECT skill, trace_id FROM entries")
    assert nulls.stdout.splitlines() == ["skill  trace_id", "a      NULL"]
    empty = sql_cli(cli_here, telemetry_path, "SELECT skill FROM entries WHERE false")
    assert empty.stdout.splitlines() == ["skill", "(no rows)"]


def test_cli_json_jsonl_and_csv(cli_here: CliHere, telemetry_path: Path) -> None:
    write_entries(telemetry_path, [new_entry("a", at=AT, inputs={"k": [1, 2]}, duration_ms=5)])
    query = "SELECT skill, timestamp, duration_ms, inputs, 1.5 AS d, trace_id FROM entries"
    expected = {
        "skill": "a",
        "timestamp": "2026-01-02T03:04:05.678901+00:00",
        "duration_ms": 5.0,
        "inputs": {"k": [1, 2]},
        "d": 1.5,
        "trace_id": None,
    }
    as_json = sql_cli(cli_here, telemetry_path, query, "--json")
    assert json.loads(as_json.stdout) == [expected]
    as_lines = sql_cli(cli_here, telemetry_path, query, "--jsonl")
    assert [json.loads(line) for line in as_lines.stdout.splitlines()] == [expected]
    as_csv = sql_cli(cli_here, telemetry_path, query, "--csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["skill", "timestamp", "duration_ms", "inputs", "d", "trace_id"],
        ["a", "2026-01-02T03:04:05.678901+00:00", "5.0", '{"k": [1, 2]}', "1.5", ""],
    ]


def test_cli_table_of_many_rows_widens_its_columns_as_rows_come(
    cli_here: CliHere, telemetry_path: Path
) -> None:
    names = [f"s{n}" for n in range(1000)] + ["a-much-longer-skill-name"]
    write_entries(telemetry_path, entries(*names))
    result = sql_cli(cli_here, telemetry_path, "SELECT skill, 7 AS n FROM entries")
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + len(names)
    assert lines[0] == "skill  n"  # widths of the first thousand rows
    assert lines[1] == "s0     7"
    assert lines[-1] == "a-much-longer-skill-name  7"


@pytest.mark.json_only(reason="terminal output; the stores are not involved")
def test_cli_table_on_a_terminal_cuts_long_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_entries(path, [new_entry("a", at=AT, inputs={"text": "x" * 200})])
    output = run_in_terminal(["sql", "SELECT inputs, skill FROM entries", "--file", str(path)])
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith('{"text": "xxx')
    assert lines[-1].endswith("…  a")
    assert len(lines[-1]) == sql_command.CELL_COLUMNS + 3


def run_in_terminal(args: list[str]) -> str:
    """``betty-telemetry ARGS`` on a real pseudo-terminal 200 columns wide; what it shows."""
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm"}
    env.pop("COLUMNS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "betty_telemetry", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_cli_bad_sql_is_an_error_with_exit_1(cli_here: CliHere, telemetry_path: Path) -> None:
    write_entries(telemetry_path, entries("a"))
    result = sql_cli(cli_here, telemetry_path, "SELECT nope FROM entries")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Binder Error")
    assert "The view entries has the columns: timestamp" in result.stderr
    assert result.stdout == ""


def test_cli_missing_file_is_an_error_unless_archives_are_asked(
    cli_here: CliHere, tmp_path: Path
) -> None:
    path = tmp_path / "none.json"
    missing = sql_cli(cli_here, path, "SELECT count(*) FROM entries")
    assert missing.returncode == 1
    assert "no telemetry file at" in missing.stderr
    archives = sql_cli(cli_here, path, "SELECT count(*) FROM entries", "--archives")
    assert (archives.returncode, archives.stdout.split()) == (0, ["count_star()", "0"])


@pytest.mark.json_only(reason="the help's examples, once")
def test_cli_help_examples_run(cli_here: CliHere, tmp_path: Path) -> None:
    help_text = cli_here("sql", "--help").stdout
    assert "betty-telemetry sql" in help_text
    assert "pip install 'betty-telemetry[sql]'" in help_text
    for name in COLUMN_NAMES:
        assert f"  {name} " in help_text
    path = tmp_path / "t.json"
    write_entries(path, [new_entry("a", at=datetime.now(timezone.utc), error_message="timeout")])
    commands = SQL_EXAMPLES.split("\n\n")[0].removeprefix("examples:\n").split("\n  betty")
    assert len(commands) == 4
    for command in commands:
        words = shlex.split(command)
        words = words[: words.index(">")] if ">" in words else words
        result = cli_here(*words[1:], "--file", str(path))
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.strip()


@pytest.mark.json_only(reason="the stores are not involved: the extra is")
def test_without_duckdb_the_cli_and_the_api_name_the_extra(tmp_path: Path) -> None:
    """DuckDB hidden from a real child process (an import hook in sitecustomize)."""
    hook = tmp_path / "hide"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'duckdb' or name.startswith('duckdb.') or name == '_duckdb':\n"
        "            raise ImportError('No module named ' + repr(name))\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    path = tmp_path / "t.json"
    write_entries(path, entries("a"))
    env = {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    result = run_cli("sql", "SELECT 1", "--file", str(path))
    assert result.returncode == 0  # DuckDB is there without the hook
    result = run_python("-m", "betty_telemetry", "sql", "SELECT 1", "--file", str(path), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: SQL queries need DuckDB, an optional extra: pip install 'betty-telemetry[sql]'"
    )
    code = (
        "from betty_telemetry import TelemetryCapture\n"
        "try:\n"
        f"    TelemetryCapture({str(path)!r}).sql('SELECT 1')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    api = run_python("-c", code, env=env)
    assert api.stdout.strip().endswith("pip install 'betty-telemetry[sql]'"), api.stderr
    # The rest of the library does not need it.
    query = run_python("-m", "betty_telemetry", "query", "--file", str(path), env=env)
    assert query.returncode == 0, query.stderr


def test_plain_values_for_json_output() -> None:
    import datetime as dt
    import decimal
    import uuid

    assert plain(float("nan")) is None
    assert plain(decimal.Decimal("2")) == 2
    assert plain(decimal.Decimal("2.5")) == 2.5
    assert plain(dt.date(2026, 1, 2)) == "2026-01-02"
    assert plain(dt.timedelta(seconds=90)) == "0:01:30"
    assert plain(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert plain(b"\x01\xff") == "01ff"
    assert plain({"a": [dt.time(1, 2)]}) == {"a": ["01:02:00"]}


def test_sqlite_store_reads_through_its_rows_without_duckdbs_extension(
    telemetry_path: Path,
) -> None:
    """The extension DuckDB would download for SQLite is never needed."""
    write_entries(telemetry_path, entries("a", "b"))
    import duckdb

    loaded = duckdb.sql(
        "SELECT count(*) FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner' "
        "AND installed"
    ).fetchone()
    assert loaded == (0,)
    assert counts(TelemetryCapture(telemetry_path).sql(COUNT_BY_SKILL)) == {"a": 1, "b": 1}


def test_queries_while_another_process_appends_see_a_growing_whole_store(
    telemetry_path: Path,
) -> None:
    """Appends land while DuckDB reads (over a JSON array's closing bracket, too): every
    query counts what was there when it began, at least, and never fails."""
    write_entries(telemetry_path, entries(*["seed"] * 200))
    writer = (
        "import sys\n"
        "from betty_telemetry import TelemetryCapture\n"
        "telemetry = TelemetryCapture(sys.argv[1])\n"
        "for n in range(20000):\n"
        "    telemetry.capture('w', 'success', float(n), 'writer')\n"
    )
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", writer, str(telemetry_path)])
    telemetry = TelemetryCapture(telemetry_path)
    seen = []
    try:
        while process.poll() is None or not seen:
            [(total, seeds)] = telemetry.sql(
                "SELECT count(*), count(*) FILTER (skill = 'seed') FROM entries"
            ).rows
            assert seeds == 200
            seen.append(total)
    finally:
        process.wait(timeout=120)
    assert process.returncode == 0
    assert seen == sorted(seen), seen
    assert seen[0] >= 200
    assert seen[-1] <= 20200
    [(final,)] = telemetry.sql("SELECT count(*) FROM entries").rows
    assert final == 20200
