"""Pruning a file store: its entries older than a moment moved into an archive, the rest kept.

Unlike a rotation, a prune rewrites the file, so it holds the file's exclusive lock from the
first byte read to the rename (writers wait, as they do for any append, up to their lock
timeout). Every step leaves the entries whole, whenever the process is killed:

1. The file is copied, as it is, to a private temporary file and read from there, oldest
   first (a reader takes a shared lock, which our own exclusive one would refuse). Old
   entries go to ``NAME.STAMP.rotating.partial``, the others to ``NAME.STAMP.kept``, each in
   the store's format, and both are synced. *Killed here:* the file is untouched; the next
   prune or rotation removes both.
2. ``NAME.STAMP.pruning`` is created: the prune is committed to going on.
3. The ``.partial`` file becomes the staged archive ``NAME.STAMP.rotating`` (it counts as an
   archive from now on). *Killed between 2 and 3:* the next one removes the marker, then
   both files; the file is untouched.
4. ``NAME.STAMP.kept`` replaces the file. *Killed between 3 and 4:* the old entries are in
   the archive and still in the file. The next prune or rotation, under the lock, takes out
   of the file, in order, the entries the archive holds (the file then may have grown, never
   changed before its end), and renames the rest into place.
5. The marker is removed and the archive compressed, as a rotation's (``archives``).

A file with damaged lines is refused untouched: a rewrite keeps entries, not bytes, and would
drop them (``betty-telemetry repair`` moves them aside first).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from betty_telemetry.model.times import canonical_timestamp
from betty_telemetry.stores._damage import Damage
from betty_telemetry.stores._files import fsync_folder, remove_stale_temporaries
from betty_telemetry.stores.archives import (
    KEPT_SUFFIX,
    PARTIAL_SUFFIX,
    PRUNE_MARKER_SUFFIX,
    STAGED_SUFFIX,
    archive_path,
    decompressed_copy,
    free_staged_path,
    private_copy,
)
from betty_telemetry.stores.base import Archive, Encoded, Pruned

_BATCH = 2_000
_STAMP = r"\d{8}T\d{6}\.\d{6}Z"


class RewritableStore(Protocol):
    """What a prune needs of a file store: made on a path, written, read whole."""

    FORMAT_NAME: str
    path: str

    def write(self, batch: Sequence[Encoded]) -> None: ...

    def create_empty(self) -> None: ...

    def close(self) -> None: ...

    def iter_for_rewrite(self, damage: Damage) -> Generator[dict[str, Any], None, None]: ...


StoreFactory = Callable[[str], RewritableStore]


class DamagedFileError(ValueError):
    """The file holds damaged lines that a rewrite would drop: nothing was changed."""


def prune_locked(path: str, fd: int, before: str, make: StoreFactory) -> tuple[str | None, Pruned]:
    """Prune the file at ``path``, open and locked exclusively as ``fd`` (see the module);
    returns the staged archive to compress (None if nothing was old enough) and the counts."""
    staged = free_staged_path(path, datetime.now(timezone.utc))
    base = staged.removesuffix(STAGED_SUFFIX)
    partial, kept, marker = staged + PARTIAL_SUFFIX, base + KEPT_SUFFIX, base + PRUNE_MARKER_SUFFIX
    try:
        moved, stayed = _split(path, fd, before, make, partial, kept)
    except BaseException:
        _remove(partial, kept)
        raise
    if not moved:
        _remove(partial, kept)
        return None, Pruned(None, 0, stayed)
    folder = os.path.dirname(path) or "."
    _create_marker(marker, before)
    os.rename(partial, staged)
    fsync_folder(folder)
    # A second name of the old file (a creation killed half-way) would keep pruned entries
    # alive beside the new file: remove it first.
    remove_stale_temporaries(folder, os.fstat(fd))
    os.rename(kept, path)
    fsync_folder(folder)
    os.unlink(marker)
    return staged, Pruned(None, moved, stayed)


def _split(
    path: str, fd: int, before: str, make: StoreFactory, partial: str, kept: str
) -> tuple[int, int]:
    """Write the old entries to ``partial`` and the others to ``kept``; their counts."""
    counts = [0, 0]
    with _entries_of(fd, make, strict=True, path=path) as entries:

        def split() -> Iterator[tuple[int, Encoded]]:
            for entry in entries:
                moment = canonical_timestamp(entry.get("timestamp"))
                old = moment is not None and moment < before
                counts[not old] += 1
                yield (0 if old else 1), Encoded.as_stored(entry)

        _write_split([make(partial), make(kept)], split())
    return counts[0], counts[1]


def _write_split(stores: list[RewritableStore], items: Iterable[tuple[int, Encoded]]) -> None:
    """Write each item to the store its index names, in batches, then sync every file; each
    store's file exists afterwards, even with no entry."""
    batches: list[list[Encoded]] = [[] for _ in stores]
    try:
        for which, encoded in items:
            batch = batches[which]
            batch.append(encoded)
            if len(batch) == _BATCH:
                stores[which].write(batch)
                batch.clear()
        for store, batch in zip(stores, batches, strict=True):
            store.write(batch)
            if not os.path.exists(store.path):
                store.create_empty()
    finally:
        for store in stores:
            store.close()
    for store in stores:
        _fsync(store.path)


def recover_locked(path: str, fd: int, make: StoreFactory, format_name: str) -> bool:
    """Under the file's exclusive lock (``fd``): finish or undo every prune a kill left, and
    remove the temporary files of those killed before they were committed. True if a file
    finished that way took the path (``fd`` is then no longer the file at the path)."""
    folder, name = os.path.split(path)
    pattern = re.compile(
        rf"{re.escape(name)}\.({_STAMP})"
        rf"({re.escape(PRUNE_MARKER_SUFFIX)}|{re.escape(KEPT_SUFFIX)}"
        rf"|{re.escape(STAGED_SUFFIX + PARTIAL_SUFFIX)})"
    )
    found: dict[str, set[str]] = {}
    for candidate in os.listdir(folder or "."):
        match = pattern.fullmatch(candidate)
        if match is not None:
            found.setdefault(match.group(1), set()).add(match.group(2))
    for stamp, suffixes in sorted(found.items()):
        base = os.path.join(folder, f"{name}.{stamp}")
        staged = base + STAGED_SUFFIX
        committed = PRUNE_MARKER_SUFFIX in suffixes
        archived = STAGED_SUFFIX + PARTIAL_SUFFIX not in suffixes and _archive_exists(
            staged, format_name
        )
        replaced = KEPT_SUFFIX not in suffixes  # step 4 done
        if committed and archived and not replaced:
            _drop_archived(
                path, fd, make, Archive(staged, datetime.now(timezone.utc), format_name, False)
            )
            _remove(base + PRUNE_MARKER_SUFFIX)
            return True  # the file at the path is new: its lock must be taken, and a look again
        # Undone (or finished, if replaced) marker first: once it is gone, whatever is left is
        # an uncommitted prune's. (Removed last, a kill after the staged ``.partial`` went left
        # a marker and a kept file that looked committed and archived, with no archive.)
        _remove(
            base + PRUNE_MARKER_SUFFIX,
            staged + PARTIAL_SUFFIX,
            base + KEPT_SUFFIX,
            base + KEPT_SUFFIX + PARTIAL_SUFFIX,
        )
    return False


def _archive_exists(staged: str, format_name: str) -> bool:
    """Whether a prune's archive was staged (step 3): the staged file, or its compressed twin
    (a rotation may have compressed it since). Without either, the file still holds every
    entry (step 4 never ran), so the prune can only be undone."""
    return os.path.exists(staged) or os.path.exists(archive_path(staged, format_name))


def _drop_archived(path: str, fd: int, make: StoreFactory, archive: Archive) -> None:
    """Step 4 of a prune killed before it: the file, less the entries the archive holds (found
    in order: the file only grew since), replaces the file.

    The new file is written beside ``kept``, which is removed only once the file is replaced:
    ``kept`` gone is how the next look tells that the file no longer holds the archived
    entries. (Removed first, a kill before the new file took its place left the archive and
    the file both holding them, and the next prune archived them twice.)"""
    kept = archive.path.removesuffix(STAGED_SUFFIX) + KEPT_SUFFIX
    fresh = kept + PARTIAL_SUFFIX
    with decompressed_copy(archive) as copy:
        archived = make(copy).iter_for_rewrite(Damage())
        with contextlib.closing(archived), _entries_of(fd, make) as live:
            pending = next(archived, None)

            def rest() -> Iterator[tuple[int, Encoded]]:
                nonlocal pending
                for entry in live:
                    encoded = Encoded.as_stored(entry)
                    if pending is not None and encoded.line == Encoded.as_stored(pending).line:
                        pending = next(archived, None)
                        continue
                    yield 0, encoded

            _remove(fresh)
            _write_split([make(fresh)], rest())
    os.rename(fresh, path)
    fsync_folder(os.path.dirname(path) or ".")
    _remove(kept)


@contextlib.contextmanager
def _entries_of(
    fd: int, make: StoreFactory, *, strict: bool = False, path: str = ""
) -> Iterator[Iterator[dict[str, Any]]]:
    """The entries of the file open as ``fd``, oldest first, read from a private copy (our
    exclusive lock would refuse a reader's shared one). ``strict``: DamagedFileError, after
    the read, if the file holds damaged lines."""
    with os.fdopen(os.dup(fd), "rb") as source:
        source.seek(0)
        with private_copy(source, "copy") as copy:
            damage = Damage()
            entries = make(copy).iter_for_rewrite(damage)
            with contextlib.closing(entries):
                yield entries
            if strict and damage.places:
                raise _damaged(path, damage)


def _damaged(path: str, damage: Damage) -> DamagedFileError:
    first = min(damage.places)
    count = len(damage.places)
    return DamagedFileError(
        f"{path} holds {count} damaged line(s) (the first at byte offset {first}: "
        f"{damage.places[first]}): pruning rewrites the file and would drop them, so nothing "
        "was pruned. `betty-telemetry check` shows them and `betty-telemetry repair` moves "
        "them aside; then prune again"
    )


def _create_marker(marker: str, before: str) -> None:
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, f"entries before {before}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_folder(os.path.dirname(marker) or ".")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
