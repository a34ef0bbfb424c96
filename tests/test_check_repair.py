"""``check`` and ``repair`` (issue 11, item 5): what a check finds in each store and where,
what a repair fixes, after a backup, keeping every complete entry; the CLI's exit codes and
``--json``; bad inputs. (Repair killed with SIGKILL, and repair under concurrent writers:
tests/stress/test_repair_stress.py.)"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shlex
import shutil
import sqlite3
import stat
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.cli.main import main
from betty_telemetry.lifecycle.checking import check, exit_code, repair
from betty_telemetry.stores import (
    CheckReport,
    LockTimeoutError,
    MemoryStore,
    check_location,
    open_store,
    repair_location,
)
from betty_telemetry.stores._snapshot import FileRewritten, content_end
from betty_telemetry.stores.checking import check_store, repair_store
from betty_telemetry.stores.checking.views import FrozenView
from tests.conftest import FIXTURE, CliHere
from tests.entries import numbered_entry
from tests.stores import SQLITE, stored_entries, write_entries

Entry = dict[str, Any]
Run = Callable[..., tuple[int, str, str]]


def line(n: int, **changes: object) -> bytes:
    return json.dumps(numbered_entry(n, **changes)).encode()


def array(*lines: bytes) -> bytes:
    """A JSON-array file in our layout holding ``lines``."""
    return b"[\n" + b",\n".join(lines) + b"\n]\n"


ENTRIES = [line(n) for n in range(6)]
CANONICAL = array(*ENTRIES)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """The CLI, in this process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def kinds(report: CheckReport) -> list[tuple[str, int | None]]:
    return [(problem.kind, problem.line) for problem in report.problems]


def beside(path: Path, marker: str) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.{marker}-*"))


# -- the original framework's file ------------------------------------------------------------


def test_check_of_the_original_framework_file_lists_its_legacy_shapes_and_exits_0(
    tmp_path: Path, run: Run
) -> None:
    path = tmp_path / "telemetry.json"
    shutil.copyfile(FIXTURE, path)
    code, out, err = run("check", "--file", str(path))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"{path}: JSON array, 225 entries (186 legacy): no problem"
    assert "186 with no metadata field (read as {}), the first at line 2" in out
    assert "22 with status 'failed', the original framework's word for 'failure'" in out
    assert "fields the library does not write: execution_id," in out
    code, out, _ = run("check", "--file", str(path), "--json")
    report = json.loads(out)
    assert (code, report["clean"], report["parseable"]) == (0, True, True)
    assert (report["entries"], report["legacy_entries"], report["problems"]) == (225, 186, [])
    deviations = {note["deviation"]: note["entries"] for note in report["legacy"]}
    assert deviations["no error_message field (read as null)"] == 186
    code, out, _ = run("repair", "--file", str(path))
    assert (code, out) == (0, f"{path} needs no repair: nothing was changed\n")
    assert path.read_bytes() == FIXTURE.read_bytes()
    assert beside(path, "bak") == []


@pytest.mark.every_store
def test_a_store_the_library_wrote_is_clean(telemetry_path: Path, run: Run) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    for n in range(3):
        telemetry.capture(f"skill.{n}", "success", n, "test", {"n": n})
    telemetry.close()
    code, out, _ = run("check", "--file", str(telemetry_path), "--json")
    report = json.loads(out)
    assert (code, report["clean"], report["entries"], report["legacy_entries"]) == (0, True, 3, 0)


@pytest.mark.every_store
def test_legacy_entries_are_notes_in_every_store(telemetry_path: Path) -> None:
    write_entries(telemetry_path, json.loads(FIXTURE.read_bytes()))
    report = check(telemetry_path)
    assert (report.clean, report.entries, report.legacy_entries) == (True, 225, 186)
    assert report.legacy[0].entries == 186


# -- damage in a JSON array, found and repaired -------------------------------------------------

ARRAY_CASES: dict[str, tuple[bytes, list[tuple[str, int | None]], list[bytes], bytes]] = {
    # name: (file, problems found (kind, line), entries kept, bytes moved aside)
    "torn tail": (
        CANONICAL[:-3] + b",\n" + line(6)[:40],
        [("torn_tail", 8)],
        ENTRIES,
        line(6)[:40] + b"\n",
    ),
    "comma left by a torn append": (CANONICAL[:-3] + b",]\n", [("torn_tail", 7)], ENTRIES, b""),
    "missing closing bracket": (CANONICAL[:-3] + b"\n", [("unclosed_array", 7)], ENTRIES, b""),
    "garbage line in the middle": (
        CANONICAL.replace(ENTRIES[2], b"not json at all,\n" + ENTRIES[2]),
        [("damaged", 4)],
        ENTRIES,
        b"not json at all,\n",
    ),
    "lines zeroed by a crash": (
        CANONICAL.replace(ENTRIES[3], b"\0" * 50 + b"\n" + b"\0" * 20 + b"\n" + ENTRIES[3]),
        [("damaged", 5)],
        ENTRIES,
        b"\0" * 50 + b"\n" + b"\0" * 20 + b"\n",
    ),
    "entry cut short in the middle": (
        CANONICAL.replace(ENTRIES[1] + b",", ENTRIES[1][:60] + b"\n" + ENTRIES[1] + b","),
        [("damaged", 3)],
        ENTRIES,
        ENTRIES[1][:60] + b"\n",
    ),
    "a damaged last entry": (
        CANONICAL.replace(b",\n" + ENTRIES[5], b",\n" + ENTRIES[5][:50] + b"#"),
        [("damaged", 7)],
        ENTRIES[:5],
        ENTRIES[5][:50] + b"#\n",
    ),
    "missing comma": (
        CANONICAL.replace(ENTRIES[2] + b",", ENTRIES[2]),
        [("syntax", 5)],
        ENTRIES,
        b"",
    ),
    "extra comma": (
        CANONICAL.replace(ENTRIES[2] + b",", ENTRIES[2] + b",,"),
        [("syntax", 5)],
        ENTRIES,
        b"",
    ),
    "array closed early": (
        array(*ENTRIES[:3]) + b",\n" + b",\n".join(ENTRIES[3:]) + b"\n]\n",
        [("syntax", 7)],
        ENTRIES,
        b"",
    ),
    "extra closing bracket": (CANONICAL + b"]\n", [("syntax", 9)], ENTRIES, b""),
    "data after the end": (
        CANONICAL + b"PASSWORD=hunter2\n",
        [("damaged", 9)],
        ENTRIES,
        b"PASSWORD=hunter2\n",
    ),
    "two entries on a line": (
        CANONICAL.replace(ENTRIES[1] + b",\n", ENTRIES[1] + b", "),
        [],
        ENTRIES,
        b"",
    ),
}


@pytest.mark.parametrize("case", list(ARRAY_CASES))
def test_check_finds_each_kind_of_damage_in_a_json_array_where_it_is(
    tmp_path: Path, case: str
) -> None:
    data, problems, kept, _ = ARRAY_CASES[case]
    path = tmp_path / "telemetry.json"
    path.write_bytes(data)
    report = check(path)
    assert kinds(report) == problems
    assert report.entries == len(kept)
    assert report.repairable == bool(problems)
    assert exit_code(report) == (1 if problems else 0)
    assert "hunter2" not in json.dumps(report.as_dict())


@pytest.mark.parametrize("case", list(ARRAY_CASES))
def test_repair_of_a_json_array_keeps_every_entry_moves_damage_aside_and_backs_up(
    tmp_path: Path, case: str
) -> None:
    data, problems, kept, moved = ARRAY_CASES[case]
    path = tmp_path / "telemetry.json"
    path.write_bytes(data)
    path.chmod(0o640)
    done = repair(path)
    assert done.repaired == bool(problems)
    assert exit_code(done) == 0
    assert list(json.loads(path.read_bytes())) == [json.loads(k) for k in kept]
    if not problems:
        assert path.read_bytes() == data
        assert beside(path, "bak") == []
        return
    assert [(problem.kind, problem.line) for problem in done.fixed] == problems
    assert done.backup is not None
    backup = Path(done.backup)
    assert backup.read_bytes() == data
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the store keeps its own mode
    if moved:
        assert done.side_file is not None
        assert Path(done.side_file).read_bytes() == moved
        assert stat.S_IMODE(Path(done.side_file).stat().st_mode) == 0o600
    else:
        assert done.side_file is None
    after = check(path)
    assert (after.clean, after.entries) == (True, len(kept))
    assert path.read_bytes() == array(*kept)  # our layout, byte for byte
    assert [name for name in os.listdir(tmp_path) if name.startswith(".telemetry-")] == []


def test_repair_of_an_indented_file_keeps_its_layout_and_rewrites_only_what_is_wrong(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry.json"
    original = FIXTURE.read_bytes()
    # An entry cut short between two others half way through the file, and no "]".
    lines = original.split(b"\n")
    at = lines.index(b"  },", 300) + 1
    cut = [b"  {", b'    "timestamp": "2025-10']
    damaged = b"\n".join([*lines[:at], *cut, *lines[at:]]).rstrip(b"\n]")
    path.write_bytes(damaged)
    report = check(path)
    assert kinds(report) == [("damaged", at + 1), ("unclosed_array", len(lines) + 1)]
    assert report.entries == 225
    done = repair(path)
    assert done.entries == 225
    assert json.loads(path.read_bytes()) == json.loads(original)
    assert path.read_bytes() == original.rstrip(b"\n]") + b"\n]\n"
    assert Path(str(done.side_file)).read_bytes() == b'{\n    "timestamp": "2025-10\n'


def test_entries_the_schema_rejects_are_reported_at_their_line_and_kept_by_repair(
    tmp_path: Path, run: Run
) -> None:
    path = tmp_path / "telemetry.json"
    bad = [
        line(1, status="bogus"),
        line(2, duration_ms=-5.0),
        line(3, skill=42, inputs=["x"]),
        line(4, error_message={"e": 1}, metadata=None),
        b"[1, 2]",
    ]
    path.write_bytes(array(ENTRIES[0], *bad, ENTRIES[5]))
    code, out, _ = run("check", "--file", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}: JSON array, 6 entries: 5 problems",
        "  line 3: schema: status is not one of: success, failure, timeout, error, pending",
        "  line 4: schema: duration_ms is negative",
        "  line 5: schema: skill is a number, not a string; inputs is a JSON array, not an object",
        "  line 6: schema: error_message is a JSON object, not a string or null; "
        "metadata is null, not an object",
        "  line 7: schema: a value that is not an entry (a JSON array, not a JSON object)",
    ]
    before = path.read_bytes()
    code, out, _ = run("repair", "--file", str(path))
    assert code == 1
    assert out.startswith(f"{path} needs no repair: nothing was changed\nNot repaired")
    assert "  line 4: schema: duration_ms is negative" in out
    assert path.read_bytes() == before
    assert beside(path, "bak") == []


def test_a_file_that_is_not_a_json_array_is_reported_and_never_repaired(
    tmp_path: Path, run: Run
) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(b"API_KEY=sk-live-0123456789\nDEBUG=1\n")
    code, out, _ = run("check", "--file", str(path))
    assert code == 1
    assert "not a JSON array: it starts with text that is not JSON" in out
    assert "sk-live" not in out
    assert json.loads(run("check", "--file", str(path), "--json")[1])["parseable"] is False
    code, out, _ = run("repair", "--file", str(path))
    assert code == 1
    assert out.startswith(f"{path} is left unchanged: not a JSON array")
    assert path.read_bytes() == b"API_KEY=sk-live-0123456789\nDEBUG=1\n"
    assert sorted(os.listdir(tmp_path)) == ["telemetry.json"]


def test_an_empty_file_and_an_empty_array_are_clean(tmp_path: Path) -> None:
    for data in (b"", b"  \n", b"[]", b"[\n]\n"):
        path = tmp_path / "telemetry.json"
        path.write_bytes(data)
        report = check(path)
        assert (report.clean, report.entries) == (True, 0), data
    path.write_bytes(b"[\n")
    assert kinds(check(path)) == [("unclosed_array", 1)]
    repair(path)
    assert path.read_bytes() == b"[\n]\n"


def test_many_problems_are_counted_and_the_first_thousand_listed(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(array(*[line(n, status="bogus") for n in range(1203)]))
    report = check(path)
    assert (report.problem_count, len(report.problems)) == (1203, 1000)
    code, out, _ = run("check", "--file", str(path))
    assert code == 1
    assert out.splitlines()[-1] == "  ... and 203 more (the first 1,000 are listed)"


# -- JSON Lines ----------------------------------------------------------------------------

JSONL = b"".join(entry + b"\n" for entry in ENTRIES)
LINES_CASES: dict[str, tuple[bytes, list[tuple[str, int | None]], list[bytes], bytes]] = {
    "torn tail": (JSONL + line(6)[:30], [("torn_tail", 7)], ENTRIES, line(6)[:30] + b"\n"),
    "garbage line": (
        JSONL.replace(ENTRIES[2], b"# a comment\n" + ENTRIES[2]),
        [("damaged", 3)],
        ENTRIES,
        b"# a comment\n",
    ),
    "zeroed line": (
        JSONL.replace(ENTRIES[1], b"\0" * 64),
        [("damaged", 2)],
        [e for n, e in enumerate(ENTRIES) if n != 1],
        b"\0" * 64 + b"\n",
    ),
    "damaged first line": (
        JSONL.replace(ENTRIES[0], ENTRIES[0][:40]),
        [("damaged", 1)],
        ENTRIES[1:],
        ENTRIES[0][:40] + b"\n",
    ),
    "blank lines and a last line without its newline": (
        JSONL[:-1].replace(b"\n", b"\n\n", 1),
        [],
        ENTRIES,
        b"",
    ),
    "foreign last line": (JSONL + b"]", [("damaged", 7)], ENTRIES, b"]\n"),
}


@pytest.mark.parametrize("case", list(LINES_CASES))
def test_check_and_repair_of_a_json_lines_file(tmp_path: Path, case: str) -> None:
    data, problems, kept, moved = LINES_CASES[case]
    path = tmp_path / "telemetry.jsonl"
    path.write_bytes(data)
    report = check(path)
    assert (kinds(report), report.entries) == (problems, len(kept))
    done = repair(path)
    assert done.repaired == bool(problems)
    assert [json.loads(text) for text in path.read_bytes().split(b"\n") if text.strip()] == [
        json.loads(entry) for entry in kept
    ]
    assert check(path).clean
    if problems:
        assert Path(str(done.backup)).read_bytes() == data
        assert (Path(done.side_file).read_bytes() if done.side_file else b"") == moved
        TelemetryCapture(path).capture("after.repair", "success", 1, "test")
        assert stored_entries(path)[-1]["skill"] == "after.repair"


@pytest.mark.parametrize(
    "data",
    [b"[\n" + ENTRIES[0] + b"\n]\n", b"KEY=value\n", b"#!/bin/sh\n", b"\0\0\0\n\0\0\n"],
    ids=["json array", "env file", "script", "zeroes"],
)
def test_a_file_that_is_not_json_lines_is_reported_and_never_repaired(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "telemetry.jsonl"
    path.write_bytes(data)
    report = check(path)
    assert report.parseable is False
    assert report.problems[-1].kind == "unreadable"
    done = repair(path)
    assert (done.repaired, exit_code(done)) == (False, 1)
    assert path.read_bytes() == data


# -- SQLite ---------------------------------------------------------------------------------


def _database(path: Path) -> None:
    write_entries(path, [numbered_entry(n) for n in range(5)])


def test_a_sqlite_row_whose_body_is_not_an_entry_is_reported_by_its_row_id(
    tmp_path: Path, run: Run
) -> None:
    path = tmp_path / "telemetry.db"
    _database(path)
    with sqlite3.connect(path) as database:
        database.execute("UPDATE entries SET body = 'not json' WHERE id = 3")
        database.execute('UPDATE entries SET body = \'{"status": "bogus"}\' WHERE id = 4')
    database.close()
    code, out, _ = run("check", "--file", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}: SQLite database, 4 entries: 2 problems",
        "  row 3: damaged: a row whose body is not an entry: text that is not JSON",
        "  row 4: schema: no timestamp field; no skill field; no duration_ms field; "
        "no caller field; status is not one of: success, failure, timeout, error, pending",
    ]
    before = path.read_bytes()
    code, out, _ = run("repair", "--file", str(path))
    assert code == 1
    assert "a SQLite database is not repaired in place" in out
    assert "  row 3: damaged: a row whose body" in out
    assert path.read_bytes() == before


def test_a_sqlite_database_with_damaged_pages_fails_sqlites_check(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "telemetry.db"
    _database(path)
    with sqlite3.connect(path) as database:
        database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = database.execute("PRAGMA page_size").fetchone()[0]
        (root,) = database.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'entries_skill_duration'"
        ).fetchone()
    database.close()
    with path.open("r+b") as file:  # scribble over an index's first page
        file.seek(page * (root - 1))
        file.write(b"\xff" * 8)
    report = check(path)
    assert report.entries == 5  # the rows are read by id, without the index
    [problem] = report.problems
    assert (problem.kind, problem.line, problem.repairable) == ("integrity", None, False)
    assert problem.message.startswith("SQLite's check: ")
    code, out, _ = run("check", "--file", str(path))
    assert code == 1
    assert out.splitlines()[1].startswith("  integrity: SQLite's check: ")
    done = repair(path)
    assert (done.repaired, exit_code(done), done.unit) == (False, 1, "row")


@pytest.mark.parametrize("data", [b"SQLite? no: plain text\n", b""], ids=["text", "empty"])
def test_a_file_that_is_not_a_sqlite_database(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "telemetry.db"
    path.write_bytes(data)
    report = check(path)
    if not data:  # SQLite takes an empty file for an empty database: an empty store
        assert (report.clean, report.entries) == (True, 0)
        return
    assert (report.parseable, report.problems[0].kind) == (False, "unreadable")
    assert "not a SQLite database" in report.problems[0].message


def test_a_sqlite_database_of_other_tables_is_not_a_telemetry_store(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    with sqlite3.connect(path) as database:
        database.execute("CREATE TABLE users (name TEXT)")
    database.close()
    report = check(path)
    assert report.parseable is False
    assert report.problems[0].message.startswith("not a telemetry database: a SQLite database")


# -- archives -------------------------------------------------------------------------------


@pytest.mark.every_store
def test_an_archive_is_checked_as_the_store_it_was(telemetry_path: Path, run: Run) -> None:
    telemetry = TelemetryCapture(telemetry_path)
    for n in range(4):
        telemetry.capture(f"skill.{n}", "success", n, "test")
    archive = telemetry.rotate().archive
    telemetry.close()
    assert archive is not None
    code, out, _ = run("check", "--file", archive)
    assert code == 0
    assert "archive (gzip), 4 entries: no problem" in out
    code, _, err = run("repair", "--file", archive)
    assert code == 1
    assert "archives are written whole by a rotation and are not repaired" in err


def test_a_damaged_archive_is_reported_line_by_line_and_a_cut_one_is_an_error(
    tmp_path: Path, run: Run
) -> None:
    archive = tmp_path / "telemetry.json.20261206T201300.123456Z.json.gz"
    archive.write_bytes(gzip.compress(CANONICAL.replace(ENTRIES[1], b"???")))
    report = check_location(archive)
    assert (kinds(report), report.store) == ([("damaged", 3)], "JSON array archive (gzip)")
    archive.write_bytes(gzip.compress(CANONICAL)[:-20])
    code, _, err = run("check", "--file", str(archive))
    assert code == 1
    assert err.startswith(f"Error: {archive} is not a whole gzip archive")


# -- the CLI and bad inputs -----------------------------------------------------------------


def test_cli_repair_prints_what_it_fixed_and_where_the_copies_are(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(CANONICAL.replace(ENTRIES[2], b"GARBAGE\n" + ENTRIES[2])[:-3])
    code, out, _ = run("check", "--file", str(path))
    assert code == 1
    assert "2 problems, 2 that `betty-telemetry repair` fixes" in out.splitlines()[0]
    code, out, _ = run("repair", "--file", str(path), "--json")
    done = json.loads(out)
    assert (code, done["repaired"], done["entries"], done["remaining"]) == (0, True, 6, [])
    assert [problem["kind"] for problem in done["fixed"]] == ["damaged", "unclosed_array"]
    path.write_bytes(path.read_bytes() + b"junk\n")
    code, out, _ = run("repair", "--file", str(path))
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == f"Repaired {path}: every one of its 6 entries was kept"
    assert lines[1] == "  fixed: line 9: damaged: text that is not JSON"
    assert lines[2].startswith(f"  the file as it was: {path}.bak-")
    assert lines[3].startswith(f"  the damaged bytes, as they were: {path}.damaged-")
    assert run("check", "--file", str(path))[0] == 0


def test_the_default_file_is_checked_and_a_missing_one_names_the_rule(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run("check")
    assert code == 1
    expected = tmp_path / "registry" / "telemetry.json"
    assert err == (
        f"Error: no telemetry file at {expected} (chosen by default ./registry/telemetry.json): "
        "nothing was captured there yet. Pass --file PATH or set BETTY_TELEMETRY_FILE\n"
    )
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "t.jsonl"))
    assert "chosen by $BETTY_TELEMETRY_FILE" in run("repair")[2]
    TelemetryCapture().capture("x", "success", 1, "test")
    assert run("check")[0] == 0


def test_a_folder_a_fifo_and_memory_are_refused_with_a_clear_error(
    tmp_path: Path, run: Run
) -> None:
    folder = tmp_path / "telemetry.json"
    folder.mkdir()
    for command in ("check", "repair"):
        code, _, err = run(command, "--file", str(folder))
        assert code == 1
        assert err.startswith(f"Error: {folder}: ")
        assert "the path is a folder" in err
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    code, _, err = run("check", "--file", str(fifo))
    assert (code, "FIFO" in err) == (1, True)
    code, _, err = run("check", "--file", ":memory:")
    assert code == 1
    assert "a store in memory keeps no file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_an_error_that_says_so(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(CANONICAL)
    path.chmod(0)
    code, _, err = run("check", "--file", str(path))
    assert code == 1
    assert "permission" in err.lower()


@pytest.mark.parametrize("command", ["check", "repair", "schema"])
def test_the_examples_of_each_command_s_help_run(
    cli_here: CliHere, tmp_path: Path, command: str
) -> None:
    """Each example of ``COMMAND --help`` runs as written (but a pipe into another tool), by
    ``main`` in this process: the console script itself starts in test_cli.py."""
    shown = cli_here(command, "--help")
    assert shown.returncode == 0, shown.stderr
    help_text = shown.stdout
    examples = [
        text.strip().split("  #")[0]
        for text in help_text.split("examples:\n")[1].split("\n\n")[0].splitlines()
    ]
    assert examples
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "telemetry.json").write_bytes(CANONICAL)
    write_entries(registry / "telemetry.jsonl", [numbered_entry(n) for n in range(3)])
    archive = registry / "telemetry.json.20261206T201300.123456Z.json.gz"
    archive.write_bytes(gzip.compress(CANONICAL))
    for example in examples:
        if "|" in example:
            continue  # feeds another tool
        words = shlex.split(example)
        assert words[0] == "betty-telemetry", example
        redirect = words[words.index(">") + 1] if ">" in words else None
        words = words[: words.index(">")] if redirect else words
        done = cli_here(*words[1:], cwd=tmp_path)
        assert (done.returncode, done.stderr) == (0, ""), example
        if redirect is not None:  # as the shell would
            (tmp_path / redirect).write_text(done.stdout, encoding="utf-8")
    assert len(list(registry.iterdir())) == 3  # clean stores: nothing to repair, nothing made


# -- repair among writers ---------------------------------------------------------------------


@pytest.mark.every_store
def test_a_capture_that_had_the_file_open_writes_into_the_repaired_file(
    telemetry_path: Path, store_kind: str
) -> None:
    writer = TelemetryCapture(telemetry_path)
    writer.capture("before", "success", 1, "test")
    if store_kind == SQLITE:
        assert repair(telemetry_path).repaired is False
        writer.close()
        return
    with telemetry_path.open("ab") as file:  # a torn write of another process
        file.write(b'{"timestamp": "2025-')
    assert repair(telemetry_path).repaired
    writer.capture("after", "success", 1, "test")
    writer.close()
    assert [entry["skill"] for entry in stored_entries(telemetry_path)] == ["before", "after"]
    assert check(telemetry_path).clean


def test_repair_through_a_symbolic_link_repairs_the_file_it_points_to(tmp_path: Path) -> None:
    target = tmp_path / "data" / "telemetry.json"
    target.parent.mkdir()
    target.write_bytes(CANONICAL[:-3])
    link = tmp_path / "telemetry.json"
    link.symlink_to(target)
    done = repair(link)
    assert link.is_symlink()
    assert target.read_bytes() == CANONICAL
    assert Path(str(done.backup)).parent == target.parent


def test_a_view_of_a_file_rewritten_in_place_says_so(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(CANONICAL)
    fd = os.open(path, os.O_RDONLY)
    try:
        view = FrozenView(fd, str(path), 1.0, content_end)
        assert view.read(0, 10) == CANONICAL[:10]
        assert view.read(view.size - 3, 10) == b"\n]\n"  # the tail, read when taken
        path.write_bytes(array(*[line(n + 100) for n in range(6)]))  # in place: same inode
        with pytest.raises(FileRewritten):
            view.read(0, 10)
    finally:
        os.close(fd)


# -- large files, odd layouts, odd bytes --------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_a_file_of_several_blocks_is_checked_and_repaired_in_pieces(
    tmp_path: Path, suffix: str
) -> None:
    entries = [line(n, inputs={"pad": "p" * 900}) for n in range(5000)]  # about 5 MiB
    damaged = {1500, 2100, 4444, 4999}
    kept = [entry for n, entry in enumerate(entries) if n not in damaged]
    body = [b"\0" * 300 if n in damaged else entry for n, entry in enumerate(entries)]
    path = tmp_path / f"telemetry{suffix}"
    torn = entries[7][:100]
    if suffix == ".json":
        path.write_bytes(array(*body)[:-3] + b",\n" + torn)
        lines = [n + 2 for n in sorted(damaged)]
    else:
        path.write_bytes(b"".join(entry + b"\n" for entry in body) + torn)
        lines = [n + 1 for n in sorted(damaged)]
    report = check(path)
    torn_line = len(entries) + (2 if suffix == ".json" else 1)
    assert kinds(report) == [*[("damaged", n) for n in lines], ("torn_tail", torn_line)]
    assert report.entries == len(kept)
    done = repair(path)
    assert done.entries == len(kept)
    assert stored_entries(path) == [json.loads(entry) for entry in kept]
    assert check(path).clean
    separator = b",\n" if suffix == ".json" else b"\n"
    moved = b"".join(b"\0" * 300 + separator for _ in damaged) + torn + b"\n"
    assert Path(str(done.side_file)).read_bytes() == moved


def test_a_compact_array_on_one_long_line_is_read_element_by_element(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    entries = [line(n, inputs={"pad": "q" * 200}) for n in range(2000)]  # one 900 KB line
    path.write_bytes(b"[" + b",".join(entries) + b"]")
    report = check(path)
    assert (report.clean, report.entries) == (True, 2000)
    path.write_bytes(b"[" + b",".join(entries[:1000]) + b',{"cut": ' + b"]")
    report = check(path)
    assert report.entries == 1000
    assert [problem.kind for problem in report.problems] == ["damaged", "unclosed_array"]


def test_an_indented_entry_with_nested_objects_at_the_first_column_is_one_entry(
    tmp_path: Path,
) -> None:
    entry = numbered_entry(1, inputs={"items": [{"a": 1}, {"b": 2}]})
    path = tmp_path / "telemetry.json"
    path.write_bytes(json.dumps([entry, numbered_entry(2)], indent=0).encode())
    report = check(path)
    assert (report.clean, report.entries) == (True, 2)


def test_bytes_that_are_not_utf8_and_entries_too_deep_to_read_are_damage(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    not_utf8 = line(1).replace(b"skill.1", b"skill.\xff\xfe")
    too_deep = b'{"deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    path.write_bytes(array(ENTRIES[0], not_utf8, too_deep, ENTRIES[3]))
    report = check(path)
    assert [(p.kind, p.line, p.message) for p in report.problems] == [
        ("damaged", 3, "binary data"),
        (
            "damaged",
            4,
            "an entry nested deeper than Python's JSON reader can read (about 1,000 levels)",
        ),
    ]
    done = repair(path)
    assert done.entries == 2
    assert Path(str(done.side_file)).read_bytes() == not_utf8 + b",\n" + too_deep + b",\n"


def test_a_sqlite_store_of_many_rows_is_read_a_page_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.db"
    write_entries(path, [numbered_entry(n) for n in range(5000)])
    report = check(path)
    assert (report.clean, report.entries) == (True, 5000)


@pytest.mark.parametrize(
    "name",
    ["telemetry.json", "telemetry.jsonl", "telemetry.db", "t.json.20261206T201300.123456Z.json.gz"],
)
def test_checking_or_repairing_a_missing_store_says_nothing_is_there(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    with pytest.raises(FileNotFoundError, match="nothing was captured there yet"):
        check_location(path)
    if not name.endswith(".gz"):
        with pytest.raises(FileNotFoundError, match="nothing was captured there yet"):
            repair_location(path)
    assert os.listdir(tmp_path) == []


def test_a_store_kept_in_memory_has_nothing_to_check() -> None:
    with pytest.raises(ValueError, match="keeps no file"):
        check_store(MemoryStore())


def test_two_repairs_in_the_same_microsecond_keep_both_backups(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    moment = datetime(2026, 12, 6, 20, 13, tzinfo=timezone.utc)
    backups = []
    for damage in (b"junk one\n", b"junk two\n"):
        path.write_bytes(CANONICAL + damage)
        done = repair_store(open_store(path), now=moment)
        backups.append(done.backup)
    assert backups == [
        f"{path}.bak-20261206T201300.000000Z",
        f"{path}.bak-20261206T201300.000000Z-1",
    ]
    assert Path(f"{path}.damaged-20261206T201300.000000Z-1").read_bytes() == b"junk two\n"


def test_a_path_through_a_file_is_an_error_that_says_so(tmp_path: Path, run: Run) -> None:
    (tmp_path / "registry").write_text("a file, not a folder")
    code, _, err = run("check", "--file", str(tmp_path / "registry" / "telemetry.json"))
    assert code == 1
    assert "a part of the path that should be a folder is a file" in err


def test_a_repair_waits_for_a_stuck_writer_then_gives_up_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry.json"
    data = CANONICAL[:-3]
    path.write_bytes(data)
    holder = os.open(path, os.O_RDWR)  # another open file: its lock excludes the repair's
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(LockTimeoutError, match="stayed locked"):
            repair(path, lock_timeout=0.2)
    finally:
        os.close(holder)
    assert path.read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == ["telemetry.json"]


def test_a_file_rewritten_in_place_during_a_check_is_checked_as_it_is_then(
    tmp_path: Path,
) -> None:
    """Another program (the original framework) rewrites the file in place, under its lock,
    while a check reads it a block at a time: the check reads it again, holding the lock."""
    path = tmp_path / "telemetry.json"
    before = array(*[line(n % 3000, inputs={"pad": "b" * 400}) for n in range(40_000)])
    after = array(*[line(n % 3000) for n in range(1000)])
    path.write_bytes(before)
    started = threading.Event()

    def rewrite() -> None:
        started.wait()
        with path.open("r+b") as file:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            file.truncate(0)
            file.write(after)

    rewriter = threading.Thread(target=rewrite)
    rewriter.start()
    store = open_store(path)
    started.set()
    report = check_store(store)
    rewriter.join()
    assert report.clean
    assert report.entries in (40_000, 1000)
    assert check(path).entries == 1000
