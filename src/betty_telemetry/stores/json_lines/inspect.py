"""Walking a JSON Lines file line by line, for ``check`` and ``repair``.

As the readers see it (``lines``, ``reader``): a line holding one JSON object is an entry; a
blank line is nothing (kept); any other line is damage, moved aside by a repair. An
unterminated last line is an entry if whole (JSON Lines allows it), the torn write of an
interrupted append if it starts one, else damage. A file whose first line starts neither an
object nor the zeroes a crash leaves is not JSON Lines at all (captures refuse it too): a
JSON array renamed ``.jsonl``, a ``.env``; so is a file none of whose lines is an entry.
"""

from __future__ import annotations

from collections.abc import Iterator

from betty_telemetry.stores._damage import line_damage
from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores.checking import pieces as P
from betty_telemetry.stores.checking.pieces import Piece, View
from betty_telemetry.stores.json_lines.lines import (
    BOM,
    COMPLETE,
    TORN,
    WHITESPACE,
    last_line_kind,
)
from betty_telemetry.stores.json_lines.parse import parse_line, parse_lines

BLOCK_BYTES = 1 << 20
_STARTS = (b"{", b"\0")


def walk_lines(view: View) -> Iterator[Piece]:
    """The pieces of the JSON Lines file in ``view``, in file order (see the module)."""
    elements = damaged = 0
    first = True
    for start, number, lines, open_end in _blocks(view):
        values = None
        if not first and not open_end and all(text[:1] == b"{" for text in lines):
            values = parse_lines(lines)  # our lines: many at a time, as the readers parse
        if values is not None:
            for text, value in zip(lines, values, strict=True):
                end = start + len(text) + 1
                yield Piece(P.ELEMENT, start, end, number, value=value, gap_start=start)
                start, number = end, number + 1
            elements += len(values)
            continue
        for index, text in enumerate(lines):
            last = open_end and index == len(lines) - 1
            end = start + len(text) + (0 if last else 1)
            body = text[len(BOM) :] if start == 0 and text.startswith(BOM) else text
            stripped = body.strip(WHITESPACE)
            if first and stripped:
                first = False
                if stripped[:1] not in _STARTS:
                    found = f"not a JSON Lines file: it starts with {kind_of(stripped)}"
                    yield Piece(P.UNREADABLE, start, view.size, number, what=found)
                    return
            piece = _piece(start, end, number, body, stripped, last)
            elements += piece.kind == P.ELEMENT
            damaged += piece.kind == P.DAMAGE
            yield piece
            start, number = end, number + 1
    if damaged and not elements:
        found = "not a JSON Lines file of telemetry entries: none of its lines is an entry"
        yield Piece(P.UNREADABLE, 0, view.size, 1, what=found)


def _piece(start: int, end: int, number: int, body: bytes, stripped: bytes, last: bool) -> Piece:
    """What the line ``[start, end)`` is; ``last`` if it is an unterminated last line."""
    if not stripped:
        return Piece(P.KEPT, start, end, number)
    if last and last_line_kind(body) != COMPLETE:
        if last_line_kind(body) == TORN:
            what = f"an entry cut short by an interrupted write ({end - start} bytes)"
            return Piece(P.TORN, start, end, number, what=what)
        return Piece(P.DAMAGE, start, end, number, what=kind_of(stripped))
    value = parse_line(body)
    if value is None:
        return Piece(P.DAMAGE, start, end, number, what=line_damage(body))
    return Piece(P.ELEMENT, start, end, number, value=value, gap_start=start)


def _blocks(view: View) -> Iterator[tuple[int, int, list[bytes], bool]]:
    """The file's lines a block at a time: where the block starts, the number of its first
    line, its lines (without their newlines), and whether the last one is unterminated (the
    file's last line, with no newline after it)."""
    size = view.size
    pos = 0
    number = 1
    carry = b""
    while pos < size:
        block = view.read(pos, min(BLOCK_BYTES, size - pos))
        if not block:
            break
        start = pos - len(carry)
        pos += len(block)
        lines = (carry + block).split(b"\n")
        carry = lines.pop()  # the part after the last newline: the next block's
        if lines:
            yield start, number, lines, False
            number += len(lines)
    if carry:
        yield size - len(carry), number, [carry], True
