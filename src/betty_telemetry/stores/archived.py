"""Reading a store together with its archives: one stream, newest first, in bounded memory.

An archive is read by the store of its format (``json`` by the JSON-array store, ``jsonl``
by the JSON Lines one) from a private temporary copy, removed once read: a compressed
archive decompressed (a newest-first read walks the file backwards, which gzip cannot), a
staged one (a rotation under way, or interrupted) copied, so that its compression, which
locks it, never waits for a reader (see ``archives.decompressed_copy``).

The archives are listed *before* the live store is read: a rotation during the read then
moves entries the read already holds (it reads the file it opened) into an archive it does
not know of, so nothing is read twice, and nothing stored before the read began is missed.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
from collections.abc import Collection, Generator, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from betty_telemetry.model.filters import OUT_OF_ORDER, EntryFilter
from betty_telemetry.model.times import utc_text
from betty_telemetry.stores._errors import CorruptStoreError
from betty_telemetry.stores.archives import decompressed_copy
from betty_telemetry.stores.base import Archive, Encoded, Follower, RotatingStore, Store
from betty_telemetry.stores.json_array.store import JsonArrayStore
from betty_telemetry.stores.json_lines import JsonLinesStore

_READERS: dict[str, type[JsonArrayStore] | type[JsonLinesStore]] = {
    JsonArrayStore.FORMAT_NAME: JsonArrayStore,
    JsonLinesStore.FORMAT_NAME: JsonLinesStore,
}
_EXPECTED = "a whole archive"


@contextlib.contextmanager
def open_archive(archive: Archive) -> Iterator[Store]:
    """A store to read ``archive``'s entries with (never to write to), for as long as the
    ``with`` lasts. A staged archive compressed meanwhile is read from its compressed twin.
    FileNotFoundError if the archive is gone."""
    reader = _READERS.get(archive.format)
    if reader is None:
        raise ValueError(f"no reader for archives of format {archive.format!r}: {archive.path}")
    with decompressed_copy(archive) as copy:
        yield reader(copy)


class WithArchives:
    """A read-only ``Store`` of a store's entries followed by those of its archives.

    ``scan`` reads the live store, then each archive, newest first (or the archives oldest
    first, then the live store); archives rotated before a filter's ``since`` (less the
    out-of-order margin) hold nothing it wants, and are not opened. An archive removed
    meanwhile (retention) is skipped. Writing goes to no archive: ``write`` raises.
    """

    def __init__(self, live: RotatingStore) -> None:
        self.live = live

    @property
    def location(self) -> str:
        return self.live.location

    def __repr__(self) -> str:
        return f"WithArchives({self.live!r})"

    def write(self, batch: Sequence[Encoded]) -> None:
        raise ValueError("a store read with its archives is read-only: write to the store itself")

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        self.live.close()

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        archives = self._archives_for(wanted)  # before the live store: see the module
        if not newest_first:
            archives.reverse()
            yield from self._scan_archives(archives, wanted, newest_first, fields)
        with contextlib.closing(
            self.live.scan(wanted, newest_first=newest_first, fields=fields)
        ) as entries:
            yield from entries
        if newest_first:
            yield from self._scan_archives(archives, wanted, newest_first, fields)

    def count(self, wanted: EntryFilter) -> int:
        archives = self._archives_for(wanted)
        total = self.live.count(wanted)
        for archive in archives:
            with _reading(archive) as store:
                if store is not None:
                    total += store.count(wanted)
        return total

    def follow(self, wanted: EntryFilter, backlog: int) -> tuple[list[dict[str, Any]], Follower]:
        """The live store's follower; its backlog made up from the archives when the live
        store holds fewer than ``backlog`` wanted entries."""
        archives = self._archives_for(wanted)
        recent, follower = self.live.follow(wanted, backlog)
        missing = backlog - len(recent)
        if missing > 0:
            older: list[dict[str, Any]] = []
            with contextlib.closing(self._scan_archives(archives, wanted, True, None)) as entries:
                for entry in entries:
                    if wanted.matches(entry):
                        older.append(entry)
                        if len(older) == missing:
                            break
            older.reverse()
            recent = older + recent
        return recent, follower

    def _archives_for(self, wanted: EntryFilter) -> list[Archive]:
        archives = self.live.archives()
        if wanted.since is None:
            return archives
        # An archive holds entries stored before its rotation: none after ``since`` if it
        # was rotated before ``since`` (give or take entries out of order).
        return [archive for archive in archives if _may_hold_since(archive, wanted.since)]

    @staticmethod
    def _scan_archives(
        archives: list[Archive],
        wanted: EntryFilter,
        newest_first: bool,
        fields: Collection[str] | None,
    ) -> Generator[dict[str, Any], None, None]:
        for archive in archives:
            with _reading(archive) as store:
                if store is not None:
                    with contextlib.closing(
                        store.scan(wanted, newest_first=newest_first, fields=fields)
                    ) as entries:
                        yield from entries


def _may_hold_since(archive: Archive, since: str) -> bool:
    return utc_text(archive.rotated_at + OUT_OF_ORDER) >= since


@contextlib.contextmanager
def _reading(archive: Archive) -> Iterator[Store | None]:
    """A store over ``archive``, or None if retention removed it meanwhile (nothing to read);
    damage is reported against the archive, not against the temporary copy read."""
    try:
        opened = open_archive(archive)
        store = opened.__enter__()
    except FileNotFoundError:
        yield None
        return
    except (EOFError, gzip.BadGzipFile) as error:  # a torn or damaged gzip stream
        raise CorruptStoreError(archive.path, str(error), expected=_EXPECTED) from None
    try:
        yield store
    except CorruptStoreError as error:
        raise CorruptStoreError(archive.path, error.found, expected=_EXPECTED) from None
    finally:
        opened.__exit__(None, None, None)


def with_archives(store: Store) -> Store:
    """``store`` read together with its archives (a store kept in memory has none)."""
    return WithArchives(store) if isinstance(store, RotatingStore) else store


_ARCHIVE_EXTENSIONS = {".json.gz": "json", ".jsonl.gz": "jsonl", ".ndjson.gz": "jsonl"}


def archive_format_of(path: str) -> str | None:
    """The format inside a gzipped file, by its name (``x.json.gz``: ``json``), or None if
    the name is not that of an archive."""
    lowered = path.lower()
    for extension, format_name in _ARCHIVE_EXTENSIONS.items():
        if lowered.endswith(extension):
            return format_name
    return None


@contextlib.contextmanager
def reading_archive_file(path: str, format_name: str) -> Iterator[Store]:
    """A store over the gzipped archive at ``path`` (any name), for the ``with``."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such archive", path)
    archive = Archive(path, datetime.now(timezone.utc), format_name, True)
    with _reading(archive) as store:
        assert store is not None  # it exists: checked above
        yield store
