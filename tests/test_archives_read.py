"""Archives stay queryable: query, stats, trace, tail and follow read a store's archives after
it, newest first, with ``archives=True`` in Python and ``--archives`` on the command line."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.cli.main import main
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import CorruptStoreError, MemoryStore, open_store
from betty_telemetry.stores.archived import WithArchives, open_archive, with_archives
from betty_telemetry.stores.archives import archive_path, stamp
from betty_telemetry.stores.base import Archive, RotatingStore

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]


def durations(entries: list[Entry]) -> list[float]:
    return [entry["duration_ms"] for entry in entries]


@pytest.fixture
def rotated(telemetry: TelemetryCapture) -> TelemetryCapture:
    """Ten entries (durations 0..9): 0-4 in the older archive, 5-7 in the newer, 8-9 live."""
    for batch in (range(5), range(5, 8)):
        for number in batch:
            telemetry.capture("skill.a" if number % 2 else "skill.b", "success", number, "t")
        assert telemetry.rotate().archive is not None
    for number in (8, 9):
        telemetry.capture("skill.a", "failure", number, "t", error_message=f"boom {number}")
    return telemetry


def live_store(telemetry: TelemetryCapture) -> RotatingStore:
    assert isinstance(telemetry.store, RotatingStore)
    return telemetry.store


def test_query_reads_the_archives_after_the_store_newest_first(rotated: TelemetryCapture) -> None:
    assert durations(rotated.query()) == [9, 8]
    assert durations(rotated.query(archives=True)) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert durations(rotated.query(archives=True, limit=3, offset=1)) == [8, 7, 6]
    assert durations(rotated.query("skill.b", archives=True)) == [6, 4, 2, 0]


def test_iter_entries_streams_store_then_archives(rotated: TelemetryCapture) -> None:
    stream = rotated.iter_entries(archives=True, caller="t")
    assert durations(list(stream)) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


def test_scan_oldest_first_reads_the_oldest_archive_first(rotated: TelemetryCapture) -> None:
    store = with_archives(rotated.store)
    entries = list(store.scan(EntryFilter(), newest_first=False))
    assert durations(entries) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_stats_and_count_take_in_the_archives(rotated: TelemetryCapture) -> None:
    rows = {row["key"]: row for row in rotated.stats(archives=True)}
    assert rows["skill.a"]["count"] == 6
    assert rows["skill.a"]["statuses"] == {"success": 4, "failure": 2}
    assert rows["skill.b"]["count"] == 4
    assert with_archives(rotated.store).count(EntryFilter.build(status="failure")) == 2
    assert with_archives(rotated.store).count(EntryFilter()) == 10


def test_tail_reaches_back_into_the_archives(rotated: TelemetryCapture) -> None:
    assert durations(rotated.tail(2)) == [8, 9]
    assert durations(rotated.tail(4)) == [8, 9]
    assert durations(rotated.tail(4, archives=True)) == [6, 7, 8, 9]


def test_follow_backlog_reaches_back_into_the_archives(rotated: TelemetryCapture) -> None:
    stream = rotated.follow(backlog=5, archives=True, poll_interval=0.01)
    try:
        assert durations([next(stream) for _ in range(5)]) == [5, 6, 7, 8, 9]
        rotated.capture("skill.a", "success", 10, "t")
        assert next(stream)["duration_ms"] == 10
    finally:
        stream.close()
    short = rotated.follow(backlog=1, archives=True, poll_interval=0.01)
    try:
        assert durations([next(short)]) == [10]  # the store alone holds enough
    finally:
        short.close()


def test_a_trace_split_by_a_rotation_is_whole_again_with_archives(
    telemetry: TelemetryCapture,
) -> None:
    from betty_telemetry import TelemetryContext

    with TelemetryContext("workflow.run", "t", telemetry=telemetry) as outer:
        with TelemetryContext("step.one", "t", telemetry=telemetry):
            pass
        telemetry.rotate()
        with TelemetryContext("step.two", "t", telemetry=telemetry):
            pass
    trace_id = outer.entry["trace_id"]
    assert telemetry.last_trace_id(archives=True) == trace_id
    [root] = telemetry.trace(trace_id, archives=True)
    assert root["entry"]["skill"] == "workflow.run"
    assert [child["entry"]["skill"] for child in root["children"]] == ["step.one", "step.two"]
    # Without the archives, the first step is not found: the root has one child only.
    [partial] = telemetry.trace(trace_id)
    assert [child["entry"]["skill"] for child in partial["children"]] == ["step.two"]


def test_since_skips_archives_rotated_before_it_without_opening_them(
    rotated: TelemetryCapture,
) -> None:
    store = live_store(rotated)
    # An archive rotated a day ago, and damaged: a read that opened it would fail.
    old = f"{store.location}.{stamp(datetime.now(timezone.utc) - timedelta(days=1))}"
    fmt = store.archives()[0].format
    Path(f"{old}.{fmt}.gz").write_bytes(b"not gzip at all")
    assert durations(rotated.query(archives=True, since="1h")) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    with pytest.raises(CorruptStoreError, match=r"\.gz is not a whole archive"):
        rotated.query(archives=True)


def test_a_torn_archive_is_reported_by_its_own_name(rotated: TelemetryCapture) -> None:
    newest = live_store(rotated).archives()[0].path
    data = Path(newest).read_bytes()
    Path(newest).write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptStoreError) as raised:
        rotated.query(archives=True)
    assert raised.value.path == newest
    assert durations(rotated.query()) == [9, 8]  # the store itself reads as before


def test_an_archive_removed_while_listed_is_skipped(rotated: TelemetryCapture) -> None:
    store = live_store(rotated)
    listed = store.archives()
    os.unlink(listed[0].path)
    reader = WithArchives(store)
    reader.live.archives = lambda: listed  # type: ignore[method-assign] - listed before removal
    assert durations(list(reader.scan(EntryFilter()))) == [9, 8, 4, 3, 2, 1, 0]
    assert reader.count(EntryFilter()) == 7


def test_a_staged_archive_is_read_and_so_is_its_twin_once_compressed(
    rotated: TelemetryCapture,
) -> None:
    newest = live_store(rotated).archives()[0]
    staged_name = newest.path.removesuffix(f".{newest.format}.gz") + ".rotating"
    Path(staged_name).write_bytes(gzip.decompress(Path(newest.path).read_bytes()))
    staged = Archive(staged_name, newest.rotated_at, newest.format, compressed=False)
    with open_archive(staged) as store:
        assert durations(list(store.scan(EntryFilter()))) == [7, 6, 5]
    os.unlink(staged_name)  # compressed meanwhile: its twin is read instead
    assert archive_path(staged_name, newest.format) == newest.path
    with open_archive(staged) as store:
        assert durations(list(store.scan(EntryFilter()))) == [7, 6, 5]


def test_an_archive_is_read_from_a_private_copy_removed_afterwards(
    rotated: TelemetryCapture,
) -> None:
    before = set(os.listdir(tempfile.gettempdir()))
    with open_archive(live_store(rotated).archives()[0]) as store:
        copy = Path(store.location)
        assert oct(copy.stat().st_mode & 0o777) == oct(0o600)
        assert oct(copy.parent.stat().st_mode & 0o777) == oct(0o700)
    assert not copy.exists()
    assert set(os.listdir(tempfile.gettempdir())) == before


def test_an_archive_of_an_unknown_format_is_refused() -> None:
    unknown = Archive("t.xml.gz", datetime.now(timezone.utc), "xml", True)
    with pytest.raises(ValueError, match="no reader for archives of format 'xml'"):
        open_archive(unknown).__enter__()


def test_reading_with_archives_never_writes(rotated: TelemetryCapture) -> None:
    reader = with_archives(rotated.store)
    with pytest.raises(ValueError, match="read-only"):
        reader.write([])
    assert reader.flush() is True
    assert reader.location == rotated.store.location
    assert "WithArchives" in repr(reader)
    reader.close()
    assert durations(rotated.query()) == [9, 8]  # closing it closed the store, which reopens


def test_a_store_in_memory_has_no_archives_to_read() -> None:
    memory = TelemetryCapture(store=MemoryStore())
    memory.capture("a", "success", 1, "t")
    assert with_archives(memory.store) is memory.store
    assert len(memory.query(archives=True)) == 1


def test_a_store_never_rotated_reads_the_same_with_archives(telemetry: TelemetryCapture) -> None:
    telemetry.capture("a", "success", 1, "t")
    assert telemetry.query(archives=True) == telemetry.query()


# -- the command line ----------------------------------------------------------------------


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_archives_flag_on_every_read_command(
    rotated: TelemetryCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    file = str(rotated.telemetry_file)
    assert len(cli_json(capsys, "query", "--all", "--json", "--file", file)) == 2
    everything = cli_json(capsys, "query", "--all", "--json", "--archives", "--file", file)
    assert durations(everything) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    stats = cli_json(capsys, "stats", "--json", "--archives", "--file", file)
    assert sum(row["count"] for row in stats) == 10
    tail = cli_json(capsys, "tail", "-n", "3", "--json", "--archives", "--file", file)
    assert durations(tail) == [7, 8, 9]
    assert main(["query", "--archives", "--jsonl", "--all", "--file", file]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 10


def test_cli_trace_last_with_archives(
    telemetry: TelemetryCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    from betty_telemetry import TelemetryContext

    with TelemetryContext("workflow.run", "t", telemetry=telemetry):
        pass
    telemetry.rotate()
    telemetry.capture("untraced", "success", 1, "t")
    file = str(telemetry.telemetry_file)
    assert main(["trace", "--last", "--file", file]) == 1
    assert "belongs to a trace" in capsys.readouterr().err
    [root] = cli_json(capsys, "trace", "--last", "--json", "--archives", "--file", file)
    assert root["entry"]["skill"] == "workflow.run"


@pytest.fixture
def no_leftover_copies() -> Iterator[None]:
    before = set(os.listdir(tempfile.gettempdir()))
    yield
    assert set(os.listdir(tempfile.gettempdir())) == before


def test_stopping_early_removes_the_private_copy(
    rotated: TelemetryCapture, no_leftover_copies: None
) -> None:
    stream = rotated.iter_entries(archives=True)
    assert durations([next(stream) for _ in range(4)]) == [9, 8, 7, 6]  # inside an archive
    stream.close()


def test_open_store_reads_what_rotate_archived(telemetry: TelemetryCapture) -> None:
    telemetry.capture("a", "success", 1, "t")
    archive = telemetry.rotate().archive
    assert archive is not None
    same = open_store(telemetry.telemetry_file)
    assert isinstance(same, RotatingStore)
    assert [a.path for a in same.archives()] == [archive]
