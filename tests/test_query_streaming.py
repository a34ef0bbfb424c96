"""``query --all`` streams its table and its CSV as it reads, like ``--jsonl``: the first row
comes out long before the scan ends, memory stays bounded whatever the file's size, columns
are measured on a first batch of rows, and a reader that goes away (``| head``) ends it
quietly. (The 1,000,000-entry figures are in bench/cli_stream.py.)"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry.cli.formats import write_csv
from betty_telemetry.cli.render import Style, entry_table, entry_table_lines
from tests.conftest import SPEC_FIELDS, run_cli
from tests.entries import make_entries

Entry = dict[str, Any]
BIG = 100_000  # ~40 MB: held whole, its table took about 270 MB; streamed, it takes no more
MEMORY_LIMIT_MB = 100


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JSON array of BIG entries, written as our writer writes them."""
    path = tmp_path_factory.mktemp("streaming") / "telemetry.json"
    with path.open("w", encoding="ascii") as out:
        out.write("[\n")
        out.write(",\n".join(json.dumps(entry) for entry in make_entries(BIG)))
        out.write("\n]\n")
    return path


# Runs the command, and writes its peak memory (kB) into a file. A process forked from this
# one would count this process's memory in its own peak (Linux keeps the high-water mark of
# the forked copy across exec): forked from this small launcher, the command counts its own.
LAUNCHER = """
import os, subprocess, sys
report, *command = sys.argv[1:]
child = subprocess.Popen(command)
_, status, usage = os.wait4(child.pid, 0)
with open(report, "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def run_measured(args: list[str], report: Path, lines_wanted: int | None = None) -> dict[str, Any]:
    """Run the CLI with stdout into a pipe read here: when its first line came, how long it
    ran, its lines (all, or the first ``lines_wanted``, then the pipe is closed, as ``head``
    does), its exit code, stderr and peak memory (its resident set, interpreter included)."""
    started = time.monotonic()
    command = [sys.executable, "-m", "betty_telemetry", *args]
    environment = dict(os.environ)
    environment.pop("PYTHONUNBUFFERED", None)  # stdout buffered, as it is for a user
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(report), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    lines = [process.stdout.readline()]
    first_line_s = time.monotonic() - started
    while lines_wanted is None or len(lines) < lines_wanted:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    process.stdout.close()
    stderr = process.stderr.read()
    process.stderr.close()
    code = process.wait()
    return {
        "first_line_s": first_line_s,
        "seconds": time.monotonic() - started,
        "lines": [line.decode() for line in lines if line],
        "code": code,
        "stderr": stderr.decode(),
        "peak_mb": int(report.read_text()) / 1024,  # kilobytes on Linux
    }


@pytest.mark.slow
def test_query_all_prints_its_first_row_long_before_the_end_in_bounded_memory(
    big_file: Path, tmp_path: Path
) -> None:
    args = ["query", "--all", "--color", "never", "--file", str(big_file)]
    run = run_measured(args, tmp_path / "peak")
    assert run["code"] == 0, run["stderr"]
    assert run["stderr"] == ""
    assert len(run["lines"]) == BIG + 1  # the header and every entry
    assert run["lines"][0].startswith("TIMESTAMP")
    assert f"  skill.{(BIG - 1) % 7}  " in run["lines"][1]  # the newest first
    assert run["first_line_s"] < run["seconds"] / 3, run  # the rows come as they are read
    assert run["peak_mb"] < MEMORY_LIMIT_MB, run


@pytest.mark.slow
def test_query_all_csv_streams_and_stops_quietly_when_the_reader_goes_away(
    big_file: Path, tmp_path: Path
) -> None:
    args = ["query", "--all", "--csv", "--file", str(big_file)]
    whole = run_measured(args, tmp_path / "peak")
    assert whole["code"] == 0, whole["stderr"]
    assert len(whole["lines"]) == BIG + 1
    assert whole["peak_mb"] < MEMORY_LIMIT_MB, whole
    assert whole["first_line_s"] < whole["seconds"] / 3, whole
    header = next(csv.reader([whole["lines"][0]]))
    assert header == [*SPEC_FIELDS, "trace_id", "span_id", "parent_id"]
    head = run_measured(args, tmp_path / "peak", lines_wanted=1)
    assert head["lines"] == whole["lines"][:1]
    assert head["code"] == 0
    assert head["stderr"] == ""  # no traceback, no complaint about the closed pipe
    assert head["seconds"] < whole["seconds"] / 2, (head, whole)


# -- columns from a first batch ---------------------------------------------------------------


def cells(line: str) -> list[str]:
    return line.split()


def test_a_streamed_table_is_the_whole_table_when_it_fits_in_the_first_batch() -> None:
    entries = make_entries(30)
    style = Style()
    assert (
        list(entry_table_lines(iter(entries), style, first_rows=30))
        == entry_table(entries, style).splitlines()
    )
    assert (
        list(entry_table_lines(iter(entries), style, first_rows=50))
        == entry_table(entries, style).splitlines()
    )


def test_rows_after_the_first_batch_widen_their_columns_never_narrow() -> None:
    entries = make_entries(4)
    entries[2]["skill"] = "a.much.longer.skill.name"
    lines = list(entry_table_lines(iter(entries), Style(), first_rows=2))
    assert len(lines) == 5
    header, first, second = lines[:3]
    # The first two rows are aligned on each other (and the header); the long name pushes
    # its own row's later cells right; the row after it keeps the wider column.
    assert header.index("STATUS") == first.index("success") == second.index("success")
    assert lines[3].index("success") > first.index("success")
    assert lines[4].index("failure") == lines[3].index("success")
    assert [cells(line)[3] for line in lines[1:]] == [
        e["skill"] for e in entries
    ]  # date, time, offset, skill


def test_an_empty_stream_says_so() -> None:
    assert list(entry_table_lines(iter([]), Style())) == ["(no entries)"]


def test_a_streamed_csv_takes_its_header_from_the_first_rows() -> None:
    rows = [{"a": 1}, {"a": 2, "b": 3}, {"a": 4, "c": 5}, {"a": 6, "b": 7, "d": 8}]
    out = io.StringIO()
    left_out = write_csv(iter(rows), out, first_rows=2, later_columns=["c"])
    assert out.getvalue().splitlines() == ["a,b,c", "1,,", "2,3,", "4,,5", "6,7,"]
    assert left_out == ["d"]  # the caller warns: its values are not in the CSV


def test_a_csv_that_fits_in_the_first_batch_is_as_it_always_was() -> None:
    rows = [{"a": 1}, {"b": 2}]
    out = io.StringIO()
    assert write_csv(rows, out, ["x"], later_columns=["c"]) == []
    assert out.getvalue() == "a,b\n1,\n,2\n"
    empty = io.StringIO()
    assert write_csv([], empty, ["x", "y"]) == []
    assert empty.getvalue() == "x,y\n"


def test_query_csv_warns_of_fields_after_the_first_batch_it_has_no_column_for(
    tmp_path: Path,
) -> None:
    entries = make_entries(1001)
    entries[0]["region"] = "eu-west-1"  # the oldest entry: the last row, past the first 1,000
    path = tmp_path / "telemetry.json"
    path.write_text("[\n" + ",\n".join(json.dumps(entry) for entry in entries) + "\n]\n")
    result = run_cli("query", "--all", "--csv", "--file", str(path))
    assert result.returncode == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1001
    assert "region" not in rows[-1]
    [warning] = result.stderr.splitlines()
    assert warning.startswith("Warning: entries after the first 1,000 have fields the CSV")
    assert "region" in warning
    assert "--jsonl" in warning
