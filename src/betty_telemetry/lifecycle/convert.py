"""Converting between stores: every entry of one, oldest first, into another, as stored.

Any store ``open_store`` opens, or an archive, is read in bounded memory (the source's own
oldest-first reader, batches of BATCH entries) and written through the destination's own
``write``, so each store keeps its guarantees (locks, layout, indexes) while it is filled.
A destination that does not exist yet is built whole under a temporary name and appears at
its path only at the end (``stores.building``); an existing one must hold no entry, unless
appending was asked for, and is written batch by batch, as any writer writes. The count is
checked at the end: the destination holds exactly the entries it held, plus those read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import archive_format_of, new_store, open_readable, open_store
from betty_telemetry.stores.base import Encoded, Store

BATCH = 5_000
"""Entries per write: large enough to pay one lock per batch, small enough to stay brief."""
_EVERYTHING = EntryFilter()


@dataclass(frozen=True)
class Conversion:
    """What a conversion did: the entries copied, from where to where."""

    source: str
    destination: str
    entries: int
    appended: bool
    """Whether the destination held entries before (``append=True``)."""


def convert(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    append: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Conversion:
    """Copy every entry of ``source`` (a store or an archive) into ``destination`` (a store,
    chosen by its extension as ``open_store`` does), oldest first, exactly as stored.

    ``progress`` is called with the entries copied so far after each batch. ValueError for
    the same file twice, an archive as destination, an empty source, a destination holding
    entries without ``append``, or a count that does not add up at the end;
    FileNotFoundError for a missing source.
    """
    source_path, destination_path = os.fspath(source), os.fspath(destination)
    _check_paths(source_path, destination_path)
    with open_readable(source_path) as reader:
        if not os.path.lexists(destination_path):
            return _into_new(reader, source_path, destination_path, progress)
        writer = open_store(destination_path)
        try:
            held = writer.count(_EVERYTHING)
            if held and not append:
                raise ValueError(
                    f"{destination_path} already holds {held:,} entries: pass --append "
                    "(append=True) to add these after them, or convert into a new file"
                )
            copied = _copy(reader, writer, progress, source_path)
            _check_count(writer, held + copied, destination_path)
        finally:
            writer.close()
    return Conversion(source_path, destination_path, copied, bool(held))


def _into_new(
    reader: Store,
    source_path: str,
    destination_path: str,
    progress: Callable[[int], None] | None,
) -> Conversion:
    folder = os.path.dirname(destination_path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with new_store(destination_path, open_store) as writer:
        copied = _copy(reader, writer, progress, source_path)
        _check_count(writer, copied, destination_path)
    return Conversion(source_path, destination_path, copied, False)


def _check_paths(source: str, destination: str) -> None:
    if not os.path.lexists(source):
        raise FileNotFoundError(2, "No such telemetry file or archive to convert", source)
    if os.path.lexists(destination) and os.path.samefile(source, destination):
        raise ValueError(f"{source} and {destination} are the same file: convert into another")
    if archive_format_of(destination) is not None:
        raise ValueError(
            f"{destination} is named as an archive: archives are made by rotate and prune; "
            "convert into a .json, .jsonl or .db file"
        )


def _copy(reader: Store, writer: Store, progress: Callable[[int], None] | None, source: str) -> int:
    copied = 0
    for batch in _batches(reader):
        writer.write(batch)
        copied += len(batch)
        if progress is not None:
            progress(copied)
    if not copied:
        raise ValueError(f"{source} holds no entry: there is nothing to convert")
    return copied


def _batches(reader: Store) -> Iterator[list[Encoded]]:
    batch: list[Encoded] = []
    with contextlib.closing(reader.scan(_EVERYTHING, newest_first=False)) as entries:
        for entry in entries:
            batch.append(Encoded.as_stored(entry))
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _check_count(writer: Store, expected: int, destination: str) -> None:
    found = writer.count(_EVERYTHING)
    if found != expected:
        raise ValueError(
            f"{destination} holds {found:,} entries after the conversion, {expected:,} were "
            "expected: another process wrote to it meanwhile, or an entry was not stored"
        )
