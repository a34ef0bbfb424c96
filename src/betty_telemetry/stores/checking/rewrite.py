"""Repairing a file store: its pieces written anew beside it, then put in its place at once.

Under the store's exclusive lock, for the whole repair (writers wait, as for an append):

1. the walk's pieces are written to a temporary file beside the store: every element with
   its bytes as they were, separators and the closing bracket rewritten where they were
   wrong; damaged and torn bytes go, as they were, to a second temporary file;
2. the new file is synced and walked again: it must hold the same entries, and nothing left
   to repair, or the repair stops with the store untouched;
3. a copy of the store as it was is written (``NAME.bak-STAMP``, readable by its owner
   only, synced), and the damaged bytes take their name (``NAME.damaged-STAMP``);
4. the new file replaces the store (``os.replace``: one step), and the folder is synced.

Killed before step 4, the store is as it was (the temporary files are litter, removed by a
later rotation once a minute old); after it, repaired. Writers waiting on the lock then find
their file replaced and follow the path, as after a rotation, so no entry is lost.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from betty_telemetry.stores._files import TEMPORARY_PREFIX, TEMPORARY_SUFFIX, fsync_folder
from betty_telemetry.stores.checking import pieces as P
from betty_telemetry.stores.checking.collect import Collector
from betty_telemetry.stores.checking.pieces import Piece, View
from betty_telemetry.stores.checking.report import CheckReport
from betty_telemetry.stores.checking.views import HeldView

Walk = Callable[[View], Iterator[Piece]]
_COPY_BYTES = 1 << 20


def write_repaired(pieces: Iterable[Piece], view: View, out: BinaryIO, side: BinaryIO) -> None:
    """Write what a repair keeps of ``pieces`` to ``out``, and what it moves aside to
    ``side`` (each stretch ending with a newline)."""
    kept = _Copier(view, out)
    for piece in pieces:
        kind = piece.kind
        if kind in (P.HEAD, P.KEPT):
            kept.copy(piece.start, piece.end)
        elif kind == P.ELEMENT:
            if piece.clean:
                kept.copy(piece.gap_start, piece.end)
            else:
                kept.write(piece.fix)
                kept.copy(piece.start, piece.end)
        elif kind == P.TAIL:
            if piece.clean:
                kept.copy(piece.gap_start, piece.end)
            else:
                kept.write(piece.fix)
        elif kind in (P.DAMAGE, P.TORN) and piece.end > piece.start:
            data = view.read(piece.start, piece.end - piece.start)
            side.write(data if data.endswith(b"\n") else data + b"\n")
    kept.flush()


class _Copier:
    """Copies byte ranges of a view to a file, a run of adjacent ranges (a file's entries,
    mostly) at a time rather than a read per range."""

    def __init__(self, view: View, out: BinaryIO) -> None:
        self.view = view
        self.out = out
        self.start = self.end = 0

    def copy(self, start: int, end: int) -> None:
        if start != self.end or end - self.start > _COPY_BYTES:
            self.flush()
            self.start = start
        self.end = end

    def write(self, data: bytes) -> None:
        self.flush()
        self.out.write(data)

    def flush(self) -> None:
        if self.end > self.start:
            self.out.write(self.view.read(self.start, self.end - self.start))
        self.start = self.end


@dataclass
class Temporary:
    """A temporary file beside the store, named as creations name theirs (see
    ``_files.remove_stale_temporaries``: a killed repair's are removed once stale)."""

    path: str
    file: BinaryIO

    @classmethod
    @contextlib.contextmanager
    def beside(cls, folder: str) -> Iterator[Temporary]:
        fd, path = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=folder)
        temporary = cls(path, os.fdopen(fd, "w+b"))
        try:
            yield temporary
        finally:
            temporary.file.close()
            with contextlib.suppress(FileNotFoundError):  # published, or gone
                os.unlink(path)

    def sync(self, mode: int) -> None:
        self.file.flush()
        os.fchmod(self.file.fileno(), mode)
        os.fsync(self.file.fileno())

    def publish(self, name: str) -> str:
        """Give the (synced) file ``name``, or ``name-N`` if that is taken: never over
        another file."""
        candidate, number = name, 0
        while True:
            try:
                os.link(self.path, candidate)
                return candidate
            except FileExistsError:
                number += 1
                candidate = f"{name}-{number}"


def copy_to(fd: int, size: int, temporary: Temporary) -> None:
    """The first ``size`` bytes of ``fd`` into ``temporary``, synced, readable by its owner."""
    offset = 0
    while offset < size:
        data = os.pread(fd, min(_COPY_BYTES, size - offset), offset)
        if not data:
            break
        temporary.file.write(data)
        offset += len(data)
    temporary.sync(0o600)


def walk_report(
    view: View, walk: Walk, path: str, store: str, *, repairs: bool = True
) -> CheckReport:
    collector = Collector(path, store, repairs=repairs)
    for _ in collector.watch(walk(view)):
        pass
    return collector.report()


@dataclass(frozen=True)
class Rewritten:
    """What ``rewrite_locked`` did."""

    before: CheckReport
    """The file as it was: its structure only when it was rewritten (what was fixed), else
    its whole check."""
    after: CheckReport | None
    """The repaired file's check (None if nothing was rewritten)."""
    backup: str | None = None
    side_file: str | None = None


def rewrite_locked(fd: int, path: str, walk: Walk, store: str, stamp: str) -> Rewritten:
    """Repair the file open at ``fd``, whose exclusive lock the caller holds (see the
    module). Nothing is written when its check finds nothing a repair fixes, or when it is
    not in its format at all. Raises RuntimeError, the store untouched, if the new file
    would not hold every entry."""
    view = HeldView(fd)
    real = os.path.realpath(path)
    folder = os.path.dirname(real)
    with Temporary.beside(folder) as out, Temporary.beside(folder) as side:
        collector = Collector(path, store, schema=False)
        write_repaired(collector.watch(walk(view)), view, out.file, side.file)
        before = collector.report()
        if not before.parseable:
            return Rewritten(before, None)
        if not before.repairable:  # nothing to fix: what remains is what a check finds
            return Rewritten(walk_report(view, walk, path, store), None)
        out.sync(stat.S_IMODE(os.fstat(fd).st_mode))
        after = walk_report(HeldView(out.file.fileno()), walk, path, store)
        if after.entries != before.entries or after.repairable or not after.parseable:
            raise RuntimeError(
                f"{path}: the repaired file would hold {after.entries} entries, not "
                f"{before.entries}, or still need repair; nothing was changed. Please report "
                "this as a bug, with the file"
            )
        with Temporary.beside(folder) as copy:
            copy_to(fd, view.size, copy)
            backup = copy.publish(f"{real}.bak-{stamp}")
        side_file = None
        if side.file.tell():
            side.sync(0o600)
            side_file = side.publish(f"{real}.damaged-{stamp}")
        fsync_folder(folder)  # the copy's name on disk before the store is replaced
        os.replace(out.path, real)
        fsync_folder(folder)
    return Rewritten(before, after, backup, side_file)
