"""Text for people: aligned tables, readable durations, colored statuses, trace trees.

Every row goes through ``render_row``: cells are padded in terminal columns (wide characters
count two), the row is cut with ``…`` where it would pass the terminal's width, and colors
(ANSI escapes, only when ``use_color`` says so) wrap the cells after measuring, so colored
and plain output line up the same way. Text from entries is made printable first (``_cells``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from betty_telemetry.cli.cells import cut, pad, printable, width
from betty_telemetry.model.filters import error_text
from betty_telemetry.model.times import start_micros, timestamp_micros
from betty_telemetry.read.stats import FAILURE_STATUSES
from betty_telemetry.read.trace import Node, tree_lines

_RESET = "\x1b[0m"
_COLORS = {
    "success": "\x1b[32m",  # green
    "failure": "\x1b[31m",  # red
    "failed": "\x1b[31m",
    "error": "\x1b[1;31m",  # bold red
    "timeout": "\x1b[33m",  # yellow
    "pending": "\x1b[36m",  # cyan
    "dim": "\x1b[2m",
}
ENTRY_HEADER = ("TIMESTAMP", "SKILL", "STATUS", "DURATION", "CALLER", "ERROR")
ENTRY_WIDTHS = (23, 24, 7, 9, 20, 0)
"""How wide ENTRY_HEADER's columns start where rows come one at a time (``tail -f``): a
timestamp always, a status and a duration at most, a usual skill and caller."""
FIRST_ROWS = 1000
"""Rows a streamed table measures its columns on before printing: a table of up to this many
rows is aligned as a whole; past them, columns only widen for a longer cell."""


def use_color(choice: str, stream: TextIO) -> bool:
    """``--color``: always, never, or auto (a terminal, ``NO_COLOR`` unset, ``TERM`` not dumb)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass(frozen=True)
class Style:
    """How to draw: with or without color, and how wide a line may be (None: no limit)."""

    color: bool = False
    width: int | None = None

    def paint(self, text: str, color: str | None) -> str:
        code = _COLORS.get(color) if self.color and color and text else None
        return f"{code}{text}{_RESET}" if code else text


@dataclass(frozen=True)
class Cell:
    """One cell: its text, the color to paint it (a status, or ``dim``), its alignment."""

    text: str
    color: str | None = None
    right: bool = False


def render_row(cells: Sequence[Cell], widths: Sequence[int], style: Style) -> str:
    """Cells padded to ``widths`` (the last cell is not padded), two spaces apart, cut to the
    style's width, painted, without trailing spaces."""
    pieces: list[tuple[str, str | None]] = []
    for index, cell in enumerate(cells):
        last = index == len(cells) - 1
        text = cell.text if last else pad(cell.text, widths[index], right=cell.right)
        pieces.extend([("  ", None), (text, cell.color)] if index else [(text, cell.color)])
    while len(pieces) > 1 and not pieces[-1][0].strip():
        pieces.pop()
    pieces[-1] = (pieces[-1][0].rstrip(), pieces[-1][1])
    out, used = [], 0
    for text, color in pieces:
        if style.width is not None and used + width(text) > style.width:
            if used < style.width:  # a row that fills the width exactly has no room for "…"
                out.append(style.paint(cut(text, style.width - used), color))
            break
        out.append(style.paint(text, color))
        used += width(text)
    return "".join(out)


def column_widths(rows: Sequence[Sequence[Cell]]) -> list[int]:
    return [max(width(row[column].text) for row in rows) for column in range(len(rows[0]))]


def widen(widths: list[int], cells: Sequence[Cell]) -> None:
    """Widen ``widths`` to fit ``cells`` (all but the last, which is never padded)."""
    for column, cell in enumerate(cells[:-1]):
        cell_width = width(cell.text)
        if cell_width > widths[column]:
            widths[column] = cell_width


def header_cells(names: Sequence[str], right: Collection[str] = ()) -> list[Cell]:
    """A table's heading: the names of ``right`` (columns of numbers) right-aligned, as
    their numbers are."""
    return [Cell(name, "dim", name in right) for name in names]


def human_duration(value: object) -> str:
    """``320.0 ms``, ``2.50 s``, ``3.0 min``, ``1.2 h``; ``-`` when not a number.

    The unit is chosen after rounding, so 999.96 ms reads ``1.00 s``, not ``1000.0 ms``.
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return "-"
    if 0 < value < 0.05:
        return "<0.1 ms"
    if round(value, 1) < 1000:
        return f"{value:.1f} ms"
    if round(value / 1000, 2) < 60:
        return f"{value / 1000:.2f} s"
    if round(value / 60_000, 1) < 60:
        return f"{value / 60_000:.1f} min"
    return f"{value / 3_600_000:.1f} h"


def _text(value: object) -> str:
    return "" if value is None else printable(str(value))


# -- entries -----------------------------------------------------------------------------------


def entry_header() -> list[Cell]:
    """The heading of an entry table (its duration right-aligned, as the durations are)."""
    return header_cells(ENTRY_HEADER, right=("DURATION",))


def entry_cells(entry: dict[str, Any]) -> list[Cell]:
    """One entry as the cells of ENTRY_HEADER (its status colored)."""
    status = _text(entry.get("status"))
    return [
        Cell(_text(entry.get("timestamp"))[:23].replace("T", " ")),
        Cell(_text(entry.get("skill"))),
        Cell(status, status),
        Cell(human_duration(entry.get("duration_ms")), right=True),
        Cell(_text(entry.get("caller"))),
        Cell(printable(error_text(entry) or "")),
    ]


def entry_table(entries: Iterable[dict[str, Any]], style: Style) -> str:
    """Entries as an aligned table with a header; ``(no entries)`` when there are none."""
    entries = list(entries)
    return "\n".join(entry_table_lines(entries, style, first_rows=len(entries)))


def entry_table_lines(
    entries: Iterable[dict[str, Any]], style: Style, *, first_rows: int = FIRST_ROWS
) -> Iterator[str]:
    """The lines of ``entry_table``, as entries come: the columns are measured on the first
    ``first_rows`` entries, whose lines then go out, and later lines follow one by one, in
    memory bounded by that first batch however many entries there are."""
    stream = iter(entries)
    rows = [entry_header()]
    rows.extend(entry_cells(entry) for entry in itertools.islice(stream, max(first_rows, 1)))
    if len(rows) == 1:
        yield "(no entries)"
        return
    widths = column_widths(rows)
    for row in rows:
        yield render_row(row, widths, style)
    rows.clear()  # a long stream keeps no more than one row from here on
    for entry in stream:
        cells = entry_cells(entry)
        widen(widths, cells)
        yield render_row(cells, widths, style)


# -- statistics --------------------------------------------------------------------------------

STATS_COLUMNS = ("COUNT", "FAIL%", "P50", "P95", "P99", "MAX", "MEAN", "LAST")
_PLURALS = {"status": "statuses"}


def stats_table(rows: Sequence[dict[str, Any]], by: str, style: Style) -> str:
    """Stats rows as a table (key left, numbers right-aligned) and a one-line summary."""
    if not rows:
        return "(no entries)"
    heading = header_cells((by.upper(), *STATS_COLUMNS), right=STATS_COLUMNS[:-1])
    table = [heading, *(_stats_cells(row) for row in rows)]
    widths = column_widths(table)
    lines = [render_row(row, widths, style) for row in table]
    lines.append(render_row([Cell(_stats_summary(rows, by), "dim")], [0], style))
    return "\n".join(lines)


def _stats_cells(row: dict[str, Any]) -> list[Cell]:
    durations = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    return [
        Cell("(none)" if row["key"] is None else _text(row["key"])),
        Cell(f"{row['count']:,}", right=True),
        Cell(f"{row['failure_rate'] * 100:.1f}%", "failure" if row["failure_rate"] else None, True),
        *(Cell(human_duration(row[name]), right=True) for name in durations),
        Cell(_text(row["last"])[:19].replace("T", " ")),
    ]


def _stats_summary(rows: Sequence[dict[str, Any]], by: str) -> str:
    total = sum(row["count"] for row in rows)
    failed = sum(
        count
        for row in rows
        for status, count in row["statuses"].items()
        if status in FAILURE_STATUSES
    )
    groups = _PLURALS.get(by, by + "s") if len(rows) != 1 else by
    return f"{len(rows):,} {groups} · {total:,} entries · {failed / total * 100:.1f}% failed"


# -- trace trees -------------------------------------------------------------------------------

BAR_WIDTH = 30


def trace_tree(trace_id: str, roots: list[Node], style: Style) -> str:
    """A trace as an indented tree: each run's skill, status, duration, and a bar placing it
    on the trace's time line (where the time went), then its error if it failed."""
    drawn = tree_lines(roots)
    spans = [_span(node["entry"]) for _, node in drawn]
    known = [span for span in spans if span is not None]
    begin = min((start for start, _ in known), default=0)
    end = max((stop for _, stop in known), default=0)
    rows = [
        _trace_cells(prefix, node["entry"], _bar(span, begin, end))
        for (prefix, node), span in zip(drawn, spans, strict=True)
    ]
    failures = sum(1 for row in rows if row[1].text in FAILURE_STATUSES)
    title = f"trace {trace_id} · {len(rows)} run{'s' if len(rows) != 1 else ''}"
    title += f" · {human_duration((end - begin) / 1000)}" if known else ""
    title += f" · {failures} failed" if failures else ""
    widths = column_widths(rows)
    lines = [render_row([Cell(title, "dim")], [0], style)]
    lines.extend(render_row(row, widths, style) for row in rows)
    return "\n".join(lines)


def _trace_cells(prefix: str, entry: dict[str, Any], bar: str) -> list[Cell]:
    status = _text(entry.get("status"))
    return [
        Cell(prefix + _text(entry.get("skill"))),
        Cell(status, status),
        Cell(human_duration(entry.get("duration_ms")), right=True),
        Cell(bar),
        Cell(printable(error_text(entry) or ""), "dim"),
    ]


def _span(entry: dict[str, Any]) -> tuple[int, int] | None:
    stop = timestamp_micros(entry.get("timestamp"))
    start = start_micros(entry)
    return None if stop is None or start is None else (start, stop)


def _bar(span: tuple[int, int] | None, begin: int, end: int) -> str:
    if span is None:
        return "?".ljust(BAR_WIDTH)
    total = max(end - begin, 1)
    left = min(BAR_WIDTH - 1, round((span[0] - begin) * BAR_WIDTH / total))
    right = max(left + 1, round((span[1] - begin) * BAR_WIDTH / total))
    return (" " * left + "█" * (right - left)).ljust(BAR_WIDTH)
