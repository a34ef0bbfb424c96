"""An encoded entry as a row of ``entries``: its body and the columns filters look at.

A column holds a value only when SQL can then judge it exactly as ``EntryFilter.matches`` and
``compute_stats`` judge the stored value; anything else marks the row ``odd`` (see
schema.py), and readers judge it from its body. Runs on every capture: the usual entry (our
own: ASCII names, a canonical timestamp, a float duration) takes ``_plain_row``, a few
type tests, and only anything else the full examination.
"""

from __future__ import annotations

import json
from typing import Any

from betty_telemetry.model.times import canonical_timestamp, is_canonical
from betty_telemetry.stores.base import Encoded

Row = tuple[Any, ...]

EXACT_INTEGERS = 2**53
"""Integers up to this size convert to REAL exactly, so SQL compares them as Python does."""
HUGE_DURATION = 1e300
"""Beyond this, an exact sum of durations may overflow a float: compute_stats raises then,
and the statistics of such rows are left to it."""
_PLAIN = (str, float, int, bool, type(None), dict, list)


def row_of(encoded: Encoded) -> Row:
    """The row to insert for ``encoded`` (see schema.INSERT for the order)."""
    return _plain_row(encoded.entry, encoded.line) or _examined_row(encoded.entry, encoded.line)


def _plain_row(entry: dict[str, Any], line: bytes) -> Row | None:
    """The row of an entry as our pipeline builds it, or None for anything else."""
    get = entry.get
    stamp, skill, status, caller = get("timestamp"), get("skill"), get("status"), get("caller")
    duration, trace_id, message = get("duration_ms"), get("trace_id"), get("error_message")
    span_id = get("span_id")
    if not (
        type(stamp) is str
        and type(skill) is str
        and type(status) is str
        and type(caller) is str
        and type(duration) is float
        and -HUGE_DURATION <= duration <= HUGE_DURATION  # False for NaN too
        and (trace_id is None or type(trace_id) is str)
        and (span_id is None or type(span_id) is str)
        and (message is None or type(message) is str)
        and get("error") is None
        # An ASCII line spells NUL and surrogates as escapes: without any, every text in it is
        # one SQL stores and compares exactly (see ``storable``). An emoji's escaped pair
        # takes the long way round, correctly.
        and line.isascii()
        and b"\\u0000" not in line
        and b"\\ud" not in line
        and b"\\uD" not in line
        and is_canonical(stamp)
    ):
        return None
    body = line.decode("ascii")
    return (body, stamp, None, skill, status, duration, caller, trace_id, message, span_id, 0)


def _examined_row(entry: dict[str, Any], line: bytes) -> Row:
    # The entry as built holds the values its line encodes; a value of another type (a str
    # subclass, say) might encode differently, so then the line itself is read back.
    get = entry.get
    values = [get(name) for name in ("timestamp", "skill", "status", "duration_ms", "caller")]
    trace_id, message, legacy = get("trace_id"), get("error_message"), get("error")
    span_id = get("span_id")
    if any(type(value) not in _PLAIN for value in (*values, trace_id, message, legacy, span_id)):
        entry = json.loads(line)
        get = entry.get
        values = [get(name) for name in ("timestamp", "skill", "status", "duration_ms", "caller")]
        trace_id, message, legacy = get("trace_id"), get("error_message"), get("error")
        span_id = get("span_id")
    stamp, skill, status, duration, caller = values
    moment: str | None
    if type(stamp) is str and is_canonical(stamp):
        moment, stamp_column, odd_stamp = stamp, None, False
    else:  # a stamp that is not text is no time to filters or statistics: NULL says the same
        moment = canonical_timestamp(stamp)
        stamp_column, odd_stamp = _text(stamp if type(stamp) is str else None)
    skill_column, odd_skill = _text(skill)
    status_column, odd_status = _text(status)
    caller_column, odd_caller = _text(caller)
    duration_column, odd_duration = _duration(duration)
    # A trace id or error message that is not text is no trace id or message to the filters
    # either: NULL says the same.
    trace_column, odd_trace = _text(trace_id if type(trace_id) is str else None)
    error = message if type(message) is str else legacy if type(legacy) is str else None
    error_column, odd_error = _text(error)
    # Only a span id that is text ties entries into a run (model.runs); one SQL cannot hold
    # exactly is left to the readers, who apply the rule themselves.
    span_column, odd_span = _text(span_id if type(span_id) is str else None)
    odd = odd_stamp or odd_skill or odd_status or odd_caller or odd_duration or odd_span
    body: str | bytes = line.decode("ascii") if line.isascii() else line
    return (
        body,
        moment,
        stamp_column,
        skill_column,
        status_column,
        duration_column,
        caller_column,
        trace_column,
        error_column,
        span_column,
        1 if odd or odd_trace or odd_error else 0,
    )


def _text(value: object) -> tuple[str | None, bool]:
    """The TEXT column for a stored value, and whether the row must be odd: a value that is
    neither missing, null nor text SQL handles exactly (see ``storable``) is odd."""
    if value is None:
        return None, False
    if type(value) is str and storable(value):
        return value, False
    return None, True


def storable(value: object) -> bool:
    """Text SQLite stores and compares as Python does: encodable as UTF-8 (no lone
    surrogates), and without NUL (GLOB and instr stop at one). None passes."""
    if type(value) is not str:
        return value is None
    if value.isascii():
        return "\0" not in value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\0" not in value


def _duration(value: object) -> tuple[float | None, bool]:
    """The REAL column for a stored duration, and whether the row must be odd.

    Only ints and floats are durations (compute_stats and min_duration_ms skip the rest, bools
    too): those go to the column, NaN as NULL (both skip it). Infinities, floats beyond
    HUGE_DURATION and ints beyond EXACT_INTEGERS make the row odd.
    """
    if type(value) is float:
        if value != value:
            return None, False
        return (value, False) if -HUGE_DURATION <= value <= HUGE_DURATION else (None, True)
    if type(value) is int:
        if -EXACT_INTEGERS <= value <= EXACT_INTEGERS:
            return float(value), False
        return None, True
    return None, False
