"""Archives: a store's rotated entries, compressed, beside it, found by name.

A rotation moves a file store's whole file aside under its lock (to ``NAME.STAMP.rotating``,
a *staged* file, in the store's own format) and leaves an empty store at the path; the staged
file is then compressed, byte for byte, into ``NAME.STAMP.FORMAT.gz`` and removed:

    telemetry.json                                      the live store
    telemetry.json.20261206T201300.123456Z.json.gz      an archive: the JSON array, gzipped
    telemetry.jsonl.20261206T201300.123456Z.jsonl.gz    an archive of a JSON Lines store

``STAMP`` is the moment of the rotation in UTC, so names sort as time does. Each step leaves
something whole on disk, whenever the process is killed:

- killed before the rename: nothing happened;
- killed after it: the staged file holds the entries, complete (it is the old live file);
  the next rotation, or ``finish_interrupted``, compresses it;
- killed while compressing: the staged file is still there, and a ``.partial`` file, which
  is removed and written again;
- killed after the archive was renamed into place: the staged file is a copy of it, removed.

``list_archives`` counts a staged file as an archive until its compressed twin exists, so its
entries are never out of sight, and never counted twice. The bytes are kept exactly as they
were (``gzip -dc`` gives the old file back, damaged lines, layout and all): a rotation never
has to understand a file to keep it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, cast

# gzip, shutil and tempfile are imported by the functions that use them: every file store
# imports this module, and a capture (often a fresh process of its own) needs none of them.
from betty_telemetry.stores._files import fsync_folder
from betty_telemetry.stores.base import Archive, ProgressHook

STAGED_SUFFIX = ".rotating"
PARTIAL_SUFFIX = ".partial"
PRUNE_MARKER_SUFFIX = ".pruning"
"""Beside a prune's staged archive while the file's rewrite has not taken its place."""
KEPT_SUFFIX = ".kept"
"""A prune's rewrite of the file: the entries it keeps."""
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_STAMP = r"\d{8}T\d{6}\.\d{6}Z"
_COPY_BLOCK = 1 << 20


def stamp(moment: datetime) -> str:
    """``moment`` as an archive's name has it: ``20261206T201300.123456Z``."""
    return moment.astimezone(timezone.utc).strftime(_STAMP_FORMAT)


def staged_path(location: str, moment: datetime) -> str:
    """Where a rotation moves the live file, in the same folder (a rename, never a copy)."""
    return f"{location}.{stamp(moment)}{STAGED_SUFFIX}"


def free_staged_path(location: str, moment: datetime | None = None) -> str:
    """A staged name no earlier rotation took (two in one microsecond would share one), for
    a rotation now (or at ``moment``)."""
    moment = moment or datetime.now(timezone.utc)
    while os.path.lexists(staged := staged_path(location, moment)) or os.path.lexists(
        staged + PARTIAL_SUFFIX
    ):
        moment += timedelta(microseconds=1)
    return staged


def stamp_of(staged: str) -> str:
    """The stamp in a staged file's name (``....20261206T201300.123456Z.rotating``)."""
    match = re.search(rf"\.({_STAMP}){re.escape(STAGED_SUFFIX)}", os.path.basename(staged))
    if match is None:
        raise ValueError(f"not a staged file's name: {staged!r}")
    return match.group(1)


def archive_path(staged: str, format_name: str) -> str:
    """The compressed archive a staged file becomes."""
    return f"{staged.removesuffix(STAGED_SUFFIX)}.{format_name}.gz"


def list_archives(location: str, format_name: str) -> list[Archive]:
    """The archives of the store at ``location``, newest first: compressed ones, and staged
    files not compressed yet (a rotation was interrupted, or is under way)."""
    found: dict[str, Archive] = {}
    for moment_text, path in _named_after(location, format_name):
        compressed = not path.endswith(STAGED_SUFFIX)
        if not compressed and prune_pending(path):
            continue
        if moment_text not in found or compressed:  # the compressed twin wins: see module
            moment = datetime.strptime(moment_text, _STAMP_FORMAT).replace(tzinfo=timezone.utc)
            found[moment_text] = Archive(path, moment, format_name, compressed)
    return sorted(found.values(), key=lambda archive: archive.rotated_at, reverse=True)


def staged_files(location: str, format_name: str) -> list[str]:
    """Every staged file of the store at ``location``, oldest first, even those whose
    compressed twin exists (a copy, left by a rotation killed before it removed it)."""
    return sorted(
        (
            path
            for _, path in _named_after(location, format_name)
            if path.endswith(STAGED_SUFFIX) and not prune_pending(path)
        ),
        key=stamp_of,
    )


def prune_pending(staged: str) -> bool:
    """Whether ``staged`` is the archive of a prune killed before the file's rewrite took its
    place: its entries are still in the file, so it is no archive yet (the next prune or
    rotation finishes the rewrite; see ``_file_prune``)."""
    base = staged.removesuffix(STAGED_SUFFIX)
    return os.path.exists(base + PRUNE_MARKER_SUFFIX) and os.path.exists(base + KEPT_SUFFIX)


def _named_after(location: str, format_name: str) -> list[tuple[str, str]]:
    """(stamp, path) of every archive and staged file named after the store at ``location``."""
    folder, name = os.path.split(location)
    pattern = re.compile(
        rf"{re.escape(name)}\.({_STAMP})(?:\.{re.escape(format_name)}\.gz|{STAGED_SUFFIX})"
    )
    try:
        names = os.listdir(folder or ".")
    except FileNotFoundError:
        return []
    return [
        (match.group(1), os.path.join(folder, candidate))
        for candidate in names
        if (match := pattern.fullmatch(candidate)) is not None
    ]


def compress_staged(staged: str, format_name: str, progress: ProgressHook | None = None) -> str:
    """Compress a staged file into its archive (written whole, synced, then renamed into
    place), remove the staged file, and return the archive's path. ``progress`` is told how
    many bytes of the staged file are compressed.

    Run again after an interruption, it starts over from the staged file (an exception, Ctrl-C
    included, removes the half-written archive at once; a kill leaves it to that next run).
    Two processes may finish the same staged file at once (a rotation, and another's
    ``finish_interrupted``): the first to lock it compresses it, the other then finds the
    archive made.
    """
    final = archive_path(staged, format_name)
    try:
        source = open(staged, "rb")  # noqa: SIM115 - closed below, after the lock
    except FileNotFoundError:
        if os.path.exists(final):
            return final  # finished by another process meanwhile
        raise
    with source:
        fcntl.flock(source.fileno(), fcntl.LOCK_EX)
        if os.path.exists(final):  # finished meanwhile, or killed after the rename
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
            return final
        partial = final + PARTIAL_SUFFIX
        try:
            _compress(source, partial, progress)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)  # ours: the staged file's lock is held
            raise
        os.replace(partial, final)
        fsync_folder(os.path.dirname(final) or ".")
        os.unlink(staged)
    return final


def _compress(source: BinaryIO, partial: str, progress: ProgressHook | None) -> None:
    import gzip

    total = os.fstat(source.fileno()).st_size
    done = 0
    with open(partial, "wb") as raw:
        os.fchmod(raw.fileno(), 0o600)  # entries may be sensitive: the store's own mode
        # Level 6, gzip's own default: level 9 (GzipFile's) is slower for a few bytes less.
        # mtime=0: the archive's bytes depend on the entries alone (its name has the time).
        with gzip.GzipFile(
            filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0
        ) as compressed:
            while block := source.read(_COPY_BLOCK):
                compressed.write(block)
                done += len(block)
                if progress is not None:
                    progress(min(done, total), total)
        raw.flush()
        os.fsync(raw.fileno())  # the archive is about to be the only copy: on disk first


def unfinished_stagings(location: str) -> dict[str, str]:
    """Staged files still being written (``NAME.STAMP.rotating.partial``), by stamp: a store
    that writes its staged file rather than renaming its data file (SQLite) writes it whole
    under this name first, so that no reader takes a half-written file for an archive."""
    folder, name = os.path.split(location)
    pattern = re.compile(rf"{re.escape(name)}\.({_STAMP}){STAGED_SUFFIX}{PARTIAL_SUFFIX}")
    try:
        names = os.listdir(folder or ".")
    except FileNotFoundError:
        return {}
    return {
        match.group(1): os.path.join(folder, candidate)
        for candidate in names
        if (match := pattern.fullmatch(candidate)) is not None
    }


def finish_interrupted(location: str, format_name: str) -> list[str]:
    """Compress every staged file an interrupted rotation left, oldest first; returns the
    archives made."""
    return [compress_staged(path, format_name) for path in staged_files(location, format_name)]


@contextlib.contextmanager
def decompressed_copy(archive: Archive) -> Iterator[str]:
    """The path of a private copy of ``archive``'s entries, uncompressed, for as long as the
    ``with`` lasts (readers need a file they can seek in and lock, which a gzip stream is
    not). FileNotFoundError if the archive is gone."""
    with _source(archive) as source, private_copy(source, archive.format) as path:
        yield path


@contextlib.contextmanager
def private_copy(source: BinaryIO, format_name: str) -> Iterator[str]:
    """The path of a copy of what ``source`` holds from where it stands, in a file only this
    user can read (0600, in a 0700 folder: entries may be sensitive), removed afterwards."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="betty-telemetry-copy-")  # mode 0700
    try:
        path = os.path.join(folder, f"copy.{format_name}")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as copy:
            shutil.copyfileobj(source, copy, _COPY_BLOCK)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _source(archive: Archive) -> BinaryIO:
    """The archive's bytes, opened now: a staged file is opened before its compression (which
    then removes it) can pull it away, and if it already did, its twin is read instead."""
    if not archive.compressed:
        try:
            return open(archive.path, "rb")
        except FileNotFoundError:
            return _gunzipped(archive_path(archive.path, archive.format))
    return _gunzipped(archive.path)


def _gunzipped(path: str) -> BinaryIO:
    import gzip

    return cast(BinaryIO, gzip.open(path, "rb"))
