"""Reading a JSON-array telemetry file newest first, fast and in bounded memory.

The file is read backwards in blocks that grow from 64 KiB to 1 MiB, so a query that needs the
last few entries reads little, and a full scan holds at most one block and one batch of lines.
Lines in our layout (one entry per line) are tested on their bytes first (see ``LineTest``),
then the survivors are parsed many at a time (see ``batch``). Regions written by other tools
(indented arrays) are parsed whole with ``scan_array``; such files are rewritten whole by their
writers, so they stay small.
A line that is not an entry between lines of ours is damage (see ``_damage``): it is skipped
and noted, and reading goes on line by line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

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
from betty_telemetry.stores.json_array.batch import parse_each
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
    head = array_head(path, snapshot)
    if head is None:
        return
    note_damage_after_the_content(snapshot, damage)
    for block in _reverse_blocks(snapshot, test):
        candidates = block.entry_lines(head, snapshot, damage)
        if block.newest and candidates and parse_entry_line(candidates[-1]) is None:
            torn = candidates.pop()  # the partial line of an interrupted append
            if line_damage(torn) == TOO_DEEP:  # complete, but unreadable: say so
                damage.add(block.offset_of_line(torn), TOO_DEEP)
        if test is not None:
            candidates = block.apply(test, candidates)
        parsed = parse_each(candidates, summaries=summaries, zeroed=block.zeroed)
        for line, entry in zip(reversed(candidates), reversed(parsed), strict=True):
            if entry is not None:
                yield entry
                continue
            line_start = block.offset_of_line(line)
            if not follows_an_entry(snapshot, line_start):
                # Not damage in our layout: another tool's, parsed from here back as a whole.
                yield from reversed(legacy_entries(path, snapshot, block.end_of(line), damage))
                return
            yield from entries_or_damage(line, line_start, damage)
        if block.foreign_end is not None:
            yield from reversed(legacy_entries(path, snapshot, block.foreign_end, damage))
        if block.finished:
            return


def array_head(path: str, snapshot: Snapshot) -> int | None:
    """The offset of the array's ``[``, None if the file holds nothing but blanks.

    Raises CorruptStoreError when the file holds something else than a JSON array.
    """
    head_bytes = snapshot.read(0, HEAD_BYTES)
    head = head_index(head_bytes)
    if head is not None and head_bytes[head] != ord("["):
        raise CorruptStoreError(path, f"it starts with {kind_of(head_bytes[head:])}")
    return head


def _index_of(lines: list[bytes], line: bytes) -> int:
    return next(i for i, candidate in enumerate(lines) if candidate is line)


class _Block:
    """The complete lines of one block read from the file, in file order."""

    def __init__(self, start: int, data: bytes, *, newest: bool, first_line: int = 0) -> None:
        self.start = start  # the offset of lines[0]
        self.lines = data.split(b"\n")[first_line:]
        self.zeroed = b"\0" in data  # NUL bytes (see ``parse_each``): 1 ms per 40 MB to look for
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
        snapshot.reached(snapshot.content_end - start)
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


def legacy_entries(path: str, snapshot: Snapshot, end: int, damage: Damage) -> list[dict[str, Any]]:
    """The entries of the region ``[0, end)`` laid out by another tool, in file order, parsed
    as a whole; damage in it is noted in ``damage`` (its torn last element, quietly skipped,
    if the region ends the file)."""
    text = snapshot.read(0, end).decode("utf-8", "surrogateescape")
    scan = scan_array(text, open_end=True)
    if scan.problem is not None:  # pragma: no cover - the head was checked before
        raise CorruptStoreError(path, scan.problem)
    for at, what in scan.damaged:
        if scan.damaged_to_end and at == scan.damaged[-1][0] and end == snapshot.content_end:
            continue  # the file's last element, cut short: a torn write, as on our lines
        damage.add(len(text[:at].encode("utf-8", "surrogateescape")), what)
    return [element for element in scan.elements if isinstance(element, dict)]
