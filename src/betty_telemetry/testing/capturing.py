"""``capture_entries()``: the entries this process records, in a list, while a block runs.

The state lives in ``_config`` (``CAPTURING``, a list of the active blocks): the default
captures look at it to record in memory instead of a file, and every pipeline, after a write,
copies what it stored to each active block's list. When no block is active, that costs the
pipeline one global lookup per entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from betty_telemetry._config import EXIT_FLUSH_TIMEOUT, start_capturing, stop_capturing, tracked
from betty_telemetry.capture.batching import BatchingSink
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.stores import Encoded, MemoryStore

if TYPE_CHECKING:
    from betty_telemetry.model.types import Entry


class _Capturing:
    """One active block: its list, and the capture that stands in for the default ones."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        # Direct mode whatever BETTY_TELEMETRY_MODE says: an entry is in the list as soon as
        # its run ends, so a test can assert on it at once. lock_timeout: nothing to wait for.
        self.telemetry = TelemetryCapture(store=MemoryStore(), lock_timeout=0.0)

    def take(self, batch: Sequence[Encoded]) -> None:
        # Parsed from the stored line: the entry as a reader of the file would get it, and a
        # dict of the list's own, whatever the recording code or another list does with theirs.
        self.entries.extend([json.loads(item.line) for item in batch])  # one step: atomic


@contextmanager
def capture_entries() -> Iterator[list[Entry]]:
    """Collect the telemetry entries recorded in this process while the block runs.

    Yields a list that fills as entries are stored, in the order they are stored (entries of
    different threads stored at the same moment may swap places: each is copied just after
    its write, not under the store's lock): each entry as stored (secrets redacted, trace ids
    included), a dict of the list's own.

    - Runs of the decorator and the context manager given no ``telemetry=`` record into
      memory instead of their file: nothing is written to disk, whatever
      ``BETTY_TELEMETRY_FILE`` says. They are written directly, even if
      ``BETTY_TELEMETRY_MODE=background``, so they are in the list when the run ends.
    - Entries of explicit ``TelemetryCapture`` instances (``telemetry=``, ``capture()``) are
      still written to their own store, and copied to the list once written. In background
      mode that is on the writer thread: call the capture's ``flush()`` before asserting
      inside the block. On exit, every writer thread of the process is flushed (up to 5 s in
      all), so what was queued in the block is in the list afterwards.
    - Process-wide, not per thread or task: entries recorded on any thread of the process
      count. A forked child records to its file as usual.
    - Blocks nest: each active block gets every entry; the innermost one's capture stands in
      for the default ones, and on exit the one outside it again, even if the block raised.
    """
    capturing = _Capturing()
    start_capturing(capturing)
    try:
        yield cast("list[Entry]", capturing.entries)
    finally:
        try:
            flush_writers(EXIT_FLUSH_TIMEOUT)
        finally:
            stop_capturing(capturing)
            capturing.telemetry.close()


def flush_writers(timeout: float) -> bool:
    """Wait until every writer thread of the process has written what is queued (at most
    ``timeout`` seconds in all); False if one had not."""
    deadline = time.monotonic() + timeout
    flushed = True
    for resource in tracked():
        if isinstance(resource, BatchingSink) and resource.busy():
            left = max(0.0, deadline - time.monotonic())
            flushed = resource.flush(left) and flushed
    return flushed
