"""Storage back-ends for telemetry entries, behind one seam (see ``base``).

``open_store(location)`` picks the store by the location's extension, once (or ``":memory:"``
for a store in memory); nothing outside this package knows a file format.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from betty_telemetry._config import IN_MEMORY
from betty_telemetry._lazy import lazy_names
from betty_telemetry.stores._errors import CorruptStoreError, NotARegularFileError
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, LockTimeoutError

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads each name
    from betty_telemetry.stores.archived import archive_format_of, with_archives
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
    from betty_telemetry.stores.checking.report import (
        CheckReport,
        Finding,
        LegacyNote,
        RepairReport,
    )
    from betty_telemetry.stores.json_array.store import JsonArrayStore
    from betty_telemetry.stores.json_lines import JsonLinesStore
    from betty_telemetry.stores.memory import MemoryStore
    from betty_telemetry.stores.sqlite.store import SqliteStore

__all__ = [
    "Archive",
    "CheckReport",
    "CorruptStoreError",
    "Encoded",
    "EntryFile",
    "EntryFilesStore",
    "Finding",
    "Follower",
    "JsonArrayStore",
    "JsonLinesStore",
    "LegacyNote",
    "LockTimeoutError",
    "MemoryStore",
    "NotARegularFileError",
    "Pruned",
    "RepairReport",
    "RotatingStore",
    "Sink",
    "SqliteStore",
    "Store",
    "archive_format_of",
    "check_location",
    "describe_store",
    "new_store",
    "open_readable",
    "open_store",
    "repair_location",
    "with_archives",
]

# Each name and the module it lives in, imported on first use (PEP 562): a process that
# appends to one JSON file (a command line capture, started afresh each time) loads that
# store alone, not SQLite, the archives or the checks. Keep in step with TYPE_CHECKING above.
_HOMES = {
    **dict.fromkeys(
        ("archive_format_of", "with_archives"),
        "betty_telemetry.stores.archived",
    ),
    **dict.fromkeys(
        (
            "Archive",
            "Encoded",
            "EntryFile",
            "EntryFilesStore",
            "Follower",
            "Pruned",
            "RotatingStore",
            "Sink",
            "Store",
        ),
        "betty_telemetry.stores.base",
    ),
    "new_store": "betty_telemetry.stores.building",
    **dict.fromkeys(
        ("CheckReport", "Finding", "LegacyNote", "RepairReport"),
        "betty_telemetry.stores.checking.report",
    ),
    "JsonArrayStore": "betty_telemetry.stores.json_array.store",
    "JsonLinesStore": "betty_telemetry.stores.json_lines",
    "MemoryStore": "betty_telemetry.stores.memory",
    "SqliteStore": "betty_telemetry.stores.sqlite.store",
}


__getattr__ = lazy_names(globals(), _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    # Each store's module is imported here, when chosen: see _HOMES.
    path = os.fspath(location)
    if path == IN_MEMORY:
        from betty_telemetry.stores.memory import MemoryStore

        return MemoryStore()
    limits = {"max_bytes": max_bytes, "max_entries": max_entries}
    if path.lower().endswith(_JSON_LINES_EXTENSIONS):
        from betty_telemetry.stores.json_lines import JsonLinesStore

        return JsonLinesStore(path, lock_timeout=lock_timeout, fsync=fsync, **limits)
    if path.lower().endswith(_SQLITE_EXTENSIONS):
        from betty_telemetry.stores.sqlite.store import SqliteStore

        return SqliteStore(path, lock_timeout=lock_timeout, fsync=fsync, **limits)
    from betty_telemetry.stores.json_array.store import JsonArrayStore

    return JsonArrayStore(path, lock_timeout=lock_timeout, fsync=fsync, **limits)


@contextlib.contextmanager
def open_readable(location: str | os.PathLike[str]) -> Iterator[Store]:
    """A store to read the entries at ``location`` with, closed after the ``with``: an
    archive (``.json.gz``, ``.jsonl.gz``, ``.ndjson.gz``: read from a private, uncompressed
    copy), or any store ``open_store`` opens."""
    from betty_telemetry.stores.archived import archive_format_of, reading_archive_file

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


# By the class's module and name, so that describing a store imports no other store's module.
_KINDS = {
    "betty_telemetry.stores.json_array.store.JsonArrayStore": "JSON array",
    "betty_telemetry.stores.json_lines.store.JsonLinesStore": "JSON Lines",
    "betty_telemetry.stores.sqlite.store.SqliteStore": "SQLite",
    "betty_telemetry.stores.memory.MemoryStore": "in memory",
}


def describe_store(store: Store) -> str:
    """What kind of store ``store`` is, for people: ``JSON array``, ``SQLite``..."""
    kind = type(store)
    return _KINDS.get(f"{kind.__module__}.{kind.__qualname__}", kind.__name__)


def check_location(
    location: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> CheckReport:
    """Check the store at ``location`` (any store ``open_store`` picks), or an archive
    (``....json.gz``, ``....jsonl.gz``): what it holds, and each problem, where it is (see
    ``CheckReport``). Writers go on meanwhile. FileNotFoundError if there is nothing there."""
    from betty_telemetry.stores.archived import archive_format_of
    from betty_telemetry.stores.checking import check_archive, check_store

    path = os.fspath(location)
    if archive_format_of(path) is not None:
        return check_archive(path)
    store = _file_backed(path, lock_timeout)
    try:
        return check_store(store)
    finally:
        store.close()


def repair_location(
    location: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> RepairReport:
    """Repair what can be repaired in the store at ``location`` (a torn tail, a missing
    closing bracket, separators, damaged lines moved aside into a side file), after a
    backup, under the store's lock, keeping every complete entry (see ``RepairReport``)."""
    from betty_telemetry.stores.archived import archive_format_of
    from betty_telemetry.stores.checking import repair_store

    path = os.fspath(location)
    if archive_format_of(path) is not None:
        raise ValueError(
            f"{path} is an archive: archives are written whole by a rotation and are not "
            "repaired; check it, or decompress it (gzip -dc) into a store and repair that"
        )
    store = _file_backed(path, lock_timeout)
    try:
        return repair_store(store)
    finally:
        store.close()


def _file_backed(path: str, lock_timeout: float) -> Store:
    if path == IN_MEMORY:
        raise ValueError(
            "a store in memory keeps no file: there is nothing to check or repair "
            "(give the path of a telemetry file)"
        )
    return open_store(path, lock_timeout=lock_timeout)
