"""What a JSON Lines telemetry file may hold at its start and at its end.

Every entry is one line: a JSON object, then ``\\n``. Ours are ``Encoded.line`` (ASCII that
starts ``{"timestamp": "``); other tools' may have blank lines, ``\\r\\n`` endings, a UTF-8 BOM,
or no newline after the last line (JSON Lines allows it). The rules here decide, from the
file's first and last lines only, whether a file is ours to append to and where its complete
lines end. Appends only ever add bytes after that end, so nothing before it changes.
"""

from __future__ import annotations

import json
import os

from betty_telemetry.stores._damage import line_damage
from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores._errors import CorruptStoreError

EXPECTED = "a JSON Lines file"
WHITESPACE = b" \t\r\n"
BOM = b"\xef\xbb\xbf"
LINE_LIMIT = 128 * 1024  # longer than any entry line of ours (entries are cut to 64 KiB)
_PROBE_BYTES = 4096

# What the unterminated last line of a file is (see ``last_line_kind``).
COMPLETE, TORN, FOREIGN = "complete", "torn", "foreign"


def is_whole_object(line: bytes) -> bool:
    """Whether ``line`` is one JSON object and nothing else (but blanks). Nested too deep for
    Python's reader counts as one: it may well be whole, and what may be whole is never cut."""
    if line.lstrip(WHITESPACE)[:1] != b"{":
        return False
    try:
        return type(json.loads(line)) is dict
    except RecursionError:
        return True
    except ValueError:
        return False


def last_line_kind(line: bytes) -> str:
    """What an unterminated last line is: COMPLETE (blank, or a whole object another tool
    wrote without its newline), TORN (a write cut short: part of an object, or the zeroes a
    crash of the machine leaves), or FOREIGN (anything else: no append of ours left it)."""
    stripped = line.strip(WHITESPACE)
    if stripped.startswith(BOM):  # the file's only line, after another tool's UTF-8 mark
        stripped = stripped[len(BOM) :].lstrip(WHITESPACE)
    if not stripped or is_whole_object(stripped):
        return COMPLETE
    if stripped[:1] in (b"{", b"\0"):
        return TORN
    return FOREIGN


def check_head(fd: int, size: int, path: str) -> None:
    """Raise CorruptStoreError, describing (never quoting) what was found, unless the file's
    first line is blank or a whole JSON object: a JSON array renamed ``.jsonl``, a binary
    file or a ``.env`` is never appended to. A first line that is also the unterminated last
    one is left to the rules for the end (``last_line_kind``)."""
    head = os.pread(fd, min(size, _PROBE_BYTES), 0)
    start = len(BOM) if head.startswith(BOM) else 0
    if not head[start:].strip(WHITESPACE) and len(head) < size:
        head = os.pread(fd, min(size, LINE_LIMIT), 0)  # a long run of blanks first
    body = head[start:].lstrip(WHITESPACE)
    if not body:
        return
    if body[:1] != b"{":
        raise CorruptStoreError(path, f"it starts with {kind_of(body)}", expected=EXPECTED)
    at = len(head) - len(body)
    newline = head.find(b"\n", at)
    if newline < 0 and len(head) < size:
        head = os.pread(fd, min(size, at + LINE_LIMIT), 0)
        newline = head.find(b"\n", at)
    if newline >= 0 and not is_whole_object(head[at:newline]):
        found = f"its first line is not one whole JSON object: {line_damage(head[at:newline])}"
        raise CorruptStoreError(path, found, expected=EXPECTED)


def last_line_start(fd: int, size: int) -> int:
    """The offset just after the last ``\\n`` of the file's first ``size`` bytes (0 if none),
    looked for backwards in growing blocks."""
    end = size
    block = _PROBE_BYTES
    while end > 0:
        start = max(0, end - block)
        newline = os.pread(fd, end - start, start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
        block = min(block * 4, 1 << 20)
    return 0


def settled_end(fd: int, size: int) -> tuple[int, bytes]:
    """Where the file's complete lines end, and the unterminated line after them that is not
    complete (empty if there is none). A whole object without its newline is complete: a
    writer keeps it (writing the newline first), so a reader returns it too."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size, b""
    start = last_line_start(fd, size)
    rest = os.pread(fd, size - start, start)
    if last_line_kind(rest) == COMPLETE:
        return size, b""
    return start, rest
