"""Text for people: aligned tables, readable durations, colored statuses, trace trees.

Every row goes through ``render_row``: cells are padded in terminal columns (wide characters
count two), the row is cut with ``…`` where it would pass the terminal's width, and colors
(ANSI escapes, only when ``use_color`` says so) wrap the cells after measuring, so colored
and plain output line up the same way. Text from entries is made printable first (``_cells``).

A table wider than the terminal is made narrower by its steps (``ENTRY_STEPS``,
``STATS_STEPS``, ``TRACE_STEPS``, taken in order by ``fitting.fit``): the columns that matter
(what ran, how it ended, how long it took) are kept longest. Times are shown in local time
with their offset, or in UTC (``Style.utc``; see ``local_time``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from betty_telemetry.cli.cells import cut, is_terminal, pad, printable, width
from betty_telemetry.cli.fitting import Cut, Drop, Layout, Shorten, Step, fit
from betty_telemetry.cli.local_time import month_day_minute, shown_time, without_milliseconds
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
ENTRY_STEPS: tuple[Step, ...] = (
    Shorten("TIMESTAMP", without_milliseconds),
    Cut("CALLER", 12),
    Shorten("TIMESTAMP", month_day_minute),
    Cut("SKILL", 24),
    Drop("CALLER"),
    Drop("ERROR"),
    Drop("TIMESTAMP"),
    Cut("SKILL", 10),
)
"""How an entry table (query, tail, tail -f) narrows to fit the terminal, first step first:
SKILL, STATUS and DURATION are kept longest."""
TYPICAL_ENTRY = {
    "timestamp": "2026-12-07T10:15:02.123456+00:00",
    "skill": "s" * 24,
    "status": "timeout",
    "duration_ms": 59_999.0,
    "caller": "c" * 20,
}
"""What the columns of a table whose rows come one at a time (``tail -f``) start as wide as:
a time always, a status and a duration at most, a usual skill and caller."""
FIRST_ROWS = 1000
"""Rows a streamed table measures its columns on before printing: a table of up to this many
rows is aligned as a whole; past them, columns only widen for a longer cell."""


def use_color(choice: str, stream: TextIO) -> bool:
    """``--color``: always, never, or auto (a terminal, ``NO_COLOR`` unset, ``TERM`` not dumb)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


@dataclass(frozen=True)
class Style:
    """How to draw: with or without color, and how wide a line may be (None: no limit)."""

    color: bool = False
    width: int | None = None
    utc: bool = False

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
    """Cells padded to ``widths`` (cut to them when wider; the last cell is neither, unless
    right-aligned: a number), two spaces apart, cut to the style's width, painted, without
    trailing spaces."""
    pieces: list[tuple[str, str | None]] = []
    for index, cell in enumerate(cells):
        last = index == len(cells) - 1
        text = cell.text if last and not cell.right else _fill(cell, widths[index])
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


def _fill(cell: Cell, columns: int) -> str:
    return pad(cut(cell.text, columns), columns, right=cell.right)


def column_widths(rows: Sequence[Sequence[Cell]]) -> list[int]:
    return [max(width(row[column].text) for row in rows) for column in range(len(rows[0]))]


def widen(widths: list[int], cells: Sequence[Cell], limit: int | None = None) -> None:
    """Widen ``widths`` to fit ``cells`` (all but the last, which is never padded), as long
    as the row stays within ``limit`` columns (a cell too wide is then cut)."""
    for column, cell in enumerate(cells[:-1]):
        cell_width = width(cell.text)
        if cell_width > widths[column]:
            more = cell_width - widths[column]
            if limit is None or sum(widths) + 2 * (len(widths) - 1) + more <= limit:
                widths[column] = cell_width


def fitted(
    names: Sequence[str], rows: Sequence[Sequence[Cell]], steps: Sequence[Step], style: Style
) -> tuple[Layout, list[list[Cell]], list[int]]:
    """``rows`` (a heading's and its first rows, full) fitted to the style's width by
    ``steps``: the layout, the rows as it shows them, and their columns' widths."""
    layout = fit(names, rows, steps, style.width)
    shown = [layout.cells(row) for row in rows]
    return layout, shown, layout.widths(shown)


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


def entry_cells(entry: dict[str, Any], style: Style) -> list[Cell]:
    """One entry as the cells of ENTRY_HEADER (its status colored, its time as ``style``
    says: local or UTC)."""
    status = _text(entry.get("status"))
    return [
        Cell(shown_time(entry.get("timestamp"), utc=style.utc)),
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
    batch = itertools.islice(stream, max(first_rows, 1))
    rows.extend(entry_cells(entry, style) for entry in batch)
    if len(rows) == 1:
        yield "(no entries)"
        return
    layout, shown, widths = fitted(ENTRY_HEADER, rows, ENTRY_STEPS, style)
    for row in shown:
        yield render_row(row, widths, style)
    rows.clear()  # a long stream keeps no more than one row from here on
    shown.clear()
    for entry in stream:
        cells = layout.cells(entry_cells(entry, style))
        widen(widths, cells, style.width)
        yield render_row(cells, widths, style)


# -- statistics --------------------------------------------------------------------------------

STATS_COLUMNS = ("COUNT", "FAIL%", "P50", "P95", "P99", "MAX", "MEAN", "LAST")
STATS_STEPS: tuple[Step, ...] = (
    Shorten("LAST", month_day_minute),
    Drop("MEAN"),
    Drop("P99"),
    Cut("KEY", 24),
    Drop("LAST"),
    Drop("MAX"),
    Drop("P95"),
    Cut("KEY", 12),
    Drop("P50"),
)
"""How a stats table narrows to fit the terminal, first step first (KEY is the grouping's
column: SKILL, CALLER, ...): the key, COUNT and FAIL% are kept longest."""
_PLURALS = {"status": "statuses"}


def stats_table(rows: Sequence[dict[str, Any]], by: str, style: Style) -> str:
    """Stats rows as a table (key left, numbers right-aligned) and a one-line summary."""
    if not rows:
        return "(no entries)"
    heading = header_cells((by.upper(), *STATS_COLUMNS), right=STATS_COLUMNS[:-1])
    table = [heading, *(_stats_cells(row, style) for row in rows)]
    _, shown, widths = fitted(("KEY", *STATS_COLUMNS), table, STATS_STEPS, style)
    lines = [render_row(row, widths, style) for row in shown]
    lines.append(render_row([Cell(_stats_summary(rows, by), "dim")], [0], style))
    return "\n".join(lines)


def _stats_cells(row: dict[str, Any], style: Style) -> list[Cell]:
    durations = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    return [
        Cell("(none)" if row["key"] is None else _text(row["key"])),
        Cell(f"{row['count']:,}", right=True),
        Cell(f"{row['failure_rate'] * 100:.1f}%", "failure" if row["failure_rate"] else None, True),
        *(Cell(human_duration(row[name]), right=True) for name in durations),
        Cell(shown_time(row["last"], utc=style.utc, milliseconds=False)),
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
    entries = "entry" if total == 1 else "entries"
    return f"{len(rows):,} {groups} · {total:,} {entries} · {failed / total * 100:.1f}% failed"


# -- trace trees -------------------------------------------------------------------------------

BAR_WIDTH = 30
TRACE_COLUMNS = ("SKILL", "STATUS", "DURATION", "BAR", "ERROR")


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
    _, shown, widths = fitted(TRACE_COLUMNS, rows, TRACE_STEPS, style)
    lines = [render_row([Cell(title, "dim")], [0], style)]
    lines.extend(render_row(row, widths, style) for row in shown)
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


def half_bar(bar: str) -> str:
    """A time line half as wide: a column of it is drawn if either of the two it stands
    for was (a short run stays visible)."""
    if bar.strip() == "?":
        return "?".ljust(len(bar) // 2)
    pairs = (bar[place : place + 2] for place in range(0, len(bar), 2))
    return "".join("█" if "█" in pair else " " for pair in pairs)


TRACE_STEPS: tuple[Step, ...] = (
    Shorten("BAR", half_bar),
    Drop("BAR"),
    Cut("SKILL", 24),
    Drop("ERROR"),
    Cut("SKILL", 12),
)
"""How a trace tree narrows to fit the terminal, first step first: the tree of skills,
their STATUS and DURATION are kept longest; the time line goes first."""


def _bar(span: tuple[int, int] | None, begin: int, end: int) -> str:
    if span is None:
        return "?".ljust(BAR_WIDTH)
    total = max(end - begin, 1)
    left = min(BAR_WIDTH - 1, round((span[0] - begin) * BAR_WIDTH / total))
    right = max(left + 1, round((span[1] - begin) * BAR_WIDTH / total))
    return (" " * left + "█" * (right - left)).ljust(BAR_WIDTH)
