"""The ``entries`` view that SQL queries read: its columns, and the SQL that makes it.

Each store hands over its entries as JSON Lines files (``EntryFile``); DuckDB's own reader
(``read_json_objects``) reads each line as one JSON value, skipping lines that do not parse
(a damaged line, a torn last one), and each object is turned into typed columns with one more
parse (``json_transform``). Entries of any shape read: a field missing, or of another type
than the spec's, gives NULL (text fields take any JSON value as its text, as statistics group
them), so the original framework's legacy entries read as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from betty_telemetry.stores.base import EntryFile

VIEW = "entries"
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("timestamp", "TIMESTAMP WITH TIME ZONE", "when the run ended (NULL if not a time)"),
    ("skill", "VARCHAR", "skill, agent or workflow"),
    ("status", "VARCHAR", "success, failure, timeout, error, pending (legacy: failed)"),
    ("duration_ms", "DOUBLE", "milliseconds (NULL if not a number)"),
    ("caller", "VARCHAR", "who called it"),
    ("inputs", "JSON", "inputs, as stored"),
    ("error_message", "VARCHAR", "the error message (or the original framework's `error`)"),
    ("metadata", "JSON", "metadata, as stored"),
    ("trace_id", "VARCHAR", "the trace the run belongs to"),
    ("span_id", "VARCHAR", "the run's own id in the trace"),
    ("parent_id", "VARCHAR", "the span_id of the run that called it"),
    ("entry", "JSON", "the whole entry as stored, extra keys too: entry->>'execution_id'"),
    ("source", "VARCHAR", "the file it was read from: the store, or an archive"),
)
"""The view's columns: name, DuckDB type, meaning."""
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)

# One parse of each object into the fields, typed loosely: JSON where the type is checked
# after (a duration must be a JSON number: "12" or true is no duration, as in statistics).
_FIELDS = {
    "timestamp": "VARCHAR",
    "skill": "VARCHAR",
    "status": "VARCHAR",
    "duration_ms": "JSON",
    "caller": "VARCHAR",
    "inputs": "JSON",
    "error_message": "VARCHAR",
    "error": "VARCHAR",
    "metadata": "JSON",
    "trace_id": "VARCHAR",
    "span_id": "VARCHAR",
    "parent_id": "VARCHAR",
}
_NUMBERS = "('UBIGINT', 'BIGINT', 'HUGEINT', 'DOUBLE')"
_SELECT = f"""
SELECT
    TRY_CAST(e.timestamp AS TIMESTAMP WITH TIME ZONE) AS "timestamp",
    e.skill AS skill,
    e.status AS status,
    CASE WHEN json_type(e.duration_ms) IN {_NUMBERS}
        THEN TRY_CAST(e.duration_ms AS DOUBLE) END AS duration_ms,
    e.caller AS caller,
    e.inputs AS inputs,
    coalesce(e.error_message, e.error) AS error_message,
    e.metadata AS metadata,
    e.trace_id AS trace_id,
    e.span_id AS span_id,
    e.parent_id AS parent_id,
    entry,
    source
FROM (
    SELECT json_transform(json, {{fields}}) AS e, json AS entry, source
    FROM ({{files}})
    WHERE json_type(json) = 'OBJECT'
)
"""
MAX_LINE_BYTES = 64 << 20
"""The longest line read (DuckDB's default is 16 MiB; entries we write are cut to 64 KiB,
other tools' may be longer)."""


def create_view(files: Sequence[EntryFile]) -> str:
    """The statement that creates the ``entries`` view over ``files``."""
    select = _SELECT.format(fields=literal(json.dumps(_FIELDS)), files=_union(files))
    return f"CREATE VIEW {VIEW} AS {select}"


def _union(files: Sequence[EntryFile]) -> str:
    if not files:  # no entries anywhere: the view still has its columns
        return "SELECT CAST(NULL AS JSON) AS json, CAST(NULL AS VARCHAR) AS source WHERE false"
    return "\nUNION ALL\n".join(
        f"SELECT json, {literal(file.origin)} AS source FROM read_json_objects("
        f"{literal(file.path)}, format='newline_delimited', "
        f"compression='{'gzip' if file.compressed else 'uncompressed'}', ignore_errors=true, "
        f"maximum_object_size={MAX_LINE_BYTES})"
        for file in files
    )


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def describe_columns() -> str:
    """The view's columns, for error messages: ``timestamp (TIMESTAMP WITH TIME ZONE), ...``."""
    return ", ".join(f"{name} ({kind})" for name, kind, _ in COLUMNS)
