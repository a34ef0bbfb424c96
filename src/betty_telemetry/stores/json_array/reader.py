"""Reading a JSON-array telemetry file newest first, fast and in bounded memory.

The file is read backwards in blocks that grow from 64 KiB to 1 MiB, so a query that needs the
last few entries reads little, and a full scan holds at most one block and one batch of lines.
Lines in our layout (one entry per line) are tested on their bytes first (see ``LineTest``),
then the survivors are parsed many at a time: one ``json.loads`` over a batch of lines costs
far less than one call per line. Regions written by other tools (indented arrays) are parsed
whole with ``scan_array``; such files are rewritten whole by their writers, so they stay small.
A line that is not an entry between lines of ours is damage (see ``_damage``): it is skipped
and noted, and reading goes on line by line.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.stores._damage import (
    Damage,
    entries_or_damage,
    follows_an_entry,
    line_damage,
    note_damage_after_the_content,
)
from betty_telemetry.stores._describe import TOO_DEEP, kind_of
from betty_telemetry.stores._errors import CorruptStoreError
from betty_telemetry.stores._line_test import KEEP, STOP, LineTest
from betty_telemetry.stores._snapshot import Snapshot
from betty_telemetry.stores.json_array.scan import scan_array
from betty_telemetry.stores.json_array.text import (
    WHITESPACE,
    head_index,
    parse_entry_line,
    values_on_line,
)

HEAD_BYTES = 64
FIRST_BLOCK_BYTES = 1 << 14
MAX_BLOCK_BYTES = 1 << 20
_IGNORED_LINES = (b"", b"]", b",")
# A line that starts like none of ours: another tool's layout, whose entries span lines (a
# needle may sit in another block than the entry's end), so such blocks are never passed over.
_OTHER_LAYOUT = re.compile(rb"\n[^{\n\r\],]")
_LINE_END = b", \t\r"
_AFTER_SUMMARY = b', "inputs": '


def read_newest_first(
    path: str,
    snapshot: Snapshot,
    test: LineTest | None = None,
    *,
    summaries: bool = False,
    damage: Damage | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the entries of ``snapshot`` newest first, as stored; with ``test``, only lines it
    keeps. With ``summaries``, entries in our layout hold only their SUMMARY_FIELDS.

    A torn last line (an interrupted append) is skipped. Damaged places (lines that are not
    entries, between entries) are skipped and noted in ``damage``, for the caller to report.
    Raises CorruptStoreError when the file is not a JSON array, and FileRewritten (from the
    snapshot) if another program rewrote it.
    """
    damage = Damage() if damage is None else damage
    head_bytes = snapshot.read(0, HEAD_BYTES)
    head = head_index(head_bytes)
    if head is None:
        return
    if head_bytes[head] != ord("["):
        raise CorruptStoreError(path, f"it starts with {kind_of(head_bytes[head:])}")
    note_damage_after_the_content(snapshot, damage)
    for block in _reverse_blocks(snapshot, test):
        # Bytes zeroed by a crash may leave a line's summary sound: parse such blocks whole.
        parse = _parse_summaries if summaries and not block.zeroed else _parse_lines
        candidates = block.entry_lines(head, snapshot, damage)
        if block.newest and candidates and parse_entry_line(candidates[-1]) is None:
            torn = candidates.pop()  # the partial line of an interrupted append
            if line_damage(torn) == TOO_DEEP:  # complete, but unreadable: say so
                damage.add(block.offset_of_line(torn), TOO_DEEP)
        if test is not None:
            candidates = block.apply(test, candidates)
        while candidates:
            entries, bad_line = parse(candidates)
            yield from entries
            if bad_line is None:
                break
            line_start = block.offset_of_line(bad_line)
            if not follows_an_entry(snapshot, line_start):
                # Not damage in our layout: another tool's, parsed from here back as a whole.
                yield from _legacy_newest_first(path, snapshot, block.end_of(bad_line), damage)
                return
            yield from entries_or_damage(bad_line, line_start, damage)
            candidates = candidates[: _index_of(candidates, bad_line)]
        if block.foreign_end is not None:
            yield from _legacy_newest_first(path, snapshot, block.foreign_end, damage)
        if block.finished:
            return


def _index_of(lines: list[bytes], line: bytes) -> int:
    return next(i for i, candidate in enumerate(lines) if candidate is line)


class _Block:
    """The complete lines of one block read from the file, in file order."""

    def __init__(self, start: int, data: bytes, *, newest: bool, first_line: int = 0) -> None:
        self.start = start  # the offset of lines[0]
        self.lines = data.split(b"\n")[first_line:]
        self.zeroed = b"\0" in data  # NUL bytes: about 1 ms per 40 MB to look for
        self.newest = newest  # the file's last lines: the only place a torn line can be
        self.finished = False  # nothing older than this block is wanted, or there is none
        self.foreign_end: int | None = None  # where a region in another layout ends
        self._offsets: list[int] | None = None

    def entry_lines(self, head: int, snapshot: Snapshot, damage: Damage) -> list[bytes]:
        """Lines in our layout newer than any line of another layout; notes where a foreign
        region ends, and lines that are damage between entries of ours."""
        lines = self.lines
        others = [index for index, line in enumerate(lines) if line[:1] != b"{"]
        if not others:
            return lines[:]
        first = 0
        kept: set[int] = set()  # values on a line that does not start with "{"
        for index in reversed(others):
            stripped = lines[index].strip(WHITESPACE)
            if stripped in _IGNORED_LINES:
                continue
            start = self.offset_of(index)
            if stripped != b"[" and follows_an_entry(snapshot, start):
                if values_on_line(stripped) is None:
                    damage.add(start, line_damage(lines[index]))
                else:
                    kept.add(index)
                continue
            self.finished = True
            if not (stripped == b"[" and start <= head):
                self.foreign_end = start + len(lines[index])
            first = index + 1
            break
        return [
            line
            for index, line in enumerate(lines[first:], first)
            if line[:1] == b"{" or index in kept
        ]

    def apply(self, test: LineTest, candidates: list[bytes]) -> list[bytes]:
        """The candidates ``test`` keeps; stops the scan at the newest line past its window."""
        verdicts = [test.verdict(line) for line in candidates]
        if STOP in verdicts:
            newest_stop = len(verdicts) - 1 - verdicts[::-1].index(STOP)
            candidates, verdicts = candidates[newest_stop + 1 :], verdicts[newest_stop + 1 :]
            self.finished = True
            self.foreign_end = None
        return [line for line, verdict in zip(candidates, verdicts, strict=True) if verdict == KEEP]

    def offset_of(self, index: int) -> int:
        if self._offsets is None:  # needed only where a line is not an entry
            sizes = (len(line) + 1 for line in self.lines)
            self._offsets = list(itertools.accumulate(sizes, initial=self.start))
        return self._offsets[index]

    def offset_of_line(self, line: bytes) -> int:
        return self.offset_of(_index_of(self.lines, line))

    def end_of(self, line: bytes) -> int:
        return self.offset_of_line(line) + len(line)


def _parse_lines(lines: list[bytes]) -> tuple[list[dict[str, Any]], bytes | None]:
    """The entries on ``lines`` (file order), newest first, and the newest line that is not
    an entry, if any (entries older than it are not returned).

    Lines in our layout end with a comma, but for the last line of the file: joined, they are
    the inside of a JSON array, parsed in one call.
    """
    if not lines:
        return [], None
    try:
        values = json.loads(b"[" + b"\n".join(lines).rstrip(_LINE_END) + b"]")
    except (ValueError, RecursionError):  # a line is not an entry, or nests too deep
        values = None
    if (
        values is not None
        and len(values) == len(lines)
        and all(type(value) is dict for value in values)
    ):
        values.reverse()
        return values, None
    entries: list[dict[str, Any]] = []
    for line in reversed(lines):
        entry = parse_entry_line(line)
        if entry is None:
            return entries, line
        entries.append(entry)
    return entries, None  # pragma: no cover - the batch failed, so some line must have


def _parse_summaries(lines: list[bytes]) -> tuple[list[dict[str, Any]], bytes | None]:
    """As ``_parse_lines``, but lines in our layout are cut before ``inputs``: parsing the
    five leading fields costs less than half of parsing the whole entry, which is what a full
    scan for statistics spends most of its time on. The rest of such a line is not looked at.

    ``, "inputs": `` cannot occur inside a JSON string (its quote would be escaped), so the
    first one ends the summary. A line whose keys come in another order is parsed whole. A
    line damaged past its summary fields is read as sound (blocks holding NUL bytes, left by a
    crash of the machine, are parsed whole instead: see ``read_newest_first``).
    """
    cut = [
        line[:at] + b"}" if (at := line.find(_AFTER_SUMMARY)) > 0 else line.rstrip(_LINE_END)
        for line in lines
    ]
    try:
        values = json.loads(b"[" + b",".join(cut) + b"]")
    except (ValueError, RecursionError):
        return _parse_lines(lines)
    if len(values) != len(lines):
        return _parse_lines(lines)
    for index, value in enumerate(values):
        if type(value) is not dict or tuple(value)[:5] != SUMMARY_FIELDS:
            whole = parse_entry_line(lines[index])
            if whole is None:
                return _parse_lines(lines)
            values[index] = whole
    values.reverse()
    return values, None


def _reverse_blocks(snapshot: Snapshot, test: LineTest | None) -> Iterator[_Block]:
    """The snapshot's complete lines, a block at a time, last block first.

    Blocks grow from 16 KiB to 1 MiB. With needles in ``test``, blocks without them are passed
    over without splitting their lines (the line that straddles a block's start is kept for
    the next block), unless they hold lines in another layout. Not with a time window: its
    stop must be found at the very line a full read would stop at, and such a read covers
    only the window anyway.
    """
    carry = b""
    pos = snapshot.content_end
    block_bytes = FIRST_BLOCK_BYTES
    newest = True
    while pos > 0:
        start = max(0, pos - block_bytes)
        block_bytes = min(block_bytes * 2, MAX_BLOCK_BYTES)
        data = snapshot.read(start, pos - start) + carry
        pos = start
        if start == 0:
            yield _Block(0, data, newest=newest)
            return
        first_break = data.find(b"\n")
        if first_break < 0:  # one line longer than the block: keep collecting it
            carry = data
            continue
        carry = data[:first_break]
        if not _can_pass_over(test, data, first_break):
            yield _Block(start + first_break + 1, data, newest=newest, first_line=1)
        newest = False


def _can_pass_over(test: LineTest | None, data: bytes, start: int) -> bool:
    """Whether no line of ``data[start:]`` can be wanted, seen from its bytes alone."""
    return (
        test is not None
        and bool(test.needles)
        and test.stop is None
        and not test.block_may_match(data, start)
        and not _OTHER_LAYOUT.search(data, start)
    )


def _legacy_newest_first(
    path: str, snapshot: Snapshot, end: int, damage: Damage
) -> Iterator[dict[str, Any]]:
    text = snapshot.read(0, end).decode("utf-8", "surrogateescape")
    scan = scan_array(text, open_end=True)
    if scan.problem is not None:  # pragma: no cover - the head was checked before
        raise CorruptStoreError(path, scan.problem)
    for at, what in scan.damaged:
        if scan.damaged_to_end and at == scan.damaged[-1][0] and end == snapshot.content_end:
            continue  # the file's last element, cut short: a torn write, as on our lines
        damage.add(len(text[:at].encode("utf-8", "surrogateescape")), what)
    for element in reversed(scan.elements):
        if isinstance(element, dict):
            yield element
