"""Damaged places inside a telemetry file: told apart from other layouts, and reported.

An append looks only at the file's last bytes, so it cannot see damage before them (a line of
garbage, bytes zeroed by a crash of the machine, an entry cut short by hand): captures go on,
and readers meet it. A reader skips each damaged place, reads every other entry, and says
once per read which file, how many places, and where the first one is, quoting none of it.

In our layout every entry is one line, so a line that is not an entry, right after a line that
is one, is damage. A line that is not an entry after lines in another layout (an indented
array the original framework rewrote) belongs to that layout, which is parsed as a whole.
"""

from __future__ import annotations

import json
import os
from typing import Any

from betty_telemetry._config import logger
from betty_telemetry.stores._describe import AFTER_THE_END, CUT_SHORT, TOO_DEEP, is_binary, kind_of
from betty_telemetry.stores._snapshot import Snapshot
from betty_telemetry.stores.json_array.text import WHITESPACE, parse_entry_line, values_on_line

# How far back to look for the line before a suspect one: an entry line is at most 64 KiB.
_LOOK_BACK = (8 * 1024, 256 * 1024)
_COUNT_BYTES = 1 << 20
LINE_LIMIT = 128 * 1024  # longer than any entry line (entries are cut to 64 KiB)


class Damage:
    """The damaged places one read met (byte offset -> what is there), for one warning."""

    def __init__(self) -> None:
        self.places: dict[int, str] = {}

    def add(self, offset: int, what: str) -> None:
        self.places.setdefault(offset, what)

    def report(self, path: str, fd: int) -> None:
        """Log one warning if anything was met; ``fd`` is the file, to count lines in."""
        if not self.places:
            return
        offset = min(self.places)
        line, column = _line_and_column(fd, offset)
        where = f"line {line}, column {column} (byte offset {offset}): {self.places[offset]}"
        if len(self.places) == 1:
            found = f"a damaged line that is not a telemetry entry, at {where}"
            fix = "delete that line"
        else:
            found = (
                f"{len(self.places)} damaged lines that are not telemetry entries, "
                f"the first at {where}"
            )
            fix = "delete those lines"
        logger.warning(
            "%s: skipped %s. Every other entry was read. Captures still append to the file; "
            "to clean it, %s (each entry is one line) or move the file aside",
            path,
            found,
            fix,
        )


def line_damage(line: bytes) -> str:
    """What is wrong with a line that is not an entry (never any of its bytes)."""
    stripped = line.strip(WHITESPACE)
    if stripped[:1] != b"{":
        return kind_of(stripped)
    try:
        json.loads(stripped.rstrip(b", \t\r\n]"))
    except RecursionError:
        return TOO_DEEP
    except ValueError:
        pass
    return "binary data" if is_binary(stripped) else CUT_SHORT


def follows_an_entry(snapshot: Snapshot, line_start: int) -> bool:
    """Whether the nearest line before ``line_start`` that is not blank, a separator or
    damage itself is a complete entry line of ours (then the line at ``line_start`` is damage
    in our layout). False when it is another layout's, or none is found near enough: the
    caller then parses the region as a whole, which is always right, only slower."""
    for window in _LOOK_BACK:
        start = max(0, line_start - window)
        lines = snapshot.read(start, line_start - start).split(b"\n")
        if start > 0:
            lines = lines[1:]  # cut by the window's start
        for line in reversed(lines):
            stripped = line.strip(WHITESPACE)
            if stripped in (b"", b",", b"]"):
                continue
            if stripped == b"[":
                return False
            if line[:2] == b'{"' and stripped.endswith(b",") and parse_entry_line(line):
                return True
        if start == 0:
            return False
    return False


def entries_or_damage(line: bytes, line_start: int, damage: Damage) -> list[dict[str, Any]]:
    """The entries, newest first, on a line between entries of ours that is not one entry:
    several on one line (another tool's compact layout), or none (damage, noted)."""
    values = values_on_line(line)
    if values is None:
        damage.add(line_start, line_damage(line))
        return []
    values.reverse()
    return [value for value in values if type(value) is dict]


def note_damage_after_the_content(snapshot: Snapshot, damage: Damage) -> None:
    """Note what follows the last complete entry, if no append can have left it.

    An append cut short leaves at most a ``,``, one ``]``, and a partial entry as the file's
    last line (so do other tools' torn rewrites: a partial last line). Readers skip that
    quietly. Anything more is damage: data after the closing bracket (readers read on,
    writers refuse the file), or a line followed by more lines. After a ``]`` only below our
    layout's last line or an indented object's end: in a compact array, ``]]`` may close a
    nested array.
    """
    end = snapshot.content_end
    after = snapshot.read(end, min(snapshot.size - end, LINE_LIMIT))
    pos = _skip_blanks(after, 0)
    if after[pos : pos + 1] == b",":
        pos = _skip_blanks(after, pos + 1)
    if after[pos : pos + 1] == b"]":
        extra = _skip_blanks(after, pos + 1)
        if extra < len(after) and _last_line_start(snapshot, end) in (b"{", b"}"):
            damage.add(end + extra, AFTER_THE_END)
    elif b"\n" in after[pos:].rstrip(WHITESPACE):  # not a partial last line: lines follow it
        damage.add(end + pos, line_damage(after[pos : after.index(b"\n", pos)]))


def _last_line_start(snapshot: Snapshot, end: int) -> bytes:
    """The first byte, after blanks, of the line that ends at ``end``."""
    for window in (4096, LINE_LIMIT):
        before = snapshot.read(max(0, end - window), min(end, window))
        newline = before.rfind(b"\n")
        if newline >= 0 or window >= end:
            return before[newline + 1 :].lstrip(WHITESPACE)[:1]
    return b""


def _skip_blanks(data: bytes, pos: int) -> int:
    return len(data) - len(data[pos:].lstrip(WHITESPACE))


def _line_and_column(fd: int, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in bytes) of ``offset``. Bytes before the end of the last
    entry never change under an append, so they are counted without the lock."""
    newlines = 0
    last_newline = -1
    position = 0
    while position < offset:
        data = os.pread(fd, min(_COUNT_BYTES, offset - position), position)
        if not data:
            break
        newlines += data.count(b"\n")
        found = data.rfind(b"\n")
        if found >= 0:
            last_newline = position + found
        position += len(data)
    return newlines + 1, offset - last_newline
