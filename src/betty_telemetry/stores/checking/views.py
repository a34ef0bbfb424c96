"""Views of a file for a walk: as it is under a lock, or as it was, while writers go on.

A check must not hold writers up for the seconds a large file takes to read, so it reads it
as a reader does (see ``_snapshot``): appends never change a byte before the *settled* end
(a JSON array's last complete entry, a JSON Lines file's last line), so those bytes are read a
block at a time under a brief shared lock, each time checking that the bytes it relies on are
still there (else ``FileRewritten``: another program rewrote the file in place, and the check
starts over holding the lock). What follows the settled end, which the next append may
overwrite, is read once, under the lock, when the view is taken.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable

from betty_telemetry.stores._lock import lock, unlock
from betty_telemetry.stores._snapshot import Anchor, FileRewritten

Settled = Callable[[int, int], int]
"""Given a descriptor and the file's size, where the bytes that appends never change end."""

_ACTION = "it could not be checked"


class HeldView:
    """The file as it is while the caller holds its lock: plain reads."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, min(length, self.size - offset), offset)


class FrozenView:
    """The file as it was when taken (see the module). Raises ``FileRewritten``."""

    def __init__(self, fd: int, path: str, lock_timeout: float, settled: Settled) -> None:
        self.fd = fd
        self._path = path
        self._lock_timeout = lock_timeout
        self._lock()
        try:
            self.size = os.fstat(fd).st_size
            self._settled = settled(fd, self.size)
            self._anchor = Anchor.before(fd, self._settled)
            self._tail = os.pread(fd, self.size - self._settled, self._settled)
        finally:
            unlock(fd)

    def _lock(self) -> None:
        lock(self.fd, fcntl.LOCK_SH, self._lock_timeout, self._path, _ACTION)

    def read(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        settled = self._settled
        if offset >= settled:
            return self._tail[offset - settled : end - settled]
        self._lock()
        try:
            data = os.pread(self.fd, min(end, settled) - offset, offset)
            if not self._anchor.holds(self.fd):
                raise FileRewritten
        finally:
            unlock(self.fd)
        return data + self._tail[: max(0, end - settled)]
