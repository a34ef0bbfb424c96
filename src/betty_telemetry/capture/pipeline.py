"""The pipeline every interface ends in: an entry built once, encoded once, then stored.

``build_entry`` (validation, timestamp, trace ids, redaction) is the pipeline's first step;
``record`` takes the built entry through the size limit and the encoding (``encoded``) and
hands it to the store, at once (direct mode) or through a ``BatchingSink`` (background mode),
which runs the same steps on its thread. The store is opened once, at construction. With a
live export, each entry the store took is then handed to it (the export only queues it).
"""

from __future__ import annotations

import time
from _thread import allocate_lock  # threading.Lock, without threading's import
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from betty_telemetry._config import (
    CAPTURING,
    DEFAULT_QUEUE_SIZE,
    EXIT_FLUSH_TIMEOUT,
    RETRY_LONGEST_PAUSE,
    tap,
)
from betty_telemetry.capture.build import encoded
from betty_telemetry.stores import LockTimeoutError
from betty_telemetry.stores.base import Encoded, Sink, Store

# The writer thread (batching, and threading with it) is imported when one is needed: in
# background mode, after a lock timeout, or to flush and close one. A direct capture (every
# command line one, a fresh process per call) never needs it.
if TYPE_CHECKING:
    from betty_telemetry.capture.batching import BatchingSink, Job


class ExportingSink:
    """The store, then the export: an entry is exported only once the store has it."""

    def __init__(self, store: Store, export: Exporter) -> None:
        self.store = store
        self.export = export

    def write(self, batch: Sequence[Encoded]) -> None:
        self.store.write(batch)
        self.export.write(batch)

    def flush(self, timeout: float | None = None) -> bool:
        return self.store.flush(timeout)

    def close(self) -> None:
        self.store.close()


class Exporter(Protocol):
    """A live export (``export.live.LiveExport``): takes stored entries, never raises."""

    def write(self, batch: Sequence[Encoded]) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self, timeout: float | None = ...) -> bool: ...


class Pipeline:
    """Where built entries go: into ``store`` (and ``export``), directly or in batches on a
    thread."""

    def __init__(
        self,
        store: Store,
        *,
        background: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        export: Exporter | None = None,
    ) -> None:
        self.store = store
        self.export = export
        self._sink: Sink = store if export is None else ExportingSink(store, export)
        self._batching: BatchingSink | None = None
        self._detour: BatchingSink | None = None  # see record_for_host
        self._detour_lock = allocate_lock()
        if background:
            from betty_telemetry.capture.batching import BatchingSink

            self._batching = BatchingSink(self._sink, store.location, queue_size=queue_size)
        self.background = background
        """Whether entries go through a writer thread (an attribute: read on every capture)."""

    @property
    def dropped(self) -> int:
        """Entries dropped from a queue (full, or a write failed)."""
        return sum(sink.dropped_total for sink in self._queues())

    def _queues(self) -> list[BatchingSink]:
        return [sink for sink in (self._batching, self._detour) if sink is not None]

    def submit(self, job: Job) -> None:
        """Background mode: queue a job that builds the entry on the writer thread."""
        assert self._batching is not None
        self._batching.submit(job)

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Store a built entry (shrunk to the size limit first) and return it as stored.
        Raises what the store raises."""
        item = encoded(entry)
        self._sink.write((item,))
        if CAPTURING:  # testing.capture_entries() is active: it gets a copy
            tap((item,))
        return item.entry

    def record_for_host(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Store an entry for the decorator or the context manager: as ``record``, but a
        stuck lock costs the host one lock timeout, not one per call.

        After a LockTimeoutError the entry goes to a writer thread (the detour), and so does
        every later one while it still holds entries, so they stay in order; the thread
        retries until the lock is free. Once it has written them all, calls write directly
        again. Raises what ``record`` raises, but LockTimeoutError.
        """
        if self._batching is not None:
            self._batching.submit_entry(entry)
            return entry
        detour = self._detour
        if detour is not None and detour.busy():
            detour.submit_entry(entry)  # behind those still waiting: the order is kept
            return entry
        try:
            item = encoded(entry)  # as record(), one call less: this runs on every run
            self._sink.write((item,))
            if CAPTURING:
                tap((item,))
            return item.entry
        except LockTimeoutError as exc:
            from betty_telemetry.capture.batching import report_waiting

            report_waiting(exc)
            self._detour_sink().submit_entry(entry)
            return entry

    def _detour_sink(self) -> BatchingSink:
        from betty_telemetry.capture.batching import BatchingSink

        with self._detour_lock:  # two threads meeting the timeout at once share one queue
            if self._detour is None:
                self._detour = BatchingSink(self._sink, self.store.location)
            return self._detour

    def settled(self, lock_timeout: float) -> Store:
        """The store, once what was queued is written: reads see their own writes. Waits at
        most about a lock timeout: if the lock is stuck, the read meets it too."""
        self.flush(lock_timeout + 2 * RETRY_LONGEST_PAUSE)
        return self.store

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every entry queued so far is written (and exported, with a live export);
        False if ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        flushed = True
        for sink in self._queues():
            flushed = sink.flush(left()) and flushed
        flushed = self.store.flush(left()) and flushed
        if self.export is not None:
            flushed = self.export.flush(left()) and flushed
        return flushed

    def close(self) -> None:
        """Write what is queued (waiting up to 5 s), end the threads, close the store (and
        the export, after sending what it holds, waiting up to 5 s more)."""
        for sink in self._queues():
            sink.close(EXIT_FLUSH_TIMEOUT)
        if self.export is not None:
            self.export.close(EXIT_FLUSH_TIMEOUT)
        self.store.close()
