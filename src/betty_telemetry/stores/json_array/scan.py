"""Parsing a whole JSON array element by element, telling a torn tail from corruption.

Used where the line-per-entry layout cannot be relied on: arrays written by other tools
(indented, compact) and tails the fast rules in ``_array_text`` refuse. It parses in memory;
such regions are written by tools that rewrite the whole file on every capture, so they stay
small in practice, while everything we append is read line by line.

Two modes. A writer (strict) must know the file is an array before it appends: any damage is
a problem, and nothing may be cut. A reader (``open_end``) reads a region of the file and
must never lose the good entries to a damaged one: it notes the damage, goes on at the next
line where an element starts at the same indentation as the others, and reads on.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from betty_telemetry.stores._describe import (
    AFTER_THE_END,
    MISSING_COMMA,
    TOO_DEEP,
    found_at,
    position_in,
)

_DECODER = json.JSONDecoder()
_WS = " \t\r\n"
_ANY_ELEMENT_LINE = re.compile(r"\n[ \t]*\{")


@dataclass
class ArrayScan:
    """What a scan of ``text`` found.

    ``end`` is the offset just after the last complete element (after ``[`` if none);
    ``closed`` says the array's ``]`` was found; ``problem`` describes corruption (the text is
    not a JSON array, or is damaged before its last line), in which case nothing may be cut.
    ``damaged`` (open_end only): where damaged stretches start and what they hold;
    ``damaged_to_end``: the last one runs to the end of the text (it may be a torn element).
    """

    elements: list[Any] = field(default_factory=list)
    end: int = 0
    closed: bool = False
    problem: str | None = None
    problem_at: int = 0
    damaged: list[tuple[int, str]] = field(default_factory=list)
    damaged_to_end: bool = False


def scan_array(text: str, *, open_end: bool = False) -> ArrayScan:
    """Scan ``text``, a JSON array or a prefix of one.

    With ``open_end`` the text may stop after any element or separator (a region of a larger
    file), and damage is noted in ``damaged`` and passed over; otherwise a missing ``]`` is
    reported as a torn tail (``closed`` False), and damage as the ``problem``.
    """
    scan = ArrayScan()
    pos = _skip_ws(text, 1 if text.startswith("\ufeff") else 0)
    if pos >= len(text) or text[pos] != "[":
        return _corrupt(scan, text, pos, "expected '[' (the start of a JSON array)")
    scan.end = pos + 1
    pos = _skip_ws(text, pos + 1)
    indent: int | None = None  # the column elements start at, once known
    while pos < len(text):
        if text[pos] == "]":
            return _close(scan, text, pos, open_end)
        try:
            value, after = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if not open_end:
                if _is_truncation(text, exc.pos):
                    return scan
                return _corrupt(scan, text, exc.pos, exc.msg)
            indent = _column_if_first_on_line(text, pos) if indent is None else indent
            pos = _pass_over(scan, text, pos, pos + 1, indent)
            continue
        except RecursionError:  # valid JSON perhaps, but Python cannot read it: never cut
            if not open_end:
                return _corrupt(scan, text, pos, TOO_DEEP)
            indent = _column_if_first_on_line(text, pos) if indent is None else indent
            pos = _pass_over(scan, text, pos, pos + 1, indent, TOO_DEEP)
            continue
        scan.elements.append(value)
        scan.end = after
        if indent is None:
            indent = _column_if_first_on_line(text, pos)
        pos = _skip_ws(text, after)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] != "]":
            if not open_end:
                return _corrupt(scan, text, pos, "expected ',' or ']' after an entry")
            # A missing "," loses nothing: the entry after it is read.
            what = MISSING_COMMA if text[pos] == "{" else ""
            pos = _pass_over(scan, text, pos, pos, indent, what)
    return scan


def _pass_over(
    scan: ArrayScan, text: str, damage: int, search_from: int, indent: int | None, what: str = ""
) -> int:
    """Note damage at ``damage``; return where the next element starts (or the text's end)."""
    scan.damaged.append((damage, what or found_at(text, damage)))
    resume = _next_element(text, search_from, indent)
    scan.damaged_to_end = resume >= len(text)
    return resume


def _next_element(text: str, start: int, indent: int | None) -> int:
    """The first ``{`` at or after ``start`` that starts a line, after ``indent`` blanks if
    the elements' column is known (nested objects are indented deeper)."""
    pattern = _ANY_ELEMENT_LINE if indent is None else _element_line(indent)
    line_start = text.rfind("\n", 0, start)
    match = pattern.search(text, line_start if line_start >= 0 else start)
    while match is not None and match.end() - 1 < start:
        match = pattern.search(text, match.end())
    return len(text) if match is None else match.end() - 1


@functools.lru_cache(maxsize=16)
def _element_line(indent: int) -> re.Pattern[str]:
    return re.compile(r"\n[ \t]{" + str(indent) + r"}\{")


def _column_if_first_on_line(text: str, pos: int) -> int | None:
    line_start = text.rfind("\n", 0, pos) + 1
    blanks = text[line_start:pos]
    return len(blanks) if line_start > 0 and not blanks.strip(" \t") else None


def _close(scan: ArrayScan, text: str, pos: int, open_end: bool) -> ArrayScan:
    after = _skip_ws(text, pos + 1)
    if after < len(text):
        if not open_end:
            return _corrupt(scan, text, after, AFTER_THE_END)
        scan.damaged.append((after, AFTER_THE_END))
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
