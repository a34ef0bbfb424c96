"""Retention: old entries pruned into an archive (never deleted), old archives removed, from
Python and the command line; prunes killed at each step finished or undone by the next."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.cli.main import main
from betty_telemetry.stores import MemoryStore, Pruned, RotatingStore, _file_prune, open_store
from betty_telemetry.stores._file_prune import DamagedFileError
from betty_telemetry.stores.archives import (
    KEPT_SUFFIX,
    PARTIAL_SUFFIX,
    PRUNE_MARKER_SUFFIX,
    STAGED_SUFFIX,
    free_staged_path,
)
from tests.conftest import FIXTURE
from tests.entries import numbered_entry
from tests.stores import (
    JSON_ARRAY,
    JSON_LINES,
    SQLITE,
    encoded,
    kind_of,
    store_bytes,
    stored_entries,
    write_entries,
)

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]
CUT = "2025-10-24T14:00:05.000000+00:00"  # numbered entries 0-4 are before it


def archive_entries(path: str) -> list[Entry]:
    data = gzip.decompress(Path(path).read_bytes())
    if path.endswith(".json.gz"):
        entries: list[Entry] = json.loads(data)
        return entries
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def append_entries(path: Path, entries: list[Entry]) -> None:
    store = open_store(path)
    try:
        store.write([encoded(entry) for entry in entries])
    finally:
        store.close()


def numbers(entries: list[Entry]) -> list[int]:
    return [entry["inputs"]["n"] for entry in entries]


@pytest.fixture
def ten(telemetry_path: Path) -> Path:
    write_entries(telemetry_path, [numbered_entry(n) for n in range(10)])
    return telemetry_path


def test_prune_moves_the_old_entries_into_an_archive_and_keeps_the_rest(ten: Path) -> None:
    telemetry = TelemetryCapture(ten)
    pruned = telemetry.prune(before=CUT)
    assert pruned.moved == 5
    assert pruned.kept == 5
    assert pruned.archive is not None
    assert numbers(archive_entries(pruned.archive)) == [0, 1, 2, 3, 4]
    assert numbers(stored_entries(ten)) == [5, 6, 7, 8, 9]
    assert telemetry.archives() == [pruned.archive]
    assert oct(os.stat(pruned.archive).st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(ten).st_mode & 0o777) == oct(0o600)
    # Nothing deleted: with the archives, every entry reads back, newest first.
    assert numbers(telemetry.query(archives=True)) == list(range(9, -1, -1))
    # The store goes on as before.
    telemetry.capture("after", "success", 1, "t")
    assert [entry["skill"] for entry in telemetry.query(limit=2)] == ["after", "skill.9"]
    assert not [name for name in os.listdir(ten.parent) if name.endswith((".kept", ".pruning"))]


def test_each_entry_goes_one_way_in_its_order_exactly_as_stored(ten: Path) -> None:
    # An extra key, and an old entry out of time order after newer ones.
    late = numbered_entry(3, extra_key={"kept": True}, inputs={"n": 33})
    append_entries(ten, [late])
    stored = stored_entries(ten)
    pruned = TelemetryCapture(ten).prune(before=CUT)
    assert pruned.archive is not None
    assert archive_entries(pruned.archive) == [e for e in stored if e["timestamp"] < CUT]
    assert stored_entries(ten) == [e for e in stored if e["timestamp"] >= CUT]
    assert numbers(archive_entries(pruned.archive)) == [0, 1, 2, 3, 4, 33]


def test_older_than_is_an_age_before_now(telemetry: TelemetryCapture) -> None:
    telemetry.capture("new", "success", 1, "t")
    append_entries(telemetry.telemetry_file, [numbered_entry(1)])  # October 2025
    pruned = telemetry.prune("30d")
    assert (pruned.moved, pruned.kept) == (1, 1)
    assert pruned.archive is not None
    assert numbers(archive_entries(pruned.archive)) == [1]


def test_nothing_old_enough_changes_nothing(ten: Path) -> None:
    before = store_bytes(ten)
    pruned = TelemetryCapture(ten).prune(before="2025-01-01")
    assert pruned == Pruned(None, 0, 10)
    assert store_bytes(ten) == before
    assert TelemetryCapture(ten).archives() == []


def test_a_store_not_created_yet_has_nothing_to_prune(telemetry_path: Path) -> None:
    assert TelemetryCapture(telemetry_path).prune("1d") == Pruned(None, 0, 0)
    assert not telemetry_path.exists()


def test_every_entry_old_leaves_an_empty_store(ten: Path) -> None:
    telemetry = TelemetryCapture(ten)
    pruned = telemetry.prune(before="2026-01-01")
    assert (pruned.moved, pruned.kept) == (10, 0)
    assert telemetry.query() == []
    telemetry.capture("again", "success", 1, "t")
    assert [entry["skill"] for entry in telemetry.query()] == ["again"]


def test_entries_without_a_readable_time_are_kept(telemetry_path: Path) -> None:
    odd = [
        numbered_entry(1),
        {**numbered_entry(2), "timestamp": "not a time"},
        {key: value for key, value in numbered_entry(3).items() if key != "timestamp"},
    ]
    write_entries(telemetry_path, odd)
    pruned = TelemetryCapture(telemetry_path).prune(before="2030-01-01")
    assert (pruned.moved, pruned.kept) == (1, 2)
    assert numbers(stored_entries(telemetry_path)) == [2, 3]


@pytest.mark.only_stores(JSON_ARRAY, reason="the fixture is a JSON array")
def test_the_original_frameworks_file_is_pruned_into_our_layout(telemetry_path: Path) -> None:
    telemetry_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE, telemetry_path)
    everything = json.loads(FIXTURE.read_text())
    telemetry = TelemetryCapture(telemetry_path)
    newest = max(entry["timestamp"] for entry in everything)
    pruned = telemetry.prune(before=newest)
    assert pruned.moved + pruned.kept == len(everything)
    assert pruned.moved > 0
    assert pruned.archive is not None
    back = archive_entries(pruned.archive) + json.loads(telemetry_path.read_text())
    assert sorted(map(json.dumps, back)) == sorted(map(json.dumps, everything))
    telemetry.capture("after", "success", 1, "t")  # and it is appended to as ever
    assert json.loads(telemetry_path.read_text())[-1]["skill"] == "after"


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="a database holds no damaged line")
def test_a_damaged_line_refuses_the_prune_and_changes_nothing(ten: Path) -> None:
    with open(ten, "r+b") as file:
        data = file.read()
        at = data.index(b'{"timestamp": "2025-10-24T14:00:07')
        file.seek(at)
        file.write(b"#garbage#")
    before = store_bytes(ten)
    with pytest.raises(DamagedFileError, match=r"1 damaged line.*betty-telemetry repair"):
        TelemetryCapture(ten).prune(before=CUT)
    assert store_bytes(ten) == before
    assert sorted(os.listdir(ten.parent)) == [ten.name]


def test_prune_and_remove_archives_refuse_a_store_in_memory() -> None:
    memory = TelemetryCapture(store=MemoryStore())
    with pytest.raises(ValueError, match="keeps no files, so it has nothing to prune"):
        memory.prune("1d")
    with pytest.raises(ValueError, match="nothing to remove archives"):
        memory.remove_archives(keep=1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "exactly one"),
        ({"older_than": "1d", "before": "2025-01-01"}, "exactly one"),
        ({"older_than": "soon"}, "older_than must be an age"),
        ({"older_than": "-3d"}, "older_than must be an age"),
        ({"before": "someday"}, "before"),
    ],
)
def test_bad_cuts_are_refused_saying_what_is_accepted(
    ten: Path, arguments: dict[str, str], message: str
) -> None:
    before = store_bytes(ten)
    with pytest.raises(ValueError, match=message):
        TelemetryCapture(ten).prune(**arguments)  # type: ignore[arg-type]
    assert store_bytes(ten) == before


# -- archives' retention -------------------------------------------------------------------


def made_archives(telemetry: TelemetryCapture, count: int) -> list[str]:
    for number in range(count):
        telemetry.capture(f"batch.{number}", "success", 1, "t")
        telemetry.rotate()
    return telemetry.archives()


def test_keep_archives_deletes_all_but_the_newest(telemetry: TelemetryCapture) -> None:
    archives = made_archives(telemetry, 4)
    telemetry.capture("live", "success", 1, "t")
    assert telemetry.remove_archives(keep=1) == archives[1:]
    assert telemetry.archives() == archives[:1]
    assert [entry["skill"] for entry in telemetry.query()] == ["live"]
    assert telemetry.remove_archives(keep=0) == archives[:1]
    assert telemetry.remove_archives(keep=0) == []


def test_archives_older_than_deletes_by_the_rotation_moment(telemetry: TelemetryCapture) -> None:
    [recent] = made_archives(telemetry, 1)
    store = telemetry.store
    assert isinstance(store, RotatingStore)
    fmt = store.archives()[0].format
    old = free_staged_path(store.location, datetime.now(timezone.utc) - timedelta(days=40))
    old_archive = f"{old.removesuffix(STAGED_SUFFIX)}.{fmt}.gz"
    shutil.copy(recent, old_archive)
    assert telemetry.remove_archives(older_than="30d") == [old_archive]
    assert telemetry.archives() == [recent]


def test_a_staged_archive_is_never_removed(telemetry: TelemetryCapture) -> None:
    telemetry.capture("a", "success", 1, "t")
    staged = free_staged_path(str(telemetry.telemetry_file))
    Path(staged).write_bytes(b"")
    assert telemetry.remove_archives(keep=0) == []
    assert os.path.exists(staged)


def test_remove_archives_needs_a_rule(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="give keep"):
        telemetry.remove_archives()
    with pytest.raises(ValueError, match="keep"):
        telemetry.remove_archives(keep=-1)


# -- killed at each step ------------------------------------------------------------------


def prune_killed_after(ten: Path, step: int) -> tuple[str, str]:
    """The files a prune of ``ten`` at CUT leaves when killed after ``step`` (see
    ``_file_prune``): made here as the prune makes them. Returns (staged, base)."""
    staged = free_staged_path(str(ten))
    base = staged.removesuffix(STAGED_SUFFIX)
    entries = stored_entries(ten)
    old, rest = entries[:5], entries[5:]
    write_entries(Path(staged + PARTIAL_SUFFIX + f".{kind_of(ten)}"), old)
    os.rename(staged + PARTIAL_SUFFIX + f".{kind_of(ten)}", staged + PARTIAL_SUFFIX)
    write_entries(Path(base + KEPT_SUFFIX + f".{kind_of(ten)}"), rest)
    os.rename(base + KEPT_SUFFIX + f".{kind_of(ten)}", base + KEPT_SUFFIX)
    if step >= 2:
        Path(base + PRUNE_MARKER_SUFFIX).write_text(f"entries before {CUT}\n")
    if step >= 3:
        os.rename(staged + PARTIAL_SUFFIX, staged)
    return staged, base


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="SQLite prunes in one transaction")
@pytest.mark.parametrize("step", [1, 2, 3])
@pytest.mark.parametrize("then", ["rotate", "prune", "capture_and_prune"])
def test_a_prune_killed_at_any_step_is_finished_or_undone(ten: Path, step: int, then: str) -> None:
    staged, base = prune_killed_after(ten, step)
    telemetry = TelemetryCapture(ten)
    # Meanwhile, readers see every entry once: a prune not replaced yet is no archive.
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))
    if then == "capture_and_prune":
        telemetry.capture("after.kill", "success", 1, "t", inputs={"n": 10})
    if then == "rotate":
        archive = telemetry.rotate().archive
        assert archive is not None
    else:
        telemetry.prune(before="2000-01-01")  # finishes the killed one, prunes nothing more
    everything = sorted(numbers(telemetry.query(archives=True)))
    assert everything == list(range(11 if then == "capture_and_prune" else 10))
    leftovers = [base + KEPT_SUFFIX, base + PRUNE_MARKER_SUFFIX, staged + PARTIAL_SUFFIX]
    assert not [path for path in leftovers if os.path.exists(path)]
    if step == 3:  # committed: the old entries are in the archive, out of the store
        archived = [
            path for path in telemetry.archives() if staged.removesuffix(".rotating") in path
        ]
        assert len(archived) == 1
        assert numbers(archive_entries(archived[0])) == [0, 1, 2, 3, 4]


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="SQLite prunes in one transaction")
@pytest.mark.parametrize("killed_while", ["writing", "swapping"])
def test_a_recovery_killed_before_its_file_took_the_path_is_finished_by_the_next(
    ten: Path, monkeypatch: pytest.MonkeyPatch, killed_while: str
) -> None:
    """The recovery of a prune killed after step 3 writes the file less the archived entries
    and renames it into place; killed before that rename (while writing the new file, or at
    the rename), ``kept`` must still say that the file holds those entries, or the next prune
    archives them a second time."""
    _, base = prune_killed_after(ten, 3)
    real_rename, real_write_split = os.rename, _file_prune._write_split

    def swapping(source: str, destination: str) -> None:
        if os.fspath(destination) == str(ten):
            raise KeyboardInterrupt("killed here")  # as a kill: nothing after runs
        real_rename(source, destination)

    def writing(*args: Any) -> None:
        raise KeyboardInterrupt("killed here")

    if killed_while == "swapping":
        monkeypatch.setattr(_file_prune.os, "rename", swapping)
    else:
        monkeypatch.setattr(_file_prune, "_write_split", writing)
    with pytest.raises(KeyboardInterrupt):
        TelemetryCapture(ten).prune(before="2000-01-01")
    monkeypatch.setattr(_file_prune.os, "rename", real_rename)
    monkeypatch.setattr(_file_prune, "_write_split", real_write_split)
    assert os.path.exists(base + KEPT_SUFFIX)
    assert os.path.exists(base + PRUNE_MARKER_SUFFIX)
    telemetry = TelemetryCapture(ten)
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))
    telemetry.prune(before=CUT)  # finishes the killed one, then prunes what is old now
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))
    kept = base + KEPT_SUFFIX
    leftovers = [kept, kept + PARTIAL_SUFFIX, base + PRUNE_MARKER_SUFFIX]
    assert not [path for path in leftovers if os.path.exists(path)]


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="SQLite prunes in one transaction")
def test_an_undo_killed_half_way_is_undone_by_the_next(
    ten: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prune killed after its marker (step 2) but before its archive was staged is undone
    by the next; killed in that undo after the staged ``.partial`` went but before the
    marker did, it must not look committed and archived to the one after (CI found this: the
    recovery then looked for an archive that never was and failed)."""
    staged, base = prune_killed_after(ten, 2)
    real_unlink = os.unlink

    def killed_after_the_partial(path: str) -> None:
        real_unlink(path)
        if os.fspath(path) == staged + PARTIAL_SUFFIX:
            raise KeyboardInterrupt("killed here")  # as a kill: nothing after runs

    monkeypatch.setattr(_file_prune.os, "unlink", killed_after_the_partial)
    with pytest.raises(KeyboardInterrupt):
        TelemetryCapture(ten).prune(before="2000-01-01")
    monkeypatch.setattr(_file_prune.os, "unlink", real_unlink)
    telemetry = TelemetryCapture(ten)
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))
    telemetry.prune(before="2000-01-01")  # undoes the killed one, prunes nothing
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))
    assert telemetry.archives() == []
    leftovers = [base + KEPT_SUFFIX, base + PRUNE_MARKER_SUFFIX, staged + PARTIAL_SUFFIX]
    assert not [path for path in leftovers if os.path.exists(path)]


@pytest.mark.only_stores(JSON_ARRAY, JSON_LINES, reason="SQLite prunes in one transaction")
def test_a_committed_prune_whose_archive_is_gone_is_undone_losing_nothing(ten: Path) -> None:
    """Marker and kept file with no archive anywhere (left by a version that undid in the
    wrong order): the file still holds every entry, so the prune is undone, not finished."""
    _, base = prune_killed_after(ten, 2)
    os.unlink(base + STAGED_SUFFIX + PARTIAL_SUFFIX)
    telemetry = TelemetryCapture(ten)
    telemetry.prune(before="2000-01-01")
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))
    assert not [p for p in (base + KEPT_SUFFIX, base + PRUNE_MARKER_SUFFIX) if os.path.exists(p)]


@pytest.mark.only_stores(SQLITE, reason="a database's prune and its recovery")
def test_a_sqlite_prune_killed_before_its_commit_leaves_every_row(ten: Path) -> None:
    staged = free_staged_path(str(ten))
    Path(staged + PARTIAL_SUFFIX).write_bytes(b'{"half": ')
    telemetry = TelemetryCapture(ten)
    pruned = telemetry.prune(before=CUT)
    assert (pruned.moved, pruned.kept) == (5, 5)
    assert not os.path.exists(staged + PARTIAL_SUFFIX)
    assert sorted(numbers(telemetry.query(archives=True))) == list(range(10))


@pytest.mark.only_stores(SQLITE, reason="SQLite's totals after a prune")
def test_sqlite_statistics_after_a_prune_count_the_rows_left(ten: Path) -> None:
    telemetry = TelemetryCapture(ten)
    telemetry.prune(before=CUT)
    assert sum(row["count"] for row in telemetry.stats()) == 5
    assert sum(row["count"] for row in telemetry.stats(archives=True)) == 10


@pytest.mark.only_stores(SQLITE, reason="a follower of a database whose newest row was pruned")
def test_sqlite_follower_never_misses_a_row_after_the_newest_was_pruned(
    telemetry_path: Path,
) -> None:
    entries = [numbered_entry(n) for n in range(3)]
    entries.append(numbered_entry(0, inputs={"n": 99}))  # newest row, oldest time
    write_entries(telemetry_path, entries)
    telemetry = TelemetryCapture(telemetry_path)
    stream = telemetry.follow(poll_interval=0.01)
    try:
        telemetry.prune(before="2025-10-24T14:00:01+00:00")
        telemetry.capture("after", "success", 1, "t", inputs={"n": 100})
        seen = [next(stream)["inputs"]["n"] for _ in range(3)]
        assert 100 in seen
    finally:
        stream.close()


# -- the command line ------------------------------------------------------------------------


def test_cli_prune_prints_what_it_did(ten: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--before", CUT, "--file", str(ten)]) == 0
    out = capsys.readouterr().out
    assert f"Pruned 5 entries from {ten} (5 kept)" in out
    assert "  into " in out
    assert main(["prune", "--older-than", "100000d", "--file", str(ten)]) == 0
    assert "Nothing to prune: no entry old enough (5 kept in" in capsys.readouterr().out
    assert main(["prune", "--keep-archives", "0", "--json", "--file", str(ten)]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert len(outcome["removed_archives"]) == 1
    assert "moved" not in outcome


def test_cli_prune_json_and_archive_retention(
    ten: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["prune", "--before", CUT, "--keep-archives", "5", "--json", "--file", str(ten)]
    assert main(args) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert (outcome["moved"], outcome["kept"], outcome["removed_archives"]) == (5, 5, [])
    assert outcome["archive"].endswith(".gz")
    assert main(["prune", "--archives-older-than", "1d", "--file", str(ten)]) == 0
    assert capsys.readouterr().out.startswith("No archive to remove: none is beyond")


def test_cli_rotate_can_remove_old_archives(
    telemetry: TelemetryCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    made_archives(telemetry, 2)
    telemetry.capture("live", "success", 1, "t")
    file = str(telemetry.telemetry_file)
    assert main(["rotate", "--keep-archives", "1", "--file", file]) == 0
    out = capsys.readouterr().out
    assert "Removed 2 archive(s):" in out
    assert len(telemetry.archives()) == 1
    assert main(["rotate", "--keep-archives", "1", "--json", "--file", file]) == 0
    assert json.loads(capsys.readouterr().out)["removed_archives"] == []


def test_cli_prune_without_a_rule_is_a_usage_error(
    ten: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["prune", "--file", str(ten)])
    assert exited.value.code == 2
    assert "say what to prune" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prune", "--older-than", "1d", "--before", "2025-01-01", "--file", str(ten)])
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_prune_bad_age_is_an_error_that_changes_nothing(
    ten: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = store_bytes(ten)
    assert main(["prune", "--older-than", "later", "--file", str(ten)]) == 1
    assert "older_than must be an age" in capsys.readouterr().err
    assert store_bytes(ten) == before


def test_prune_through_open_store_directly(ten: Path) -> None:
    store = open_store(ten)
    assert isinstance(store, RotatingStore)
    assert store.prune(CUT).moved == 5
    store.close()
