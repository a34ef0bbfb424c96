"""The read commands (query, stats, trace, tail).

Filters, machine output (JSON, JSON Lines, CSV), tables and trace trees, colors and cutting on
a real pseudo-terminal, errors, the examples of every help page, and ``tail -f`` following a
file that other processes append to, replace and delete. Every expectation is computed here
from the file itself, never by calling the code under test.

Tests of what a command prints and its exit code run the CLI's ``main`` in this process
(``cli_here``); those where the process matters start a real one: terminals, pipes, Ctrl-C and
``tail -f`` following what other processes write.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import io
import json
import math
import os
import queue
import re
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import pytest

from betty_telemetry import TelemetryCapture, capture_telemetry
from tests.conftest import FIXTURE, SPEC_FIELDS, CliHere, in_process, run_cli, run_python
from tests.original_framework import framework_append
from tests.otlp_peer import OtlpPeer
from tests.stores import (
    copy_store,
    corrupt_bytes,
    delete_store,
    not_its_format,
    stored_entries,
    write_entries,
)

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TRACE_FIELDS = ["trace_id", "span_id", "parent_id"]
FAILURE_STATUSES = {"failure", "error", "timeout", "failed"}
INTERRUPTED = 130  # the exit code of a command ended by Ctrl-C
WAIT = 15.0  # seconds to wait for a line from a following process before failing
EXAMPLE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"  # the trace id of the trace --help example
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# The tree `trace --last` must draw for write_traced_file's newest trace, depth first.
MAIN_TREE = [
    "demo.pipeline",
    "├─ demo.load",
    "│  ├─ demo.fetch",
    "│  └─ demo.parse",
    "└─ demo.save",
]


# --- helpers: files and expectations ------------------------------------------------------------


def load(path: Path) -> list[Entry]:
    """The entries of a store (or of the JSON-array fixture), oldest first, as stored."""
    return stored_entries(path)


def normalized(raw: Entry) -> Entry:
    """An entry as the read commands return it: spec fields first (missing ones filled)."""
    entry = {f: raw.get(f, {} if f in ("inputs", "metadata") else None) for f in SPEC_FIELDS}
    entry.update((key, value) for key, value in raw.items() if key not in entry)
    return entry


def legacy_entries() -> list[Entry]:
    """The legacy fixture's entries, normalized, in file order (oldest first)."""
    return [normalized(raw) for raw in load(FIXTURE)]


def error_of(entry: Entry) -> str | None:
    """The error message; the original framework sometimes wrote it as ``error``."""
    for key in ("error_message", "error"):
        if isinstance(entry.get(key), str):
            value: str = entry[key]
            return value
    return None


def human(ms: float) -> str:
    """A duration as the tables show it: 320.0 ms, 2.50 s, 3.0 min, 1.2 h; the unit is the
    one the rounded value fits (999.96 ms is 1.00 s), and what rounds to 0.0 but is not 0
    shows as <0.1 ms."""
    if 0 < ms < 0.05:
        return "<0.1 ms"
    if round(ms, 1) < 1000:
        return f"{ms:.1f} ms"
    if round(ms / 1000, 2) < 60:
        return f"{ms / 1000:.2f} s"
    if round(ms / 60_000, 1) < 60:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.1f} h"


def csv_cell(value: object) -> str:
    """A CSV cell: None empty, text as is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def union_keys(rows: list[Entry]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def micros(stamp: str) -> int:
    return (datetime.fromisoformat(stamp) - EPOCH) // timedelta(microseconds=1)


def start_of(entry: Entry) -> int:
    """When a run started (its timestamp is written when it ends), in microseconds."""
    return micros(entry["timestamp"]) - round(entry["duration_ms"] * 1000)


def trace_entries(path: Path, trace_id: str) -> list[Entry]:
    return [entry for entry in load(path) if entry.get("trace_id") == trace_id]


def depth_first(entries: list[Entry]) -> list[tuple[int, Entry]]:
    """Entries of one trace, depth first: children under their parent, in start order."""
    spans = {entry["span_id"] for entry in entries}
    children: dict[str | None, list[Entry]] = {}
    for entry in entries:
        parent = entry["parent_id"] if entry["parent_id"] in spans else None
        children.setdefault(parent, []).append(entry)
    result: list[tuple[int, Entry]] = []

    def visit(parent: str | None, depth: int) -> None:
        for entry in sorted(children.get(parent, []), key=start_of):
            result.append((depth, entry))
            visit(entry["span_id"], depth + 1)

    visit(None, 0)
    return result


def trace_id_of(path: Path, skill: str) -> str:
    ids = {entry["trace_id"] for entry in load(path) if entry["skill"] == skill}
    assert len(ids) == 1, ids
    return ids.pop()


def write_traced_file(path: Path) -> None:
    """A file written by nested @capture_telemetry functions: an old one-run trace, then the
    MAIN_TREE trace (whose demo.parse fails), then an entry outside any trace."""
    telemetry = TelemetryCapture(path)

    @capture_telemetry("old.job", telemetry=telemetry)
    def old_job() -> None:
        time.sleep(0.002)

    @capture_telemetry("demo.fetch", telemetry=telemetry)
    def fetch() -> None:
        time.sleep(0.02)

    @capture_telemetry("demo.parse", telemetry=telemetry)
    def parse() -> None:
        raise ValueError("bad row 7")

    @capture_telemetry("demo.load", telemetry=telemetry)
    def load_data() -> None:
        fetch()
        time.sleep(0.005)
        with contextlib.suppress(ValueError):
            parse()

    @capture_telemetry("demo.save", telemetry=telemetry)
    def save() -> None:
        time.sleep(0.02)

    @capture_telemetry("demo.pipeline", telemetry=telemetry)
    def pipeline() -> None:
        load_data()
        time.sleep(0.005)
        save()

    old_job()
    pipeline()
    telemetry.capture("untraced.after", "success", 1.0, "CLI")
    telemetry.close()


def write_durations(path: Path, durations: list[float]) -> None:
    telemetry = TelemetryCapture(path)
    for index, duration in enumerate(durations):
        telemetry.capture(f"job.{index}", "success", duration, "CLI")
    telemetry.close()


# How a test runs the CLI: ``cli_here`` (in this process) when only the output and the exit code
# matter, ``run_cli`` (a real process) when the process does: pipes, terminals, ``tail -f``.
Runner = Callable[..., subprocess.CompletedProcess[str]]


def ok(cli: Runner, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI with ``cli``, check it succeeded quietly, return its stdout."""
    result = cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def assert_error(result: subprocess.CompletedProcess[str]) -> str:
    """Check the CLI failed with ``Error: ...`` on stderr and exit 1; return stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def table_rows(text: str) -> list[list[str]]:
    """A table's lines split into cells (cells are separated by two spaces or more)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


# --- helpers: processes on a terminal and processes that follow -------------------------------


def run_on_terminal(
    *args: str,
    columns: int = 200,
    env: dict[str, str] | None = None,
    interrupt_when: Callable[[str], bool] | None = None,
) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its stdout; return exit code and output
    (``\\r\\n`` as ``\\n``). With ``interrupt_when``, SIGINT is sent once the output so far
    satisfies it (for ``tail -f``)."""
    environment = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm-256color"}
    environment.pop("NO_COLOR", None)
    environment["BETTY_TELEMETRY_PAGER"] = ""  # output taller than the pty: printed as it is
    environment.update(env or {})
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "betty_telemetry", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=environment,
    )
    os.close(slave)
    output = b""
    interrupted = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                output += data
            text = output.decode("utf-8", "replace").replace("\r\n", "\n")
            if interrupt_when is not None and not interrupted and interrupt_when(text):
                process.send_signal(signal.SIGINT)
                interrupted = True
    finally:
        os.close(master)
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
    _, stderr = process.communicate(timeout=30)
    assert b"Traceback" not in stderr, stderr
    return process.returncode, output.decode("utf-8").replace("\r\n", "\n")


class ArrayFollower:
    """``betty-telemetry tail -f ARGS`` under Popen; its stdout and stderr read by threads."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "betty_telemetry", "tail", "-f", "--interval", "0.05", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.threads = [
            threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True),
            threading.Thread(target=_pump, args=(self.process.stderr, self.errors), daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def line(self, timeout: float = WAIT) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line from tail -f within {timeout} s")

    def entry(self) -> Entry:
        entry: Entry = json.loads(self.line())
        return entry

    def error_line(self) -> str:
        try:
            return self.errors.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"nothing on stderr from tail -f within {WAIT} s")

    def extra_lines(self, seconds: float = 0.5) -> list[str]:
        """Lines that arrive within ``seconds`` (several polling intervals)."""
        time.sleep(seconds)
        extra = []
        while not self.lines.empty():
            extra.append(self.lines.get())
        return extra

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: send SIGINT, wait for the exit; return the exit code and all of stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=WAIT)
        for thread in self.threads:
            thread.join(timeout=WAIT)
        stderr = ""
        while not self.errors.empty():
            stderr += self.errors.get()
        return code, stderr

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture
def follow() -> Iterator[Callable[..., ArrayFollower]]:
    """Start ``tail -f`` processes; any still running at the end of the test is killed."""
    started: list[ArrayFollower] = []

    def start(*args: str) -> ArrayFollower:
        follower = ArrayFollower(*args)
        started.append(follower)
        return follower

    yield start
    for follower in started:
        follower.stop()


BATCH = """\
import sys
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(sys.argv[1])
for name in sys.argv[2:]:
    telemetry.capture(name, "success", 1.0, "batch")
"""


def capture_in_child(path: Path, *skills: str) -> None:
    """Another process appends one entry per skill (success, 1 ms, caller ``batch``)."""
    run_python("-c", BATCH, str(path), *skills, check=True)


def capture_with_cli(path: Path, skill: str, env: dict[str, str] | None = None) -> None:
    result = run_cli("capture", skill, "success", "5", "CLI", "--file", str(path), env=env)
    assert result.returncode == 0, result.stderr


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def legacy(tmp_path: Path, store_suffix: str) -> Path:
    """The spec's fixture in the store under test (the file itself in a JSON array)."""
    copy = tmp_path / f"legacy{store_suffix}"
    copy_store(FIXTURE, copy)
    return copy


@pytest.fixture
def traced(tmp_path: Path, store_suffix: str) -> Path:
    path = tmp_path / f"traced{store_suffix}"
    write_traced_file(path)
    return path


@pytest.fixture
def seeded(tmp_path: Path, store_suffix: str) -> Path:
    """A file of one entry, so a follower's backlog shows when it is ready."""
    path = tmp_path / "follow" / f"telemetry{store_suffix}"
    telemetry = TelemetryCapture(path)
    telemetry.capture("seed.job", "success", 1.0, "CLI")
    telemetry.close()
    return path


# --- query: filters on the legacy fixture ----------------------------------------------------


def _window(since: str, until: str) -> Callable[[Entry], bool]:
    return lambda entry: since <= entry["timestamp"] <= until


QUERY_FILTERS: dict[str, tuple[list[str], Callable[[Entry], bool]]] = {
    "skill-glob": (
        ["--skill", "workflow.*"],
        lambda e: fnmatch.fnmatchcase(e["skill"], "workflow.*"),
    ),
    "status-commas": (
        ["--status", "failed,failure"],
        lambda e: e["status"] in {"failed", "failure"},
    ),
    "status-repeated": (
        ["--status", "failure", "--status", "failed"],
        lambda e: e["status"] in {"failed", "failure"},
    ),
    "caller-glob": (["--caller", "*test"], lambda e: e["caller"].endswith("test")),
    "since-until": (
        ["--since", "2025-10-25T20:32:00Z", "--until", "2025-10-25 20:33+00:00"],
        _window("2025-10-25T20:32:00.000000+00:00", "2025-10-25T20:33:00.000000+00:00"),
    ),
    "min-duration-seconds": (["--min-duration", "1.5s"], lambda e: e["duration_ms"] >= 1500),
    "min-duration-plain-ms": (["--min-duration", "500"], lambda e: e["duration_ms"] >= 500),
    "text-any-case": (
        ["--text", "EXITED with"],
        lambda e: "exited with" in (error_of(e) or "").casefold(),
    ),
    "combined": (
        ["--skill", "workflow.compose", "--status", "failed", "--text", "code 1"],
        lambda e: (
            e["skill"] == "workflow.compose"
            and e["status"] == "failed"
            and "code 1" in (error_of(e) or "")
        ),
    ),
}


@pytest.mark.parametrize("case", list(QUERY_FILTERS))
def test_query_json_returns_exactly_the_matching_entries_newest_first(
    cli_here: CliHere, legacy: Path, case: str
) -> None:
    args, wanted = QUERY_FILTERS[case]
    expected = [entry for entry in reversed(legacy_entries()) if wanted(entry)]
    assert expected, "the case must match something"
    assert (
        json.loads(ok(cli_here, "query", "--all", "--json", "--file", str(legacy), *args))
        == expected
    )


def test_query_offset_and_limit_page_through_matches(cli_here: CliHere, legacy: Path) -> None:
    matches = [e for e in reversed(legacy_entries()) if e["skill"] == "registry.update"]
    args = ["--skill", "registry.update", "--offset", "5", "--limit", "3"]
    result = ok(cli_here, "query", *args, "--json", "--file", str(legacy))
    assert json.loads(result) == matches[5:8]


def test_query_offset_past_the_matches_prints_empty_array(cli_here: CliHere, legacy: Path) -> None:
    assert ok(cli_here, "query", "--offset", "1000", "--json", "--file", str(legacy)) == "[]\n"


def test_query_defaults_to_twenty_entries_in_the_table(cli_here: CliHere, legacy: Path) -> None:
    lines = ok(cli_here, "query", "--file", str(legacy)).splitlines()
    assert len(lines) == 1 + 20


@pytest.fixture
def old_and_new(tmp_path: Path, store_suffix: str) -> Path:
    """One entry from 2020 (written by hand) followed by one captured now."""
    path = tmp_path / f"times{store_suffix}"
    old = dict.fromkeys(SPEC_FIELDS)
    old.update(timestamp="2020-01-01T12:00:00.000000+00:00", skill="old.job", status="success")
    old.update(duration_ms=1.0, caller="CLI", inputs={}, metadata={})
    write_entries(path, [old])
    telemetry = TelemetryCapture(path)
    telemetry.capture("new.job", "success", 1.0, "CLI")
    telemetry.close()
    return path


@pytest.mark.parametrize(
    ("args", "skills"),
    [
        (["--since", "1h"], ["new.job"]),
        (["--since", "2h ago"], ["new.job"]),
        (["--since", "yesterday"], ["new.job"]),
        (["--until", "2021-01-01"], ["old.job"]),
        (["--since", "2019-12-31", "--until", "2020-01-02T00:00Z"], ["old.job"]),
        (["--since", "2019-01-01"], ["new.job", "old.job"]),
    ],
)
def test_query_time_window_accepts_relative_named_and_iso_times(
    cli_here: CliHere, old_and_new: Path, args: list[str], skills: list[str]
) -> None:
    entries = json.loads(ok(cli_here, "query", "--json", "--file", str(old_and_new), *args))
    assert [entry["skill"] for entry in entries] == skills


@pytest.mark.parametrize(
    ("minimum", "threshold_ms"),
    [("500", 500), ("500ms", 500), ("1.5s", 1500), ("2m", 120_000), ("1h", 3_600_000)],
)
def test_query_min_duration_understands_each_unit(
    cli_here: CliHere, tmp_path: Path, minimum: str, threshold_ms: float, store_suffix: str
) -> None:
    durations = [400.0, 600.0, 90_000.0, 150_000.0, 4_000_000.0]
    path = tmp_path / f"durations{store_suffix}"
    write_durations(path, durations)
    entries = json.loads(
        ok(cli_here, "query", "--min-duration", minimum, "--json", "--file", str(path))
    )
    assert sorted(entry["duration_ms"] for entry in entries) == [
        d for d in durations if d >= threshold_ms
    ]


def test_query_trace_id_filter_accepts_upper_case(cli_here: CliHere, traced: Path) -> None:
    trace_id = trace_id_of(traced, "demo.pipeline")
    entries = json.loads(
        ok(cli_here, "query", "--trace-id", trace_id.upper(), "--json", "--file", str(traced))
    )
    assert entries == list(reversed(trace_entries(traced, trace_id)))


# --- query: tables ---------------------------------------------------------------------------


def test_query_table_rows_hold_each_entry_newest_first(cli_here: CliHere, legacy: Path) -> None:
    expected = [e for e in reversed(legacy_entries()) if e["status"] != "success"][:10]
    rows = table_rows(
        ok(cli_here, "query", "--status", "failed,failure", "--limit", "10", "--file", str(legacy))
    )
    assert rows[0] == ["TIMESTAMP", "SKILL", "STATUS", "DURATION", "CALLER", "ERROR"]
    assert rows[1:] == [
        [
            e["timestamp"][:23].replace("T", " ") + " +00:00",  # UTC: the tests' zone
            e["skill"],
            e["status"],
            human(e["duration_ms"]),
            e["caller"],
            *([error_of(e)] if error_of(e) else []),
        ]
        for e in expected
    ]


def test_query_table_columns_are_aligned_under_their_headers(
    cli_here: CliHere, traced: Path
) -> None:
    lines = ok(cli_here, "query", "--file", str(traced)).splitlines()
    header = lines[0]
    for name in ("SKILL", "STATUS", "CALLER"):  # text: left-aligned under its heading
        column = header.index(name)
        for line in lines[1:]:
            assert line[column - 2 : column] == "  ", (name, line)
            assert line[column] != " ", (name, line)
    # Numbers: right-aligned under a right-aligned heading (issue 15), so units line up.
    end = header.index("DURATION") + len("DURATION")
    for line in lines[1:]:
        assert line[end - 1] != " ", line
        assert line[end : end + 2] == "  ", line


def test_query_table_shows_durations_in_readable_units(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"durations{store_suffix}"
    write_durations(path, [320.0, 2500.0, 180_000.0, 4_320_000.0])
    durations = [row[3] for row in table_rows(ok(cli_here, "query", "--file", str(path)))[1:]]
    assert durations == ["1.2 h", "3.0 min", "2.50 s", "320.0 ms"]


def test_query_table_durations_just_below_a_unit_use_the_larger_unit(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"durations{store_suffix}"
    write_durations(path, [999.96, 59_999.0, 3_599_999.0])
    durations = [row[3] for row in table_rows(ok(cli_here, "query", "--file", str(path)))[1:]]
    assert durations == ["1.0 h", "1.0 min", "1.00 s"]


def test_query_table_shows_multiline_error_on_one_line(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"multiline{store_suffix}"
    telemetry = TelemetryCapture(path)
    telemetry.capture("job", "failure", 5.0, "CLI", error_message="first line\n\tsecond  line")
    telemetry.close()
    lines = ok(cli_here, "query", "--file", str(path)).splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("  first line second line")


def test_query_with_no_match_prints_no_entries_and_empty_machine_output(
    cli_here: CliHere, legacy: Path
) -> None:
    args = ("query", "--skill", "no.such", "--file", str(legacy))
    assert ok(cli_here, *args) == "(no entries)\n"
    assert ok(cli_here, *args, "--jsonl") == ""


# --- machine output ------------------------------------------------------------------------------

JSON_COMMANDS = {
    "query": ["query", "--all"],
    "stats": ["stats"],
    "trace": ["trace", "--last"],
    "tail": ["tail", "-n", "3"],
}


@pytest.mark.parametrize("command", list(JSON_COMMANDS))
def test_json_output_is_exactly_json_dumps_indent_2(
    cli_here: CliHere, traced: Path, command: str
) -> None:
    out = ok(cli_here, *JSON_COMMANDS[command], "--json", "--file", str(traced))
    items = json.loads(out)
    assert isinstance(items, list)
    assert items
    assert out == json.dumps(items, indent=2) + "\n"


@pytest.mark.parametrize("command", ["query", "stats", "tail"])
def test_json_output_with_no_match_is_an_empty_array(
    cli_here: CliHere, legacy: Path, command: str
) -> None:
    assert ok(cli_here, command, "--skill", "no.such", "--json", "--file", str(legacy)) == "[]\n"


def test_query_jsonl_prints_one_entry_per_line(cli_here: CliHere, legacy: Path) -> None:
    lines = ok(cli_here, "query", "--all", "--jsonl", "--file", str(legacy)).splitlines()
    assert [json.loads(line) for line in lines] == list(reversed(legacy_entries()))


def test_tail_jsonl_prints_last_entries_oldest_first(cli_here: CliHere, legacy: Path) -> None:
    lines = ok(cli_here, "tail", "--jsonl", "--file", str(legacy)).splitlines()
    assert [json.loads(line) for line in lines] == legacy_entries()[-10:]


def test_query_csv_has_union_of_keys_and_json_for_non_text(cli_here: CliHere, legacy: Path) -> None:
    expected = list(reversed(legacy_entries()))
    rows = parse_csv(ok(cli_here, "query", "--all", "--csv", "--file", str(legacy)))
    columns = union_keys(expected)
    assert columns[:8] == SPEC_FIELDS
    assert rows[0] == columns
    assert rows[1:] == [[csv_cell(entry.get(column)) for column in columns] for entry in expected]


def test_csv_cells_are_empty_for_none_text_as_is_and_json_otherwise(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"kinds{store_suffix}"
    entry = dict.fromkeys(SPEC_FIELDS)
    entry.update(
        timestamp="2025-10-24T14:30:45.123456+00:00",
        skill="kinds",
        status="failure",
        duration_ms=2.5,
        caller='say "hi", then\nleave',
        inputs={"nested": [1, None, "x"]},
        metadata={},
        flag=True,
        count=3,
    )
    write_entries(path, [entry])
    rows = parse_csv(ok(cli_here, "query", "--csv", "--file", str(path)))
    assert rows == [
        [*SPEC_FIELDS, "flag", "count"],
        [
            "2025-10-24T14:30:45.123456+00:00",
            "kinds",
            "failure",
            "2.5",
            'say "hi", then\nleave',
            '{"nested": [1, null, "x"]}',
            "",
            "{}",
            "true",
            "3",
        ],
    ]


def test_tail_csv_has_one_row_per_entry_oldest_first(cli_here: CliHere, legacy: Path) -> None:
    expected = legacy_entries()[-5:]
    rows = parse_csv(ok(cli_here, "tail", "-n", "5", "--csv", "--file", str(legacy)))
    columns = union_keys(expected)
    assert rows[0] == columns
    assert rows[1:] == [[csv_cell(entry.get(column)) for column in columns] for entry in expected]


def test_stats_csv_has_one_column_per_stats_key(cli_here: CliHere, legacy: Path) -> None:
    rows = parse_csv(ok(cli_here, "stats", "--by", "status", "--csv", "--file", str(legacy)))
    numbers = ["failure_rate", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms"]
    assert rows[0] == ["key", "count", "statuses", *numbers, "first", "last"]
    by_key = {row[0]: row for row in rows[1:]}
    counts = Counter(entry["status"] for entry in legacy_entries())
    assert {key: int(row[1]) for key, row in by_key.items()} == dict(counts)
    assert json.loads(by_key["failed"][2]) == {"failed": counts["failed"]}
    assert by_key["failed"][3] == "1.0"


# --- stats ----------------------------------------------------------------------------------------


def percentile(ordered: list[float], percent: float) -> float:
    position = (len(ordered) - 1) * percent / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def expected_stats(entries: list[Entry], key_of: Callable[[Entry], str]) -> list[Entry]:
    """Stats rows computed from the entries, largest group first then by key."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(key_of(entry), []).append(entry)
    rows = []
    for key, members in groups.items():
        durations = sorted(float(entry["duration_ms"]) for entry in members)
        statuses = Counter(entry["status"] for entry in members)
        failed = sum(count for status, count in statuses.items() if status in FAILURE_STATUSES)
        stamps = [entry["timestamp"] for entry in members]
        rows.append(
            {
                "key": key,
                "count": len(members),
                "statuses": dict(statuses),
                "failure_rate": failed / len(members),
                "p50_ms": percentile(durations, 50),
                "p95_ms": percentile(durations, 95),
                "p99_ms": percentile(durations, 99),
                "max_ms": durations[-1],
                "mean_ms": math.fsum(durations) / len(durations),
                "first": min(stamps),
                "last": max(stamps),
            }
        )
    rows.sort(key=lambda row: (-row["count"], row["key"]))
    return rows


def assert_same_stats(actual: list[Entry], expected: list[Entry]) -> None:
    assert [row["key"] for row in actual] == [row["key"] for row in expected]
    for got, want in zip(actual, expected, strict=True):
        assert list(got) == list(want)
        numbers = ("failure_rate", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
        assert {k: got[k] for k in numbers} == pytest.approx({k: want[k] for k in numbers})
        assert {k: v for k, v in got.items() if k not in numbers} == {
            k: v for k, v in want.items() if k not in numbers
        }


def test_stats_json_matches_groups_computed_from_the_file(cli_here: CliHere, legacy: Path) -> None:
    actual = json.loads(ok(cli_here, "stats", "--json", "--file", str(legacy)))
    assert_same_stats(actual, expected_stats(legacy_entries(), lambda e: e["skill"]))


def test_stats_json_lists_statuses_most_frequent_first(cli_here: CliHere, legacy: Path) -> None:
    rows = json.loads(ok(cli_here, "stats", "--by", "caller", "--json", "--file", str(legacy)))
    for row in rows:
        counts = list(row["statuses"].values())
        assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize(
    ("by", "key_of"),
    [
        ("caller", lambda e: e["caller"]),
        ("status", lambda e: e["status"]),
        ("day", lambda e: e["timestamp"][:10]),
        ("hour", lambda e: e["timestamp"][:13] + ":00"),
    ],
)
def test_stats_by_groups_entries_by_that_key(
    cli_here: CliHere, legacy: Path, by: str, key_of: Callable[[Entry], str]
) -> None:
    actual = json.loads(ok(cli_here, "stats", "--by", by, "--json", "--file", str(legacy)))
    assert_same_stats(actual, expected_stats(legacy_entries(), key_of))


def test_stats_sort_key_orders_groups_by_key(cli_here: CliHere, legacy: Path) -> None:
    rows = json.loads(
        ok(cli_here, "stats", "--by", "day", "--sort", "key", "--json", "--file", str(legacy))
    )
    keys = [row["key"] for row in rows]
    assert keys == sorted({entry["timestamp"][:10] for entry in legacy_entries()})


def test_stats_filters_apply_before_grouping(cli_here: CliHere, legacy: Path) -> None:
    rows = json.loads(ok(cli_here, "stats", "--status", "failed", "--json", "--file", str(legacy)))
    failed = [entry for entry in legacy_entries() if entry["status"] == "failed"]
    assert_same_stats(rows, expected_stats(failed, lambda e: e["skill"]))
    assert {row["failure_rate"] for row in rows} == {1.0}


def test_stats_table_has_one_formatted_row_per_group(cli_here: CliHere, legacy: Path) -> None:
    expected = expected_stats(legacy_entries(), lambda e: e["skill"])
    rows = table_rows(ok(cli_here, "stats", "--file", str(legacy)))
    assert rows[0] == ["SKILL", "COUNT", "FAIL%", "P50", "P95", "P99", "MAX", "MEAN", "LAST"]
    assert rows[1:-1] == [
        [
            row["key"],
            f"{row['count']:,}",
            f"{row['failure_rate'] * 100:.1f}%",
            *(human(row[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")),
            row["last"][:19].replace("T", " ") + " +00:00",
        ]
        for row in expected
    ]


def test_stats_table_ends_with_summary_of_groups_entries_and_failures(
    cli_here: CliHere, legacy: Path
) -> None:
    entries = legacy_entries()
    failed = sum(1 for entry in entries if entry["status"] in FAILURE_STATUSES)
    skills = len({entry["skill"] for entry in entries})
    summary = ok(cli_here, "stats", "--file", str(legacy)).splitlines()[-1]
    assert (
        summary == f"{skills} skills · {len(entries)} entries · {failed / len(entries):.1%} failed"
    )
    assert summary == "25 skills · 225 entries · 11.1% failed"


@pytest.mark.parametrize(("by", "groups"), [("day", "4 days"), ("caller", "5 callers")])
def test_stats_summary_names_the_grouping_in_plural(
    cli_here: CliHere, legacy: Path, by: str, groups: str
) -> None:
    summary = ok(cli_here, "stats", "--by", by, "--file", str(legacy)).splitlines()[-1]
    assert summary.startswith(groups + " · 225 entries")


def test_stats_by_status_summary_says_statuses(cli_here: CliHere, legacy: Path) -> None:
    summary = ok(cli_here, "stats", "--by", "status", "--file", str(legacy)).splitlines()[-1]
    assert summary == "3 statuses · 225 entries · 11.1% failed"


def test_stats_summary_of_one_entry_says_entry(cli_here: CliHere, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    ok(cli_here, "capture", "one.skill", "failure", "5", "me", "--file", str(path))
    summary = ok(cli_here, "stats", "--file", str(path)).splitlines()[-1]
    assert summary == "1 skill · 1 entry · 100.0% failed"


def test_stats_with_no_match_prints_no_entries(cli_here: CliHere, legacy: Path) -> None:
    assert ok(cli_here, "stats", "--skill", "no.such", "--file", str(legacy)) == "(no entries)\n"


# --- trace ----------------------------------------------------------------------------------------


def tree_lines(cli: Runner, traced: Path, *args: str) -> list[str]:
    return ok(cli, "trace", *args, "--file", str(traced)).splitlines()


def test_traced_file_holds_the_expected_tree() -> None:
    # The fixture itself, checked from the file alone: the other trace tests rely on it.
    path = Path("traced.json")
    write_traced_file(path)
    main = trace_entries(path, trace_id_of(path, "demo.pipeline"))
    order = [(depth, entry["skill"]) for depth, entry in depth_first(main)]
    assert order == [
        (0, "demo.pipeline"),
        (1, "demo.load"),
        (2, "demo.fetch"),
        (2, "demo.parse"),
        (1, "demo.save"),
    ]
    assert load(path)[-1]["skill"] == "untraced.after"
    assert load(path)[-1].get("trace_id") is None


def test_trace_last_draws_the_newest_trace_depth_first_with_connectors(
    cli_here: CliHere, traced: Path
) -> None:
    lines = tree_lines(cli_here, traced, "--last")
    assert len(lines) == 1 + len(MAIN_TREE)
    for line, label in zip(lines[1:], MAIN_TREE, strict=True):
        assert line.startswith(label + " "), (label, line)


def test_trace_rows_show_status_and_duration_of_each_run(cli_here: CliHere, traced: Path) -> None:
    main = depth_first(trace_entries(traced, trace_id_of(traced, "demo.pipeline")))
    for line, label, (_, entry) in zip(
        tree_lines(cli_here, traced, "--last")[1:], MAIN_TREE, main, strict=True
    ):
        status, duration = re.split(r"\s{2,}", line[len(label) :].strip())[:2]
        assert (status, duration) == (entry["status"], human(entry["duration_ms"]))


def test_trace_title_gives_id_runs_span_and_failures(cli_here: CliHere, traced: Path) -> None:
    trace_id = trace_id_of(traced, "demo.pipeline")
    entries = trace_entries(traced, trace_id)
    begin = min(start_of(entry) for entry in entries)
    end = max(micros(entry["timestamp"]) for entry in entries)
    title = tree_lines(cli_here, traced, "--last")[0]
    assert title == f"trace {trace_id} · 5 runs · {human((end - begin) / 1000)} · 1 failed"


def test_trace_shows_the_error_of_the_failed_run_on_its_line(
    cli_here: CliHere, traced: Path
) -> None:
    parse = next(entry for entry in load(traced) if entry["skill"] == "demo.parse")
    assert parse["status"] == "error"
    assert "bad row 7" in parse["error_message"]
    lines = tree_lines(cli_here, traced, "--last")
    assert lines[4].endswith("  " + parse["error_message"])
    assert all(parse["error_message"] not in line for index, line in enumerate(lines) if index != 4)


def expected_bar(entry: Entry, begin: int, end: int, width: int = 30) -> str:
    """Where a run sits on its trace's time line, ``width`` columns from begin to end."""
    total = max(end - begin, 1)
    left = min(width - 1, round((start_of(entry) - begin) * width / total))
    right = max(left + 1, round((micros(entry["timestamp"]) - begin) * width / total))
    return (" " * left + "█" * (right - left)).ljust(width)


def test_trace_bars_place_each_run_on_the_trace_time_line(cli_here: CliHere, traced: Path) -> None:
    runs = [e for _, e in depth_first(trace_entries(traced, trace_id_of(traced, "demo.pipeline")))]
    begin = min(start_of(entry) for entry in runs)
    end = max(micros(entry["timestamp"]) for entry in runs)
    lines = tree_lines(cli_here, traced, "--last")[1:]
    column = lines[0].index("█")
    bars = [line[column : column + 30].ljust(30) for line in lines]
    assert bars == [expected_bar(entry, begin, end) for entry in runs]
    assert bars[0] == "█" * 30  # the root spans the whole trace
    assert bars[4].index("█") > bars[2].index("█")  # demo.save runs after demo.fetch


def test_trace_json_nodes_follow_the_parent_links_of_the_file(
    cli_here: CliHere, traced: Path
) -> None:
    trace_id = trace_id_of(traced, "demo.pipeline")
    by_span = {entry["span_id"]: entry for entry in trace_entries(traced, trace_id)}
    roots = json.loads(ok(cli_here, "trace", "--last", "--json", "--file", str(traced)))
    assert len(roots) == 1
    seen: list[str] = []

    def visit(node: Entry, parent: Entry | None) -> None:
        entry = node["entry"]
        assert set(node) == {"entry", "children"}
        assert entry == by_span[entry["span_id"]]
        assert entry["parent_id"] == (None if parent is None else parent["span_id"])
        starts = [start_of(child["entry"]) for child in node["children"]]
        assert starts == sorted(starts)
        seen.append(entry["span_id"])
        for child in node["children"]:
            visit(child, entry)

    visit(roots[0], None)
    assert sorted(seen) == sorted(by_span)


def test_trace_jsonl_prints_the_runs_depth_first(cli_here: CliHere, traced: Path) -> None:
    expected = depth_first(trace_entries(traced, trace_id_of(traced, "demo.pipeline")))
    lines = ok(cli_here, "trace", "--last", "--jsonl", "--file", str(traced)).splitlines()
    assert [json.loads(line) for line in lines] == [entry for _, entry in expected]


def test_trace_csv_prints_the_runs_depth_first(cli_here: CliHere, traced: Path) -> None:
    expected = [
        e for _, e in depth_first(trace_entries(traced, trace_id_of(traced, "demo.pipeline")))
    ]
    rows = parse_csv(ok(cli_here, "trace", "--last", "--csv", "--file", str(traced)))
    columns = union_keys(expected)
    assert rows[0] == [*SPEC_FIELDS, *TRACE_FIELDS]
    assert rows[1:] == [[csv_cell(entry.get(column)) for column in columns] for entry in expected]


def test_trace_by_id_shows_that_trace_whatever_the_case(cli_here: CliHere, traced: Path) -> None:
    old = trace_id_of(traced, "old.job")
    lines = tree_lines(cli_here, traced, old.upper())
    assert lines[0].startswith(f"trace {old} · 1 run · ")
    assert "failed" not in lines[0]
    assert lines[1].startswith("old.job  success")


def test_trace_of_unknown_id_is_an_error(cli_here: CliHere, traced: Path) -> None:
    stderr = assert_error(cli_here("trace", "0" * 31 + "1", "--file", str(traced)))
    assert stderr.startswith(f"Error: no entry of trace {'0' * 31 + '1'} in {traced}")


def test_trace_of_malformed_id_is_an_error(cli_here: CliHere, traced: Path) -> None:
    stderr = assert_error(cli_here("trace", "abc123", "--file", str(traced)))
    assert "32 hexadecimal digits" in stderr
    assert "'abc123'" in stderr


def test_trace_last_on_legacy_file_says_no_entry_belongs_to_a_trace(
    cli_here: CliHere, legacy: Path
) -> None:
    before = legacy.read_bytes()  # FIXTURE's bytes, in a JSON array
    result = cli_here("trace", "--last", "--file", str(legacy))
    stderr = assert_error(result)
    assert result.stdout == ""
    assert stderr.startswith(f"Error: no entry in {legacy} belongs to a trace")
    assert legacy.read_bytes() == before


# --- tail (without -f) ------------------------------------------------------------------------


def test_tail_table_shows_the_last_ten_entries_oldest_first(
    cli_here: CliHere, legacy: Path
) -> None:
    rows = table_rows(ok(cli_here, "tail", "--file", str(legacy)))
    expected = legacy_entries()[-10:]
    assert [(row[0], row[1]) for row in rows[1:]] == [
        (e["timestamp"][:23].replace("T", " ") + " +00:00", e["skill"]) for e in expected
    ]


def test_tail_n_with_filter_shows_last_matches_oldest_first(
    cli_here: CliHere, legacy: Path
) -> None:
    entries = json.loads(
        ok(cli_here, "tail", "-n", "3", "--status", "failed", "--json", "--file", str(legacy))
    )
    assert entries == [entry for entry in legacy_entries() if entry["status"] == "failed"][-3:]


def test_tail_n_zero_prints_no_entries(cli_here: CliHere, legacy: Path) -> None:
    assert ok(cli_here, "tail", "-n", "0", "--file", str(legacy)) == "(no entries)\n"


# --- every read command on the legacy fixture ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["query"], ["stats"], ["stats", "--by", "hour"], ["tail"], ["tail", "--csv"]],
    ids=" ".join,
)
def test_read_commands_work_on_the_legacy_file_and_leave_it_unchanged(
    cli_here: CliHere, legacy: Path, args: list[str]
) -> None:
    before = legacy.read_bytes()  # FIXTURE's bytes, in a JSON array
    assert ok(cli_here, *args, "--file", str(legacy)).strip()
    assert legacy.read_bytes() == before


# --- errors ---------------------------------------------------------------------------------------

READ_COMMANDS = {
    "query": ["query"],
    "stats": ["stats"],
    "trace": ["trace", "--last"],
    "tail": ["tail"],
}
FILTER_COMMANDS = ["query", "stats", "tail"]
BAD_FILTERS: dict[str, tuple[list[str], list[str]]] = {
    # option and value -> what the message must contain
    "since": (["--since", "yesterdayish"], ["since", "'yesterdayish'", "yesterday", "15m", "ISO"]),
    "until": (["--until", "soon"], ["until", "'soon'", "ISO"]),
    "status": (["--status", "success,bogus"], ["'bogus'", "success, failure"]),
    "trace-id": (["--trace-id", "xyz"], ["32 hexadecimal digits", "'xyz'"]),
    "min-duration": (["--min-duration", "5 days"], ["--min-duration", "'5 days'", "1.5s"]),
}


@pytest.mark.json_only("the arguments are refused before any store is read")
@pytest.mark.parametrize("command", FILTER_COMMANDS)
@pytest.mark.parametrize("bad", list(BAD_FILTERS))
def test_bad_filter_value_is_an_error_saying_what_is_accepted(
    cli_here: CliHere, legacy: Path, command: str, bad: str
) -> None:
    args, mentions = BAD_FILTERS[bad]
    result = cli_here(command, *args, "--file", str(legacy))
    stderr = assert_error(result)
    assert result.stdout == ""
    for text in mentions:
        assert text in stderr


@pytest.mark.json_only("the arguments are refused before any store is read")
def test_since_after_until_is_an_error_suggesting_to_swap(cli_here: CliHere, legacy: Path) -> None:
    result = cli_here(
        "query", "--since", "2025-10-26", "--until", "2025-10-25", "--file", str(legacy)
    )
    assert "swap" in assert_error(result)


@pytest.mark.json_only("the arguments are refused before any store is read")
def test_tail_interval_out_of_range_is_an_error(cli_here: CliHere, legacy: Path) -> None:
    stderr = assert_error(cli_here("tail", "--interval", "0", "--file", str(legacy)))
    assert "--interval" in stderr


@pytest.mark.parametrize("command", list(READ_COMMANDS))
def test_missing_file_is_an_error_naming_it_and_how_to_choose_one(
    cli_here: CliHere, tmp_path: Path, command: str, store_suffix: str
) -> None:
    missing = tmp_path / f"missing{store_suffix}"
    result = cli_here(*READ_COMMANDS[command], "--file", str(missing))
    stderr = assert_error(result)
    assert result.stdout == ""
    assert stderr.startswith(f"Error: no telemetry file at {missing} (chosen by --file)")
    assert "--file PATH" in stderr
    assert "BETTY_TELEMETRY_FILE" in stderr
    assert not missing.exists()


def test_missing_default_file_error_names_the_default_rule(
    cli_here: CliHere, tmp_path: Path
) -> None:
    stderr = assert_error(cli_here("stats"))
    default = tmp_path / "registry" / "telemetry.json"
    assert stderr.startswith(f"Error: no telemetry file at {default} (chosen by default")
    assert list(tmp_path.iterdir()) == []


def test_missing_file_from_environment_names_the_variable(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    missing = tmp_path / f"env{store_suffix}"
    stderr = assert_error(cli_here("query", env={"BETTY_TELEMETRY_FILE": str(missing)}))
    assert stderr.startswith(
        f"Error: no telemetry file at {missing} (chosen by $BETTY_TELEMETRY_FILE)"
    )


CORRUPT = b'{"not": "an array"}\n'


@pytest.mark.parametrize(
    "args", [*READ_COMMANDS.values(), ["tail", "-f"]], ids=[*READ_COMMANDS, "tail-f"]
)
def test_corrupt_file_is_an_error_and_is_left_unchanged(
    tmp_path: Path, args: list[str], store_suffix: str, cli_here: CliHere
) -> None:
    target = tmp_path / f"corrupt{store_suffix}"
    corrupt = corrupt_bytes(store_suffix, array=CORRUPT)
    target.write_bytes(corrupt)
    # tail -f as a real process: were it to follow instead of failing, the timeout ends it.
    cli: Runner = run_cli if "-f" in args else cli_here
    stderr = assert_error(cli(*args, "--file", str(target)))
    assert str(target) in stderr
    assert not_its_format(target) in stderr  # "... is not a JSON array of ..."
    assert target.read_bytes() == corrupt


@pytest.mark.parametrize("args", [["tail", "-f"], ["tail", "-f", "--csv"]], ids=" ".join)
def test_tail_follow_of_corrupt_file_prints_nothing_on_stdout(
    tmp_path: Path, args: list[str], store_suffix: str
) -> None:
    target = tmp_path / f"corrupt{store_suffix}"
    target.write_bytes(corrupt_bytes(store_suffix, array=CORRUPT))
    result = run_cli(*args, "--file", str(target))
    assert result.returncode == 1
    assert result.stdout == ""


def test_directory_given_as_file_is_an_error_naming_it(cli_here: CliHere, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    stderr = assert_error(cli_here("query", "--file", str(folder)))
    assert str(folder) in stderr


USAGE_ERRORS: dict[str, tuple[list[str], str]] = {
    "tail-follow-json": (["tail", "-f", "--json"], "use --jsonl with -f"),
    "query-limit-and-all": (["query", "--limit", "5", "--all"], "not allowed with"),
    "query-two-formats": (["query", "--json", "--csv"], "not allowed with"),
    "query-negative-offset": (["query", "--offset", "-1"], "expected a whole number >= 0"),
    "query-bad-color": (["query", "--color", "sometimes"], "invalid choice"),
    "stats-bad-by": (["stats", "--by", "week"], "invalid choice"),
    "stats-bad-sort": (["stats", "--sort", "size"], "invalid choice"),
    "trace-without-id": (["trace"], "one of the arguments trace_id --last is required"),
    "trace-id-and-last": (["trace", EXAMPLE_TRACE, "--last"], "not allowed with"),
    "tail-bad-n": (["tail", "-n", "ten"], "expected a whole number >= 0"),
    "tail-unknown-option": (["tail", "--bogus"], "unrecognized arguments: --bogus"),
}


@pytest.mark.json_only("the arguments are refused before any store is read")
@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2_with_the_command_usage(
    cli_here: CliHere, legacy: Path, case: str
) -> None:
    args, message = USAGE_ERRORS[case]
    result = cli_here(*args, "--file", str(legacy))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"usage: betty-telemetry {args[0]} ")
    assert message in result.stderr


def test_query_stops_quietly_when_the_reader_goes_away(legacy: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "betty_telemetry",
            "query",
            "--all",
            "--json",
            "--file",
            str(legacy),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"[\n"
    process.stdout.close()  # like `| head -1`: the output is far larger than a pipe holds
    _, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == 0
    assert stderr == b""


# --- colors and widths on a real terminal ------------------------------------------------------

COLOR_COMMANDS = {
    "query": ["query", "--limit", "50"],
    "stats": ["stats"],
    "trace": ["trace", "--last"],
    "tail": ["tail", "-n", "30"],
}


@pytest.mark.parametrize("command", list(COLOR_COMMANDS))
def test_terminal_output_is_the_piped_output_plus_color_escapes(
    cli_here: CliHere, legacy: Path, traced: Path, command: str
) -> None:
    target = traced if command == "trace" else legacy
    args = [*COLOR_COMMANDS[command], "--file", str(target)]
    code, colored = run_on_terminal(*args, columns=400)
    assert code == 0
    assert ANSI.search(colored)
    assert ANSI.sub("", colored) == ok(cli_here, *args)


def test_terminal_output_colors_success_green(traced: Path) -> None:
    code, out = run_on_terminal("query", "--file", str(traced))
    assert code == 0
    assert "\x1b[32msuccess\x1b[0m" in out
    assert "\x1b[1;31merror  \x1b[0m" in out


@pytest.mark.parametrize(
    ("env", "args"),
    [({"NO_COLOR": "1"}, []), ({"TERM": "dumb"}, []), ({}, ["--color", "never"])],
    ids=["NO_COLOR", "TERM-dumb", "color-never"],
)
def test_terminal_output_has_no_escapes_when_color_is_off(
    traced: Path, env: dict[str, str], args: list[str]
) -> None:
    code, out = run_on_terminal("query", *args, "--file", str(traced), env=env)
    assert code == 0
    assert "success" in out
    assert "\x1b" not in out


def test_color_always_colors_even_with_no_color_set(traced: Path) -> None:
    code, out = run_on_terminal(
        "query", "--color", "always", "--file", str(traced), env={"NO_COLOR": "1"}
    )
    assert code == 0
    assert "\x1b[32msuccess" in out


def test_piped_output_has_no_escapes_unless_color_always(traced: Path) -> None:
    assert "\x1b" not in ok(run_cli, "query", "--file", str(traced))
    assert "\x1b[32msuccess" in ok(run_cli, "query", "--color", "always", "--file", str(traced))


@pytest.fixture
def long_error(tmp_path: Path, store_suffix: str) -> tuple[Path, str]:
    path = tmp_path / f"long{store_suffix}"
    message = " ".join(f"word{index}" for index in range(60))
    telemetry = TelemetryCapture(path)
    telemetry.capture("job.ok", "success", 3.0, "CLI")
    telemetry.capture("job.bad", "failure", 2800.0, "CLI", error_message=message)
    telemetry.close()
    return path, message


def test_terminal_table_cuts_the_error_column_to_the_width(long_error: tuple[Path, str]) -> None:
    path, message = long_error
    code, out = run_on_terminal("query", "--file", str(path), columns=80)
    assert code == 0
    lines = ANSI.sub("", out).splitlines()
    assert lines[0].endswith("ERROR")
    assert max(len(line) for line in lines) <= 80
    failed = lines[1]
    assert len(failed) == 80
    assert failed.endswith("…")
    start = lines[0].index("ERROR")
    assert message.startswith(failed[start:-1])
    assert lines[2].endswith("CLI")  # no error: nothing to cut


def test_piped_table_keeps_the_whole_error(long_error: tuple[Path, str]) -> None:
    path, message = long_error
    out = ok(run_cli, "query", "--file", str(path), env={"COLUMNS": "80"})
    assert out.splitlines()[1].endswith("  " + message)


def test_terminal_table_cuts_wide_characters_to_the_width(
    tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"wide{store_suffix}"
    telemetry = TelemetryCapture(path)
    telemetry.capture("job", "failure", 5.0, "CLI", error_message="失败" * 60)
    telemetry.close()
    code, out = run_on_terminal("query", "--file", str(path), columns=80)
    assert code == 0

    def columns(line: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)

    assert max(columns(line) for line in ANSI.sub("", out).splitlines()) <= 80


def test_table_does_not_pass_control_characters_from_entries_to_the_terminal(
    cli_here: CliHere,
    tmp_path: Path,
    store_suffix: str,
) -> None:
    path = tmp_path / f"escapes{store_suffix}"
    message = "bad input \x1b]0;new title\x07 \x1b[2J cleared \x08\x08 erased"
    telemetry = TelemetryCapture(path)
    telemetry.capture("job", "failure", 5.0, "CLI", error_message=message)
    telemetry.close()
    assert load(path)[0]["error_message"] == message  # stored as given
    out = ok(cli_here, "query", "--color", "never", "--file", str(path))
    assert "bad input" in out
    assert not [c for c in out if unicodedata.category(c) == "Cc" and c != "\n"]


def test_narrow_terminal_table_lines_fit_the_width(legacy: Path) -> None:
    code, out = run_on_terminal("query", "--limit", "5", "--file", str(legacy), columns=60)
    assert code == 0
    assert max(len(line) for line in ANSI.sub("", out).splitlines()) <= 60


def test_narrow_terminal_row_without_error_does_not_end_with_ellipsis(legacy: Path) -> None:
    code, out = run_on_terminal("query", "--limit", "3", "--file", str(legacy), columns=60)
    assert code == 0
    assert [error_of(e) for e in legacy_entries()[-3:]] == [None, None, None]
    assert not any(line.endswith("…") for line in ANSI.sub("", out).splitlines()[1:])


def test_tail_follow_on_80_column_terminal_fits_the_width(seeded: Path) -> None:
    code, out = run_on_terminal(
        "tail", "-f", "--file", str(seeded), columns=80, interrupt_when=lambda t: t.count("\n") >= 2
    )
    assert code == INTERRUPTED
    lines = ANSI.sub("", out).splitlines()
    assert len(lines) == 2
    assert max(len(line) for line in lines) <= 80


# --- tail -f -------------------------------------------------------------------------------------


def test_tail_follow_prints_entries_another_process_appends_once_in_order(
    seeded: Path, follow: Callable[..., ArrayFollower]
) -> None:
    follower = follow("-n", "1", "--jsonl", "--file", str(seeded))
    assert follower.entry()["skill"] == "seed.job"  # the backlog: following has begun
    capture_with_cli(seeded, "ext.first")
    batch = [f"ext.batch.{index:02}" for index in range(20)]
    capture_in_child(seeded, *batch)
    received = [follower.entry() for _ in range(21)]
    assert [entry["skill"] for entry in received] == ["ext.first", *batch]
    assert follower.extra_lines() == []
    assert received == load(seeded)[1:]
    code, stderr = follower.interrupt()
    assert code == INTERRUPTED  # as tail -f ended by Ctrl-C: 128 + SIGINT, and no message
    assert stderr == ""


def test_tail_follow_continues_after_the_file_is_replaced(
    seeded: Path, follow: Callable[..., ArrayFollower]
) -> None:
    follower = follow("-n", "1", "--jsonl", "--file", str(seeded))
    assert follower.entry()["skill"] == "seed.job"
    rotated = seeded.with_name(f"next{seeded.suffix}")
    capture_in_child(rotated, "rotated.first")
    os.replace(rotated, seeded)
    assert follower.entry()["skill"] == "rotated.first"
    capture_with_cli(seeded, "after.rotation")
    assert follower.entry()["skill"] == "after.rotation"
    assert follower.extra_lines() == []
    assert follower.interrupt()[0] == INTERRUPTED


@pytest.mark.only_stores(
    "json",
    "jsonl",
    reason="a SQLite database must not be deleted while a process has it open, and tail -f "
    "opens it at every poll: closing, SQLite removes the -wal at that path, which may be the "
    "new database's by then (its entries lost; see docs/stores.md)",
)
def test_tail_follow_continues_after_the_file_is_deleted_and_created_again(
    seeded: Path, follow: Callable[..., ArrayFollower]
) -> None:
    follower = follow("-n", "1", "--jsonl", "--file", str(seeded))
    assert follower.entry()["skill"] == "seed.job"
    delete_store(seeded)
    time.sleep(0.2)  # a few polls see no file
    capture_with_cli(seeded, "recreated")
    assert follower.entry()["skill"] == "recreated"
    assert follower.extra_lines() == []
    assert follower.interrupt()[0] == INTERRUPTED


@pytest.mark.json_only("the original framework rewrites a JSON array only")
def test_tail_follow_picks_up_entries_when_the_original_framework_rewrites_the_file(
    seeded: Path, follow: Callable[..., ArrayFollower]
) -> None:
    follower = follow("-n", "1", "--jsonl", "--file", str(seeded))
    assert follower.entry()["skill"] == "seed.job"
    legacy_entry = load(FIXTURE)[-1]
    framework_append(seeded, legacy_entry)
    assert follower.entry() == normalized(legacy_entry)
    assert follower.extra_lines() == []
    assert follower.interrupt()[0] == INTERRUPTED


def test_tail_follow_waits_for_a_file_that_does_not_exist_yet(
    tmp_path: Path, store_suffix: str, follow: Callable[..., ArrayFollower]
) -> None:
    path = tmp_path / "later" / f"telemetry{store_suffix}"
    follower = follow("--jsonl", "--file", str(path))
    assert follower.error_line() == f"(waiting for {path} to be created)\n"
    capture_with_cli(path, "first.ever")
    assert follower.entry()["skill"] == "first.ever"
    assert follower.interrupt()[0] == INTERRUPTED


def test_tail_follow_applies_filters_to_new_entries(
    seeded: Path, follow: Callable[..., ArrayFollower]
) -> None:
    capture_in_child(seeded, "agent.seed")  # the backlog: it shows when following has begun
    follower = follow("-n", "1", "--skill", "agent.*", "--jsonl", "--file", str(seeded))
    assert follower.entry()["skill"] == "agent.seed"
    capture_in_child(seeded, "other.job", "agent.run", "other.again", "agent.plan")
    assert [follower.entry()["skill"] for _ in range(2)] == ["agent.run", "agent.plan"]
    assert follower.extra_lines() == []
    assert follower.interrupt()[0] == INTERRUPTED


def test_tail_follow_table_prints_header_then_rows(
    seeded: Path, follow: Callable[..., ArrayFollower]
) -> None:
    follower = follow("-n", "1", "--file", str(seeded))
    assert follower.line().split() == [
        "TIMESTAMP",
        "SKILL",
        "STATUS",
        "DURATION",
        "CALLER",
        "ERROR",
    ]
    assert follower.line().split()[2:] == ["+00:00", "seed.job", "success", "1.0", "ms", "CLI"]
    capture_with_cli(seeded, "new.job")
    assert follower.line().split()[2:] == ["+00:00", "new.job", "success", "5.0", "ms", "CLI"]
    assert follower.interrupt()[0] == INTERRUPTED


def test_tail_follow_csv_uses_spec_fields_then_trace_ids(
    legacy: Path, follow: Callable[..., ArrayFollower]
) -> None:
    follower = follow("-n", "2", "--csv", "--file", str(legacy))
    columns = [*SPEC_FIELDS, *TRACE_FIELDS]
    expected = legacy_entries()[-2:]
    assert parse_csv(follower.line()) == [columns]
    for entry in expected:
        assert parse_csv(follower.line()) == [[csv_cell(entry.get(c)) for c in columns]]
    parent = f"00-{EXAMPLE_TRACE}-00f067aa0ba902b7-01"
    capture_with_cli(legacy, "traced.job", env={"TRACEPARENT": parent})
    (row,) = parse_csv(follower.line())
    new = load(legacy)[-1]
    assert row == [csv_cell(new.get(column)) for column in columns]
    assert row[-3:] == [EXAMPLE_TRACE, new["span_id"], "00f067aa0ba902b7"]
    assert follower.interrupt()[0] == INTERRUPTED


# --- help: every example runs --------------------------------------------------------------------


@pytest.fixture
def example_file(tmp_path: Path, store_suffix: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file the help examples find something in: failures, agents, and the example trace."""
    path = tmp_path / "examples" / f"telemetry{store_suffix}"
    write_traced_file(path)
    telemetry = TelemetryCapture(path)
    telemetry.capture("agent.run", "failure", 2500.0, "API", error_message="timeout after 2s")
    monkeypatch.setenv("TRACEPARENT", f"00-{EXAMPLE_TRACE}-00f067aa0ba902b7-01")
    telemetry.capture("agent.plan", "timeout", 3000.0, "API", error_message="timeout")
    monkeypatch.delenv("TRACEPARENT")
    telemetry.close()
    assert trace_entries(path, EXAMPLE_TRACE)
    return path


def help_examples(text: str) -> list[list[str]]:
    """The commands of a help text's ``examples:`` section, continuation lines joined."""
    _, marker, section = text.partition("\nexamples:\n")
    assert marker, text
    section = section.partition("\nenvironment:\n")[0]  # the top-level help's last section
    commands = []
    for line in section.replace("\\\n", " ").splitlines():
        if line.split()[:1] != ["betty-telemetry"]:
            continue  # prose after the examples: its apostrophes are no shell quotes
        commands.append(shlex.split(line, comments=True))
    return commands


def runnable(words: list[str]) -> bool:
    """Not piped or redirected, and not following or serving (which never end by
    themselves: test_report_cli runs ``ui``)."""
    shell = {"|", ">", ">>", "<", "2>", "&&", ";"}
    endless = {"-f", "--follow"}.intersection(words) or words[1:2] == ["ui"]
    return not shell.intersection(words) and not endless


def convert_sources(folder: Path, example_file: Path) -> None:
    """The files convert's help examples read, in ``folder``, made from ``example_file``."""
    from betty_telemetry import convert

    (folder / "registry").mkdir()
    convert(example_file, folder / "registry" / "telemetry.json")
    convert(example_file, folder / "day.jsonl")
    archived = TelemetryCapture(folder / "archived.json")
    convert(example_file, archived.telemetry_file)
    archive = archived.rotate().archive
    assert archive is not None
    os.rename(archive, folder / "telemetry.json.20261206T201300.123456Z.json.gz")


@pytest.mark.parametrize(
    "command",
    [
        "",
        "query",
        "stats",
        "trace",
        "tail",
        "rotate",
        "prune",
        "convert",
        "doctor",
        "export",
        "report",
    ],
)
def test_every_help_example_runs(
    example_file: Path,
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    otlp_peer: OtlpPeer,
) -> None:
    # In this process (main() as the console script calls it): a child per example would
    # spend most of its time starting up. The CLI's own process behaviour is tested above.
    code, help_text, _ = in_process(capsys, *([command] if command else []), "--help")
    assert code == 0
    examples = help_examples(help_text)
    if command:
        assert all(words[1] == command for words in examples)
    to_run = [words for words in examples if runnable(words)]
    assert len(to_run) >= 2
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(example_file))
    folder = tmp_path / "examples-cwd"
    folder.mkdir()
    if command in ("", "convert"):
        convert_sources(folder, example_file)
    monkeypatch.chdir(folder)
    # Export examples send to a real OTLP receiver on loopback, whatever backend they name.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_peer.base_url)
    for words in to_run:
        words = [otlp_peer.base_url if word.startswith("http") else word for word in words]
        code, out, err = in_process(capsys, *words[1:])
        assert code == 0, (words, err)
        assert "Traceback" not in err
        assert out.strip(), words
