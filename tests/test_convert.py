"""Convert: every entry of a store or an archive into another store, oldest first, exactly as
stored, in every direction; refused and checked where it must be; killed, it leaves nothing
half-made at the destination."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.cli.main import main
from betty_telemetry.lifecycle.convert import BATCH, _check_count, convert
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import MemoryStore, open_readable
from tests.conftest import FIXTURE
from tests.entries import numbered_entry
from tests.stores import STORES, sqlite_integrity, stored_entries, write_entries

Entry = dict[str, Any]
KINDS = sorted(STORES)


def entries_of(path: Path) -> list[Entry]:
    """Every entry, oldest first, as stored, through the library's own reader (any store or
    an archive)."""
    with open_readable(path) as store:
        return list(store.scan(EntryFilter(), newest_first=False))


def varied_entries() -> list[Entry]:
    """Our entries, with extra keys, odd values, and the original framework's legacy ones."""
    legacy = json.loads(FIXTURE.read_text())[:5]
    ours = [numbered_entry(n) for n in range(20)]
    ours[3]["extra"] = {"nested": [1, 2.5, None, "é"]}
    ours[4]["trace_id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
    ours[5]["duration_ms"] = 3  # an int, as another writer may store it
    return legacy + ours


@pytest.mark.parametrize("source_kind", KINDS)
@pytest.mark.parametrize("destination_kind", KINDS)
def test_convert_in_every_direction_keeps_every_entry_as_stored(
    tmp_path: Path, source_kind: str, destination_kind: str
) -> None:
    source = tmp_path / f"source{STORES[source_kind]}"
    destination = tmp_path / "out" / f"destination{STORES[destination_kind]}"
    write_entries(source, varied_entries())
    before = entries_of(source)
    progress: list[int] = []
    done = convert(source, destination, progress=progress.append)
    assert (done.entries, done.appended) == (len(before), False)
    assert entries_of(destination) == before
    assert progress == [len(before)]
    assert oct(destination.stat().st_mode & 0o777) == oct(0o600)
    if destination_kind == "sqlite":
        assert sqlite_integrity(destination) == "ok"
    # The round trip back gives the same entries again.
    back = tmp_path / f"back{STORES[source_kind]}"
    convert(destination, back)
    assert entries_of(back) == before
    assert [name for name in os.listdir(destination.parent) if "building" in name] == []


@pytest.mark.parametrize("kind", KINDS)
def test_an_archive_is_a_source(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"t{STORES[kind]}"
    write_entries(path, varied_entries())
    before = entries_of(path)
    archive = TelemetryCapture(path).rotate().archive
    assert archive is not None
    out = tmp_path / "from-archive.jsonl"
    assert convert(archive, out).entries == len(before)
    assert entries_of(out) == before
    assert entries_of(Path(archive)) == before


def test_the_original_frameworks_file_converts_to_every_store(tmp_path: Path) -> None:
    everything = json.loads(FIXTURE.read_text())
    for kind in KINDS:
        out = tmp_path / f"fixture{STORES[kind]}"
        assert convert(FIXTURE, out).entries == len(everything)
        assert entries_of(out) == everything


def test_many_batches_stream_in_order(tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    entries = [numbered_entry(n % 3000, inputs={"n": n}) for n in range(BATCH * 2 + 7)]
    write_entries(source, entries)
    progress: list[int] = []
    convert(source, tmp_path / "big.db", progress=progress.append)
    assert progress == [BATCH, BATCH * 2, BATCH * 2 + 7]
    assert [e["inputs"]["n"] for e in entries_of(tmp_path / "big.db")] == list(range(len(entries)))


def test_a_destination_with_entries_is_refused_unless_appending(tmp_path: Path) -> None:
    source, destination = tmp_path / "a.json", tmp_path / "b.db"
    write_entries(source, [numbered_entry(n) for n in range(3)])
    write_entries(destination, [numbered_entry(n) for n in range(10, 12)])
    with pytest.raises(ValueError, match=r"already holds 2 entries: pass --append"):
        convert(source, destination)
    assert len(entries_of(destination)) == 2
    done = convert(source, destination, append=True)
    assert (done.entries, done.appended) == (3, True)
    assert [e["skill"] for e in entries_of(destination)] == [
        "skill.10",
        "skill.11",
        "skill.0",
        "skill.1",
        "skill.2",
    ]


def test_an_existing_empty_destination_is_filled_in_place(tmp_path: Path) -> None:
    source, destination = tmp_path / "a.jsonl", tmp_path / "b.json"
    write_entries(source, [numbered_entry(1)])
    destination.write_text("[]")
    inode = destination.stat().st_ino
    assert convert(source, destination).appended is False
    assert destination.stat().st_ino == inode
    assert stored_entries(destination) == [numbered_entry(1)]


@pytest.mark.parametrize(
    ("source", "destination", "message"),
    [
        ("missing.json", "out.json", "No such telemetry file or archive to convert"),
        ("a.json", "a.json", "are the same file"),
        ("a.json", "x.json.gz", "named as an archive"),
        ("empty.jsonl", "out.json", "holds no entry"),
    ],
)
def test_bad_conversions_are_refused_saying_why(
    tmp_path: Path, source: str, destination: str, message: str
) -> None:
    write_entries(tmp_path / "a.json", [numbered_entry(1)])
    (tmp_path / "empty.jsonl").write_bytes(b"")
    before = (tmp_path / "a.json").read_bytes()
    with pytest.raises((ValueError, OSError), match=message):
        convert(tmp_path / source, tmp_path / destination)
    assert (tmp_path / "a.json").read_bytes() == before
    assert not (tmp_path / "out.json").exists()
    assert [name for name in os.listdir(tmp_path) if "building" in name] == []


def test_a_count_that_does_not_add_up_is_an_error() -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match="holds 0 entries after the conversion, 3 were expected"):
        _check_count(store, 3, "x.json")


def test_a_damaged_archive_is_refused_by_its_name(tmp_path: Path) -> None:
    archive = tmp_path / "t.json.20261206T201300.123456Z.json.gz"
    archive.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"t\.json\.20261206T201300\.123456Z\.json\.gz is not"):
        convert(archive, tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


# -- the command line ------------------------------------------------------------------------


def test_cli_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.json"
    write_entries(source, [numbered_entry(n) for n in range(3)])
    assert main(["convert", str(source), str(tmp_path / "b.db")]) == 0
    assert capsys.readouterr().out == f"Converted 3 entries: {source} -> {tmp_path / 'b.db'}\n"
    assert main(["convert", str(source), str(tmp_path / "b.db")]) == 1
    assert "pass --append" in capsys.readouterr().err
    assert main(["convert", str(source), str(tmp_path / "b.db"), "--append", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert (outcome["entries"], outcome["appended"]) == (3, True)
    assert main(["convert", str(source), str(tmp_path / "c.jsonl"), "--append"]) == 0
    assert capsys.readouterr().out.startswith("Converted 3 entries")


# -- killed ----------------------------------------------------------------------------------

KILLED_CONVERT = """
import sys
from betty_telemetry.lifecycle import convert as module
source, destination, append = sys.argv[1:4]
def slow(done):
    if done >= module.BATCH * 2:
        print("GO", flush=True)
        import time; time.sleep(60)
module.convert(source, destination, append=append == "1", progress=slow)
"""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("append", [False, True], ids=["new", "append"])
def test_a_convert_killed_half_way_leaves_every_file_valid(
    tmp_path: Path, kind: str, append: bool
) -> None:
    source = tmp_path / "source.jsonl"
    entries = [numbered_entry(n % 3000, inputs={"n": n}) for n in range(BATCH * 3)]
    write_entries(source, entries)
    destination = tmp_path / f"destination{STORES[kind]}"
    if append:
        write_entries(destination, [numbered_entry(0, inputs={"n": -1})])
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CONVERT, str(source), str(destination), str(int(append))],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"GO\n"  # two batches written, the third not yet
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert stored_entries(source) == entries  # the source is never touched
    if append:  # written batch by batch, as any writer: what was written is whole
        numbers = [e["inputs"]["n"] for e in entries_of(destination)]
        assert numbers == [-1, *range(BATCH * 2)]
    else:  # nothing half-made at the path; the temporary file is named as such
        assert not destination.exists()
        leftovers = [name for name in os.listdir(tmp_path) if ".building-" in name]
        assert leftovers
        for name in leftovers:
            os.unlink(tmp_path / name)
        assert convert(source, destination).entries == len(entries)  # and it runs again


def test_convert_is_on_the_python_api() -> None:
    import betty_telemetry

    assert betty_telemetry.convert is convert
