"""Walking a JSON-array file element by element, for ``check`` and ``repair``.

The readers need only the entries; a check must also say where each one is, and whether the
bytes between them make the file a valid JSON array, so that a repair can keep every entry
byte for byte and rewrite only what is wrong. So this walk goes forwards through the whole
file, a block at a time (bounded memory), and yields ``Piece``s: the head up to ``[``, each
element with the separator before it, each damaged stretch, and the tail after the last one.

Elements are found as the readers find them (``scan_array``'s rules): an element starts at a
value; a place where none can be read is damage, passed over up to the next line that starts
with ``{`` at the file's first column or at the column of the array's first element (an
indented array's elements; nested objects sit deeper). Between two elements exactly one
``,`` (and blanks) is clean; none, two, or a ``]`` is a syntax problem, which a repair
rewrites. After the last element, ``]`` alone is clean.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from betty_telemetry.stores._damage import line_damage
from betty_telemetry.stores._describe import TOO_DEEP, kind_of
from betty_telemetry.stores.checking import pieces as P
from betty_telemetry.stores.checking.pieces import Piece, View
from betty_telemetry.stores.json_array.batch import parse_each
from betty_telemetry.stores.json_array.text import BOM

BLOCK_BYTES = 1 << 20
WIDE_BYTES = 1 << 18
"""How far a second try at an element reads when its first try ran out of bytes at the next
line starting with ``{`` (an element laid out with nested objects at the first column)."""
_BLANKS = b" \t\r\n"
_VALUE_STARTS = frozenset(b'{["-0123456789tfnNI')
_COMMA, _CLOSE, _OPEN = ord(","), ord("]"), ord("{")
_DECODER = json.JSONDecoder()
_ANY_ELEMENT_LINE = re.compile(rb"\n[ \t]*\{")
_CLOSING_LINE = re.compile(rb"\n\]")
_SEPARATOR = b",\n"
_CLOSING = b"\n]\n"
_CUT_SHORT_BY_A_WRITE = "an entry cut short by an interrupted write"


class _Buffer:
    """The file's bytes from ``start`` on, read a block at a time; what is passed is dropped.
    Counts lines as offsets are asked for, in increasing order."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.size = view.size
        self.start = 0
        self.data = b""
        self._line_at = 0
        self._line = 1

    @property
    def end(self) -> int:
        return self.start + len(self.data)

    def ensure(self, upto: int) -> None:
        """Have the bytes up to ``upto`` (or the file's end) in the buffer."""
        upto = min(upto, self.size)
        while self.end < upto:
            more = self.view.read(self.end, max(BLOCK_BYTES, upto - self.end))
            if not more:  # the view is shorter than its size said: never loop for ever
                self.size = self.end
                return
            self.data += more

    def get(self, begin: int, end: int) -> bytes:
        self.ensure(end)
        return self.data[begin - self.start : end - self.start]

    def byte(self, offset: int) -> int:
        self.ensure(offset + 1)
        return self.data[offset - self.start]

    def forget_before(self, offset: int) -> None:
        """Drop the bytes before the line holding ``offset`` (kept, with the newline before
        it: where the line starts, and its indentation, are looked at)."""
        keep = self.data.rfind(b"\n", 0, offset - self.start)
        if keep >= BLOCK_BYTES:
            self.line_of(self.start + keep)
            self.data = self.data[keep:]
            self.start += keep

    def line_of(self, offset: int) -> int:
        """The 1-based line of ``offset`` (no smaller than the last one asked for)."""
        if offset > self._line_at:
            self.ensure(offset)
            self._line += self.data.count(b"\n", self._line_at - self.start, offset - self.start)
            self._line_at = offset
        return self._line

    def blanks_before(self, offset: int) -> bytes | None:
        """The blanks from the start of ``offset``'s line to it, None if something else is
        there (or the line starts before the buffer)."""
        line_start = self.data.rfind(b"\n", 0, offset - self.start) + 1
        if line_start == 0 and self.start > 0:
            return None
        before = self.data[line_start : offset - self.start]
        return before if not before.strip(b" \t") else None


@dataclass
class _Gap:
    """The bytes between two elements: their separators (``,``, ``]``), and whether damage
    was passed over in them."""

    start: int
    first: bool
    separators: bytearray = field(default_factory=bytearray)
    damaged: bool = False


def walk_array(view: View) -> Iterator[Piece]:
    """The pieces of the JSON-array file in ``view``, in file order (see the module)."""
    buffer = _Buffer(view)
    size = buffer.size
    head = _skip_blanks(buffer, 3 if buffer.get(0, 3) == BOM else 0)
    if head >= size:
        return  # empty, or blanks: an empty store
    if buffer.byte(head) != ord("["):
        found = f"not a JSON array: it starts with {kind_of(buffer.get(head, head + 64))}"
        yield Piece(P.UNREADABLE, head, size, buffer.line_of(head), what=found)
        return
    yield Piece(P.HEAD, 0, head + 1, 1)
    walk = _Walk(buffer)
    yield from walk.elements(head + 1)


class _Walk:
    def __init__(self, buffer: _Buffer) -> None:
        self.buffer = buffer
        self.size = buffer.size
        self.resync = _ANY_ELEMENT_LINE  # until the elements' column is known

    def elements(self, pos: int) -> Iterator[Piece]:
        buffer = self.buffer
        gap = _Gap(pos, first=True)
        while True:
            pos = self._skip_gap(pos, gap)
            if pos >= self.size:
                break
            buffer.forget_before(pos)
            if (
                buffer.byte(pos) == _OPEN
                and buffer.data[pos - buffer.start - 1 : pos - buffer.start] == b"\n"
            ):
                run = self._our_lines(pos, gap)
                if run:
                    yield from run
                    pos = run[-1].end
                    gap = _Gap(pos, first=False)
                    continue
            decoded = self._decode(pos) if buffer.byte(pos) in _VALUE_STARTS else None
            if decoded is None:
                damage = self._damage(pos)
                yield damage
                gap.damaged = True
                pos = damage.end
                continue
            value, end = decoded
            yield from self._element(pos, end, value, gap)
            gap = _Gap(end, first=False)
            pos = end
        yield from self._tail(gap)

    def _our_lines(self, pos: int, gap: _Gap) -> list[Piece]:
        """The elements on the lines from ``pos`` (a line start) that are in our layout, one
        entry then ``,`` per line, parsed many at a time (see ``batch``): the fast path of a
        walk, stopping before the first line that is not such a line (the slow path's)."""
        buffer = self.buffer
        buffer.ensure(pos + BLOCK_BYTES)
        base = pos - buffer.start
        last = buffer.data.rfind(b"\n", base)
        lines = buffer.data[base:last].split(b"\n") if last > base else []
        count = 0
        for text in lines:
            if text[:1] != b"{" or text[-2:] != b"},":
                break
            count += 1
        if not count:
            return []
        values = parse_each(lines[:count])
        first_line = buffer.line_of(pos)
        pieces: list[Piece] = []
        start = pos
        for index, value in enumerate(values):
            if value is None:
                break
            end = start + len(lines[index]) - 1  # the "," is the next gap's
            if not pieces:
                pieces += self._element(start, end, value, gap)
            else:
                pieces.append(
                    Piece(
                        P.ELEMENT,
                        start,
                        end,
                        first_line + index,
                        value=value,
                        gap_start=start - 2,
                        fix=_SEPARATOR,
                    )
                )
            start = end + 2
        return pieces

    def _element(self, pos: int, end: int, value: Any, gap: _Gap) -> Iterator[Piece]:
        buffer = self.buffer
        indent = buffer.blanks_before(pos)
        if gap.first and indent is not None:  # the elements' column: resync there, or at 0
            column = len(indent)
            self.resync = (
                re.compile(rb"\n(?:[ \t]{%d})?\{" % column) if column else re.compile(rb"\n\{")
            )
        line = buffer.line_of(pos)
        problem = None if gap.damaged else _gap_problem(gap)
        if problem is not None:
            yield Piece(P.SEPARATOR, gap.start, pos, line, what=problem)
        clean = problem is None and not gap.damaged
        yield Piece(
            P.ELEMENT,
            pos,
            end,
            line,
            value=value,
            gap_start=gap.start,
            clean=clean,
            first=gap.first,
            fix=(b"\n" if gap.first else _SEPARATOR) + (indent or b""),
        )

    def _skip_gap(self, pos: int, gap: _Gap) -> int:
        """Past blanks and separators from ``pos`` (noted in ``gap``): the next other byte."""
        buffer = self.buffer
        while pos < self.size:
            buffer.ensure(pos + 1)
            data, base = buffer.data, buffer.start
            index = pos - base
            while index < len(data):
                byte = data[index]
                if byte in _BLANKS:
                    index += 1
                elif byte in (_COMMA, _CLOSE):
                    if len(gap.separators) < 8:
                        gap.separators.append(byte)
                    index += 1
                else:
                    return base + index
            pos = base + index
        return self.size

    def _next_element(self, pos: int) -> int:
        """Where the next line starting with an element (after blanks) starts, after ``pos``
        (or the end)."""
        return self._next(self.resync, pos)

    def _next(self, pattern: re.Pattern[bytes], pos: int) -> int:
        """Where the next line matching ``pattern`` after ``pos`` starts (or the end)."""
        buffer = self.buffer
        searched = pos
        while True:
            match = pattern.search(buffer.data, searched - buffer.start)
            if match is not None:
                return buffer.start + match.start() + 1
            if buffer.end >= self.size:
                return self.size
            searched = max(pos, buffer.end - 64)  # a match may straddle the blocks
            buffer.ensure(buffer.end + BLOCK_BYTES)

    def _decode(self, pos: int) -> tuple[Any, int] | None:
        """The value at ``pos`` and where it ends, None if no value can be read there."""
        for end in self._tries(pos, self._next_element(pos)):
            found = _decode(self.buffer.get(pos, end))
            if isinstance(found, tuple):
                return found[0], pos + found[1]
            if not found:
                return None
        return None  # it ran out of bytes every time

    def _tries(self, pos: int, limit: int) -> Iterator[int]:
        """Where successive tries at the value at ``pos`` stop reading, as long as each runs
        out of bytes: a bounded first one (on a long line holding many, a value ends soon), up
        to the next element's line, then past it (nested objects at the first column)."""
        if limit - pos > WIDE_BYTES:
            yield pos + WIDE_BYTES
        yield limit
        if limit < self.size:
            yield min(self.size, pos + max(WIDE_BYTES, 2 * (limit - pos)))

    def _damage(self, pos: int) -> Piece:
        """The damaged stretch at ``pos``: up to the next element's line, or the file's end
        (then, a single partial line is the torn write of an interrupted append)."""
        buffer = self.buffer
        end = self._next_element(pos)
        if end == self.size:  # the array's closing bracket, at the first column, is not damage
            end = min(end, self._next(_CLOSING_LINE, pos))
        line_end = buffer.data.find(b"\n", pos - buffer.start)
        first_line = buffer.get(pos, end if line_end < 0 else buffer.start + line_end)
        line = buffer.line_of(pos)
        last_line = buffer.line_of(max(pos, end - 1))
        if end == self.size and _is_torn(buffer, pos, end):
            what = f"{_CUT_SHORT_BY_A_WRITE} ({end - pos} bytes)"
            return Piece(P.TORN, pos, end, line, last_line, what=what)
        return Piece(P.DAMAGE, pos, end, line, last_line, what=line_damage(first_line))

    def _tail(self, gap: _Gap) -> Iterator[Piece]:
        separators = bytes(gap.separators)
        line = self.buffer.line_of(max(gap.start, self.size - 1))
        missing = ""
        if gap.damaged:  # what is wrong there was said; only a missing "]" is left to say
            missing = "" if b"]" in separators else _NOT_CLOSED
        elif separators[:1] == b"," and not gap.first:
            what = "a ',' after the last entry and no entry after it: an interrupted append"
            yield Piece(P.TORN, gap.start, gap.start, line, what=what)
        elif b"]" not in separators:
            missing = _NOT_CLOSED
        elif separators != b"]":
            what = "separators out of place after the last entry (another ']' or ',')"
            yield Piece(P.SEPARATOR, gap.start, self.size, line, what=what)
        clean = separators == b"]" and not gap.damaged
        yield Piece(
            P.TAIL,
            gap.start,
            self.size,
            line,
            gap_start=gap.start,
            clean=clean,
            what=missing,
            fix=_CLOSING,
        )


_NOT_CLOSED = "the array is not closed: no ']' after its last entry"


def _gap_problem(gap: _Gap) -> str | None:
    separators = bytes(gap.separators)
    if gap.first:
        return None if not separators else "a ',' or ']' before the first entry"
    if separators == b",":
        return None
    if not separators:
        return "no ',' between this entry and the one before it"
    if b"]" in separators:
        return "the array is closed (']') before this entry: entries follow its end"
    return "an extra ',' before this entry"


def _decode(data: bytes) -> tuple[Any, int] | bool:
    """The first JSON value in ``data`` and its length in bytes; else False, or True when
    the bytes ran out before the value could end."""
    try:  # a character cut by the end of ``data`` is left out, not an error
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False  # not UTF-8: not JSON (JSON readers refuse it too)
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as error:
        return error.pos >= len(text.rstrip())
    except RecursionError:
        return False
    return value, end if text.isascii() else len(text[:end].encode("utf-8"))


def _is_torn(buffer: _Buffer, pos: int, end: int) -> bool:
    """Whether the stretch ``[pos, end)`` that ends the file is one partial line starting an
    element, as an append cut short leaves it (or the zeroes a crash of the machine does)."""
    stretch = buffer.get(pos, end).rstrip(_BLANKS)
    return (
        b"\n" not in stretch
        and stretch[:1] in (b"{", b"\0")
        and buffer.blanks_before(pos) is not None
        and line_damage(stretch) != TOO_DEEP
    )


def _skip_blanks(buffer: _Buffer, pos: int) -> int:
    while pos < buffer.size and buffer.byte(pos) in _BLANKS:
        pos += 1
    return pos
