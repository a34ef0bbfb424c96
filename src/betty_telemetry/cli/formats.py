"""Machine output of the read commands: a JSON array, JSON Lines, or CSV.

JSON output is written as items arrive, so ``query --all --json`` over a large file never
holds every entry; the array is byte for byte ``json.dumps(items, indent=2)``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMATS = ("json", "jsonl", "csv")


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
    rows: Sequence[dict[str, Any]], out: TextIO, empty_columns: Sequence[str] = ()
) -> None:
    """A header (the rows' keys, or ``empty_columns`` when there is no row) and the rows."""
    columns = columns_of(rows) or list(empty_columns)
    writer = csv_writer(out, columns)
    for row in rows:
        writer.writerow(csv_row(row, columns))
