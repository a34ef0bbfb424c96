"""The in-memory store: entries kept in this process, for tests and short-lived tools.

``open_store(":memory:")`` gives a new one (each call its own, as SQLite's ``:memory:`` does),
so ``TelemetryCapture(":memory:")`` and ``BETTY_TELEMETRY_FILE=:memory:`` record nowhere on
disk. ``betty_telemetry.testing.capture_entries()`` records the decorator's and the context
manager's entries in one while it is active.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Generator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from betty_telemetry._config import IN_MEMORY, track
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores.base import Encoded, EntryFile, ProgressHook
from betty_telemetry.stores.entry_files import EntryFiles, copy_lines, handed_over

_MEASURE_EVERY = 1024  # entries between two calls of a scan's progress hook


class MemoryStore:
    """A ``Store`` that keeps its entries in a list in memory, for as long as it lives.

    Every entry is kept as its JSON line (the text a file would hold) and parsed again on each
    read, so entries read back are as stored: neither the writer's dicts, changed after the
    write, nor a reader's changes to what it got can alter them. Thread-safe: one lock, held
    only to append lines or to copy the list. Nothing is ever dropped (but by ``clear``):
    memory grows with every entry.
    """

    def __init__(self) -> None:
        self._lines: list[bytes] = []
        self._cleared = 0  # lines removed by clear(): followers count positions from the start
        self._lock = threading.Lock()
        track(self)  # a fork may happen while another thread holds the lock

    @property
    def location(self) -> str:
        return IN_MEMORY

    def __repr__(self) -> str:
        return f"<MemoryStore: {len(self._lines)} entries>"

    def __len__(self) -> int:
        return len(self._lines)

    def entries(self) -> list[dict[str, Any]]:
        """Every stored entry, oldest first (new dicts at each call)."""
        return [json.loads(line) for line in self._snapshot()]

    def clear(self) -> None:
        """Forget every entry; followers then give only what is stored after this."""
        with self._lock:
            self._cleared += len(self._lines)
            self._lines = []

    # -- the Sink protocol -------------------------------------------------------------------

    def write(self, batch: Sequence[Encoded]) -> None:
        """Store the batch, all of it or (ValueError, a line that is not a JSON object) none."""
        lines = [_checked(item.line) for item in batch]
        with self._lock:
            self._lines.extend(lines)

    def flush(self, timeout: float | None = None) -> bool:
        return True  # written is stored: there is nowhere further to go

    def close(self) -> None:
        """Nothing to release: the entries stay, as a file's do."""

    # -- the Store protocol ------------------------------------------------------------------

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """The entries matching ``wanted`` exactly, as stored, from a copy of the list taken
        at the first ``next()``: writers are not held up while the caller iterates."""
        return self.scan_measured(wanted, None, newest_first=newest_first, fields=fields)

    def scan_measured(
        self,
        wanted: EntryFilter,
        progress: ProgressHook | None,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """``scan``, telling ``progress`` how many of the entries it went through."""
        lines = self._snapshot()
        if newest_first:
            lines.reverse()
        matches = wanted.matches
        for start in range(0, len(lines), _MEASURE_EVERY):
            chunk = lines[start : start + _MEASURE_EVERY]
            if progress is not None:
                progress(start + len(chunk), len(lines))
            for line in chunk:
                entry = json.loads(line)
                if matches(entry):
                    yield entry

    def follow(
        self, wanted: EntryFilter, backlog: int
    ) -> tuple[list[dict[str, Any]], MemoryFollower]:
        with self._lock:
            lines = list(self._lines)
            position = self._cleared + len(lines)
        recent = [entry for entry in map(json.loads, lines) if wanted.matches(entry)]
        return (recent[-backlog:] if backlog > 0 else []), MemoryFollower(self, wanted, position)

    def count(self, wanted: EntryFilter) -> int:
        return sum(1 for _ in self.scan(wanted))

    def entry_files(self, *, archives: bool) -> AbstractContextManager[list[EntryFile]]:
        """The entries as one private JSON Lines file, copied now (a store in memory has no
        archives)."""

        def take(files: EntryFiles) -> None:
            copy_lines(files, IN_MEMORY, iter(self._snapshot()))

        return handed_over(take)

    # -- for followers, and for fork and exit ------------------------------------------------

    def lines_since(self, position: int) -> tuple[list[bytes], int]:
        """The lines stored after the first ``position`` ever stored, and the position after
        them (lines cleared meanwhile are gone: those after them are given)."""
        with self._lock:
            start = max(0, position - self._cleared)
            return self._lines[start:], self._cleared + len(self._lines)

    def _snapshot(self) -> list[bytes]:
        with self._lock:
            return list(self._lines)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it

    def at_exit(self) -> None:
        pass


class MemoryFollower:
    """Entries a ``MemoryStore`` stores after the follower was made, oldest first."""

    def __init__(self, store: MemoryStore, wanted: EntryFilter, position: int) -> None:
        self._store = store
        self._wanted = wanted
        self._position = position

    def poll(self) -> list[dict[str, Any]]:
        lines, self._position = self._store.lines_since(self._position)
        return [entry for entry in map(json.loads, lines) if self._wanted.matches(entry)]

    def close(self) -> None:
        pass


def _checked(line: bytes) -> bytes:
    """``line`` if it holds one JSON object (as a file store would need), else ValueError."""
    try:
        value = json.loads(line)
    except (TypeError, ValueError):
        value = None
    if type(value) is not dict:
        raise ValueError(f"an entry's line must be a JSON object, got {line[:80]!r}")
    return bytes(line)
