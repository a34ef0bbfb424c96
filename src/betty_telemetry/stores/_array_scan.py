"""Parsing a whole JSON array element by element, telling a torn tail from corruption.

Used where the line-per-entry layout cannot be relied on: arrays written by other tools
(indented, compact) and tails the fast rules in ``_array_text`` refuse. It parses in memory;
such regions are written by tools that rewrite the whole file on every capture, so they stay
small in practice, while everything we append is read line by line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from betty_telemetry.stores._describe import found_at, position_in

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


@dataclass
class ArrayScan:
    """What a scan of ``text`` found.

    ``end`` is the offset just after the last complete element (after ``[`` if none);
    ``closed`` says the array's ``]`` was found; ``problem`` describes corruption (the text is
    not a JSON array, or is damaged before its last line), in which case nothing may be cut.
    """

    elements: list[Any] = field(default_factory=list)
    end: int = 0
    closed: bool = False
    problem: str | None = None
    problem_at: int = 0


def scan_array(text: str, *, open_end: bool = False) -> ArrayScan:
    """Scan ``text``, a JSON array or a prefix of one.

    With ``open_end`` the text may stop after any element or separator (a region of a larger
    file); otherwise a missing ``]`` is reported as a torn tail (``closed`` False).
    """
    scan = ArrayScan()
    pos = _skip_ws(text, 1 if text.startswith("\ufeff") else 0)
    if pos >= len(text) or text[pos] != "[":
        return _corrupt(scan, text, pos, "expected '[' (the start of a JSON array)")
    scan.end = pos + 1
    pos = _skip_ws(text, pos + 1)
    while pos < len(text):
        if text[pos] == "]":
            return _close(scan, text, pos)
        try:
            value, after = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if open_end or _is_truncation(text, exc.pos):
                return scan
            return _corrupt(scan, text, exc.pos, exc.msg)
        scan.elements.append(value)
        scan.end = after
        pos = _skip_ws(text, after)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] != "]":
            return _corrupt(scan, text, pos, "expected ',' or ']' after an entry")
    return scan


def _close(scan: ArrayScan, text: str, pos: int) -> ArrayScan:
    if text[pos + 1 :].strip(_WS):
        return _corrupt(scan, text, _skip_ws(text, pos + 1), "data after the end of the array")
    scan.closed = True
    return scan


def _is_truncation(text: str, error_at: int) -> bool:
    # A writer killed mid-entry leaves an unclosed array whose damage is on its last line;
    # an error earlier, or a closed array, means the file is damaged, not torn.
    body = text.rstrip(_WS)
    return not body.endswith("]") and "\n" not in body[error_at:]


def _corrupt(scan: ArrayScan, text: str, pos: int, reason: str) -> ArrayScan:
    # Described, never quoted: the file may be a .env or a config holding secrets.
    at = " " if reason.endswith(" at") else " at "
    scan.problem = f"{reason}{at}{position_in(text, pos)}: found {found_at(text, pos)}"
    scan.problem_at = pos
    return scan


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos
