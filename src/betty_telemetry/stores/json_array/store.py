"""The JSON-array store: the spec's file format, appended to in O(1) by many processes.

An append holds an exclusive ``flock`` on the data file, reads the last bytes, and writes
``,\\n<entry>\\n]\\n`` over the closing bracket with one ``pwrite``; nothing is buffered in
Python, so the file is a valid JSON array whenever the lock is free. See ``_array_text`` for
why a torn write can never pass for a finished one, and DESIGN.md for the full rationale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Collection, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from betty_telemetry._config import logger
from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.stores._describe import kind_of
from betty_telemetry.stores._errors import NOT_RECORDED, CorruptStoreError, explained
from betty_telemetry.stores._file_store import FileStore
from betty_telemetry.stores._files import create_complete, pwrite_all
from betty_telemetry.stores.json_array.text import (
    CLOSE,
    WHITESPACE,
    AppendPlan,
    head_index,
    plan_fast_append,
    torn_cut,
)

# The read side (snapshots, line tests, the readers, follow, the JSON Lines copies) is
# imported by the methods that read: a capture, a fresh process per call on the command
# line, only appends.
if TYPE_CHECKING:
    from betty_telemetry.model.filters import EntryFilter
    from betty_telemetry.stores._damage import Damage
    from betty_telemetry.stores._line_test import LineTest
    from betty_telemetry.stores._snapshot import Snapshot
    from betty_telemetry.stores.base import Archive, Encoded, ProgressHook
    from betty_telemetry.stores.entry_files import EntryFiles
    from betty_telemetry.stores.json_array.follow import ArrayFollower

    class _Reader(Protocol):
        """``read_newest_first`` or ``read_oldest_first``."""

        def __call__(
            self,
            path: str,
            snapshot: Snapshot,
            test: LineTest | None = None,
            *,
            summaries: bool = False,
            damage: Damage | None = None,
        ) -> Iterator[dict[str, Any]]: ...


FAST_TAIL_BYTES = 256
HEAD_BYTES = 64
REPAIR_TAIL_BYTES = 1 << 20
_NEW_FILE = b"[\n"
# Bound once: the hot path runs these on every capture.
_flock, _LOCK_UN = fcntl.flock, fcntl.LOCK_UN
_pread, _pwrite = os.pread, os.pwrite
_CANONICAL_END = b"}" + CLOSE


class JsonArrayStore(FileStore):
    """Entries in one JSON-array file, safe for concurrent writers in many processes."""

    FORMAT_NAME = "json"

    # -- the Store protocol ----------------------------------------------------------------

    def write(self, batch: Sequence[Encoded]) -> None:
        """Append the batch with one write under one lock (see ``append``)."""
        if len(batch) == 1:  # the direct pipeline's case: no join
            data = batch[0].line
        elif batch:
            data = b",\n".join([encoded.line for encoded in batch])
        else:
            return
        self.append(data)
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
        from betty_telemetry.stores._line_test import line_test_for
        from betty_telemetry.stores.json_array.forward import read_oldest_first
        from betty_telemetry.stores.json_array.reader import read_newest_first

        summaries = fields is not None and set(fields) <= set(SUMMARY_FIELDS)
        read = read_newest_first if newest_first else read_oldest_first
        return self._read_resuming(read, line_test_for(wanted), summaries, progress=progress)

    def follow(
        self, wanted: EntryFilter, backlog: int
    ) -> tuple[list[dict[str, Any]], ArrayFollower]:
        from betty_telemetry.stores._line_test import line_test_for
        from betty_telemetry.stores.json_array.follow import ArrayFollower

        follower = ArrayFollower(self.path, lock_timeout=self.lock_timeout)
        try:
            recent = follower.start_at_end(backlog, line_test_for(wanted), wanted.matches)
        except BaseException:
            follower.close()
            raise
        return recent, follower

    def _add_live(self, files: EntryFiles, fd: int) -> None:
        from betty_telemetry.stores.json_array import as_lines

        with files.copy(self.path) as out:
            as_lines.copy_live(fd, self.path, out, self.lock_timeout)

    def _add_archive(self, files: EntryFiles, fd: int, archive: Archive) -> None:
        from betty_telemetry.stores.json_array import as_lines

        with files.copy(archive.path) as out:
            as_lines.copy_archive(fd, archive.path, archive.compressed, out, files.folder())

    # -- the JSON-array format -------------------------------------------------------------

    def append(self, line: bytes) -> None:
        """Append one entry, given as a single line of JSON without a newline (or several,
        joined by ``,\n``, written at once).

        An OSError says what it means and what to do (see ``explained``); the file is left
        valid, with every entry it held.
        """
        with self._thread_lock:
            try:
                fd = self._lock_current_file()
                try:
                    size = self._size_we_left
                    # One read tells whether the file is as our last append left it: its last
                    # four bytes, and nothing after them (a fifth byte would come back).
                    if size > 0 and _pread(fd, 5, size - 4) == _CANONICAL_END:
                        # The hot path: the closing bracket is where we wrote it, and the head
                        # was checked back then.
                        offset = size - len(CLOSE)
                        self._write(fd, size, offset, b",\n" + line + CLOSE, CLOSE)
                    else:
                        self._append_checked(fd, os.fstat(fd).st_size, line)
                finally:
                    _flock(fd, _LOCK_UN)
                if self.fsync:  # after unlocking: other writers need not wait for the disk
                    os.fdatasync(fd)
            except OSError as error:
                better = explained(error, self.path, NOT_RECORDED)
                if better is error:
                    raise
                raise better from error

    def iter_newest_first(
        self, test: LineTest | None = None, *, summaries: bool = False
    ) -> Generator[dict[str, Any], None, None]:
        """Yield entries newest first (only lines ``test`` keeps, if given; only the summary
        fields of entries in our layout with ``summaries``).

        Writers are blocked only while a block is read, not for the whole scan. If another
        program rewrites the file in place meanwhile, reading goes on under the shared lock
        from the entry after the last one yielded. Close the generator when stopping early.
        """
        from betty_telemetry.stores.json_array.reader import read_newest_first

        return self._read_resuming(read_newest_first, test, summaries)

    def iter_oldest_first(
        self, test: LineTest | None = None, *, summaries: bool = False
    ) -> Generator[dict[str, Any], None, None]:
        """As ``iter_newest_first``, oldest first: the same entries in the opposite order, in
        memory bounded by a block whatever the file's size (see ``forward``).

        After a rewrite in place, the entries read go on from the one after the last yielded
        to the end of the file as it is then: the rewrite adds entries after the ones it keeps,
        so those it added (and any appended since the read began) come last.
        """
        from betty_telemetry.stores.json_array.forward import read_oldest_first

        return self._read_resuming(read_oldest_first, test, summaries)

    def iter_for_rewrite(self, damage: Damage) -> Generator[dict[str, Any], None, None]:
        """Every entry, oldest first, as stored, for a rewrite of the file (``prune``): the
        damaged places met are put in ``damage`` (not logged), for the caller to judge."""
        from betty_telemetry.stores.json_array.forward import read_oldest_first

        return self._read_resuming(read_oldest_first, None, False, noted=damage)

    def _read_resuming(
        self,
        read: _Reader,
        test: LineTest | None,
        summaries: bool,
        *,
        noted: Damage | None = None,
        progress: ProgressHook | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Yield what ``read`` gives, first over a snapshot read a block at a time, then, if the
        file is rewritten meanwhile, over the file read again under the shared lock, from the
        entry after the last one yielded (never one twice: if they are gone, warn and stop).
        Damage met is logged once, or put in ``noted`` if given."""
        from betty_telemetry.stores._damage import Damage
        from betty_telemetry.stores._snapshot import FileRewritten, open_readonly, resume_after

        fd = open_readonly(self.path)
        if fd is None:
            return
        # Reported once, however the read ends: one warning per read.
        damage = noted if noted is not None else Damage()
        try:
            first: dict[str, Any] | None = None
            last: dict[str, Any] = {}
            yielded = 0
            try:
                with self._snapshot(fd, hold_lock=False, progress=progress) as snapshot:
                    for last in read(self.path, snapshot, test, summaries=summaries, damage=damage):
                        if first is None:
                            first = last
                        yielded += 1
                        yield last
                return
            except FileRewritten:
                damage.places.clear()  # the file is read again: what it holds now counts
            with self._snapshot(fd, hold_lock=True, progress=progress) as snapshot:
                entries = read(self.path, snapshot, test, summaries=summaries, damage=damage)
                fields = SUMMARY_FIELDS if summaries else None
                if first is not None and not resume_after(entries, first, yielded, last, fields):
                    logger.warning(
                        "%s was rewritten by another program while being read; "
                        "the entries read so far are no longer in it",
                        self.path,
                    )
                    return
                yield from entries
        finally:
            try:
                if noted is None:
                    damage.report(self.path, fd)
            finally:
                os.close(fd)

    def _snapshot(
        self, fd: int, *, hold_lock: bool, progress: ProgressHook | None = None
    ) -> Snapshot:
        from betty_telemetry.stores._snapshot import Snapshot

        return Snapshot(
            fd,
            hold_lock=hold_lock,
            path=self.path,
            lock_timeout=self.lock_timeout,
            progress=progress,
        )

    # -- writing -------------------------------------------------------------------------

    def _create(self, folder: str) -> None:
        create_complete(self.path, folder or ".", fsync=self.fsync)

    def _append_checked(self, fd: int, size: int, line: bytes) -> None:
        tail_start = size - FAST_TAIL_BYTES if size > FAST_TAIL_BYTES else 0
        tail = os.pread(fd, size - tail_start, tail_start)
        plan = self._plan_append(fd, size, tail, tail_start)
        # What the write goes over (empty if planning cut a torn tail away), to put back if it
        # fails: the file must stay as valid as it was.
        replaced = os.pread(fd, max(size - plan.offset, 0), plan.offset)
        self._write(fd, size, plan.offset, plan.separator + line + CLOSE, replaced)

    def _write(self, fd: int, size: int, offset: int, data: bytes, replaced: bytes) -> None:
        try:
            if _pwrite(fd, data, offset) != len(data):
                pwrite_all(fd, data, offset)
        except BaseException:
            _restore_after_failed_write(fd, offset, data, replaced)
            raise
        end = offset + len(data)
        if end < size:
            os.ftruncate(fd, end)
        self._size_we_left = end

    def _plan_append(self, fd: int, size: int, tail: bytes, tail_start: int) -> AppendPlan:
        head_bytes = tail if tail_start == 0 else os.pread(fd, HEAD_BYTES, 0)
        head = head_index(head_bytes)
        plan = None
        if head is not None and head_bytes[head] == ord("["):
            plan = plan_fast_append(tail, tail_start, head)
        return plan or self._plan_slow_append(fd, size, head, head_bytes)

    def _plan_slow_append(
        self, fd: int, size: int, head: int | None, head_bytes: bytes
    ) -> AppendPlan:
        """Empty files, arrays laid out by other tools, and torn tails: parse before writing."""
        if head is None:
            if size <= len(head_bytes) or not _read_all(fd, size).strip(WHITESPACE):
                return AppendPlan(0, _NEW_FILE)
            head_bytes = _read_all(fd, size)
            head = head_index(head_bytes)
            assert head is not None
        if head_bytes[head] != ord("["):
            raise CorruptStoreError(self.path, f"it starts with {kind_of(head_bytes[head:])}")
        tail_start = max(0, size - REPAIR_TAIL_BYTES)
        cut = torn_cut(os.pread(fd, size - tail_start, tail_start), tail_start, head)
        if cut is None:
            cut = self._cut_by_parsing(fd, size)
        if self._repairs_torn_tail(os.pread(fd, size - cut, cut)):
            # Truncate before writing: a crash in between leaves a tail the next append
            # repairs. A clean closing bracket stays until the write goes over it, so a write
            # that fails can put it back without needing more room than the file had.
            os.ftruncate(fd, cut)
        return AppendPlan(cut, b"\n" if cut == head + 1 else b",\n")

    def _cut_by_parsing(self, fd: int, size: int) -> int:
        from betty_telemetry.stores.json_array.scan import scan_array

        text = _read_all(fd, size).decode("utf-8", "surrogateescape")
        scan = scan_array(text)
        if scan.problem is not None:
            raise CorruptStoreError(self.path, scan.problem)
        return len(text[: scan.end].encode("utf-8", "surrogateescape"))

    def _repairs_torn_tail(self, after_cut: bytes) -> bool:
        """Whether the bytes after the last complete entry are a partial one (then warn)."""
        if after_cut.strip(WHITESPACE) in (b"", b"]"):
            return False
        logger.warning(
            "Repaired %s: removed %d bytes of a partial entry left by an interrupted write "
            "(every complete entry was kept)",
            self.path,
            len(after_cut),
        )
        return True


def _restore_after_failed_write(fd: int, offset: int, data: bytes, replaced: bytes) -> None:
    """After a failed write (disk full, file size limit), put back the bytes it went over:
    the file is as it was, and needs no more room than before. Where there were none (a torn
    tail was cut, or the file was empty), close the array, if there is room."""
    with contextlib.suppress(OSError):  # if this fails too, the next append repairs the tail
        os.ftruncate(fd, offset)
        if replaced:
            pwrite_all(fd, replaced, offset)
        else:
            pwrite_all(fd, b"[]\n" if data.startswith(_NEW_FILE) else CLOSE, offset)


def _read_all(fd: int, size: int) -> bytes:
    return os.pread(fd, size, 0)
