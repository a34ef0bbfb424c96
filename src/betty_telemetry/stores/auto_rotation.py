"""Automatic rotation: a store rotated on a thread once a write takes it past a threshold.

The write path pays one comparison: the store hands ``after_write`` the size it already knows
(a file store's size after its append) or an estimate of its entries (a SQLite store's last
row id), and only a crossed threshold starts anything. The rotation itself (see the stores'
``rotate``) runs on a daemon thread of the process whose write crossed it, so no capture waits
for an archive to be compressed; one rotation at a time per store. If the process exits while
it runs, what it leaves (a staged file, a half-written archive, an uncommitted SQLite copy)
is finished or dropped by the next rotation, as after a kill.

``max_entries`` is checked on an estimate first (a file store's size over the mean size of
the entries it wrote), then, on the thread, by counting the entries before rotating.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from betty_telemetry._config import first_report, logger, track
from betty_telemetry.model.filters import EntryFilter


class Rotatable(Protocol):
    """What automatic rotation needs of a store."""

    @property
    def location(self) -> str: ...

    def rotate(self) -> str | None: ...

    def count(self, wanted: EntryFilter) -> int: ...


class AutoRotation:
    """Rotates one store, by ``rotate``, once ``max_bytes`` or ``max_entries`` is crossed."""

    def __init__(
        self,
        name: str,
        rotate: Callable[[], object],
        count: Callable[[], int],
        *,
        max_bytes: int | None,
        max_entries: int | None,
    ) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._rotate = rotate
        self._count = count
        self._written_bytes = 0  # of the entries this process wrote: their mean size
        self._written_entries = 0
        self._idle = threading.Event()  # cleared while a rotation is under way on a thread
        self._idle.set()
        track(self)

    @classmethod
    def of(
        cls, store: Rotatable, *, max_bytes: int | None, max_entries: int | None
    ) -> AutoRotation | None:
        """The automatic rotation of ``store``, or None when no threshold is set."""
        if max_bytes is None and max_entries is None:
            return None
        return cls(
            store.location,
            store.rotate,
            lambda: store.count(EntryFilter()),
            max_bytes=max_bytes,
            max_entries=max_entries,
        )

    def after_write(
        self, size: int | None, entries: int | None, batch_bytes: int, count: int
    ) -> None:
        """After a write of ``count`` entries (``batch_bytes`` long): the store's size, or
        None if not known cheaply, and its entries, or None to estimate them from the size."""
        self._written_bytes += batch_bytes
        self._written_entries += count
        if not self._idle.is_set():
            return
        if self.max_bytes is not None and size is not None and size >= self.max_bytes:
            self._start(exact_count=False)
        elif self.max_entries is not None:
            if entries is None and size is not None and self._written_entries:
                entries = size * self._written_entries // max(self._written_bytes, 1)
            if entries is not None and entries >= self.max_entries:
                self._start(exact_count=True)

    def _start(self, *, exact_count: bool) -> None:
        self._idle.clear()
        thread = threading.Thread(
            target=self._run, args=(exact_count,), name="betty-telemetry-rotation", daemon=True
        )
        thread.start()

    def _run(self, exact_count: bool) -> None:
        try:
            if exact_count and self.max_entries is not None and self._count() < self.max_entries:
                return  # the estimate was high: the entries are fewer than it said
            self._rotate()
        except Exception as exc:  # telemetry never breaks the host: said once, tried again later
            if first_report((f"rotation of {self.name}", type(exc).__name__)):
                logger.warning(
                    "Could not rotate %s automatically (%s: %s); captures go on into it, and "
                    "the next write past the threshold tries again",
                    self.name,
                    type(exc).__name__,
                    exc,
                )
        finally:
            self._idle.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a rotation under way to end; False if ``timeout`` passed first."""
        return self._idle.wait(timeout)

    def after_fork_in_child(self) -> None:
        self._idle = threading.Event()  # a rotation thread of the parent is not ours
        self._idle.set()

    def at_exit(self) -> None:
        pass  # a rotation cut short is finished by the next one
