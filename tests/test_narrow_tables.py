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
