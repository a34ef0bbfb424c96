"""Text for people: aligned tables, readable durations, colored statuses, trace trees.

Colors are ANSI escapes, used only when the caller decided they are wanted (a terminal, and
``NO_COLOR`` unset; see ``use_color``). Widths are computed on the plain text, so colored and
plain output line up the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from betty_telemetry._filters import error_text
from betty_telemetry._stats import FAILURE_STATUSES
from betty_telemetry._times import timestamp_micros
from betty_telemetry._trace import Node, start_micros

_RESET = "\x1b[0m"
_STATUS_COLORS = {
    "success": "\x1b[32m",  # green
    "failure": "\x1b[31m",  # red
    "failed": "\x1b[31m",
    "error": "\x1b[1;31m",  # bold red
    "timeout": "\x1b[33m",  # yellow
    "pending": "\x1b[36m",  # cyan
}
_DIM = "\x1b[2m"
ENTRY_HEADER = ("TIMESTAMP", "SKILL", "STATUS", "DURATION", "CALLER", "ERROR")


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
    """How to draw: with or without color, and how wide the output may be (None: no limit)."""

    color: bool = False
    width: int | None = None

    def status(self, status: str, padded: str) -> str:
        code = _STATUS_COLORS.get(status) if self.color else None
        return f"{code}{padded}{_RESET}" if code else padded

    def dim(self, text: str) -> str:
        return f"{_DIM}{text}{_RESET}" if self.color and text else text

    def cut(self, text: str, used: int) -> str:
        """``text`` cut to what is left of the width after ``used`` columns, marked with '…'."""
        if self.width is None or used + len(text) <= self.width:
            return text
        return text[: max(self.width - used - 1, 0)] + "…"


def human_duration(value: object) -> str:
    """``320.0 ms``, ``2.50 s``, ``3.0 min``, ``1.2 h``; ``-`` when not a number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return "-"
    if value < 1000:
        return f"{value:.1f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    if value < 3_600_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 3_600_000:.1f} h"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def entry_cells(entry: dict[str, Any]) -> tuple[str, ...]:
    """One entry as the cells of ENTRY_HEADER; newlines in the error are shown as spaces."""
    return (
        _text(entry.get("timestamp"))[:23].replace("T", " "),
        _text(entry.get("skill")),
        _text(entry.get("status")),
        human_duration(entry.get("duration_ms")),
        _text(entry.get("caller")),
        " ".join((error_text(entry) or "").split()),
    )


def entry_table(entries: Sequence[dict[str, Any]], style: Style) -> str:
    """Entries as an aligned table with a header; ``(no entries)`` when there are none."""
    if not entries:
        return "(no entries)"
    rows = [ENTRY_HEADER, *(entry_cells(entry) for entry in entries)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(ENTRY_HEADER) - 1)]
    return "\n".join(
        entry_row(row, widths, style, header=index == 0) for index, row in enumerate(rows)
    )


def entry_row(
    cells: Sequence[str], widths: Sequence[int], style: Style, *, header: bool = False
) -> str:
    """One row: every column but the last padded to its width, the last cut to fit."""
    padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True)]
    last = style.cut(cells[-1], len("  ".join(padded)) + 2)
    if header:
        return style.dim(("  ".join(padded) + "  " + last).rstrip())
    padded[2] = style.status(cells[2], padded[2])
    return ("  ".join(padded) + "  " + last).rstrip()


# -- statistics --------------------------------------------------------------------------------

STATS_COLUMNS = ("COUNT", "FAIL%", "P50", "P95", "P99", "MAX", "MEAN", "LAST")


def stats_table(rows: Sequence[dict[str, Any]], by: str, style: Style) -> str:
    """Stats rows as a table (key left, numbers right-aligned) and a one-line summary."""
    if not rows:
        return "(no entries)"
    header = (by.upper(), *STATS_COLUMNS)
    body = [_stats_cells(row) for row in rows]
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    lines = [style.dim(_align(header, widths))]
    for row, cells in zip(rows, body, strict=True):
        line = _align(cells, widths)
        if row["failure_rate"] > 0 and style.color:
            fail = cells[2].rjust(widths[2])
            start = len("  ".join(c.ljust(w) for c, w in zip(cells[:2], widths[:2], strict=True)))
            line = line[: start + 2] + style.status("failure", fail) + line[start + 2 + len(fail) :]
        lines.append(line)
    lines.append(style.dim(_stats_summary(rows, by)))
    return "\n".join(lines)


def _stats_cells(row: dict[str, Any]) -> tuple[str, ...]:
    return (
        "(none)" if row["key"] is None else str(row["key"]),
        f"{row['count']:,}",
        f"{row['failure_rate'] * 100:.1f}%",
        *(human_duration(row[name]) for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
        human_duration(row["mean_ms"]),
        _text(row["last"])[:19].replace("T", " "),
    )


def _align(cells: Sequence[str], widths: Sequence[int]) -> str:
    first = cells[0].ljust(widths[0])
    numbers = [cell.rjust(width) for cell, width in zip(cells[1:-1], widths[1:-1], strict=True)]
    return "  ".join([first, *numbers, cells[-1]]).rstrip()


def _stats_summary(rows: Sequence[dict[str, Any]], by: str) -> str:
    total = sum(row["count"] for row in rows)
    failed = sum(
        count
        for row in rows
        for status, count in row["statuses"].items()
        if status in FAILURE_STATUSES
    )
    groups = f"{len(rows):,} {by}{'s' if len(rows) != 1 else ''}"
    return f"{groups} · {total:,} entries · {failed / total * 100:.1f}% failed"


# -- trace trees -------------------------------------------------------------------------------

BAR_WIDTH = 30


def trace_tree(trace_id: str, roots: list[Node], style: Style) -> str:
    """A trace as an indented tree: each run's skill, status, duration, and a bar placing it
    on the trace's time line (where the time went), then its error if it failed."""
    drawn = _tree_lines(roots)
    nodes = [(prefix, node) for prefix, node in drawn]
    spans = [_span(node["entry"]) for _, node in nodes]
    known = [span for span in spans if span is not None]
    begin = min((start for start, _ in known), default=0)
    end = max((stop for _, stop in known), default=0)
    labels = [prefix + _text(node["entry"].get("skill")) for prefix, node in nodes]
    label_width = max(len(label) for label in labels)
    statuses = [_text(node["entry"].get("status")) for _, node in nodes]
    status_width = max(len(status) for status in statuses)
    durations = [human_duration(node["entry"].get("duration_ms")) for _, node in nodes]
    duration_width = max(len(duration) for duration in durations)
    failures = sum(1 for status in statuses if status in FAILURE_STATUSES)
    title = f"trace {trace_id} · {len(nodes)} run{'s' if len(nodes) != 1 else ''}"
    title += f" · {human_duration((end - begin) / 1000)}" if known else ""
    title += f" · {failures} failed" if failures else ""
    lines = [style.dim(title)]
    for index, (_, node) in enumerate(nodes):
        bar = _bar(spans[index], begin, end)
        line = (
            f"{labels[index].ljust(label_width)}  "
            f"{style.status(statuses[index], statuses[index].ljust(status_width))}  "
            f"{durations[index].rjust(duration_width)}  {bar}"
        )
        message = error_text(node["entry"])
        if message:
            line += "  " + style.dim(" ".join(message.split()))
        lines.append(line.rstrip())
    return "\n".join(lines)


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


def _tree_lines(roots: list[Node]) -> list[tuple[str, Node]]:
    """Every node, depth first, with the ``├─``/``└─``/``│`` drawing that goes before it."""
    lines: list[tuple[str, Node]] = []
    # (node, indent of its children's lines, its own connector); iterative: traces nest deep.
    stack: list[tuple[Node, str, str]] = [(root, "", "") for root in reversed(roots)]
    while stack:
        node, indent, connector = stack.pop()
        lines.append((indent + connector, node))
        below = indent + {"": "", "└─ ": "   ", "├─ ": "│  "}[connector]
        children = node["children"]
        for position in range(len(children) - 1, -1, -1):
            last = position == len(children) - 1
            stack.append((children[position], below, "└─ " if last else "├─ "))
    return lines
