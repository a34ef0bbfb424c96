"""Pure functions over the bytes of a JSON-array telemetry file.

They decide where the next entry goes without parsing the file: the canonical layout is one
entry per line (``[\\n{...},\\n{...}\\n]\\n``), and an append overwrites the closing bracket with
``,\\n<entry>\\n]\\n``. The fast-path rules below are strict enough that no state a killed writer
can leave behind passes them (see ``plan_fast_append``); anything else takes the slow path,
which parses before it writes.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, NamedTuple

WHITESPACE = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
CLOSE = b"\n]\n"


@functools.cache
def _torn_after_entry() -> re.Pattern[bytes]:
    # Compiled on first use: only a file whose tail needs a look (not every append) uses it.
    return re.compile(rb"[ \t\r\n]*,?[ \t\r\n]*\]?[ \t\r\n]*\Z")


_DECODER = json.JSONDecoder()


class AppendPlan(NamedTuple):
    """Write ``separator + entry + CLOSE`` at ``offset``; nothing before ``offset`` changes.
    (A NamedTuple, not a dataclass: a capture, a fresh process on the command line, must not
    import dataclasses.)"""

    offset: int
    separator: bytes


def head_index(head: bytes) -> int | None:
    """Offset of the first meaningful byte (after a BOM and whitespace), None if there is none."""
    start = len(BOM) if head.startswith(BOM) else 0
    stripped = head[start:].lstrip(WHITESPACE)
    return None if not stripped else len(head) - len(stripped)


def plan_fast_append(tail: bytes, tail_start: int, head: int) -> AppendPlan | None:
    """Plan an O(1) append from the file's last bytes, or None when the slow path must decide.

    Accepted: ``<last value>`` + whitespace holding exactly one newline + ``]`` + whitespace,
    where the last value is ``}`` or the array's own ``[``. The write starts right after that
    value. Why this is safe: a killed append leaves ``,`` right before a ``]`` (first bytes
    written), or a ``]`` that is not first on its line (a partial entry line), or no ``]`` at
    all; the only other state is the finished one. Each is refused here.
    """
    body = tail.rstrip(WHITESPACE)
    if not body.endswith(b"]"):
        return None
    bracket = len(body) - 1
    before = body[:bracket].rstrip(WHITESPACE)
    if not before or body.count(b"\n", len(before), bracket) != 1:
        return None
    last = len(before) - 1
    if before[last] == ord("}"):
        return AppendPlan(tail_start + last + 1, b",\n")
    if before[last] == ord("[") and tail_start + last == head:
        return AppendPlan(tail_start + last + 1, b"\n")
    return None


def torn_cut(tail: bytes, tail_start: int, head: int) -> int | None:
    """Where a file whose tail one of our appends left behind should end, or None if unsure.

    Returns the offset just after the last complete entry (or after ``[`` when there is none).
    Relies on our appends writing each entry as one line that starts at column 0 with ``{``;
    without such a line in the tail, the caller parses the file instead.
    """
    body = tail.rstrip(WHITESPACE)
    line_start = body.rfind(b"\n{") + 1
    if line_start == 0:
        return None
    return _cut_at_entry_line(body, line_start, tail_start, head)


def _cut_at_entry_line(body: bytes, line_start: int, tail_start: int, head: int) -> int | None:
    line = body[line_start:]
    try:
        parsed = decode_prefix(line)
    except RecursionError:  # too deep to tell where it ends, or whether it is complete
        return None
    if parsed is not None:
        # An append writes ",\n<entry>\n]\n" over the "\n]\n" after the last entry; cut short,
        # it leaves at most a "," and one "]" after that entry, in that order. Anything more
        # (a second "]": "[...]\n]\n") is not ours to cut: the file is refused, untouched.
        return tail_start + line_start + parsed if _torn_after_entry().match(line, parsed) else None
    if b"\n" in line:  # a torn entry of ours is the last line: other lines follow this one
        return None
    return _cut_before_separator(body, line_start - 1, tail_start, head)


def _cut_before_separator(body: bytes, end: int, tail_start: int, head: int) -> int | None:
    before = body[:end].rstrip(WHITESPACE)
    if before.endswith(b","):
        if before[:-1].rstrip(WHITESPACE).endswith(b"}"):
            return tail_start + len(before) - 1
        return None
    if before.endswith(b"[") and tail_start + len(before) - 1 == head:
        return head + 1
    return None


def decode_prefix(line: bytes) -> int | None:
    """Byte length of the JSON object at the start of ``line``, or None if it is incomplete."""
    text = line.decode("utf-8", "surrogateescape")
    try:
        _, end = _DECODER.raw_decode(text)  # text starts with "{": a dict or an error
    except ValueError:
        return None
    return end if text.isascii() else len(text[:end].encode("utf-8", "surrogateescape"))


def parse_entry_line(line: bytes) -> dict[str, Any] | None:
    """The entry on one canonical line (trailing ``,`` or ``]`` allowed), None if not complete."""
    body = line.strip(WHITESPACE).rstrip(b", \t\r\n]")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # nested past what Python's reader can follow
        return None
    return value if isinstance(value, dict) else None


def values_on_line(line: bytes) -> list[Any] | None:
    """The JSON values on one line of an array (``{...}, {...},``), None if it holds none."""
    body = line.strip(WHITESPACE).rstrip(b", \t\r\n")
    try:
        values = json.loads(b"[" + body + b"]")
    except (ValueError, RecursionError):
        return None
    return values if body and isinstance(values, list) else None
