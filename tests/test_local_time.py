"""Tables show times in local time with the offset in force at each moment, or UTC under
``--utc`` or ``TZ=UTC``; JSON, JSON Lines and CSV keep the stored times.

Each zone is the TZ of a real child process (Asia/Kolkata +05:30, and America/St_Johns,
-02:30 in summer and -03:30 in winter: odd offsets, both in one table). In this process the
tests run in TZ=UTC (conftest); a test of another zone here sets TZ and calls tzset.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry.cli.local_time import month_day_minute, shown_time, without_milliseconds
from tests.conftest import run_cli
from tests.stores import write_entries
from tests.terminal import Terminal, screen

SUMMER = "2026-07-01T12:00:00.123456+00:00"
WINTER = "2026-12-07T09:15:02.987654+00:00"
ENTRIES: list[dict[str, Any]] = [
    {
        "timestamp": SUMMER,
        "skill": "summer.job",
        "status": "success",
        "duration_ms": 5.0,
        "caller": "CLI",
        "inputs": {},
    },
    {
        "timestamp": WINTER,
        "skill": "winter.job",
        "status": "failure",
        "duration_ms": 7.0,
        "caller": "CLI",
        "inputs": {},
        "error_message": "boom",
    },
]
KOLKATA = {"TZ": "Asia/Kolkata"}
ST_JOHNS = {"TZ": "America/St_Johns"}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "t.json"
    write_entries(path, ENTRIES)
    return path


def read(data: Path, *args: str, env: dict[str, str]) -> str:
    done = run_cli(*args, "--file", str(data), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def winter_row(table: str) -> str:
    [row] = [line for line in table.splitlines() if line.startswith("winter.job")]
    return row


def test_query_shows_local_times_with_their_offset(data: Path) -> None:
    out = read(data, "query", env=KOLKATA)
    assert "2026-12-07 14:45:02.987 +05:30  winter.job" in out
    assert "2026-07-01 17:30:00.123 +05:30  summer.job" in out


def test_each_time_has_the_offset_in_force_at_that_moment(data: Path) -> None:
    out = read(data, "query", env=ST_JOHNS)
    assert "2026-07-01 09:30:00.123 -02:30  summer.job" in out  # daylight saving time
    assert "2026-12-07 05:45:02.987 -03:30  winter.job" in out


@pytest.mark.parametrize(
    ("args", "env"), [(["--utc"], KOLKATA), ([], {"TZ": "UTC"}), (["--utc"], ST_JOHNS)]
)
def test_utc_is_shown_under_utc_or_tz_utc(data: Path, args: list[str], env: dict[str, str]) -> None:
    out = read(data, "query", *args, env=env)
    assert "2026-12-07 09:15:02.987 +00:00  winter.job" in out
    assert "2026-07-01 12:00:00.123 +00:00  summer.job" in out


def test_tail_stats_and_running_show_local_times(data: Path) -> None:
    assert "2026-12-07 14:45:02.987 +05:30  winter.job" in read(data, "tail", env=KOLKATA)
    stats = read(data, "stats", env=KOLKATA)
    assert winter_row(stats).endswith("2026-12-07 14:45:02 +05:30")  # LAST: no ms
    utc = read(data, "stats", "--utc", env=KOLKATA)
    assert winter_row(utc).endswith("2026-12-07 09:15:02 +00:00")
    pending = {**ENTRIES[1], "status": "pending", "span_id": "a" * 16, "trace_id": "b" * 32}
    write_entries(data, [pending])
    assert "2026-12-07 14:45:02.987 +05:30" in read(data, "running", env=KOLKATA)
    assert "2026-12-07 09:15:02.987 +00:00" in read(data, "running", "--utc", env=KOLKATA)


def test_tail_follow_shows_local_times(data: Path) -> None:
    terminal = Terminal("tail", "-f", "--file", str(data), env=KOLKATA)
    terminal.interrupted_once(lambda t: "winter.job" in t.text, "the newest entry")
    rows = screen(terminal.output)[1:]
    assert any(row.startswith("2026-12-07 14:45:02.987 +05:30") for row in rows), rows


@pytest.mark.parametrize("env", [KOLKATA, ST_JOHNS])
def test_machine_formats_keep_the_stored_times(data: Path, env: dict[str, str]) -> None:
    stored = [SUMMER, WINTER][::-1]  # newest first
    assert [e["timestamp"] for e in json.loads(read(data, "query", "--json", env=env))] == stored
    lines = read(data, "query", "--jsonl", env=env).splitlines()
    assert [json.loads(line)["timestamp"] for line in lines] == stored
    rows = list(csv.DictReader(io.StringIO(read(data, "query", "--csv", env=env))))
    assert [row["timestamp"] for row in rows] == stored
    stats = json.loads(read(data, "stats", "--json", env=env))
    assert {row["key"]: row["last"] for row in stats} == {
        "summer.job": SUMMER,
        "winter.job": WINTER,
    }


# -- the text itself ----------------------------------------------------------------------------


def test_values_that_are_not_times_are_shown_as_they_are() -> None:
    assert shown_time(None) == ""
    assert shown_time("not a time") == "not a time"
    assert shown_time("bad\x1b[2Jtime") == "bad\\x1b[2Jtime"  # made printable
    assert shown_time(12) == "12"


def test_legacy_timestamps_are_read_as_utc_then_shown_locally() -> None:
    assert shown_time("2026-11-02T07:59:30") == "2026-11-02 07:59:30.000 +00:00"
    assert shown_time("2026-11-02T07:59:00Z") == "2026-11-02 07:59:00.000 +00:00"
    assert shown_time(WINTER, milliseconds=False) == "2026-12-07 09:15:02 +00:00"


def test_a_time_local_time_cannot_hold_is_shown_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/St_Johns")
    time.tzset()  # the utc_zone fixture sets the tests' zone back, and calls tzset again
    assert shown_time(WINTER) == "2026-12-07 05:45:02.987 -03:30"
    assert shown_time("0001-01-01T00:00:00.000000+00:00") == "0001-01-01 00:00:00.000 +00:00"


def test_shorter_forms_keep_the_time_and_leave_other_text_alone() -> None:
    full = "2026-12-07 10:15:02.123 +01:00"
    assert without_milliseconds(full) == "2026-12-07 10:15:02 +01:00"
    assert month_day_minute(full) == "12-07 10:15"
    assert month_day_minute(without_milliseconds(full)) == "12-07 10:15"
    assert without_milliseconds("not a time") == "not a time"
    assert month_day_minute("not a time") == "not a time"
