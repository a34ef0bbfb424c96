"""Storage back-ends for telemetry entries, behind one seam (see ``base``).

``open_store(location)`` picks the store by the location's extension, once (or ``":memory:"``
for a store in memory); nothing outside this package knows a file format.
"""

from __future__ import annotations

import os

from betty_telemetry._config import IN_MEMORY
from betty_telemetry.stores._errors import CorruptStoreError, NotARegularFileError
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, LockTimeoutError
from betty_telemetry.stores.base import (
    Archive,
    Encoded,
    EntryFile,
    EntryFilesStore,
    Follower,
    RotatingStore,
    Sink,
    Store,
)
from betty_telemetry.stores.json_array.store import JsonArrayStore
from betty_telemetry.stores.json_lines import JsonLinesStore
from betty_telemetry.stores.memory import MemoryStore
from betty_telemetry.stores.sqlite.store import SqliteStore

__all__ = [
    "Archive",
    "CorruptStoreError",
    "Encoded",
    "EntryFile",
    "EntryFilesStore",
    "Follower",
    "JsonArrayStore",
    "JsonLinesStore",
    "LockTimeoutError",
    "MemoryStore",
    "NotARegularFileError",
    "RotatingStore",
    "Sink",
    "SqliteStore",
    "Store",
    "open_store",
]

_JSON_LINES_EXTENSIONS = (".jsonl", ".ndjson")
_SQLITE_EXTENSIONS = (".db", ".sqlite", ".sqlite3")


def open_store(
    location: str | os.PathLike[str],
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    fsync: bool = False,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> Store:
    """The store for ``location``, chosen by its extension: ``.jsonl`` and ``.ndjson`` (in
    any case) are JSON Lines; ``.db``, ``.sqlite`` and ``.sqlite3`` (in any case) are SQLite
    databases; any other extension (``.json``, the spec's) is a JSON-array file. Nothing is
    opened or created until first use.

    ``":memory:"`` gives a new ``MemoryStore`` (each call its own; ``lock_timeout`` and
    ``fsync`` do not apply): entries kept in this process, nothing written to disk. A file of
    that name is ``"./:memory:"``.

    ``max_bytes`` / ``max_entries``: a file store rotates itself (on a thread) once a write
    takes it past either (see ``stores.auto_rotation``); a store in memory has no files.
    """
    path = os.fspath(location)
    if path == IN_MEMORY:
        return MemoryStore()
    limits = {"max_bytes": max_bytes, "max_entries": max_entries}
    if path.lower().endswith(_JSON_LINES_EXTENSIONS):
        return JsonLinesStore(path, lock_timeout=lock_timeout, fsync=fsync, **limits)
    if path.lower().endswith(_SQLITE_EXTENSIONS):
        return SqliteStore(path, lock_timeout=lock_timeout, fsync=fsync, **limits)
    return JsonArrayStore(path, lock_timeout=lock_timeout, fsync=fsync, **limits)
