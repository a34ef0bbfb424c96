"""Reading a JSON-array telemetry file oldest first, in bounded memory.

What converting between stores and replaying to OTLP read: every entry, in the order stored,
from files of a million entries. The file is read forwards in blocks of 256 KiB, each under a
brief shared lock (see ``Snapshot``), so a full scan holds one block and its entries whatever
the file's size, and never blocks writers for longer than one block read.

It gives the entries the newest-first reader (``reader``) gives, in the opposite order and the
same form: the same byte tests on a line, the same parsing (``batch``), the same rules for
damage, other layouts and a torn last line. What differs is the order things are found in:

- A region laid out by another tool (the original framework's indented array) can only be the
  file's head: its writers rewrite the whole file, and ours append after it. So the head's
  lines are walked until the first line of ours, and the region before it is then parsed
  whole (``legacy_entries``), as the newest-first reader does when it gets there.
- From there on, every line is ours: a line that is not one entry is damage (noted) or holds
  several values (read). The newest-first reader would take a line far from any entry for the
  end of another region; this one reads on, which loses nothing.
- A time window never ends the read. The newest-first reader stops at the first line older
  than ``since`` by the out-of-order tolerance; going forwards, such a line only says that this
  line is not wanted, and an entry after it may be. A line past ``until`` could end it only
  with that same tolerance, which no entry guarantees: an entry the filter wants must never be
  dropped. Both are skipped, like any line outside the window.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

from betty_telemetry.stores._damage import (
    Damage,
    entries_or_damage,
    line_damage,
    note_damage_after_the_content,
)
from betty_telemetry.stores._describe import TOO_DEEP
from betty_telemetry.stores._line_test import KEEP, LineTest
from betty_telemetry.stores._snapshot import Snapshot
from betty_telemetry.stores.json_array.batch import parse_each, parse_one
from betty_telemetry.stores.json_array.reader import array_head, legacy_entries
from betty_telemetry.stores.json_array.text import WHITESPACE, parse_entry_line, values_on_line

BLOCK_BYTES = 1 << 18  # its entries as dicts take a few times its size: 256 KiB keeps that small
_IGNORED_LINES = (b"", b"]", b",")
# A line that starts like none of ours: it may hold values, or damage to note, so a block
# holding one is never passed over.
_OTHER_LAYOUT = re.compile(rb"(?:\A|\n)[^{\n\r\],]")


def read_oldest_first(
    path: str,
    snapshot: Snapshot,
    test: LineTest | None = None,
    *,
    summaries: bool = False,
    damage: Damage | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the entries of ``snapshot`` oldest first, as stored; with ``test``, only lines it
    keeps. With ``summaries``, entries in our layout hold only their SUMMARY_FIELDS.

    As ``read_newest_first``, reversed: a torn last line is skipped, damage is skipped and noted
    in ``damage``, CorruptStoreError when the file is not a JSON array, FileRewritten (from the
    snapshot) if another program rewrote it.
    """
    damage = Damage() if damage is None else damage
    head = array_head(path, snapshot)
    if head is None:
        return
    note_damage_after_the_content(snapshot, damage)
    region = _HeadRegion(head, test, summaries)
    for block in _blocks(snapshot):
        first = 0
        if not region.passed:
            found = region.walk(block, damage)
            if found is None:
                continue
            first = found
            if region.end is not None:
                yield from legacy_entries(path, snapshot, region.end, damage)
        elif _can_pass_over(test, block):
            continue
        yield from _entries(block, first, test, summaries, damage)
    if not region.passed and region.end is not None:  # the whole file is another tool's
        yield from legacy_entries(path, snapshot, region.end, damage)


class _Block:
    """Complete lines read from the file, in file order, as one piece of bytes until needed."""

    def __init__(self, start: int, data: bytes, *, last: bool) -> None:
        self.start = start  # the offset of data[0], the start of a line
        self.data = data
        self.last = last  # holds the file's last line: the only place a torn line can be
        self.zeroed = b"\0" in data  # NUL bytes (see ``parse_each``): 1 ms per 40 MB
        self._lines: list[bytes] | None = None
        self._offsets: list[int] | None = None

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:  # not split at all when passed over
            self._lines = self.data.split(b"\n")
        return self._lines

    def offset_of(self, index: int) -> int:
        if self._offsets is None:  # needed only where a line is not an entry
            sizes = (len(line) + 1 for line in self.lines)
            self._offsets = list(itertools.accumulate(sizes, initial=self.start))
        return self._offsets[index]


def _blocks(snapshot: Snapshot) -> Iterator[_Block]:
    """The snapshot's content as blocks of whole lines, about BLOCK_BYTES each, first to last.

    The partial line at a block's end is carried into the next block: a line is never split.
    The content ends with a complete line (``content_end`` leaves a torn one out), so the last
    block ends with it.
    """
    end = snapshot.content_end
    start = 0
    carry = b""
    while start + len(carry) < end:
        read_at = start + len(carry)
        data = carry + snapshot.read(read_at, min(BLOCK_BYTES, end - read_at))
        snapshot.reached(start + len(data))
        if start + len(data) >= end:
            yield _Block(start, data, last=True)
            return
        cut = data.rfind(b"\n")
        if cut < 0:  # one line longer than the block: keep collecting it
            carry = data
            continue
        yield _Block(start, data[:cut], last=False)
        start += cut + 1
        carry = data[cut + 1 :]


class _HeadRegion:
    """The file's head, up to its first line in our layout: another tool's region, if any.

    Every line before our first one belongs to it: no line of ours precedes them, so none can
    be damage between entries of ours (see ``follows_an_entry``). ``end`` is where the region
    ends (None if the array's ``[`` is all there is); ``passed`` once our first line is found.

    A line starting with ``{`` is ours if it parses as the read parses (a summary may parse
    where the whole line does not). One that does not is part of the region, unless the line
    test rejects it: the newest-first reader never parses those, so it never takes them for
    another tool's lines, and neither may this reader.
    """

    def __init__(self, head: int, test: LineTest | None, summaries: bool) -> None:
        self.head = head
        self.test = test
        self.summaries = summaries
        self.end: int | None = None
        self.passed = False

    def walk(self, block: _Block, damage: Damage) -> int | None:
        """The index of the block's first line of ours, or None if the region goes on (or the
        block's only lines of ours are a torn last line)."""
        lines = block.lines
        for index, line in enumerate(lines):
            stripped = line.strip(WHITESPACE)
            if stripped in _IGNORED_LINES:
                continue
            start = block.offset_of(index)
            if stripped == b"[" and start <= self.head:
                continue  # the array's own bracket
            if line[:1] == b"{":
                if block.last and _only_blanks_after(lines, index) and not parse_entry_line(line):
                    _note_torn(line, start, damage)  # as in ``_entries``
                    return None
                if parse_one(line, summaries=self.summaries) is not None:
                    self.passed = True
                    return index
                if self.test is not None and self.test.verdict(line) != KEEP:
                    continue
            self.end = start + len(line)
        return None


def _only_blanks_after(lines: list[bytes], index: int) -> bool:
    return all(line.strip(WHITESPACE) in _IGNORED_LINES for line in lines[index + 1 :])


def _note_torn(line: bytes, start: int, damage: Damage) -> None:
    """A torn last line is the partial line of an interrupted append: skipped quietly, unless
    it is complete but nested too deep to read (then it is damage, and said so)."""
    if line_damage(line) == TOO_DEEP:
        damage.add(start, TOO_DEEP)


def _can_pass_over(test: LineTest | None, block: _Block) -> bool:
    """Whether no line of ``block`` can be wanted, seen from its bytes alone (as in the
    newest-first reader; a time window does not matter here, since it ends nothing)."""
    return (
        test is not None
        and bool(test.needles)
        and not block.last  # where a torn line is looked for
        and not test.block_may_match(block.data)
        and not _OTHER_LAYOUT.search(block.data)
    )


def _entries(
    block: _Block, first: int, test: LineTest | None, summaries: bool, damage: Damage
) -> Iterator[dict[str, Any]]:
    """The entries on the block's lines from ``first`` on, all in our layout."""
    indexes = _candidates(block, first, damage)
    lines = block.lines
    if block.last and indexes and parse_entry_line(lines[indexes[-1]]) is None:
        torn = indexes.pop()
        _note_torn(lines[torn], block.offset_of(torn), damage)
    if test is not None:
        indexes = [index for index in indexes if test.verdict(lines[index]) == KEEP]
    candidates = [lines[index] for index in indexes]
    parsed = parse_each(candidates, summaries=summaries, zeroed=block.zeroed)
    for index, entry in zip(indexes, parsed, strict=True):
        if entry is not None:
            yield entry
        else:  # several values on one line, or damage (noted)
            yield from reversed(entries_or_damage(lines[index], block.offset_of(index), damage))


def _candidates(block: _Block, first: int, damage: Damage) -> list[int]:
    """Indexes of the lines from ``first`` on that may hold entries: those that start with
    ``{``, and others that hold JSON values. Other lines are blank, separators, or damage,
    noted here (before any test: damage is reported whatever the filter)."""
    lines = block.lines
    others = [index for index in range(first, len(lines)) if lines[index][:1] != b"{"]
    if not others:
        return list(range(first, len(lines)))
    kept: set[int] = set()
    for index in others:
        stripped = lines[index].strip(WHITESPACE)
        if stripped in _IGNORED_LINES:
            continue
        if values_on_line(stripped) is None:
            damage.add(block.offset_of(index), line_damage(lines[index]))
        else:
            kept.add(index)
    return [
        index for index in range(first, len(lines)) if lines[index][:1] == b"{" or index in kept
    ]
