"""``betty-telemetry sql QUERY``: SQL over the view ``entries``, with DuckDB (an extra).

Rows are printed as they come: a table for people (column widths from the first batch, then
widened, never narrowed, as rows come), or JSON, JSON Lines or CSV for programs, so a query
that gives a million rows never holds them all.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import json
import math
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from betty_telemetry.cli.cells import cut, printable, width
from betty_telemetry.cli.formats import csv_writer, write_json_array, write_jsonl
from betty_telemetry.cli.read_commands import add_output_options, open_telemetry, output_style
from betty_telemetry.cli.render import Cell, Style, header_cells, render_row
from betty_telemetry.cli.subcommands import subcommand
from betty_telemetry.read.sql import SqlRows
from betty_telemetry.read.sql_view import COLUMNS

EXIT_OK = 0
CELL_COLUMNS = 60
"""The widest a cell is drawn on a terminal (``…`` past it): one long JSON value would
otherwise push every other column off the screen. ``--json`` gives values whole."""
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_NUMERIC_TYPES = (*_NUMERIC, *(f"U{name}" for name in _NUMERIC[:5]))

SQL_EXAMPLES = """\
examples:
  betty-telemetry sql "SELECT skill, count(*) FROM entries GROUP BY 1 ORDER BY 2 DESC"
  betty-telemetry sql "SELECT status, round(avg(duration_ms)) AS mean_ms FROM entries
                       WHERE timestamp > now() - INTERVAL 7 DAY GROUP BY status"
  betty-telemetry sql "SELECT date_trunc('day', timestamp) AS day, count(*) FROM entries
                       GROUP BY 1 ORDER BY 1" --archives --csv > days.csv
  betty-telemetry sql "SELECT entry->>'execution_id', skill FROM entries
                       WHERE error_message ILIKE '%timeout%'" --jsonl

The view entries has one row per entry (lines that are not entries are skipped):
{columns}
Needs DuckDB: pip install 'betty-telemetry[sql]'. The files are only read.
"""


def add_sql_command(commands: Any) -> None:
    summary = "run SQL (DuckDB) over the entries: the view 'entries'"
    columns = "\n".join(f"  {name:<14} {kind:<25} {meaning}" for name, kind, meaning in COLUMNS)
    sql = subcommand(commands, "sql", summary, SQL_EXAMPLES.format(columns=columns))
    sql.add_argument("query", help="SQL over the view entries, e.g. 'SELECT count(*) FROM entries'")
    sql.add_argument(
        "--archives", action="store_true", help="the store's archives too (see rotate)"
    )
    add_output_options(sql, tables=False)
    sql.set_defaults(handler=_sql_command, parser=sql)


def _sql_command(options: argparse.Namespace) -> int:
    telemetry = open_telemetry(options, must_exist=not options.archives)
    try:
        stream = telemetry.stream_sql(options.query, archives=options.archives)
        with stream as rows:
            _print(rows, options)
    except ImportError as error:
        raise ValueError(str(error)) from None
    return EXIT_OK


def _print(rows: SqlRows, options: argparse.Namespace) -> None:
    if options.format == "json":
        write_json_array(_dicts(rows), sys.stdout)
    elif options.format == "jsonl":
        write_jsonl(_dicts(rows), sys.stdout)
    elif options.format == "csv":
        writer = csv_writer(sys.stdout, rows.columns)
        for batch in rows.batches():
            writer.writerows([[_csv_cell(value) for value in row] for row in batch])
    else:
        _print_table(rows, output_style(options))


def _dicts(rows: SqlRows) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {name: plain(value) for name, value in zip(rows.columns, row, strict=True)}


def plain(value: object) -> Any:
    """``value`` as JSON can hold it: times as ISO text, decimals as numbers, NaN and
    infinities as null, bytes as hex; lists and dicts (structs, maps) value by value."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.timedelta, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def _csv_cell(value: object) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _print_table(rows: SqlRows, style: Style) -> None:
    """The rows as a table; ``(no rows)`` when there are none."""
    right = [kind.startswith(_NUMERIC_TYPES) for kind in rows.types]
    limit = CELL_COLUMNS if style.width is not None else None
    header = header_cells(rows.columns)
    widths = [width(cell.text) for cell in header]
    printed_header = False
    for batch in rows.batches():
        cells = [_cells(row, right, limit) for row in batch]
        for row in cells:
            for column, cell in enumerate(row):
                widths[column] = max(widths[column], width(cell.text))
        if not printed_header:
            print(render_row(header, widths, style))
            printed_header = True
        print("\n".join(render_row(row, widths, style) for row in cells))
    if not printed_header:
        print(render_row(header, widths, style))
        print("(no rows)")


def _cells(row: Sequence[Any], right: Sequence[bool], limit: int | None) -> list[Cell]:
    cells = []
    for value, numeric in zip(row, right, strict=True):
        if value is None:
            cells.append(Cell("NULL", "dim", numeric))
            continue
        text = _text(plain(value))
        cells.append(Cell(cut(text, limit) if limit else text, None, numeric))
    return cells


def _text(value: object) -> str:
    if isinstance(value, str):
        return printable(value)
    return printable(json.dumps(value))
