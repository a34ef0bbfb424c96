"""The JSON Lines store: one entry per line, appended by many processes with one write each.

An append takes an exclusive ``flock`` on the data file (the same polling lock, with the same
timeout, as the JSON-array store) and writes the whole batch, each entry a line ending in
``\\n``, with one ``os.write`` on an ``O_APPEND`` descriptor: it lands after whatever is there,
and nothing is buffered in Python once the lock is released. Unlike the array, nothing before
the end is ever written over, so readers need no lock at all (see ``reader``).

Under the lock, before writing, the file's end is checked only when it is not as our last
append left it: a torn last line (a writer killed mid-write) is cut away, with a warning; a
whole object without its newline (another tool's) gets one; a file that is not JSON Lines is
refused untouched. A write that fails half way (disk full, file size limit) is cut back off.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Collection, Generator, Sequence
from typing import Any

from betty_telemetry._config import logger
from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores._damage import Damage
from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores._errors import NOT_RECORDED, CorruptStoreError, explained
from betty_telemetry.stores._file_store import FileStore
from betty_telemetry.stores._line_test import line_test_for
from betty_telemetry.stores.base import Archive, Encoded, ProgressHook
from betty_telemetry.stores.entry_files import EntryFiles
from betty_telemetry.stores.json_lines.follow import LinesFollower
from betty_telemetry.stores.json_lines.lines import (
    EXPECTED,
    FOREIGN,
    TORN,
    check_head,
    last_line_kind,
    last_line_start,
)
from betty_telemetry.stores.json_lines.reader import read_entries

# Bound once: the hot path runs these on every capture.
_flock, _LOCK_UN = fcntl.flock, fcntl.LOCK_UN
_write, _seek = os.write, os.lseek


class JsonLinesStore(FileStore):
    """Entries in one JSON Lines file, safe for concurrent writers in many processes."""

    OPEN_FLAGS = os.O_RDWR | os.O_APPEND  # read too: the checks look at the file's ends
    FORMAT_NAME = "jsonl"

    _head_checked = False
    """Whether the head of the file open at ``_fd`` was checked (reset by ``_opened``)."""

    # -- the Store protocol ----------------------------------------------------------------

    def write(self, batch: Sequence[Encoded]) -> None:
        """Append the batch, one line per entry, with one write under one lock.

        LockTimeoutError: nothing was written. Another OSError says what it means and what to
        do (see ``explained``); the file is left as it was, with every entry it held.
        """
        if not batch:
            return
        if len(batch) == 1:
            data = batch[0].line + b"\n"
        else:
            data = b"\n".join([encoded.line for encoded in batch]) + b"\n"
        with self._thread_lock:
            try:
                self._append(data)
            except OSError as error:
                better = explained(error, self.path, NOT_RECORDED)
                if better is error:
                    raise
                raise better from error
        if self.auto_rotation is not None:
            self._wrote(len(data), len(batch))

    def scan_measured(
        self,
        wanted: EntryFilter,
        progress: ProgressHook | None,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """``scan``, telling ``progress`` how many bytes of the file it went through."""
        summaries = fields is not None and set(fields) <= set(SUMMARY_FIELDS)
        test = line_test_for(wanted)
        return read_entries(
            self.path, test, newest_first=newest_first, summaries=summaries, progress=progress
        )

    def iter_for_rewrite(self, damage: Damage) -> Generator[dict[str, Any], None, None]:
        """Every entry, oldest first, as stored, for a rewrite of the file (``prune``): the
        damaged lines met are put in ``damage`` (not logged), for the caller to judge."""
        return read_entries(self.path, None, newest_first=False, summaries=False, noted=damage)

    def follow(
        self, wanted: EntryFilter, backlog: int
    ) -> tuple[list[dict[str, Any]], LinesFollower]:
        follower = LinesFollower(self.path)
        try:
            recent = follower.start_at_end(backlog, line_test_for(wanted), wanted.matches)
        except BaseException:
            follower.close()
            raise
        return recent, follower

    def _add_live(self, files: EntryFiles, fd: int) -> None:
        # Already JSON Lines: handed over as it is (a file that is not is refused, as
        # appending to it would be). Lines appended while it is read may be read or not; a
        # torn one does not parse.
        check_head(fd, os.fstat(fd).st_size, self.path)
        files.add_pinned(fd, compressed=False, origin=self.path)

    def _add_archive(self, files: EntryFiles, fd: int, archive: Archive) -> None:
        files.add_pinned(fd, compressed=archive.compressed, origin=archive.path)

    # -- appending -------------------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        fd = self._lock_current_file()
        try:
            size = _seek(fd, 0, os.SEEK_END)
            if size != self._size_we_left:  # another writer, or a new file: look first
                data, size = self._prepare(fd, size, data)
            try:
                written = _write(fd, data)
                while written < len(data):  # short: a size limit was reached, or a signal
                    written += _write(fd, data[written:])
            except BaseException:
                # Cut back what part of the batch got in: the file is as it was, and an
                # error never leaves entries behind that the caller may write again.
                with contextlib.suppress(OSError):  # else the next append repairs the tail
                    os.ftruncate(fd, size)
                raise
            self._size_we_left = size + len(data)
        finally:
            _flock(fd, _LOCK_UN)
        if self.fsync:  # after unlocking: other writers need not wait for the disk
            os.fdatasync(fd)

    def _create(self, folder: str) -> None:
        _create_private(self.path)

    def _opened(self) -> None:
        super()._opened()
        self._head_checked = False

    def _prepare(self, fd: int, size: int, data: bytes) -> tuple[bytes, int]:
        """What to write for ``data`` to follow the file's last complete line, and the size
        the file has before it; cuts a torn last line away. Raises CorruptStoreError, the file
        untouched, if it is not JSON Lines."""
        if not self._head_checked or size < self._size_we_left:  # new to us, or cut short
            check_head(fd, size, self.path)
            self._head_checked = True
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return data, size
        start = last_line_start(fd, size)
        last = os.pread(fd, size - start, start)
        kind = last_line_kind(last)
        if kind == FOREIGN:
            found = f"its last line, at byte offset {start}, holds {kind_of(last)}, which no "
            found += "interrupted append leaves"
            raise CorruptStoreError(self.path, found, expected=EXPECTED)
        if kind != TORN:
            return b"\n" + data, size  # a whole object without its newline: keep it
        # Cut before writing: a crash in between leaves a file the next append accepts.
        os.ftruncate(fd, start)
        logger.warning(
            "Repaired %s: removed %d bytes of a partial entry left by an interrupted write "
            "(every complete entry was kept)",
            self.path,
            size - start,
        )
        return data, start


def _create_private(path: str) -> None:
    """Create an empty file at ``path``, readable by its owner only (whatever the umask); if
    another process created it meanwhile, theirs stays. Empty is a valid JSON Lines file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
