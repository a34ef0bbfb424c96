"""One row per run: the rows a newer entry of their run replaces, marked ``superseded`` in the
transaction that stores that entry.

The rule is model.runs's: an entry noting ``pending_at`` replaces every older entry of its
span, back to the span's pending entry (all of them if none is stored). Row ids are the order
stored, so the rows a new final entry replaces are the rows of its span between the newest
older pending row and itself, found by the span index. A row once replaced stays so whatever
is stored after it, so the mark is only ever set, and the totals (rollup.py) need only
subtract: statistics then read one row per run from the totals and the durations index,
exactly as a reader applying the rule would count them.

Nothing is deleted: queries, traces, follow, counts, ``check``, conversions and archives
read every row as before and apply the rule themselves (a query ``--until`` before a run's
end must still meet its pending entry).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from betty_telemetry.model.runs import replaced_span
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite import rollup

NOTE_BYTES = b"pending_at"
"""In every line that notes a pending entry (``pending_at`` or ``betty_telemetry.pending_at``)."""


def replacing(batch: Sequence[Encoded]) -> list[tuple[int, str]]:
    """The positions in ``batch`` of entries that replace older rows, with their span ids.

    Judged from the line as stored (what readers will parse), and only for lines that may
    hold the note: every other capture pays one bytes search."""
    found = []
    for position, encoded in enumerate(batch):
        if NOTE_BYTES in encoded.line:
            span = _replaced_span(encoded.line)
            if span is not None:
                found.append((position, span))
    return found


def _replaced_span(body: str | bytes) -> str | None:
    try:
        entry = json.loads(body)
    except (ValueError, RecursionError):  # a damaged row (``check`` reports it): no entry
        return None
    return replaced_span(entry) if type(entry) is dict else None


def supersede(connection: sqlite3.Connection, first_id: int, found: list[tuple[int, str]]) -> None:
    """Mark the rows each entry ``found`` (positions from row ``first_id``) replaces; call in
    the transaction that inserted them. Rows already folded into the totals leave them."""
    folded_to = rollup.folded_to(connection)
    for position, span in found:
        row_id = first_id + position
        (pending,) = connection.execute(
            "SELECT coalesce(max(id), 0) FROM entries "
            "WHERE span_id = ? AND id < ? AND status = 'pending'",
            (span, row_id),
        ).fetchone()
        replaced = connection.execute(
            "SELECT id, skill, status, moment, duration_ms, odd FROM entries "
            "WHERE span_id = ? AND id >= ? AND id < ? AND NOT superseded",
            (span, pending, row_id),
        ).fetchall()
        if not replaced:
            continue
        connection.executemany(
            "UPDATE entries SET superseded = 1 WHERE id = ?", [(row[0],) for row in replaced]
        )
        rollup.withdraw(
            connection, [row[:5] for row in replaced if row[0] <= folded_to and not row[5]]
        )


def mark_again(connection: sqlite3.Connection) -> None:
    """After rows were deleted (a prune): mark the rows kept as the rule reads them now, the
    totals having been emptied (a final entry's pending row may have gone, or the final)."""
    connection.execute("UPDATE entries SET superseded = 0 WHERE superseded")
    notes = connection.execute(
        "SELECT id, body FROM entries WHERE span_id IS NOT NULL AND instr(body, ?) ORDER BY id",
        (NOTE_BYTES.decode(),),
    ).fetchall()
    for row_id, body in notes:
        span = _replaced_span(body)
        if span is not None:
            supersede(connection, row_id, [(0, span)])
