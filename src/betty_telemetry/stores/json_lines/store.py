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
import logging
import os
import threading
import weakref
from collections.abc import Callable, Collection, Generator, Sequence
from typing import Any

from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores._errors import NOT_RECORDED, CorruptStoreError, explained
from betty_telemetry.stores._files import fsync_folder, missing_folders, open_regular
from betty_telemetry.stores._line_test import line_test_for
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT, lock
from betty_telemetry.stores.base import Encoded
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

logger = logging.getLogger("betty_telemetry")

# Bound once: the hot path runs these on every capture.
_flock, _LOCK_EX, _LOCK_UN = fcntl.flock, fcntl.LOCK_EX, fcntl.LOCK_UN
_LOCK_EX_NB = fcntl.LOCK_EX | fcntl.LOCK_NB
_fstat, _write = os.fstat, os.write
_APPEND_FLAGS = os.O_RDWR | os.O_APPEND  # read too: the checks look at the file's ends


class JsonLinesStore:
    """Entries in one JSON Lines file, safe for concurrent writers in many processes."""

    def __init__(
        self, path: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, fsync: bool = False
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.fsync = fsync
        self._fd = -1
        # Size of the file when we released it: if it still has that size, nobody else wrote,
        # and it ends with our newline.
        self._size_we_left = -1
        self._head_checked = False  # for the file open at _fd
        # flock belongs to the open file description, which our threads share: serialize them.
        self._thread_lock = threading.Lock()
        _live_stores.add(self)

    @property
    def location(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"JsonLinesStore({self.path!r})"

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

    def flush(self, timeout: float | None = None) -> bool:
        return True  # every write is complete (and synced, with fsync) when it returns

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        summaries = fields is not None and set(fields) <= set(SUMMARY_FIELDS)
        test = line_test_for(wanted)
        return read_entries(self.path, test, newest_first=newest_first, summaries=summaries)

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

    def count(self, wanted: EntryFilter) -> int:
        with contextlib.closing(self.scan(wanted)) as entries:
            return sum(1 for entry in entries if wanted.matches(entry))

    def close(self) -> None:
        with self._thread_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __del__(self, _close: Callable[[int], None] = os.close) -> None:
        # A capture dropped without close() must not keep its descriptor (see JsonArrayStore).
        # ``_close`` is bound now: at interpreter exit, module globals may already be gone.
        if self._fd >= 0:
            try:  # noqa: SIM105 - contextlib may be gone at interpreter exit
                _close(self._fd)
            except OSError:
                pass
            self._fd = -1

    # -- appending -------------------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        fd, size = self._lock_current_file()
        try:
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

    def _lock_current_file(self) -> tuple[int, int]:
        while True:
            fd = self._fd if self._fd >= 0 else self._open()
            try:
                _flock(fd, _LOCK_EX_NB)  # the usual case: nobody else holds it
            except BlockingIOError:
                lock(fd, _LOCK_EX, self.lock_timeout, self.path, NOT_RECORDED)
            status = _fstat(fd)
            if status.st_nlink:
                return fd, status.st_size
            # Our file was replaced (rotation by os.replace) or deleted: follow the path. Seen on
            # the descriptor we hold, so no stat of the path per append (about 4 µs here).
            _flock(fd, _LOCK_UN)
            os.close(fd)
            self._fd = -1

    def _open(self) -> int:
        folder = os.path.dirname(self.path)
        created: list[str] = []
        try:
            fd = open_regular(self.path, _APPEND_FLAGS, NOT_RECORDED)
        except FileNotFoundError:
            created = missing_folders(folder)
            if folder:
                os.makedirs(folder, exist_ok=True)
            _create_private(self.path)
            fd = open_regular(self.path, _APPEND_FLAGS, NOT_RECORDED)
        self._fd = fd
        self._size_we_left = -1
        self._head_checked = False
        if self.fsync:  # the file's name, and any folder made for it, must survive power loss
            for made in reversed(created):
                fsync_folder(os.path.dirname(made))
            fsync_folder(folder or ".")
        return fd

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


_live_stores: weakref.WeakSet[JsonLinesStore] = weakref.WeakSet()


def _forget_parent_files() -> None:
    # A forked child shares its parent's open file descriptions, and so its flocks: the two
    # would not exclude each other. The child drops them and opens its own on next use.
    for store in list(_live_stores):
        store._thread_lock = threading.Lock()
        if store._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(store._fd)
            store._fd = -1


os.register_at_fork(after_in_child=_forget_parent_files)
