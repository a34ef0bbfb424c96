"""A reader's view of the file that never blocks writers for longer than one block read.

Our appends never change a byte before the end of the last complete entry: they write over
the closing bracket. So the bytes a reader saw as complete stay as they were, and a long scan
(stats over a million entries takes seconds) does not need to hold the shared lock throughout,
which would stall every capture for that long. Each block is read under a brief shared lock.

Other programs may rewrite the file in place (the original framework loads, appends and
rewrites the whole array). To notice, the snapshot remembers the bytes just before the end of
the last complete entry (the *anchor*) and checks them with every block, under the same lock.
A changed anchor raises ``FileRewritten``; the reader then reads again holding the lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from types import TracebackType

ANCHOR_BYTES = 48
_TAIL_PROBE = 256
_CLOSING = b" \t\r\n,]"


def open_readonly(path: str) -> int | None:
    """A read-only descriptor on ``path``, or None if it does not exist.

    A folder opens fine on Linux and fails only at the first read, with an error that does not
    name it: refuse it here, with its path.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, "Is a folder, not a telemetry file", path)
    return fd


class FileRewritten(Exception):
    """Bytes a reader relied on changed: another program rewrote the file in place."""


class Snapshot:
    """Bytes ``[0, size)`` of an open file as they were when the snapshot was taken.

    With ``hold_lock`` the shared lock is held from ``__enter__`` to ``__exit__`` (the file
    cannot change); without it, each ``read`` takes the lock briefly and checks the anchor.
    """

    def __init__(self, fd: int, *, hold_lock: bool) -> None:
        self._fd = fd
        self._hold_lock = hold_lock
        self.size = 0
        self._anchor_at = 0
        self._anchor = b""

    def __enter__(self) -> Snapshot:
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            self.size = os.fstat(self._fd).st_size
            probe_at = max(0, self.size - _TAIL_PROBE)
            tail = os.pread(self._fd, self.size - probe_at, probe_at)
            anchor_end = probe_at + len(tail.rstrip(_CLOSING))
            self._anchor_at = max(0, anchor_end - ANCHOR_BYTES)
            self._anchor = os.pread(self._fd, anchor_end - self._anchor_at, self._anchor_at)
        except BaseException:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            raise
        if not self._hold_lock:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._hold_lock:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @property
    def content_end(self) -> int:
        """Where the last complete entry (or the array's ``[``) ends: appends go after it."""
        return self._anchor_at + len(self._anchor)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` (within the snapshot), as they were when taken."""
        if self._hold_lock:
            return os.pread(self._fd, length, offset)
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            data = os.pread(self._fd, length, offset)
            if os.pread(self._fd, len(self._anchor), self._anchor_at) != self._anchor:
                raise FileRewritten
            return data
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
