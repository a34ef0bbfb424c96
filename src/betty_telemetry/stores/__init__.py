"""Storage back-ends for telemetry entries, behind one seam (see ``base``).

``open_store(location)`` picks the store by the location's extension, once (or ``":memory:"``
for a store in memory); nothing outside this package knows a file format.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from betty_telemetry._config import IN_MEMORY
from betty_telemetry.stores._errors import CorruptStoreError, NotARegularFileError
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, LockTimeoutError
from betty_telemetry.stores.archived import (
    archive_format_of,
    reading_archive_file,
    with_archives,
)
from betty_telemetry.stores.base import (
    Archive,
    Encoded,
    EntryFile,
    EntryFilesStore,
    Follower,
    Pruned,
    RotatingStore,
    Sink,
    Store,
)
from betty_telemetry.stores.building import new_store
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
    "Pruned",
    "RotatingStore",
    "Sink",
    "SqliteStore",
    "Store",
    "archive_format_of",
    "describe_store",
    "new_store",
    "open_readable",
    "open_store",
    "with_archives",
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


@contextlib.contextmanager
def open_readable(location: str | os.PathLike[str]) -> Iterator[Store]:
    """A store to read the entries at ``location`` with, closed after the ``with``: an
    archive (``.json.gz``, ``.jsonl.gz``, ``.ndjson.gz``: read from a private, uncompressed
    copy), or any store ``open_store`` opens."""
    path = os.fspath(location)
    format_name = archive_format_of(path)
    if format_name is not None:
        with reading_archive_file(path, format_name) as archive:
            yield archive
        return
    store = open_store(path)
    try:
        yield store
    finally:
        store.close()


_KINDS: dict[type, str] = {
    JsonArrayStore: "JSON array",
    JsonLinesStore: "JSON Lines",
    SqliteStore: "SQLite",
    MemoryStore: "in memory",
}


def describe_store(store: Store) -> str:
    """What kind of store ``store`` is, for people: ``JSON array``, ``SQLite``..."""
    return _KINDS.get(type(store), type(store).__name__)
