"""Following a telemetry file as entries are appended (``tail -f``), by name, like ``tail -F``.

The follower keeps the offset just after the last entry it returned and reads what comes
after it. Our appends write ``,\\n<entry>\\n]\\n`` over the closing bracket that follows that
entry, so the new entries always start after the offset; bytes before it never change. The
follower checks that (the anchor, as in ``_snapshot``) each time it reads, under the shared
lock, and handles the other ways a file changes:

- replaced (rotation, ``os.replace``) or deleted and created again: what is left in the old
  file is read, then the new file is read from its start;
- rewritten in place (the original framework rewrites the whole array) or truncated: the file
  is read again and the entries after the last one returned are returned (all of them if that
  entry is gone).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from typing import Any

from betty_telemetry.stores._damage import Damage
from betty_telemetry.stores._line_test import LineTest
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, lock, unlock
from betty_telemetry.stores._snapshot import Anchor, Snapshot, open_readonly
from betty_telemetry.stores.json_array.reader import read_newest_first
from betty_telemetry.stores.json_array.text import WHITESPACE, parse_entry_line

READ_BYTES = 1 << 20
_NOT_ENTRIES = (b"", b"[", b"]", b",", b"[]")


def _any_entry(entry: dict[str, Any]) -> bool:
    return True


class ArrayFollower:
    """New entries of the file at ``path`` (as stored), oldest first, each time ``poll`` is
    called."""

    def __init__(self, path: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self._lock_timeout = lock_timeout
        self._fd = -1
        self._identity: tuple[int, int] | None = None
        self._position = 0
        self._anchor = Anchor(b"", 0, b"")
        self._last: dict[str, Any] | None = None

    def start_at_end(
        self,
        backlog: int = 0,
        test: LineTest | None = None,
        wanted: Callable[[dict[str, Any]], bool] = _any_entry,
    ) -> list[dict[str, Any]]:
        """Skip what the file holds now, so only entries appended later are polled; return
        the last ``backlog`` entries it holds that ``test`` keeps and ``wanted`` accepts,
        oldest first, read in the same moment (none is missed or returned twice)."""
        if not self._open():
            return []
        damage = Damage()
        with self._snapshot() as snapshot:
            self._move_to(snapshot.content_end)
            self._last = next(read_newest_first(self.path, snapshot, damage=damage), None)
            recent: list[dict[str, Any]] = []
            if backlog > 0:
                for entry in read_newest_first(self.path, snapshot, test, damage=damage):
                    if wanted(entry):
                        recent.append(entry)
                        if len(recent) >= backlog:
                            break
        damage.report(self.path, self._fd)
        recent.reverse()
        return recent

    def poll(self) -> list[dict[str, Any]]:
        """Entries appended since the last poll (at most about 1 MiB of them), oldest first."""
        if self._fd < 0:
            return self._read_new_file()
        entries = self._read_new()
        if not entries and self._replaced():
            entries = self._read_new()  # what the old file got before it was replaced
            self.close()
            entries += self._read_new_file()
        if entries:
            self._last = entries[-1]
        return entries

    def _read_new_file(self) -> list[dict[str, Any]]:
        # Every entry of a file that appeared since the last poll is new, in any layout.
        if not self._open():
            return []
        self._last = None
        entries = self._resync()
        if entries:
            self._last = entries[-1]
        return entries

    def _snapshot(self) -> Snapshot:
        return Snapshot(self._fd, hold_lock=True, path=self.path, lock_timeout=self._lock_timeout)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- internals -------------------------------------------------------------------------

    def _open(self) -> bool:
        fd = open_readonly(self.path)
        if fd is None:
            return False
        self._fd = fd
        status = os.fstat(self._fd)
        self._identity = (status.st_dev, status.st_ino)
        return True

    def _replaced(self) -> bool:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return False  # deleted: keep reading the old file until a new one appears
        return (status.st_dev, status.st_ino) != self._identity

    def _move_to(self, position: int) -> None:
        self._position = position
        self._anchor = Anchor.before(self._fd, position)

    def _read_new(self) -> list[dict[str, Any]]:
        lock(self._fd, fcntl.LOCK_SH, self._lock_timeout, self.path, "it could not be read")
        try:
            size = os.fstat(self._fd).st_size
            if size < self._position or not self._anchor.holds(self._fd):
                return self._resync()
            data = os.pread(self._fd, min(size - self._position, READ_BYTES), self._position)
        finally:
            unlock(self._fd)
        return self._consume(data)

    def _consume(self, data: bytes) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        consumed = 0
        offset = 0
        for line in data.split(b"\n")[:-1]:  # the last piece has no newline yet
            line_start, offset = offset, offset + len(line) + 1
            stripped = line.strip(WHITESPACE)
            if stripped in _NOT_ENTRIES:
                continue
            entry = parse_entry_line(line) if stripped[:1] == b"{" else None
            if entry is None:
                # Not our one-entry-per-line layout: another tool wrote here (the original
                # framework rewrites the array indented). Read the file whole from here on.
                if entries:
                    self._move_to(self._position + consumed)
                    self._last = entries[-1]
                return entries + self._resync()
            entries.append(entry)
            consumed = line_start + len(line.rstrip(b", \t\r\n]"))
        if entries:
            self._move_to(self._position + consumed)
        return entries

    def _resync(self) -> list[dict[str, Any]]:
        """The file changed before our offset: return what is newer than our last entry."""
        newer: list[dict[str, Any]] = []
        damage = Damage()
        with self._snapshot() as snapshot:
            for entry in read_newest_first(self.path, snapshot, damage=damage):
                if self._last is not None and entry == self._last:
                    break
                newer.append(entry)
            self._move_to(snapshot.content_end)
        damage.report(self.path, self._fd)
        newer.reverse()
        return newer
