"""Totals per (skill, status), kept up to date in steps, so statistics need not read every row.

Summing a million rows in SQL takes longer than the statistics may (a tenth of the JSON
array's), and adding to a totals row on every capture would make each capture write one more
page. So a writer *folds* new rows into the ``rollup`` table once every FOLD_EVERY rows (in a
transaction of its own, after its entries are committed), and a reader adds the few rows after
``meta.folded_to`` itself. Both use ``Totals`` below, so their arithmetic is the same.

Sums are exact: every finite float is a whole number of 2**-1074, so durations add up as
Python integers in that unit, and the sum is rounded to a float once, at the end; that is
``math.fsum``'s result, which compute_stats uses. Odd rows are left out: statistics never use
the totals while the table holds one. So are superseded rows (runs.py), and pending rows'
durations (a run still going has none yet, model.stats): a row superseded after it was folded
is subtracted (``withdraw``), its group's first and last found again if it was one of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from betty_telemetry.model.runs import PENDING
from betty_telemetry.stores.sqlite.schema import COUNTED, STILL_PENDING, NotOurs

FOLD_EVERY = 1024
"""A write whose rows reach a multiple of this many ids folds the rows before it."""
FOLD_MOST = 65536
"""At most this many rows per fold: a capture that folds stays brief, even after a long gap."""
UNIT_BITS = 1074  # the smallest positive float is 2**-1074

Key = tuple[str | None, str | None]
Mark = tuple[str, int]  # (moment, id)


@dataclass
class Totals:
    """The rows of one (skill, status): how many, their durations, the first and last.

    ``first`` is the row with the earliest moment and ``last`` the one with the latest, the
    newest row winning a tie in both: compute_stats, reading newest first, keeps the first row
    it meets with a moment strictly earlier (or later) than those before.
    """

    entries: int = 0
    durations: int = 0
    duration_sum: int = 0  # in units of 2**-UNIT_BITS
    first: Mark | None = None
    last: Mark | None = None

    def add(self, row_id: int, moment: str | None, duration: float | None) -> None:
        self.entries += 1
        if duration is not None:
            self.durations += 1
            self.duration_sum += exact_units(duration)
        if moment is not None:
            self.note(moment, row_id)

    def note(self, moment: str, row_id: int) -> None:
        first, last = self.first, self.last
        if first is None or moment < first[0] or (moment == first[0] and row_id > first[1]):
            self.first = (moment, row_id)
        if last is None or moment > last[0] or (moment == last[0] and row_id > last[1]):
            self.last = (moment, row_id)

    def merge(self, other: Totals) -> None:
        self.entries += other.entries
        self.durations += other.durations
        self.duration_sum += other.duration_sum
        for mark in (other.first, other.last):
            if mark is not None:
                self.note(*mark)


def exact_units(value: float) -> int:
    numerator, denominator = value.as_integer_ratio()
    return numerator << (UNIT_BITS - denominator.bit_length() + 1)


def units_to_float(units: int) -> float:
    """The float nearest ``units`` * 2**-1074 (integer division rounds correctly)."""
    return units / (1 << UNIT_BITS)


def current(connection: sqlite3.Connection) -> dict[Key, Totals]:
    """The totals of every row that is not odd (call inside a read transaction)."""
    folded_to, totals = _load(connection)
    _add_rows(totals, connection, folded_to, None)
    return totals


def fold(connection: sqlite3.Connection) -> None:
    """Fold the rows after ``folded_to`` (at most FOLD_MOST) into the table, in a transaction
    of its own. Another process may have folded them already: then there is nothing to do."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        folded_to, totals = _load(connection)
        top = connection.execute("SELECT max(id) FROM entries").fetchone()[0] or 0
        top = min(top, folded_to + FOLD_MOST)
        if top > folded_to:
            _add_rows(totals, connection, folded_to, top)
            connection.execute("DELETE FROM rollup")
            connection.executemany(
                "INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _stored(totals)
            )
            connection.execute("UPDATE meta SET value = ? WHERE name = 'folded_to'", (top,))
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def withdraw(connection: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Take ``rows`` (id, skill, status, moment, duration_ms: folded rows, not odd, just
    superseded) out of the totals; call in the transaction that marked them."""
    if not rows:
        return
    folded = folded_to(connection)
    touched: dict[Key, Totals] = {}
    for row_id, skill, status, moment, duration in rows:
        key: Key = (skill, status)  # type: ignore[assignment]
        if key not in touched:
            found = connection.execute(
                "SELECT * FROM rollup WHERE skill IS ? AND status IS ?", key
            ).fetchone()
            touched[key] = Totals() if found is None else _parsed(found)[1]
        group = touched[key]
        group.entries -= 1
        if duration is not None and status != PENDING:
            group.durations -= 1
            group.duration_sum -= exact_units(duration)  # type: ignore[arg-type]
        if moment is not None and row_id in {mark[1] for mark in (group.first, group.last) if mark}:
            group.first, group.last = _marks(connection, key, folded)
    for key, group in touched.items():
        connection.execute("DELETE FROM rollup WHERE skill IS ? AND status IS ?", key)
        if group.entries > 0:
            connection.executemany(
                "INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _stored({key: group})
            )


def _marks(
    connection: sqlite3.Connection, key: Key, folded: int
) -> tuple[Mark | None, Mark | None]:
    """The first and last rows of a group as folded, read again: the pending ones by the
    pending index (runs still going), the others by the durations index (their skill's)."""
    skill, status = key
    rows = STILL_PENDING if status == PENDING else f"{COUNTED} AND status IS ?"
    params = (skill, folded) if status == PENDING else (status, skill, folded)
    found = []
    for order in ("moment, id DESC", "moment DESC, id DESC"):
        row = connection.execute(
            f"SELECT moment, id FROM entries WHERE {rows} AND skill IS ? AND id <= ? "
            f"AND NOT odd AND moment IS NOT NULL ORDER BY {order} LIMIT 1",
            params,
        ).fetchone()
        found.append(None if row is None else (row[0], row[1]))
    return found[0], found[1]


def folded_to(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT value FROM meta WHERE name = 'folded_to'").fetchone()
    return int(row[0]) if row else 0


def _load(connection: sqlite3.Connection) -> tuple[int, dict[Key, Totals]]:
    totals = dict(_parsed(row) for row in connection.execute("SELECT * FROM rollup"))
    return folded_to(connection), totals


def _parsed(row: tuple[object, ...]) -> tuple[Key, Totals]:
    skill, status, entries, durations, duration_sum, *marks = row
    mantissa, _, shift = str(duration_sum).partition(":")
    first = None if marks[0] is None else (marks[0], marks[1])
    last = None if marks[2] is None else (marks[2], marks[3])
    try:
        units = int(mantissa, 16) << int(shift)
    except ValueError:
        raise NotOurs("a SQLite database whose table of totals is damaged") from None
    key: Key = (skill, status)  # type: ignore[assignment]
    return key, Totals(entries, durations, units, first, last)  # type: ignore[arg-type]


def _add_rows(
    totals: dict[Key, Totals], connection: sqlite3.Connection, after: int, upto: int | None
) -> None:
    query = (
        "SELECT id, skill, status, moment, duration_ms FROM entries "
        "WHERE id > ? AND NOT odd AND NOT superseded"
    )
    params: tuple[int, ...] = (after,)
    if upto is not None:
        query += " AND id <= ?"
        params = (after, upto)
    for row_id, skill, status, moment, duration in connection.execute(query, params):
        group = totals.get((skill, status))
        if group is None:
            group = totals[(skill, status)] = Totals()
        group.add(row_id, moment, None if status == PENDING else duration)


def _stored(totals: dict[Key, Totals]) -> Iterable[tuple[object, ...]]:
    for (skill, status), group in totals.items():
        units = group.duration_sum
        shift = (units & -units).bit_length() - 1 if units else 0  # trailing zero bits
        first = group.first or (None, None)
        last = group.last or (None, None)
        mantissa = units >> shift
        text = f"{'-' if mantissa < 0 else ''}{abs(mantissa):x}:{shift}"
        yield (skill, status, group.entries, group.durations, text, *first, *last)


def crosses_fold(first_id: int, last_id: int) -> bool:
    """Whether rows ``first_id`` to ``last_id`` reach a multiple of FOLD_EVERY."""
    return last_id // FOLD_EVERY > (first_id - 1) // FOLD_EVERY
