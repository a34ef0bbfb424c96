"""The store a replay reads: a telemetry file (and its archives), opened for reading."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from betty_telemetry._config import IN_MEMORY, resolve_lock_timeout, resolve_telemetry_path
from betty_telemetry.export.state import state_path
from betty_telemetry.stores import open_store, with_archives
from betty_telemetry.stores.base import Store


@contextlib.contextmanager
def reading(
    telemetry_file: str | os.PathLike[str] | None, archives: bool
) -> Iterator[tuple[Store, str | None]]:
    """The store at ``telemetry_file`` (resolved as TelemetryCapture resolves it), with its
    archives if asked, and the export's state file beside it. FileNotFoundError if there is
    no such store."""
    location = resolve_telemetry_path(telemetry_file).path
    if location != IN_MEMORY and not os.path.exists(location):
        raise FileNotFoundError(2, "No telemetry file to export (nothing captured)", location)
    store = open_store(location, lock_timeout=resolve_lock_timeout())
    try:
        yield (
            (with_archives(store) if archives else store),
            (None if location == IN_MEMORY else state_path(location)),
        )
    finally:
        store.close()
