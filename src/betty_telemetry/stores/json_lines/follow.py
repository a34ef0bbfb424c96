"""Following a JSON Lines telemetry file as entries are appended, by name, like ``tail -F``.

The follower keeps the offset just after the last complete line it read and reads what comes
after it; appends only add lines there, so it needs no lock, and never returns an entry twice.
The other ways a file changes:

- replaced (rotation, ``os.replace``) or deleted and created again: what is left in the old
  file is read, then the new file from its start;
- truncated (``copytruncate``), perhaps written again before the next poll (the bytes before
  the offset changed: see ``Anchor``): the file is read again from its start, all of it new;
- cut back at its end, its start unchanged (a write that failed, undone by the writer): the
  follower goes on from the new end, returning nothing twice.

An unterminated last line is left for a later poll, once its newline is there, unless it is a
whole object (another tool's last line: JSON Lines does not require the newline).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from betty_telemetry.stores._damage import Damage
from betty_telemetry.stores._line_test import LineTest
from betty_telemetry.stores._snapshot import Anchor, open_readonly
from betty_telemetry.stores.json_lines.lines import COMPLETE, last_line_kind, settled_end
from betty_telemetry.stores.json_lines.parse import parse_lines
from betty_telemetry.stores.json_lines.reader import (
    Block,
    FileChanged,
    LinesSnapshot,
    entries_newest_first,
)

READ_BYTES = 1 << 20
Entry = dict[str, Any]


def _any_entry(entry: Entry) -> bool:
    return True


class LinesFollower:
    """New entries of the JSON Lines file at ``path`` (as stored), oldest first, each time
    ``poll`` is called."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self._identity: tuple[int, int] | None = None
        self._position = 0
        self._anchor = Anchor(b"", 0, b"")

    def start_at_end(
        self,
        backlog: int = 0,
        test: LineTest | None = None,
        wanted: Callable[[Entry], bool] = _any_entry,
    ) -> list[Entry]:
        """Skip what the file holds now, so only entries appended later are polled; return
        the last ``backlog`` entries it holds that ``test`` keeps and ``wanted`` accepts,
        oldest first, read from the same end (none is missed or returned twice). Raises
        CorruptStoreError if the file is not JSON Lines."""
        if not self._open():
            return []
        damage = Damage()
        recent: list[Entry] = []
        snapshot = LinesSnapshot(self._fd, self.path)
        self._move_to(snapshot.end)
        try:
            if backlog > 0:
                for entry in entries_newest_first(snapshot, test, damage):
                    if wanted(entry):
                        recent.append(entry)
                        if len(recent) >= backlog:
                            break
        except FileChanged:
            pass  # truncated meanwhile: the first poll notices, and reads it from its start
        damage.report(self.path, self._fd)
        recent.reverse()
        return recent

    def poll(self) -> list[Entry]:
        """Entries appended since the last poll (about 1 MiB of them at most), oldest first."""
        if self._fd < 0:
            return self._read_new_file()
        entries = self._read_new()
        if not entries and self._replaced():
            entries = self._read_new()  # what the old file got before it was replaced
            self.close()
            entries += self._read_new_file()
        return entries

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
        status = os.fstat(fd)
        self._identity = (status.st_dev, status.st_ino)
        return True

    def _read_new_file(self) -> list[Entry]:
        # Every entry of a file that appeared since the last poll is new.
        if not self._open():
            return []
        self._move_to(0)
        return self._read_new()

    def _replaced(self) -> bool:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return False  # deleted: keep reading the old file until a new one appears
        return (status.st_dev, status.st_ino) != self._identity

    def _move_to(self, position: int) -> None:
        self._position = position
        self._anchor = Anchor.before(self._fd, position)

    def _resync(self, size: int) -> None:
        """Bytes before our offset changed. Cut back at the end, the start as it was (a write
        that failed, undone): what is left was read. Otherwise the file was truncated, perhaps
        written again: all it holds now is new."""
        head = self._anchor.head
        if 0 < size < self._position and os.pread(self._fd, len(head), 0) == head:
            self._move_to(settled_end(self._fd, size)[0])
        else:
            self._move_to(0)

    def _read_new(self) -> list[Entry]:
        size = os.fstat(self._fd).st_size
        if size < self._position or not self._anchor.holds(self._fd):
            self._resync(size)
        position = self._position
        if size == position:
            return []
        data = os.pread(self._fd, min(size - position, READ_BYTES), position)
        end = data.rfind(b"\n") + 1
        if end == 0 and position + len(data) < size:  # one line longer than a read
            data = os.pread(self._fd, size - position, position)
            end = data.rfind(b"\n") + 1
        if position + len(data) >= size and last_line_kind(data[end:]) == COMPLETE:
            end = len(data)  # a whole last object without its newline (another tool's)
        if end == 0:
            return []  # only the start of a line so far
        damage = Damage()
        lines = data[:end].split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        block = Block(position, lines, zeroed=False)
        entries = block.entries(block.candidates(damage), parse_lines, damage)
        self._move_to(position + end)
        damage.report(self.path, self._fd)
        return entries
