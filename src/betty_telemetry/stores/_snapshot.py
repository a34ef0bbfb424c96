"""A reader's view of the file that never blocks writers for longer than one block read.

Our appends never change a byte before the end of the last complete entry: they write over
the closing bracket. So the bytes a reader saw as complete stay as they were, and a long scan
(stats over a million entries takes seconds) does not need to hold the shared lock throughout,
which would stall every capture for that long. Each block is read under a brief shared lock.

Other programs may rewrite the file in place (the original framework loads, appends and
rewrites the whole array). To notice, the snapshot remembers bytes before the end of the last
complete entry (the *anchor*) and checks them with every block, under the same lock.
A changed anchor raises ``FileRewritten``; the reader then reads again holding the lock.
The anchor is the file's head and the whole last line, not a few bytes: entries of the same
shape end in the same bytes, so a short anchor would not notice a file truncated and refilled.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from betty_telemetry.stores._errors import NOT_READ
from betty_telemetry.stores._files import open_regular
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, lock, unlock
from betty_telemetry.stores.base import ProgressHook

HEAD_BYTES = 64
ANCHOR_MIN_BYTES = 48
_PROBE_BYTES = 4096
_LINE_LIMIT = 128 * 1024  # longer than any entry line (entries are cut to 64 KiB)
_CLOSING = b" \t\r\n,]"


def content_end(fd: int, size: int) -> int:
    """Where the file's last complete element (or its ``[``) ends: new entries go after it.

    A torn last line (an append cut short) is not content: the end is before it.
    """
    tail_at = max(0, size - _PROBE_BYTES)
    body = os.pread(fd, size - tail_at, tail_at).rstrip(_CLOSING)
    if not body or body.endswith((b"}", b"[")):
        return tail_at + len(body)
    if b"\n" not in body and tail_at > 0:
        tail_at = max(0, size - _LINE_LIMIT)
        body = os.pread(fd, size - tail_at, tail_at).rstrip(_CLOSING)
    newline = body.rfind(b"\n")
    if newline < 0:  # no line before it: leave it to the anchor checks
        return tail_at + len(body)
    return tail_at + len(body[:newline].rstrip(_CLOSING))


@dataclass(frozen=True)
class Anchor:
    """Bytes a reader relies on staying as they are: the file's head and the last line
    before a position. The head holds the first entry's timestamp and the line the last
    one's, so a file truncated and written again reads differently even when its new entries
    have the same shape and end at the same offset."""

    head: bytes
    line_at: int
    line: bytes

    @classmethod
    def before(cls, fd: int, end: int) -> Anchor:
        head = os.pread(fd, min(HEAD_BYTES, end), 0)
        start = max(0, end - _LINE_LIMIT)
        window = os.pread(fd, min(end - start, _PROBE_BYTES), end - min(end - start, _PROBE_BYTES))
        if b"\n" not in window and end - start > len(window):
            window = os.pread(fd, end - start, start)
        line_at = end - len(window) + window.rfind(b"\n") + 1
        line_at = max(0, min(line_at, end - ANCHOR_MIN_BYTES))
        return cls(head, line_at, os.pread(fd, end - line_at, line_at))

    def holds(self, fd: int) -> bool:
        return (
            os.pread(fd, len(self.head), 0) == self.head
            and os.pread(fd, len(self.line), self.line_at) == self.line
        )


def open_readonly(path: str) -> int | None:
    """A read-only descriptor on the regular file at ``path``, or None if it does not exist.

    A folder, a FIFO, a device or a socket is refused with its path (see ``open_regular``).
    """
    try:
        return open_regular(path, os.O_RDONLY, NOT_READ)
    except FileNotFoundError:
        return None


class FileRewritten(Exception):
    """Bytes a reader relied on changed: another program rewrote the file in place."""


class Snapshot:
    """Bytes ``[0, size)`` of an open file as they were when the snapshot was taken.

    With ``hold_lock`` the shared lock is held from ``__enter__`` to ``__exit__`` (the file
    cannot change); without it, each ``read`` takes the lock briefly and checks the anchor.
    ``progress`` is told how many bytes of the content a reader has gone through (``reached``).
    """

    def __init__(
        self,
        fd: int,
        *,
        hold_lock: bool,
        path: str = "the telemetry file",
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        progress: ProgressHook | None = None,
    ) -> None:
        self._fd = fd
        self._progress = progress
        self._hold_lock = hold_lock
        self._path = path
        self._lock_timeout = lock_timeout
        self.size = 0
        self.content_end = 0
        self._anchor = Anchor(b"", 0, b"")

    def __enter__(self) -> Snapshot:
        self._lock()
        try:
            self.size = os.fstat(self._fd).st_size
            self.content_end = content_end(self._fd, self.size)
            self._anchor = Anchor.before(self._fd, self.content_end)
        except BaseException:
            unlock(self._fd)
            raise
        if not self._hold_lock:
            unlock(self._fd)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._hold_lock:
            unlock(self._fd)

    def _lock(self) -> None:
        lock(self._fd, fcntl.LOCK_SH, self._lock_timeout, self._path, "it could not be read")

    def reached(self, done: int) -> None:
        """A reader has gone through ``done`` bytes of the content, in its own direction."""
        if self._progress is not None:
            self._progress(done, self.content_end)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (within the snapshot), as they were when taken."""
        if self._hold_lock:
            return os.pread(self._fd, length, offset)
        self._lock()
        try:
            data = os.pread(self._fd, length, offset)
            if not self._anchor.holds(self._fd):
                raise FileRewritten
            return data
        finally:
            unlock(self._fd)


def resume_after(
    entries: Iterator[dict[str, Any]],
    newest: dict[str, Any],
    count: int,
    last: dict[str, Any],
    fields: tuple[str, ...] | None,
) -> bool:
    """Advance ``entries`` (the file read again) past the ``count`` entries already read,
    ``newest`` to ``last``; False if they are not there any more.

    Rewrites in place add entries after ``newest`` (newer ones, which come first): skip to
    ``newest``, then ``count - 1`` more, the last of which must be ``last``. With ``fields``
    (summaries were read), entries are compared on those fields only: the file, rewritten in
    another layout, now gives whole entries.
    """
    if not any(_same_entry(entry, newest, fields) for entry in entries):
        return False
    reached = newest
    for _ in range(count - 1):
        reached = next(entries, {})
    return _same_entry(reached, last, fields)


def _same_entry(one: dict[str, Any], other: dict[str, Any], fields: tuple[str, ...] | None) -> bool:
    if fields is None:
        return one == other
    return all(one.get(field) == other.get(field) for field in fields)
