"""The read commands on a real pseudo-terminal 40, 60, 80 and 120 columns wide: no line is
wider than the terminal, and a narrow table keeps its columns in the documented order
(``render.ENTRY_STEPS``, ``STATS_STEPS``, ``TRACE_STEPS``): SKILL, STATUS and DURATION of an
entry last longest, then a shortened TIMESTAMP, then CALLER and ERROR.

The entries are tests/report_data's (skills up to 16 columns, callers of 3 to 4); the tests
run in TZ=UTC (conftest), so times read ``2026-11-02 08:15:00.000 +00:00``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from betty_telemetry.cli.cells import width
from betty_telemetry.cli.fitting import Cut, Drop, Layout, Shorten, Step, fit, row_width
from betty_telemetry.cli.render import Cell, Style, render_row, widen
from tests.report_data import report_entries
from tests.stores import write_entries
from tests.terminal import Terminal, screen

WIDTHS = (40, 60, 80, 120)
ENTRY = ("TIMESTAMP", "SKILL", "STATUS", "DURATION", "CALLER", "ERROR")
ENTRY_HEADINGS = {
    40: ["SKILL", "STATUS", "DURATION"],
    60: ["TIMESTAMP", "SKILL", "STATUS", "DURATION"],
    80: list(ENTRY),
    120: list(ENTRY),
}
STATS_HEADINGS = {
    40: ["SKILL", "COUNT", "FAIL%", "P50"],
    60: ["SKILL", "COUNT", "FAIL%", "P50", "P95", "MAX"],
    80: ["SKILL", "COUNT", "FAIL%", "P50", "P95", "MAX", "LAST"],
    120: ["SKILL", "COUNT", "FAIL%", "P50", "P95", "P99", "MAX", "MEAN", "LAST"],
}
FULL_TIME = re.compile(r"^2026-11-02 \d\d:\d\d:\d\d\.\d{3} \+00:00  ")
SHORT_TIME = re.compile(r"^11-02 \d\d:\d\d  ")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "t.json"
    write_entries(path, report_entries())
    return path


def shown(columns: int, *args: str) -> list[str]:
    """The lines ``betty-telemetry ARGS`` leaves on a terminal ``columns`` wide."""
    terminal = Terminal(*args, columns=columns)
    try:
        assert terminal.finish() == 0, terminal.text
    finally:
        terminal.kill()
    lines = screen(terminal.output)
    assert lines, terminal.text
    assert max(width(line) for line in lines) <= columns, "\n".join(lines)
    return lines


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("command", [["query"], ["tail", "-n", "15"]])
def test_entry_tables_keep_their_columns_in_the_documented_order(
    data: Path, command: list[str], columns: int
) -> None:
    lines = shown(columns, *command, "--file", str(data))
    assert lines[0].split() == ENTRY_HEADINGS[columns]
    rows = lines[1:]
    assert len(rows) == (20 if command == ["query"] else 15)
    if columns == 120:
        assert all(FULL_TIME.match(row) for row in rows), rows
    elif "TIMESTAMP" in ENTRY_HEADINGS[columns]:  # shortened before anything is dropped
        assert all(SHORT_TIME.match(row) for row in rows), rows
    for row in rows:  # what ran, how it ended and how long it took: on every row, uncut
        cells = row.split()
        assert any(cell in cells for cell in ("success", "failure", "error", "timeout", "pending"))
        assert re.search(r"\d (ms|s|min)\b", row), row


@pytest.mark.parametrize("columns", WIDTHS)
def test_stats_keeps_key_count_and_failure_rate_longest(data: Path, columns: int) -> None:
    lines = shown(columns, "stats", "--file", str(data))
    assert lines[0].split() == STATS_HEADINGS[columns]
    last = re.compile(r"(2026-11-02 \d\d:\d\d:\d\d \+00:00|11-02 \d\d:\d\d)$")
    if "LAST" in STATS_HEADINGS[columns]:
        form = "2026-11-02 " if columns == 120 else "11-02 "
        assert all(last.search(row) and form in row for row in lines[1:-1]), lines


@pytest.mark.parametrize("columns", WIDTHS)
def test_trace_keeps_the_tree_statuses_and_durations_longest(data: Path, columns: int) -> None:
    lines = shown(columns, "trace", f"{12:032x}", "--file", str(data))
    runs = lines[1:]
    assert ["failure" in row or "success" in row for row in runs] == [True] * len(runs)
    bars = [re.search(r"█+", row) for row in runs]
    errors = [row for row in runs if "step 1 of trace" in row or "a step failed" in row]
    if columns == 120:
        assert all(bars)
        assert max(len(bar[0]) for bar in bars if bar) == 30
        assert any("step 1 of trace 11 failed" in row for row in runs)
    elif columns == 80:  # the time line at half its width
        assert all(bars)
        assert max(len(bar[0]) for bar in bars if bar) == 15
        assert errors
    elif columns == 60:  # no time line, the errors cut to what is left
        assert not any(bars)
        assert errors
    else:  # the tree, statuses and durations alone
        assert not any(bars)
        assert not errors


RUNNING_HEADINGS = {
    40: ["AGE", "SKILL"],
    60: ["STARTED", "AGE", "SKILL", "CALLER"],
    80: ["STARTED", "AGE", "SKILL", "CALLER"],
    120: ["STARTED", "AGE", "SKILL", "CALLER", "SPAN"],
}


@pytest.mark.parametrize("columns", WIDTHS)
def test_running_keeps_age_skill_and_the_stale_flag_longest(tmp_path: Path, columns: int) -> None:
    path = tmp_path / "pending.json"
    pairs = [("workflow.release", "CLI"), ("agent.reviewer", "workflow.release")]
    pending = [
        {
            "timestamp": f"2026-11-02T08:1{i}:00.000000+00:00",
            "skill": skill,
            "status": "pending",
            "duration_ms": 0.0,
            "caller": caller,
            "inputs": {},
            "trace_id": f"{i + 1:032x}",
            "span_id": f"{i + 1:016x}",
        }
        for i, (skill, caller) in enumerate(pairs)
    ]
    write_entries(path, pending)
    lines = shown(columns, "running", "--file", str(path))
    assert lines[0].split() == RUNNING_HEADINGS[columns]
    for row, (skill, _) in zip(lines[1:3], pairs, strict=True):
        assert skill in row.split(), row
        assert row.endswith("stale"), row  # pending for weeks: past the default hour
        assert re.search(r"\d h\b", row), row
    assert (SHORT_TIME.match(lines[1]) is not None) == (columns == 60), lines
    assert ("2026-11-02 08:10:00" in lines[1]) == (columns >= 80), lines


@pytest.mark.parametrize("columns", WIDTHS)
def test_tail_follow_fits_from_its_heading(data: Path, columns: int) -> None:
    terminal = Terminal("tail", "-f", "-n", "2", "--file", str(data), columns=columns)
    terminal.interrupted_once(lambda t: len(screen(t.output)) >= 2, "the heading and a row")
    lines = [line.replace("^C", "") for line in screen(terminal.output)]  # less the echo
    assert max(width(line) for line in lines) <= columns, "\n".join(lines)
    # Sized before any row comes, for a usual skill (24) and caller (20) (at 80 columns the
    # caller cut to 12): the same columns as query's.
    assert lines[0].split() == ENTRY_HEADINGS[columns]
    if columns == 80:
        assert lines[0].endswith("CALLER" + " " * 6 + "  ERROR")  # CALLER cut to 12


# -- the order itself, on rows made to need every step -----------------------------------------


def _cells(*texts: str) -> list[Cell]:
    return [Cell(text) for text in texts]


def test_steps_are_taken_in_order_and_only_while_too_wide() -> None:
    names = ("A", "B", "C")
    rows = [_cells("a" * 10, "b" * 10, "c" * 30)]
    steps: list[Step] = [Shorten("A", lambda text: text[:4]), Drop("C"), Cut("B", 3)]
    assert fit(names, rows, steps, 100).heading() == ["A", "B", "C"]
    assert fit(names, rows, steps, None).heading() == ["A", "B", "C"]
    shortened = fit(names, rows, steps, 30)  # 4 + 2 + 10 + 2 + 12 (C counts as 12) = 30
    assert shortened.heading() == ["A", "B", "C"]
    assert shortened.cells(rows[0])[0].text == "aaaa"
    dropped = fit(names, rows, steps, 20)
    assert dropped.heading() == ["A", "B"]
    cut = fit(names, rows, steps, 12)  # B, the last column now, is cut at the edge instead
    cells = cut.cells(rows[0])
    assert cut.widths([cells]) == [4, 10]
    assert render_row(cells, [4, 10], Style(width=12)) == "aaaa  bbbbb…"
    middle = fit(names, rows, [Cut("B", 3)], 20)  # 10 + 2 + 3 + 2 + 12 > 20: B at its least
    assert middle.widths([middle.cells(rows[0])]) == [10, 3, 30]


def test_a_cut_column_never_goes_below_its_least_and_the_row_is_cut_at_the_edge() -> None:
    names = ("A", "B")
    rows = [_cells("a" * 20, "b" * 20)]
    layout = fit(names, rows, [Drop("B"), Cut("A", 8)], 5)
    assert layout.heading() == ["A"]
    assert layout.widths([layout.cells(rows[0])]) == [20]  # the last column: never capped
    layout = fit(names, rows, [Cut("A", 8)], 10)
    widths = layout.widths([layout.cells(rows[0])])
    assert widths == [8, 20]
    line = render_row(layout.cells(rows[0]), widths, Style(width=10))
    assert line.rstrip() == "aaaaaaa…"


def test_steps_naming_a_column_already_gone_change_nothing() -> None:
    names = ("A", "B")
    rows = [_cells("a" * 20, "b" * 20)]
    layout = fit(names, rows, [Drop("B"), Drop("B"), Shorten("B", str.upper), Cut("Z", 1)], 1)
    assert layout.heading() == ["A"]
    assert fit(names, [], [Drop("A")], 1).heading() == ["A", "B"]  # no rows: nothing to fit


def test_an_empty_last_column_takes_no_room() -> None:
    names = ("A", "B")
    rows = [_cells("a" * 20, "")]
    assert fit(names, rows, [Drop("A")], 20).heading() == ["A", "B"]


def test_nothing_is_no_width() -> None:
    assert row_width([]) == 0
    assert Layout.whole(["A"]).widths([]) == []


def test_tail_follow_columns_widen_only_within_the_terminal() -> None:
    widths = [5, 5, 0]
    widen(widths, _cells("a" * 8, "b" * 20, "last"), limit=20)
    assert widths == [8, 5, 0]  # 8 + 2 + 5 + 2 fits in 20; 8 + 2 + 20 + 2 would not
    widen(widths, _cells("a" * 8, "b" * 20, "last"))
    assert widths == [8, 20, 0]  # no limit: a pipe
