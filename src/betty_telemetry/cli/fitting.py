"""Tables fitted to the terminal in a stated order, rather than cut off at the right edge.

A row cut at the terminal's edge loses whatever columns come last, which are not the least
useful ones (a status after a 30-column time). So each table declares the steps that make it
narrower, most dispensable first (see ``render``: ``ENTRY_STEPS``, ``STATS_STEPS``,
``TRACE_STEPS``), and ``fit`` takes them in order while the rows are wider than the terminal:

- ``Shorten``: the column's cells in a shorter form (a time without its milliseconds);
- ``Cut``: the column cut with ``…`` to what the row can spare, never below ``least``;
- ``Drop``: the column left out.

The last column shown (an error message) takes the columns left and is cut with ``…``; while
deciding, it counts as at most ``LAST_LEAST`` columns (or as none, when it is empty). What is
still too wide after the last step is cut at the edge (``render_row``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Union

from betty_telemetry.cli.cells import width

if TYPE_CHECKING:
    from betty_telemetry.cli.render import Cell

LAST_LEAST = 12
"""Columns the last column (an error message) must have to be worth showing."""
GAP = 2
"""Spaces between two columns."""


@dataclass(frozen=True)
class Shorten:
    column: str
    form: Callable[[str], str]


@dataclass(frozen=True)
class Cut:
    column: str
    least: int


@dataclass(frozen=True)
class Drop:
    column: str


Step = Union[Shorten, Cut, Drop]  # noqa: UP007 - a runtime alias, and Python 3.10 is supported


@dataclass(frozen=True)
class Layout:
    """What a table shows of its full rows: which columns (by index), each in which form,
    and the widths some are cut to."""

    names: tuple[str, ...]
    kept: tuple[int, ...]
    forms: dict[int, Callable[[str], str]] = field(default_factory=dict)
    caps: dict[int, int] = field(default_factory=dict)

    @classmethod
    def whole(cls, names: Sequence[str]) -> Layout:
        return cls(tuple(names), tuple(range(len(names))))

    def cells(self, row: Sequence[Cell]) -> list[Cell]:
        """The cells of a full row that the layout shows, in their forms."""
        return [self._form(index, row[index]) for index in self.kept]

    def widths(self, rows: Sequence[Sequence[Cell]]) -> list[int]:
        """The widths of the shown columns of ``rows`` (rows as ``cells`` gives them)."""
        if not rows:
            return []
        return [
            min(max(width(row[place].text) for row in rows), self.caps.get(index, 1 << 30))
            for place, index in enumerate(self.kept)
        ]

    def heading(self) -> list[str]:
        return [self.names[index] for index in self.kept]

    def _form(self, index: int, cell: Cell) -> Cell:
        form = self.forms.get(index)
        return replace(cell, text=form(cell.text)) if form is not None else cell

    def after(self, step: Step, widths: dict[int, int], excess: int) -> Layout:
        """The layout once ``step`` is taken, the row being ``excess`` columns too wide."""
        index = self.names.index(step.column) if step.column in self.names else -1
        if index not in self.kept:
            return self
        if isinstance(step, Shorten):
            return replace(self, forms={**self.forms, index: step.form})
        if isinstance(step, Cut):
            if index == self.kept[-1]:  # the last column is cut to what is left anyway
                return self
            cap = max(step.least, widths[index] - excess)
            return replace(self, caps={**self.caps, index: min(cap, widths[index])})
        return replace(self, kept=tuple(kept for kept in self.kept if kept != index))


def fit(
    names: Sequence[str], rows: Sequence[Sequence[Cell]], steps: Sequence[Step], limit: int | None
) -> Layout:
    """The layout of the full ``rows`` (of columns ``names``) after as many of ``steps`` as
    it takes for them to fit in ``limit`` columns (None: no limit, the whole table)."""
    layout = Layout.whole(names)
    if limit is None or not rows:
        return layout
    measured: dict[tuple[int, Callable[[str], str] | None], int] = {}

    def column_width(index: int) -> int:
        form = layout.forms.get(index)
        if (index, form) not in measured:
            texts = (row[index].text for row in rows)
            measured[index, form] = max(width(form(text) if form else text) for text in texts)
        return min(measured[index, form], layout.caps.get(index, 1 << 30))

    for step in steps:
        widths = {index: column_width(index) for index in layout.kept}
        excess = row_width([widths[index] for index in layout.kept]) - limit
        if excess <= 0:
            break
        layout = layout.after(step, widths, excess)
    return layout


def row_width(widths: Sequence[int]) -> int:
    """How wide a row of columns this wide is, its last column counted as at most
    ``LAST_LEAST`` (it is cut to what is left), and as nothing when it is empty."""
    if not widths:
        return 0
    *fixed, last = widths
    total = sum(fixed) + GAP * max(len(fixed) - 1, 0)
    if not last:
        return total
    return total + (GAP if fixed else 0) + min(last, LAST_LEAST)
