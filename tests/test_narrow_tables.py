"""Tables never wider than the terminal, whatever its width (a row one column too wide wraps
and leaves a lone ``…`` on the next line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.cli.cells import width
from betty_telemetry.cli.render import Style, entry_table, stats_table, trace_tree
from tests.report_data import report_entries
from tests.stores import write_entries


@pytest.fixture
def telemetry(tmp_path: Path) -> TelemetryCapture:
    path = tmp_path / "t.json"
    write_entries(path, report_entries())
    return TelemetryCapture(telemetry_file=path)


@pytest.mark.parametrize("columns", [20, 40, 41, 60, 80, 120])
def test_no_row_is_wider_than_the_terminal(telemetry: TelemetryCapture, columns: int) -> None:
    style = Style(color=False, width=columns)
    tables = [
        entry_table(telemetry.query(limit=None), style),
        stats_table(telemetry.stats(), "skill", style),
        trace_tree(f"{12:032x}", telemetry.trace(f"{12:032x}"), style),
    ]
    for table in tables:
        widest = max(width(line) for line in table.splitlines())
        assert widest <= columns, table


def test_tail_follow_rows_line_up_from_the_first(
    capsys: pytest.CaptureFixture[str], telemetry: TelemetryCapture
) -> None:
    from types import SimpleNamespace

    from betty_telemetry.cli.read_commands import _follow_writer

    write = _follow_writer(SimpleNamespace(format=None, color="never", utc=False))
    for entry in telemetry.query(limit=None)[::-1]:
        write(entry)
    lines = capsys.readouterr().out.splitlines()
    header = lines[0]
    for name in ("SKILL", "STATUS", "CALLER"):
        column = header.index(name)
        for line in lines[1:]:
            assert line[column - 2 : column] == "  ", (name, line)
            assert line[column] != " ", (name, line)
    end = header.index("DURATION") + len("DURATION")
    assert all(line[end - 1] != " " and line[end : end + 2] == "  " for line in lines[1:])
