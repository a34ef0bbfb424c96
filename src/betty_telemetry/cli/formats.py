"""Machine output of the read commands: a JSON array, JSON Lines, or CSV.

Output is written as items arrive, so ``query --all`` over a large file never holds every
entry; the array is byte for byte ``json.dumps(items, indent=2)``. A CSV header must come
before the rows: it is taken from a first batch of rows (see ``write_csv``).
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMATS = ("json", "jsonl", "csv")
FIRST_ROWS = 1000
"""Rows whose keys make a streamed CSV's header."""


def write_json_array(items: Iterable[Any], out: TextIO) -> None:
    first = True
    for item in items:
        out.write("[\n" if first else ",\n")
        out.write(_indented(json.dumps(item, indent=2)))
        first = False
    out.write("[]\n" if first else "\n]\n")


def _indented(text: str) -> str:
    # JSON text holds no raw newline inside strings, so every line can be shifted safely.
    return "  " + text.replace("\n", "\n  ")


def write_jsonl(items: Iterable[Any], out: TextIO) -> None:
    for item in items:
        out.write(json.dumps(item))
        out.write("\n")


def columns_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of ``rows``, in the order first seen (entries: the spec's fields first)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def csv_writer(out: TextIO, columns: Sequence[str]) -> Any:
    """A ``csv.writer`` on ``out`` that has written the header row."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    return writer


def csv_row(row: dict[str, Any], columns: Sequence[str]) -> list[str]:
    """Cells of ``row``: text as is, None and missing keys empty, anything else as JSON."""
    return [_cell(row.get(column)) for column in columns]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def write_csv(
    rows: Iterable[dict[str, Any]],
    out: TextIO,
    empty_columns: Sequence[str] = (),
    *,
    first_rows: int = FIRST_ROWS,
    later_columns: Sequence[str] = (),
) -> list[str]:
    """A header and the rows, written as they come, in memory bounded by ``first_rows``.

    The header is the keys of the first ``first_rows`` rows in the order first seen (or
    ``empty_columns`` when there is no row); if more rows follow, ``later_columns`` (keys
    later rows may have) are added to it. A key of a later row that is not in the header has
    no column: those keys are returned, for the caller to warn.
    """
    stream = iter(rows)
    batch = list(itertools.islice(stream, max(first_rows, 1)))
    following = next(stream, None)
    columns = columns_of(batch) or list(empty_columns)
    if following is not None:
        columns.extend(column for column in later_columns if column not in columns)
    writer = csv_writer(out, columns)
    for row in batch:
        writer.writerow(csv_row(row, columns))
    if following is None:
        return []
    batch.clear()
    known = set(columns)
    left_out: dict[str, None] = {}
    for row in itertools.chain((following,), stream):
        if not known.issuperset(row):
            left_out.update(dict.fromkeys(key for key in row if key not in known))
        writer.writerow(csv_row(row, columns))
    return list(left_out)
