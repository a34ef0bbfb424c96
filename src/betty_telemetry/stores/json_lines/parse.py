"""Entry lines to entries, many at a time.

One ``json.loads`` over ``[`` + the lines joined by ``,`` + ``]`` costs far less than a call
per line; only when that fails (a damaged line among them) are lines parsed one by one, by the
reader, which then knows which line to report.
"""

from __future__ import annotations

import json
from typing import Any

from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.model.runs import PENDING_MARK

_AFTER_SUMMARY = b', "inputs": '


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The entry on one line, None if the line is not one JSON object."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python can read
        return None
    return value if type(value) is dict else None


def parse_lines(lines: list[bytes]) -> list[dict[str, Any]] | None:
    """The entries on ``lines`` (blank lines left out), in order, or None if some line is not
    one JSON object."""
    try:
        values: list[dict[str, Any]] = json.loads(b"[" + b",".join(lines) + b"]")
    except (ValueError, RecursionError):
        return None
    # A line holding two objects ("{...}, {...}") gives one value too many: not an entry line.
    if len(values) != len(lines) or not all(type(value) is dict for value in values):
        return None
    return values


def parse_summaries(lines: list[bytes]) -> list[dict[str, Any]] | None:
    """As ``parse_lines``, but our lines are cut before ``inputs``: parsing the five leading
    fields costs less than half of parsing the whole entry, which is most of a full scan for
    statistics. ``, "inputs": `` cannot occur inside a JSON string (its quote would be
    escaped), so the first one ends the summary; a line whose keys come in another order is
    parsed whole. A line damaged after its summary reads as sound (the reader parses blocks
    holding NUL bytes, which a crash of the machine leaves, whole instead)."""
    cut = [
        line[:at] + b"}"
        if (at := line.find(_AFTER_SUMMARY)) > 0 and PENDING_MARK not in line
        else line  # whole: a pending entry, or the final replacing one (model.runs)
        for line in lines
    ]
    values = parse_lines(cut)
    if values is None:
        return parse_lines(lines)
    for index, value in enumerate(values):
        if tuple(value)[:5] != SUMMARY_FIELDS:
            whole = parse_line(lines[index])
            if whole is None:
                return None
            values[index] = whole
    return values
