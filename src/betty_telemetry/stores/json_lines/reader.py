"""Reading a JSON Lines telemetry file, newest or oldest first, in bounded memory, lock-free.

Readers take no lock: an append adds whole lines after the end, in one write, so the complete
lines a reader found at its start never change under it, and an append in progress is at most
an unterminated last line, which is not read. So a stuck writer never holds a reader up. What
can change them is a program that truncates or rewrites the file in place (``logrotate``'s
``copytruncate``): each block read checks the file's head and the last line before the end
(``Anchor``), and on a change the read stops with a warning, having returned what it read.

Newest first, blocks grow from 16 KiB to 1 MiB backwards from the end (a query for the last few
entries reads little); oldest first, 1 MiB blocks forwards. Lines are tested on their bytes
(``LineTest``: needles, the ``since`` stop) before the survivors are parsed a block at a time.
A line that is not an entry is skipped and noted in ``Damage``: one warning per read.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from betty_telemetry._config import logger
from betty_telemetry.stores._damage import Damage, line_damage
from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores._line_test import KEEP, STOP, LineTest
from betty_telemetry.stores._snapshot import Anchor, open_readonly
from betty_telemetry.stores.base import ProgressHook
from betty_telemetry.stores.json_lines.lines import (
    BOM,
    FOREIGN,
    WHITESPACE,
    check_head,
    last_line_kind,
    settled_end,
)
from betty_telemetry.stores.json_lines.parse import parse_line, parse_lines, parse_summaries

FIRST_BLOCK_BYTES = 1 << 14
MAX_BLOCK_BYTES = 1 << 20
Entry = dict[str, Any]
Parse = Callable[[list[bytes]], "list[Entry] | None"]


class FileChanged(Exception):
    """Bytes a reader relied on changed: the file was truncated or rewritten in place."""


class LinesSnapshot:
    """The complete lines of an open JSON Lines file, ``[0, end)``, as they were when taken.

    Raises CorruptStoreError if the file is not JSON Lines. ``torn`` is the unterminated,
    incomplete last line after ``end`` (an append cut short or in progress), if any.
    ``progress`` is told how many bytes of them a reader has gone through (``reached``).
    """

    def __init__(self, fd: int, path: str, progress: ProgressHook | None = None) -> None:
        self.fd = fd
        self.path = path
        self._progress = progress
        size = os.fstat(fd).st_size
        check_head(fd, size, path)
        self.end, self.torn = settled_end(fd, size)
        self._anchor = Anchor.before(fd, self.end)

    def reached(self, done: int) -> None:
        """A reader has gone through ``done`` bytes of the lines, in its own direction."""
        if self._progress is not None:
            self._progress(done, self.end)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``; FileChanged if the file is no longer as taken."""
        data = os.pread(self.fd, length, offset)
        if len(data) != length or not self._anchor.holds(self.fd):
            raise FileChanged
        return data


def read_entries(
    path: str,
    test: LineTest | None,
    *,
    newest_first: bool,
    summaries: bool,
    noted: Damage | None = None,
    progress: ProgressHook | None = None,
) -> Generator[Entry, None, None]:
    """The entries of the file at ``path`` that ``test`` keeps (all without one), as stored;
    only their summary fields with ``summaries`` (lines in our layout). Nothing if the file
    does not exist. Close the generator when stopping early. Damage met is logged once, or
    put in ``noted`` if given (for a caller that judges it: a rewrite). ``progress``: see
    ``reached``."""
    fd = open_readonly(path)
    if fd is None:
        return
    damage = noted if noted is not None else Damage()  # reported once, however the read ends
    try:
        snapshot = LinesSnapshot(fd, path, progress)
        if last_line_kind(snapshot.torn) == FOREIGN:  # no append leaves it: say so
            damage.add(snapshot.end, kind_of(snapshot.torn))
        if newest_first:
            yield from entries_newest_first(snapshot, test, damage, summaries=summaries)
        else:
            yield from _entries_oldest_first(snapshot, test, damage, summaries=summaries)
    except FileChanged:
        logger.warning(
            "%s was truncated or rewritten in place while being read; the read stopped "
            "there (the entries before that point were returned)",
            path,
        )
    finally:
        try:
            if noted is None:
                damage.report(path, fd)
        finally:
            os.close(fd)


def entries_newest_first(
    snapshot: LinesSnapshot, test: LineTest | None, damage: Damage, *, summaries: bool = False
) -> Iterator[Entry]:
    """The snapshot's entries that ``test`` keeps, newest first, up to the ``since`` stop."""
    for block in _reverse_blocks(snapshot, test):
        indices, stopped = _wanted(block, test, damage, stops=True)
        entries = block.entries(indices, _parser(block, summaries), damage)
        entries.reverse()
        yield from entries
        if stopped:
            return


def _entries_oldest_first(
    snapshot: LinesSnapshot, test: LineTest | None, damage: Damage, *, summaries: bool
) -> Iterator[Entry]:
    for block in _forward_blocks(snapshot, test):
        indices, _ = _wanted(block, test, damage, stops=False)  # older lines came first
        yield from block.entries(indices, _parser(block, summaries), damage)


def _wanted(
    block: Block, test: LineTest | None, damage: Damage, *, stops: bool
) -> tuple[list[int] | None, bool]:
    """Indices of the block's lines to parse (None: every line), and whether a line older than
    the time window was met (with ``stops``: the lines before it are left out too)."""
    indices = block.candidates(damage)
    if test is None:
        return indices, False
    lines, verdict = block.lines, test.verdict
    if indices is None:
        verdicts = [verdict(line) for line in lines]
    else:
        verdicts = [verdict(lines[index]) for index in indices]
    where: Sequence[int] = range(len(lines)) if indices is None else indices
    stopped = stops and STOP in verdicts
    if stopped:  # every older line is out of the window: finish at this block
        newest_stop = len(verdicts) - 1 - verdicts[::-1].index(STOP)
        where, verdicts = where[newest_stop + 1 :], verdicts[newest_stop + 1 :]
    return [index for index, kept in zip(where, verdicts, strict=True) if kept == KEEP], stopped


def _parser(block: Block, summaries: bool) -> Parse:
    # Bytes zeroed by a crash of the machine may leave a line's summary sound: parse it whole.
    return parse_summaries if summaries and not block.zeroed else parse_lines


class Block:
    """Complete lines read from the file, in file order; ``start`` is the offset of the first."""

    def __init__(self, start: int, lines: list[bytes], *, zeroed: bool) -> None:
        if start == 0 and lines and lines[0].startswith(BOM):  # other tools' UTF-8 mark
            lines[0] = lines[0][len(BOM) :]
            start = len(BOM)
        self.start = start
        self.lines = lines
        self.zeroed = zeroed  # NUL bytes: about 1 ms per 40 MB to look for
        self._offsets: list[int] | None = None

    def candidates(self, damage: Damage) -> list[int] | None:
        """Indices of the lines that may be entries (None: all of them); notes the others but
        blank ones."""
        lines = self.lines
        if all(line[:1] == b"{" for line in lines):  # ours: every line starts an object
            return None
        kept = []
        for index, line in enumerate(lines):
            stripped = line.lstrip(WHITESPACE)
            if stripped[:1] == b"{":
                kept.append(index)
            elif stripped.rstrip(WHITESPACE):
                damage.add(self.offset_of(index), line_damage(line))
        return kept

    def entries(self, indices: list[int] | None, parse: Parse, damage: Damage) -> list[Entry]:
        """The entries on the lines at ``indices`` (None: every line), in file order; damaged
        lines noted."""
        lines = self.lines
        chosen = lines if indices is None else [lines[index] for index in indices]
        if not chosen:
            return []
        entries = parse(chosen)
        if entries is not None:
            return entries
        entries = []
        where = range(len(lines)) if indices is None else indices
        for index, line in zip(where, chosen, strict=True):
            entry = parse_line(line)
            if entry is None:
                damage.add(self.offset_of(index), line_damage(line))
            else:
                entries.append(entry)
        return entries

    def offset_of(self, index: int) -> int:
        if self._offsets is None:  # needed only where a line is damaged
            sizes = (len(line) + 1 for line in self.lines)
            self._offsets = list(itertools.accumulate(sizes, initial=self.start))
        return self._offsets[index]


def _reverse_blocks(snapshot: LinesSnapshot, test: LineTest | None) -> Iterator[Block]:
    """The snapshot's complete lines a block at a time, the last block first.

    The line that straddles a block's start is carried to the next block. With needles in
    ``test``, a block holding none of them is passed over without splitting its lines. Not
    with a time window: its stop must be found at the very line a full read stops at.
    """
    carry = b""
    pos = snapshot.end
    block_bytes = FIRST_BLOCK_BYTES
    while pos > 0:
        start = max(0, pos - block_bytes)
        block_bytes = min(block_bytes * 2, MAX_BLOCK_BYTES)
        data = snapshot.read(start, pos - start) + carry
        snapshot.reached(snapshot.end - start)
        pos = start
        first_break = -1 if start == 0 else data.find(b"\n")
        if start > 0 and first_break < 0:  # one line longer than the block: keep collecting
            carry = data
            continue
        carry = data[:first_break] if start > 0 else b""
        if _can_pass_over(test, data, first_break + 1):
            continue
        lines = data.split(b"\n")[1:] if start > 0 else data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()  # the empty piece after the file's last newline (or a blank line)
        yield Block(start + first_break + 1, lines, zeroed=b"\0" in data)


def _can_pass_over(test: LineTest | None, data: bytes, start: int) -> bool:
    """Whether no line of ``data[start:]`` can be wanted, seen from its bytes alone."""
    return (
        test is not None
        and bool(test.needles)
        and test.stop is None
        and not test.block_may_match(data, start)
    )


def _forward_blocks(snapshot: LinesSnapshot, test: LineTest | None) -> Iterator[Block]:
    """The snapshot's complete lines a block at a time, the first block first."""
    carry = b""
    pos = 0
    while pos < snapshot.end:
        length = min(MAX_BLOCK_BYTES, snapshot.end - pos)
        start = pos - len(carry)
        data = carry + snapshot.read(pos, length)
        pos += length
        snapshot.reached(pos)
        last_break = data.rfind(b"\n") if pos < snapshot.end else len(data)
        if last_break < 0:  # one line longer than the block: keep collecting
            carry = data
            continue
        carry = data[last_break + 1 :]
        if test is not None and test.needles and not test.block_may_match(data):
            continue
        lines = data[:last_break].split(b"\n")
        if lines and not lines[-1]:
            lines.pop()  # an empty file's only piece, or a blank last line
        yield Block(start, lines, zeroed=b"\0" in data)
