"""A store's entries, and its archives', as JSON Lines files for a reader outside the library
(DuckDB's ``read_json``), taken in one moment (see ``base.EntryFilesStore``).

Two ways to hand over a file:

- *pinned*: a file already in JSON Lines (a JSON Lines store, every ``.jsonl.gz`` archive)
  is opened here, read-only, and given as ``/dev/fd/N``. The reader opens the very file we
  opened, whatever happens to its name meanwhile: a rotation renames the live file away, a
  pruning deletes archives, and the read goes on over what was there.
- *copied*: anything else (a JSON array, SQLite rows, entries in memory) is written as JSON
  Lines into a private folder (0700; each copy 0600: entries may be sensitive), removed with
  everything in it when the read ends.

One moment: the live file and the archives are taken together, or a rotation between the two
would hide entries or show them twice. Each store checks that nothing rotated while it took
them (``take_together``) and takes them again if something did.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

from betty_telemetry.stores._errors import NOT_READ
from betty_telemetry.stores._files import open_regular
from betty_telemetry.stores.archives import list_archives
from betty_telemetry.stores.base import Archive, EntryFile

ATTEMPTS = 5
"""How many times the files are taken while rotations keep coming in between; the last
attempt is kept whatever happened (a rotation a few milliseconds apart, five times over)."""
_FD_FOLDER = "/dev/fd"


class EntryFiles:
    """The files of one read and what they hold open: descriptors, a private folder."""

    def __init__(self) -> None:
        self.files: list[EntryFile] = []
        self._fds: list[int] = []
        self._folder: str | None = None
        self._copies = 0

    def open(self, path: str) -> int | None:
        """A read-only descriptor on the regular file at ``path``, kept until ``close``; None
        if there is no such file (any more)."""
        try:
            fd = open_regular(path, os.O_RDONLY, NOT_READ)
        except FileNotFoundError:
            return None
        self._fds.append(fd)
        return fd

    def opened(self) -> int:
        """How many descriptors are open: ``close_since`` closes those opened after."""
        return len(self._fds)

    def close_since(self, opened: int) -> None:
        """Close the descriptors opened since ``opened()`` gave ``opened``."""
        later, self._fds = self._fds[opened:], self._fds[:opened]
        for fd in later:
            os.close(fd)

    def add_pinned(self, fd: int, *, compressed: bool, origin: str) -> None:
        """Hand over the file open at ``fd`` as it is (JSON Lines, gzipped or not)."""
        self.files.append(EntryFile(f"{_FD_FOLDER}/{fd}", compressed, origin))

    @contextlib.contextmanager
    def copy(self, origin: str) -> Iterator[BinaryIO]:
        """A new private file to write JSON Lines into, handed over once written."""
        path = os.path.join(self.folder(), f"entries-{self._copies}.jsonl")
        self._copies += 1
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as out:
            yield out
        self.files.append(EntryFile(path, False, origin))

    def folder(self) -> str:
        """The read's private folder (made at first use, 0700)."""
        import tempfile

        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="betty-telemetry-sql-")
        return self._folder

    def close(self) -> None:
        import shutil

        self.close_since(0)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


@contextlib.contextmanager
def handed_over(take: Callable[[EntryFiles], None]) -> Iterator[list[EntryFile]]:
    """The files ``take`` gathers, released when the context ends (or ``take`` fails)."""
    files = EntryFiles()
    try:
        take(files)
        yield files.files
    finally:
        files.close()


def take_together(
    files: EntryFiles,
    location: str,
    format_name: str,
    *,
    archives: bool,
    add_live: Callable[[EntryFiles, int], None],
    add_archive: Callable[[EntryFiles, int, Archive], None],
) -> None:
    """A file store's live file and (with ``archives``) its archives, in one moment.

    The live file is opened first, then the archives listed and opened; if the path still
    names the file opened first, no rotation came in between (a rotation renames it away,
    and it never comes back), so no archive holds its entries. Else all is taken again.
    """
    attempt = 1
    while True:
        opened_before = files.opened()
        live = files.open(location)
        opened, complete = open_archives(files, location, format_name) if archives else ([], True)
        together = complete and _identity(location) == _fd_identity(live)
        if together or attempt == ATTEMPTS:
            if live is not None:
                add_live(files, live)
            for fd, archive in opened:
                add_archive(files, fd, archive)
            return
        files.close_since(opened_before)
        attempt += 1


def open_archives(
    files: EntryFiles, location: str, format_name: str
) -> tuple[list[tuple[int, Archive]], bool]:
    """Each archive that could be opened, newest first, and whether that is all of them:
    False if one went away between listing and opening (compressed meanwhile, or pruned),
    so the list is out of date."""
    opened = []
    complete = True
    for archive in list_archives(location, format_name):
        fd = files.open(archive.path)
        if fd is None:
            complete = False
        else:
            opened.append((fd, archive))
    return opened, complete


def _identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _fd_identity(fd: int | None) -> tuple[int, int] | None:
    if fd is None:
        return None
    status = os.fstat(fd)
    return status.st_dev, status.st_ino


def copy_lines(files: EntryFiles, origin: str, lines: Iterator[bytes]) -> None:
    """Copy ``lines`` (entries' JSON text, each without its newline) into a private file."""
    with files.copy(origin) as out:
        for line in lines:
            out.write(line)
            out.write(b"\n")
