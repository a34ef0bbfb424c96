"""Rotation: a store's entries moved into a compressed archive beside it, now or past a
threshold, from Python and from the command line, and interrupted rotations finished.
(Rotation under concurrent writers and kill -9: tests/stress/test_rotation_stress.py.)"""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores import LockTimeoutError, open_store
from betty_telemetry.stores.archives import (
    compress_staged,
    free_staged_path,
    list_archives,
    stamp_of,
    unfinished_stagings,
)
from tests.conftest import run_cli
from tests.entries import numbered_entry, stamp
from tests.lock_holder import start_holder
from tests.stores import JSON_ARRAY, SQLITE, kind_of, stored_entries, write_entries

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]


def archive_entries(path: str) -> list[Entry]:
    """The entries of one archive (compressed, or a staged file not compressed yet)."""
    data = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else None
    if data is None:
        data = Path(path).read_bytes()
    if path.endswith(".json.gz") or (path.endswith(".rotating") and _array(data)):
        entries: list[Entry] = json.loads(data)
        return entries
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def _array(data: bytes) -> bool:
    return data.lstrip().startswith(b"[")


def skills(entries: list[Entry]) -> list[str]:
    return [entry["skill"] for entry in entries]


def capture_skills(telemetry: TelemetryCapture, *names: str) -> None:
    for name in names:
        telemetry.capture(name, "success", 1.0, "test")


def test_rotate_moves_every_entry_into_one_archive_and_leaves_an_empty_store(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_skills(telemetry, "a", "b", "c")
    rotation = telemetry.rotate()
    assert rotation.archive is not None
    assert rotation.reason == "asked to rotate now"
    assert skills(archive_entries(rotation.archive)) == ["a", "b", "c"]
    assert telemetry.query() == []
    assert stored_entries(telemetry_path) == []
    assert telemetry.archives() == [rotation.archive]
    archive = Path(rotation.archive)
    assert archive.parent == telemetry_path.parent
    assert archive.name.startswith(telemetry_path.name + ".")
    fmt = "json" if kind_of(telemetry_path) == JSON_ARRAY else "jsonl"
    assert archive.name.endswith(f"Z.{fmt}.gz")
    assert archive.stat().st_mode & 0o777 == 0o600


def test_entries_captured_after_a_rotation_go_to_the_live_store(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_skills(telemetry, "before")
    first = telemetry.rotate().archive
    capture_skills(telemetry, "after.1", "after.2")
    assert skills(stored_entries(telemetry_path)) == ["after.1", "after.2"]
    second = telemetry.rotate().archive
    assert first is not None
    assert second is not None
    assert telemetry.archives() == [second, first]  # newest first
    assert skills(archive_entries(second)) == ["after.1", "after.2"]
    assert skills(archive_entries(first)) == ["before"]


def test_an_archive_of_a_json_array_is_the_old_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    layout = b'[\n  {"skill": "indented", "status": "success"}\n]\n'
    path.write_bytes(layout)
    archive = TelemetryCapture(path).rotate().archive
    assert archive is not None
    assert gzip.decompress(Path(archive).read_bytes()) == layout


def test_an_empty_or_missing_store_is_not_rotated(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    assert telemetry.rotate().archive is None
    assert not telemetry_path.exists()
    write_entries(telemetry_path, [])
    rotation = telemetry.rotate()
    assert (rotation.archive, rotation.reason) == (None, "the store holds no entry")
    assert telemetry.archives() == []


def test_thresholds_rotate_only_once_one_is_crossed(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    names = [f"padded.{n}" for n in range(60)]  # more than a page of SQLite's
    for name in names:
        telemetry.capture(name, "success", 1.0, "test", {"padding": "x" * 100})
    size = open_store(telemetry_path).size()  # type: ignore[attr-defined]
    assert size > 0
    assert telemetry.rotate(max_bytes=size + 1, max_entries=61).archive is None
    assert telemetry.rotate(max_bytes=size + 1, max_entries=61).reason == "no threshold crossed"
    rotation = telemetry.rotate(max_bytes=size + 1, max_entries=60)
    assert rotation.archive is not None
    assert rotation.reason == "60 entries, at least max_entries=60"
    for name in names:
        telemetry.capture(name, "success", 1.0, "test", {"padding": "x" * 100})
    rotation = telemetry.rotate(max_bytes="4K", max_entries=1000)
    assert rotation.archive is not None
    assert rotation.reason.endswith("bytes, at least max_bytes=4,096")
    assert skills(archive_entries(rotation.archive)) == names


def test_max_age_rotates_once_the_oldest_entry_is_that_old(telemetry_path: Path) -> None:
    now = datetime.now(timezone.utc)
    old = numbered_entry(1, timestamp=stamp(now - timedelta(days=40)))
    write_entries(telemetry_path, [old, numbered_entry(2, timestamp=stamp(now))])
    telemetry = TelemetryCapture(telemetry_path)
    assert telemetry.rotate(max_age="60d").archive is None
    rotation = telemetry.rotate(max_age=timedelta(days=30))
    assert rotation.archive is not None
    assert rotation.reason.startswith("oldest entry at ")
    assert skills(archive_entries(rotation.archive)) == ["skill.1", "skill.2"]


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"max_bytes": 0}, "max_bytes must be a number of bytes"),
        ({"max_bytes": "10XB"}, "max_bytes must be a number of bytes"),
        ({"max_bytes": True}, "max_bytes must be a number of bytes"),
        ({"max_bytes": "0.1"}, "max_bytes must be a number of bytes"),
        ({"max_entries": 0}, "max_entries must be a whole number >= 1"),
        ({"max_age": "soon"}, "max_age must be an age such as 30d"),
        ({"max_age": timedelta(0)}, "max_age must be an age such as 30d"),
    ],
)
def test_a_bad_threshold_is_refused_and_nothing_is_rotated(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    thresholds: dict[str, Any],
    message: str,
) -> None:
    capture_skills(telemetry, "kept")
    with pytest.raises(ValueError, match=message):
        telemetry.rotate(**thresholds)
    assert skills(stored_entries(telemetry_path)) == ["kept"]
    assert telemetry.archives() == []


def test_sizes_take_units_of_1024() -> None:
    from betty_telemetry.model.checks import byte_size

    assert [byte_size("s", text) for text in ("512", "1k", "10MB", "1.5GiB", " 2 g ")] == [
        512,
        1024,
        10 << 20,
        3 << 29,
        2 << 30,
    ]


@pytest.mark.json_only("a store kept in memory has no files")
def test_a_store_in_memory_cannot_be_rotated() -> None:
    telemetry = TelemetryCapture(":memory:")
    capture_skills(telemetry, "kept")
    with pytest.raises(ValueError, match="MemoryStore keeps no files"):
        telemetry.rotate()
    assert telemetry.archives() == []
    assert skills(telemetry.query()) == ["kept"]


def test_background_entries_queued_before_a_rotation_are_in_its_archive(
    telemetry_path: Path,
) -> None:
    telemetry = TelemetryCapture(telemetry_path, background=True)
    try:
        capture_skills(telemetry, *[f"queued.{n}" for n in range(50)])
        archive = telemetry.rotate().archive
        assert archive is not None
        assert skills(archive_entries(archive)) == [f"queued.{n}" for n in range(50)]
    finally:
        telemetry.close()


def test_another_capture_of_the_same_file_follows_it_across_the_rotation(
    telemetry_path: Path,
) -> None:
    writer, rotator = TelemetryCapture(telemetry_path), TelemetryCapture(telemetry_path)
    capture_skills(writer, "one")
    archive = rotator.rotate().archive
    capture_skills(writer, "two")  # its file was moved away: it writes at the path
    assert archive is not None
    assert skills(archive_entries(archive)) == ["one"]
    assert skills(stored_entries(telemetry_path)) == ["two"]


# -- interrupted rotations ------------------------------------------------------------------


@pytest.mark.only_stores("json", "jsonl", reason="a file store's rotation renames its file")
def test_a_staged_file_left_by_a_killed_rotation_is_an_archive_and_is_compressed_next(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_skills(telemetry, "staged.1", "staged.2")
    staged = f"{telemetry_path}.20250101T000000.000000Z.rotating"
    os.rename(telemetry_path, staged)  # what a rotation killed after its rename leaves
    capture_skills(telemetry, "live")
    found = telemetry.store.archives()  # type: ignore[attr-defined]
    assert [(a.path, a.compressed) for a in found] == [(staged, False)]
    newest = telemetry.rotate().archive
    assert not os.path.exists(staged)
    paths = telemetry.archives()
    assert paths == [newest, paths[1]]
    assert skills(archive_entries(paths[1])) == ["staged.1", "staged.2"]
    assert newest is not None
    assert skills(archive_entries(newest)) == ["live"]


@pytest.mark.only_stores("json", "jsonl", reason="a file store's rotation renames its file")
def test_a_compression_killed_half_way_starts_over_and_a_finished_one_drops_its_copy(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    fmt = "json" if kind_of(telemetry_path) == JSON_ARRAY else "jsonl"
    capture_skills(telemetry, "half")
    half = f"{telemetry_path}.20250101T000000.000000Z"
    os.rename(telemetry_path, half + ".rotating")
    Path(f"{half}.{fmt}.gz.partial").write_bytes(b"\x1f\x8b half a gzip")
    capture_skills(telemetry, "done")
    done = f"{telemetry_path}.20250102T000000.000000Z"
    os.rename(telemetry_path, done + ".rotating")
    Path(f"{done}.{fmt}.gz").write_bytes(gzip.compress(Path(done + ".rotating").read_bytes()))
    assert telemetry.rotate().archive is None  # nothing live; the leftovers are finished
    assert sorted(os.listdir(telemetry_path.parent)) == sorted(
        [Path(f"{half}.{fmt}.gz").name, Path(f"{done}.{fmt}.gz").name]
    )
    assert [skills(archive_entries(path)) for path in telemetry.archives()] == [
        ["done"],
        ["half"],
    ]


@pytest.mark.only_stores("sqlite", reason="SQLite's rotation copies its rows in a transaction")
@pytest.mark.parametrize("committed", [False, True])
def test_a_sqlite_rotation_killed_before_or_after_its_commit_loses_and_repeats_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path, committed: bool
) -> None:
    capture_skills(telemetry, "kept.1", "kept.2")
    telemetry.close()
    stamp_text = "20250101T000000.000000Z"
    partial = Path(f"{telemetry_path}.{stamp_text}.rotating.partial")
    with sqlite3.connect(telemetry_path) as connection:
        bodies = [row[0] for row in connection.execute("SELECT body FROM entries ORDER BY id")]
        partial.write_text("".join(body + "\n" for body in bodies))
        if committed:  # as the rotation's transaction leaves it
            connection.execute("DELETE FROM entries")
            connection.execute("DELETE FROM rollup")
            connection.execute("UPDATE meta SET value = 0 WHERE name = 'folded_to'")
            connection.execute(f"INSERT INTO meta VALUES ('rotated:{stamp_text}', 1)")
    connection.close()
    assert list_archives(str(telemetry_path), "jsonl") == []  # a .partial is no archive yet
    rotation = TelemetryCapture(telemetry_path).rotate()
    assert not partial.exists()
    archives = [archive_entries(path) for path in TelemetryCapture(telemetry_path).archives()]
    assert [skills(entries) for entries in archives] == [["kept.1", "kept.2"]]
    assert rotation.archive is None if committed else rotation.archive is not None


@pytest.mark.only_stores("sqlite", reason="row ids start over once the table is empty")
def test_a_follower_of_a_rotated_database_sees_the_entries_written_after_it(
    telemetry: TelemetryCapture,
) -> None:
    capture_skills(telemetry, "old.1", "old.2", "old.3")
    follower = telemetry.follow(poll_interval=0.01)
    try:
        telemetry.rotate()
        capture_skills(telemetry, "new.1")
        assert next(follower)["skill"] == "new.1"
    finally:
        follower.close()


# -- the command line -------------------------------------------------------------------------


def test_cli_rotate_prints_the_archive_and_rotates_only_past_its_thresholds(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    for n in range(60):  # more than a page of SQLite's
        telemetry.capture(f"padded.{n}", "success", 1.0, "test", {"padding": "x" * 100})
    held = run_cli("rotate", "--max-entries", "61", "--file", str(telemetry_path))
    assert held.returncode == 0, held.stderr
    assert held.stdout == f"Not rotated: no threshold crossed ({telemetry_path})\n"
    done = run_cli("rotate", "--max-bytes", "1", "--file", str(telemetry_path))
    assert done.returncode == 0, done.stderr
    [archive] = telemetry.archives()
    assert done.stdout.splitlines()[1] == f"  into {archive}"
    assert "bytes, at least max_bytes=1" in done.stdout.splitlines()[0]
    again = run_cli("rotate", "--json", "--file", str(telemetry_path))
    assert json.loads(again.stdout) == {"archive": None, "reason": "the store holds no entry"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--max-bytes", "lots"], "Error: max_bytes must be a number of bytes"),
        (["--max-age", "old"], "Error: max_age must be an age such as 30d"),
    ],
)
def test_cli_rotate_refuses_a_bad_threshold_with_exit_1(
    telemetry_path: Path, arguments: list[str], message: str
) -> None:
    write_entries(telemetry_path, [numbered_entry(1)])
    result = run_cli("rotate", *arguments, "--file", str(telemetry_path))
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert skills(stored_entries(telemetry_path)) == ["skill.1"]


def test_cli_rotate_refuses_a_count_that_is_not_a_number_with_its_usage(
    telemetry_path: Path,
) -> None:
    result = run_cli("rotate", "--max-entries", "many", "--file", str(telemetry_path))
    assert result.returncode == 2
    assert "a whole number of entries, got 'many'" in result.stderr


def test_an_archive_is_named_for_its_store_and_not_mistaken_for_another_one(
    tmp_path: Path, store_suffix: str
) -> None:
    # Two stores in one folder, one name a prefix of the other's: each finds its own.
    short, longer = tmp_path / f"t{store_suffix}", tmp_path / f"t{store_suffix}.more{store_suffix}"
    for path in (short, longer):
        telemetry = TelemetryCapture(path)
        capture_skills(telemetry, path.name)
        telemetry.rotate()
    for path in (short, longer):
        [archive] = TelemetryCapture(path).archives()
        assert skills(archive_entries(archive)) == [path.name]
    if kind_of(short) == SQLITE:
        assert all(not name.endswith(".rotating") for name in os.listdir(tmp_path))


@pytest.mark.only_stores("json", "jsonl", reason="a renamed file is still read to its end")
def test_a_follower_of_a_rotated_file_gives_every_entry_once_across_the_rotation(
    telemetry: TelemetryCapture,
) -> None:
    capture_skills(telemetry, "seen")
    follower = telemetry.follow(poll_interval=0.01)
    try:
        capture_skills(telemetry, "before.rotation")
        telemetry.rotate()
        capture_skills(telemetry, "after.rotation")
        assert [next(follower)["skill"] for _ in range(2)] == ["before.rotation", "after.rotation"]
    finally:
        follower.close()


def test_a_rotation_waits_for_a_stuck_writer_then_gives_up_and_moves_nothing(
    telemetry_path: Path,
) -> None:
    write_entries(telemetry_path, [numbered_entry(1)])
    holder = start_holder(telemetry_path)
    try:
        with pytest.raises(LockTimeoutError):
            TelemetryCapture(telemetry_path, lock_timeout=0.2).rotate()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()
    assert skills(stored_entries(telemetry_path)) == ["skill.1"]
    assert TelemetryCapture(telemetry_path).archives() == []


def test_entries_without_a_timestamp_are_never_too_old(telemetry_path: Path) -> None:
    legacy = {key: value for key, value in numbered_entry(1).items() if key != "timestamp"}
    write_entries(telemetry_path, [legacy, {**numbered_entry(2), "timestamp": "last week"}])
    rotation = TelemetryCapture(telemetry_path).rotate(max_age="1d")
    assert (rotation.archive, rotation.reason) == (None, "no threshold crossed")


@pytest.mark.json_only("naming archives is the same for every store")
def test_two_rotations_in_one_microsecond_get_two_names(tmp_path: Path) -> None:
    location = str(tmp_path / "t.json")
    moment = datetime(2026, 12, 6, 20, 13, tzinfo=timezone.utc)
    first = free_staged_path(location, moment)
    assert first == f"{location}.20261206T201300.000000Z.rotating"
    Path(first).touch()
    second = free_staged_path(location, moment)
    assert second == f"{location}.20261206T201300.000001Z.rotating"
    Path(second + ".partial").touch()
    assert stamp_of(free_staged_path(location, moment)) == "20261206T201300.000002Z"
    with pytest.raises(ValueError, match="not a staged file's name"):
        stamp_of(location)


@pytest.mark.json_only("naming archives is the same for every store")
def test_a_staged_file_another_process_finished_is_found_as_its_archive(tmp_path: Path) -> None:
    staged = str(tmp_path / "t.json.20261206T201300.000000Z.rotating")
    with pytest.raises(FileNotFoundError):
        compress_staged(staged, "json")  # neither the staged file nor its archive: an error
    Path(staged.removesuffix(".rotating") + ".json.gz").write_bytes(gzip.compress(b"[]"))
    assert compress_staged(staged, "json").endswith(".json.gz")
    assert list_archives(str(tmp_path / "gone" / "t.json"), "json") == []
    assert unfinished_stagings(str(tmp_path / "gone" / "t.json")) == {}


# -- automatic rotation -----------------------------------------------------------------------


def every_entry(telemetry: TelemetryCapture) -> list[str]:
    """The skills of the live store and of every archive, oldest first."""
    found = []
    for archive in reversed(telemetry.archives()):
        found += skills(archive_entries(archive))
    return found + skills(list(reversed(telemetry.query(limit=None))))


@pytest.mark.parametrize("limit", [{"max_bytes": "4K"}, {"max_entries": 25}])
def test_a_store_past_its_threshold_rotates_itself_and_keeps_every_entry_once(
    telemetry_path: Path, limit: dict[str, Any]
) -> None:
    telemetry = TelemetryCapture(telemetry_path, **limit)
    rotation = telemetry.store.auto_rotation  # type: ignore[attr-defined]
    written = []
    for n in range(200):
        written.append(f"auto.{n}")
        telemetry.capture(written[-1], "success", 1.0, "test", {"padding": "x" * 40})
        if n % 50 == 49:
            assert rotation.wait(10)
    assert rotation.wait(10)
    assert len(telemetry.archives()) >= 2
    assert every_entry(telemetry) == written


def test_thresholds_come_from_the_environment_and_a_bad_one_is_named(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_BYTES", "10MB")
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_ENTRIES", "100_000")
    rotation = TelemetryCapture(telemetry_path).store.auto_rotation  # type: ignore[attr-defined]
    assert (rotation.max_bytes, rotation.max_entries) == (10 << 20, 100_000)
    explicit = TelemetryCapture(telemetry_path, max_bytes=1000, max_entries=5)
    assert explicit.store.auto_rotation.max_bytes == 1000  # type: ignore[attr-defined]
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_BYTES", "huge")
    with pytest.raises(ValueError, match=r"\$BETTY_TELEMETRY_MAX_BYTES must be a number"):
        TelemetryCapture(telemetry_path)
    monkeypatch.delenv("BETTY_TELEMETRY_MAX_BYTES")
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_ENTRIES", "lots")
    with pytest.raises(ValueError, match=r"\$BETTY_TELEMETRY_MAX_ENTRIES must be a whole"):
        TelemetryCapture(telemetry_path)
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_ENTRIES", "0")
    with pytest.raises(ValueError, match=r"\$BETTY_TELEMETRY_MAX_ENTRIES must be a whole"):
        TelemetryCapture(telemetry_path)


def test_without_thresholds_a_store_never_rotates_itself(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    assert telemetry.store.auto_rotation is None  # type: ignore[attr-defined]


@pytest.mark.json_only("a store given to TelemetryCapture keeps its own settings")
def test_thresholds_with_a_store_of_ones_own_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes and max_entries are the store's own"):
        TelemetryCapture(store=open_store(tmp_path / "t.json"), max_bytes=100)


@pytest.mark.only_stores("sqlite", reason="a SQLite file keeps its size: its pages are reused")
def test_the_size_of_a_sqlite_store_is_what_its_entries_take(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    store = telemetry.store
    assert store.size() == 0  # type: ignore[attr-defined]
    capture_skills(telemetry, *[f"s.{n}" for n in range(300)])
    full = store.size()  # type: ignore[attr-defined]
    assert full > 300 * 100
    telemetry.rotate()
    assert store.size() == 0  # type: ignore[attr-defined]
    assert telemetry_path.stat().st_size >= full  # the file itself keeps its pages


@pytest.mark.only_stores("json", "jsonl", reason="a file store's rotation renames its file")
def test_litter_of_a_creation_killed_half_way_is_removed_before_a_rotation(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_skills(telemetry, "kept")
    folder = telemetry_path.parent
    second_name = folder / ".telemetry-killed.new"  # killed between link and unlink
    os.link(telemetry_path, second_name)
    old = folder / ".telemetry-old.new"  # killed before its link, long ago
    old.write_bytes(b"[\n]\n")
    os.utime(old, (0, 0))
    fresh = folder / ".telemetry-fresh.new"  # another process's creation, under way
    fresh.write_bytes(b"[\n]\n")
    archive = telemetry.rotate().archive
    assert archive is not None
    assert skills(archive_entries(archive)) == ["kept"]
    assert not second_name.exists()
    assert not old.exists()
    assert fresh.exists()
