"""Damage in the middle of a file: readers read every good entry and report it (issue 6, item 5).

An append looks only at the file's last bytes, so damage before them (a line of garbage, bytes
zeroed by a crash of the machine, an entry cut short) goes unseen by writers, and captures go
on. Every reader must then return every well-formed entry, skip the damage, and log one
warning per read naming the file, where the (first) damaged line is (line, column, byte
offset) and how many there are, quoting none of it; the CLI prints it on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores.json_array.follow import ArrayFollower
from tests.conftest import run_cli
from tests.entries import TRACE, numbered_entry

Entry = dict[str, Any]
GARBAGE = b"this line is garbage: api_key=sk-proj-GARBAGEgarbageGARBAGE0123456789"
QUOTED = b"GARBAGEgarbage"


def entry(n: int) -> Entry:
    failed = n % 3 == 0
    return numbered_entry(
        n, status="failure" if failed else "success", error_message="boom" if failed else None
    )


ENTRIES = [entry(n) for n in range(8)]
LINES = [json.dumps(e).encode() for e in ENTRIES]
BIG = [json.dumps(entry(n) | {"pad": "x" * 200}).encode() for n in range(3000)]  # ~1.2 MB


def canonical(lines: list[bytes]) -> bytes:
    return b"[\n" + b",\n".join(lines) + b"\n]\n"


def indented_with(damage: bytes, at: int) -> bytes:
    """The entries as the original framework writes them (indent=2), with ``damage`` as a line
    before entry ``at``."""
    text = json.dumps(ENTRIES, indent=2).encode()
    start = text.index(b'  {\n    "timestamp": "' + ENTRIES[at]["timestamp"].encode())
    return text[:start] + b"  " + damage + b"\n" + text[start:]


def zeroed(lines: list[bytes], first: int) -> bytes:
    """A crash of the machine zeroed a stretch across the end of line ``first`` and the start
    of the next: what is left of the two reads as one line holding binary data."""
    content = bytearray(canonical(lines))
    start = content.index(lines[first]) + len(lines[first]) // 2
    end = content.index(lines[first + 1]) + len(lines[first + 1]) // 2
    content[start:end] = b"\0" * (end - start)
    return bytes(content)


def offset_and_line(content: bytes, damage: bytes) -> tuple[int, int]:
    offset = content.index(damage)
    return offset, content.count(b"\n", 0, offset) + 1


# name: (content, the entries a reader must return, count, line, column, what is there)
CASES: dict[str, tuple[bytes, list[Entry], int, int, int, str]] = {
    "garbage-line": (
        canonical([*LINES[:3], GARBAGE, *LINES[3:]]),
        ENTRIES,
        1,
        5,
        1,
        "text that is not JSON",
    ),
    "entry-cut-short": (
        canonical([*LINES[:3], LINES[3][:40], *LINES[4:]]),
        [e for i, e in enumerate(ENTRIES) if i != 3],
        1,
        5,
        1,
        "an entry cut short or damaged",
    ),
    "three-damaged-lines": (
        canonical([GARBAGE, *LINES[:2], b"\x00\x00\x00", *LINES[2:6], b"<html>", *LINES[6:]]),
        ENTRIES,
        3,
        2,
        1,
        "text that is not JSON",
    ),
    "zeroed-by-a-crash": (
        zeroed(LINES, 4),
        [e for i, e in enumerate(ENTRIES) if i not in (4, 5)],
        1,
        6,
        1,
        "binary data",
    ),
    "indented-garbage": (
        indented_with(GARBAGE, 4),
        ENTRIES,
        1,
        0,  # computed below
        3,
        "text that is not JSON",
    ),
    "indented-missing-comma": (
        json.dumps(ENTRIES, indent=2).encode().replace(b"},\n  {", b"}\n  {", 1),
        ENTRIES,
        1,
        17,
        3,
        "an entry with no ',' before it (the entry itself was read)",
    ),
    "garbage-before-the-bracket": (
        b"[\n" + b",\n".join(LINES) + b",\n" + GARBAGE + b"\n]\n",
        ENTRIES,
        1,
        10,
        1,
        "text that is not JSON",
    ),
    "after-the-end": (
        canonical(LINES) + b"]\n",
        ENTRIES,
        1,
        11,
        1,
        "data after the end of the array",
    ),
}
_content = CASES["indented-garbage"][0]
CASES["indented-garbage"] = (
    *CASES["indented-garbage"][:3],
    offset_and_line(_content, GARBAGE)[1],
    *CASES["indented-garbage"][4:],
)


def newest_first(entries: list[Entry]) -> list[Entry]:
    return list(reversed(entries))


READS: dict[str, tuple[Callable[[TelemetryCapture], Any], Callable[[list[Entry]], Any]]] = {
    "query": (lambda t: t.query(), newest_first),
    "iter_entries": (lambda t: list(t.iter_entries()), newest_first),
    "query-failures": (
        lambda t: t.query(status="failure"),
        lambda es: [e for e in newest_first(es) if e["status"] == "failure"],
    ),
    "tail": (lambda t: t.tail(100), lambda es: es),
    "stats": (
        lambda t: sorted(row["key"] for row in t.stats()),
        lambda es: sorted(e["skill"] for e in es),
    ),
    "trace": (
        lambda t: sorted(node["entry"]["skill"] for node in t.trace(TRACE)),
        lambda es: sorted(e["skill"] for e in es),
    ),
    "follow-backlog": (lambda t: _backlog(t, 100), lambda es: es),
}


FILTERED = {"query-failures": b'"failure"', "trace": TRACE.encode()}
DAMAGED_ENTRY_LINES = ("entry-cut-short", "zeroed-by-a-crash")


def _backlog(telemetry: TelemetryCapture, count: int) -> list[Entry]:
    follower = ArrayFollower(str(telemetry.telemetry_file))
    try:
        return follower.start_at_end(count)
    finally:
        follower.close()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "betty_telemetry" and record.levelno == logging.WARNING
    ]


def assert_reported(warning: str, path: Path, case: str) -> None:
    content, _, count, line, column, what = CASES[case]
    assert warning.startswith(f"{path}: skipped ")
    if count == 1:
        assert "a damaged line that is not a telemetry entry, at" in warning
    else:
        assert f"{count} damaged lines that are not telemetry entries, the first at" in warning
    offset = _first_damage_offset(content, case)
    assert f"line {line}, column {column} (byte offset {offset}): {what}." in warning
    assert "Every other entry was read" in warning
    assert QUOTED.decode() not in warning


def _first_damage_offset(content: bytes, case: str) -> int:
    if case == "after-the-end":
        return len(content) - 2
    if case == "indented-missing-comma":
        return content.index(b"}\n  {") + 4
    if case == "zeroed-by-a-crash":
        return content.index(LINES[4][: len(LINES[4]) // 2])
    if case == "entry-cut-short":
        return content.index(LINES[3][:40] + b",")
    return content.index(GARBAGE)


@pytest.fixture
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    case: str = request.param
    path = tmp_path / "telemetry.json"
    path.write_bytes(CASES[case][0])
    yield case, path
    assert path.read_bytes() == CASES[case][0], "a reader changed the file"


@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("damaged", list(CASES), indirect=True)
def test_every_reader_returns_every_good_entry_and_warns_once(
    damaged: tuple[str, Path], read: str, caplog: pytest.LogCaptureFixture
) -> None:
    case, path = damaged
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    do, expected = READS[read]
    assert do(TelemetryCapture(path)) == expected(CASES[case][1])
    content = CASES[case][0]
    offset = _first_damage_offset(content, case)
    damaged_line = content[offset : content.index(b"\n", offset)]
    if read in FILTERED and case in DAMAGED_ENTRY_LINES and FILTERED[read] not in damaged_line:
        # Filters test a line's bytes before parsing it: a damaged entry line without the
        # text they need (here "failure", the trace id) could not match, and is not parsed.
        assert warnings_of(caplog) == []
        return
    [warning] = warnings_of(caplog)
    assert_reported(warning, path, case)


@pytest.mark.parametrize("damaged", ["garbage-line", "indented-garbage"], indirect=True)
def test_each_read_warns_again(damaged: tuple[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    _, path = damaged
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    telemetry = TelemetryCapture(path)
    for _ in range(3):
        telemetry.query()
    assert len(warnings_of(caplog)) == 3


def test_a_read_that_stops_before_the_damage_does_not_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The file is read from its end a block at a time: damage blocks away is never reached.
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical([*BIG[:1500], GARBAGE, *BIG[1500:]]))
    found = TelemetryCapture(path).query(limit=3)
    assert [e["inputs"]["n"] for e in found] == [2999, 2998, 2997]
    assert warnings_of(caplog) == []


def test_captures_go_on_and_the_next_read_returns_them_with_the_old_entries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    content = canonical([*LINES[:3], GARBAGE, *LINES[3:]])
    path.write_bytes(content)
    telemetry = TelemetryCapture(path)
    new = telemetry.capture("after.damage", "success", 1.0, "test")
    assert path.read_bytes().startswith(content[: -len(b"\n]\n")])  # appended in place
    assert warnings_of(caplog) == []  # an O(1) append cannot see the damage
    assert telemetry.query() == [new, *newest_first(ENTRIES)]
    assert len(warnings_of(caplog)) == 1


def test_a_large_file_with_damage_in_the_middle_is_read_in_full(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Past several read blocks, on both sides of the damage.
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical([*BIG[:1500], GARBAGE, *BIG[1500:]]))
    found = TelemetryCapture(path).query()
    assert [e["inputs"]["n"] for e in found] == list(reversed(range(3000)))
    [warning] = warnings_of(caplog)
    assert "at line 1502, column 1" in warning


@pytest.mark.parametrize(
    "tail",
    [b"", b",", b",]\n", b",\n\n", b',\n{"timestamp": "2025-10-2', b',\n{"skill": "x"} garb'],
    ids=["nothing", "comma", "comma-bracket", "comma-blank", "partial-entry", "partial-line"],
)
def test_what_a_torn_append_leaves_is_skipped_quietly(
    tail: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(b"[\n" + b",\n".join(LINES) + tail)
    assert TelemetryCapture(path).query() == newest_first(ENTRIES)
    assert warnings_of(caplog) == []


def test_a_torn_last_element_of_an_indented_file_is_skipped_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What the original framework leaves when killed mid-rewrite: a torn write, not damage.
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    text = json.dumps(ENTRIES, indent=2).encode()
    path.write_bytes(text[: text.index(b'"skill.7"') + 4])
    assert TelemetryCapture(path).query() == newest_first(ENTRIES[:7])
    assert warnings_of(caplog) == []


def test_follow_reports_damage_appended_while_following(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical(LINES[:2]))
    follower = ArrayFollower(str(path))
    try:
        assert follower.start_at_end(10) == ENTRIES[:2]
        path.write_bytes(canonical([*LINES[:2], GARBAGE, *LINES[2:4]]))  # rewritten in place
        found: list[Entry] = []
        deadline = time.monotonic() + 10
        while len(found) < 2 and time.monotonic() < deadline:
            found += follower.poll()
        assert found == ENTRIES[2:4]
    finally:
        follower.close()
    [warning] = warnings_of(caplog)
    assert f"{path}: skipped a damaged line" in warning
    assert "line 4, column 1" in warning


# -- the CLI, as a real process --------------------------------------------------------------

CLI_READS = {
    "query": ["query", "--all", "--jsonl"],
    "stats": ["stats", "--json"],
    "tail": ["tail", "-n", "100", "--jsonl"],
    "trace": ["trace", "--last", "--jsonl"],
}


@pytest.mark.parametrize("command", list(CLI_READS))
@pytest.mark.parametrize("damaged", ["garbage-line", "indented-garbage"], indirect=True)
def test_cli_reads_print_the_good_entries_and_the_warning_once(
    damaged: tuple[str, Path], command: str
) -> None:
    case, path = damaged
    result = run_cli(*CLI_READS[command], "--file", str(path))
    assert result.returncode == 0, result.stderr
    [warning] = result.stderr.splitlines()
    assert warning.startswith("Warning: ")
    assert_reported(warning.removeprefix("Warning: "), path, case)
    if command == "stats":
        assert sum(row["count"] for row in json.loads(result.stdout)) == len(ENTRIES)
    else:
        printed = [json.loads(line)["skill"] for line in result.stdout.splitlines()]
        assert sorted(printed) == sorted(e["skill"] for e in ENTRIES)


def test_cli_tail_follow_prints_the_warning_and_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical([*LINES[:3], GARBAGE, *LINES[3:]]))
    command = ["tail", "-f", "-n", "100", "--jsonl", "--file", str(path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "betty_telemetry", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = [json.loads(process.stdout.readline()) for _ in ENTRIES]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert [e["skill"] for e in printed] == [e["skill"] for e in ENTRIES]
    [warning] = stderr.splitlines()
    assert warning.startswith(f"Warning: {path}: skipped a damaged line")
    assert QUOTED.decode() not in stderr


def test_cli_capture_appends_to_a_file_with_damage_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical([*LINES[:3], GARBAGE, *LINES[3:]]))
    result = run_cli("capture", "after.damage", "success", "1", "CLI", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert os.path.getsize(path) > len(canonical([*LINES[:3], GARBAGE, *LINES[3:]]))


# -- what is not damage: other layouts, values that are not entries --------------------------

NOT_DAMAGE: dict[str, tuple[bytes, list[str]]] = {
    "blank-lines-between-entries": (
        b"[\n" + LINES[0] + b",\n\n" + LINES[1] + b"\n  \n,\n" + LINES[2] + b"\n]\n",
        ["skill.0", "skill.1", "skill.2"],
    ),
    "two-entries-on-one-line": (
        canonical([LINES[0], LINES[1] + b", " + LINES[2], LINES[3]]),
        ["skill.0", "skill.1", "skill.2", "skill.3"],
    ),
    "an-indented-entry-after-ours": (
        canonical([LINES[0], b"    " + LINES[1], LINES[2]]),
        ["skill.0", "skill.1", "skill.2"],
    ),
    "an-object-over-several-lines-starting-with-a-brace": (
        b'[\n{"skill": "outer", "inner":\n{"skill": "inner"}},\n' + LINES[0] + b"\n]\n",
        ["outer", "skill.0"],
    ),
    "a-number-between-entries": (
        canonical([LINES[0], b"42", LINES[1]]),
        ["skill.0", "skill.1"],
    ),
}


@pytest.mark.parametrize("name", list(NOT_DAMAGE))
def test_valid_json_in_another_layout_is_read_without_a_warning(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    content, skills = NOT_DAMAGE[name]
    json.loads(content)  # the whole file is one valid array
    path = tmp_path / "telemetry.json"
    path.write_bytes(content)
    telemetry = TelemetryCapture(path)
    assert [e["skill"] for e in telemetry.query()] == list(reversed(skills))
    if name != "two-entries-on-one-line":  # stats() reads the first entry's summary only
        assert sorted(row["key"] for row in telemetry.stats()) == sorted(skills)
    assert warnings_of(caplog) == []
