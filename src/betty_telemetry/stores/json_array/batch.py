"""Parsing entry lines many at a time, with the result each line would give alone.

A full scan spends most of its time in ``json.loads``; one call over a batch of lines costs far
less than one call per line, so readers parse a block's lines together. What a line yields must
not depend on which lines share its batch: the newest-first and the oldest-first readers cut the
file into different blocks, and must give the same entries in the same form. So a batch that
fails (a damaged line in it) is split in halves until the lines that are not entries stand
alone, and every other line still gets what the batch would have given it.
"""

from __future__ import annotations

import json
from typing import Any

from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.model.runs import PENDING_MARK
from betty_telemetry.stores.json_array.text import parse_entry_line

_LINE_END = b", \t\r"
_AFTER_SUMMARY = b', "inputs": '
_SMALLEST_BATCH = 8  # below this, lines are parsed one by one

Parsed = list[dict[str, Any] | None]


def parse_each(lines: list[bytes], *, summaries: bool = False, zeroed: bool = True) -> Parsed:
    """The entry on each line of ``lines`` (file order), or None where a line does not hold
    exactly one entry. With ``summaries``, see ``summary_of``. ``zeroed=False`` promises that
    no line holds a NUL byte (the reader checked its whole block at once, which is cheaper).
    """
    if not lines:
        return []
    values = _all_summaries(lines, zeroed) if summaries else _all_entries(lines)
    if values is not None:
        return values
    if len(lines) <= _SMALLEST_BATCH:
        return [parse_one(line, summaries=summaries) for line in lines]
    middle = len(lines) // 2
    return parse_each(lines[:middle], summaries=summaries, zeroed=zeroed) + parse_each(
        lines[middle:], summaries=summaries, zeroed=zeroed
    )


def parse_one(line: bytes, *, summaries: bool = False) -> dict[str, Any] | None:
    """As ``parse_each`` on one line."""
    return summary_of(line) if summaries else parse_entry_line(line)


def summary_of(line: bytes) -> dict[str, Any] | None:
    """The entry on ``line``, cut before ``inputs`` where that is sound, else whole.

    Parsing the five leading fields costs less than half of parsing the whole entry, which is
    what a full scan for statistics spends most of its time on. ``, "inputs": `` cannot occur
    inside a JSON string (its quote would be escaped), so the first one ends the summary. A line
    whose keys come in another order is parsed whole, and so is a line holding NUL bytes: a
    crash of the machine zeroed part of it, perhaps past a summary that still reads as sound.
    The rest of a cut line is not looked at: damage past its summary goes unnoticed.
    """
    at = line.find(_AFTER_SUMMARY)
    if at > 0 and b"\0" not in line and PENDING_MARK not in line:
        value = _loads(line[:at] + b"}")
        if type(value) is dict and tuple(value)[:5] == SUMMARY_FIELDS:
            return value
    return parse_entry_line(line)


def _all_entries(lines: list[bytes]) -> Parsed | None:
    # Lines in our layout end with a comma, but for the file's last: joined, they are the
    # inside of a JSON array.
    values = _loads(b"[" + b"\n".join(lines).rstrip(_LINE_END) + b"]")
    if (
        type(values) is list
        and len(values) == len(lines)
        and all(type(value) is dict for value in values)
    ):
        return values
    return None


def _all_summaries(lines: list[bytes], zeroed: bool) -> Parsed | None:
    """As ``summary_of`` on each line, in one call; None if some line is not one entry."""
    if zeroed and any(b"\0" in line for line in lines):
        return None  # split until that line stands alone: it must be parsed whole
    cut = [
        line[:at] + b"}"
        if (at := line.find(_AFTER_SUMMARY)) > 0 and PENDING_MARK not in line
        else line.rstrip(_LINE_END)  # whole: a pending entry, or the final replacing one
        for line in lines
    ]
    values = _loads(b"[" + b",".join(cut) + b"]")
    if type(values) is not list or len(values) != len(lines):
        return None
    for index, value in enumerate(values):
        if type(value) is not dict or tuple(value)[:5] != SUMMARY_FIELDS:
            whole = parse_entry_line(lines[index])
            if whole is None:
                return None
            values[index] = whole
    return values


def _loads(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python can follow
        return None
