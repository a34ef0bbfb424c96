"""A JSON-array file (the live one, or an archive) copied as JSON Lines, for an outside reader.

DuckDB reads a JSON array only whole: a damaged line, a torn tail, or an append landing while
it reads (the closing bracket written over) fails the whole query. JSON Lines it reads line by
line, skipping lines that do not parse. Our layout is already one entry per line, each but
the last ending in ``,``: dropping the ``,`` at the end of each line (``,\\n`` occurs nowhere
else: JSON text holds no raw newline) makes it JSON Lines, at the speed of a byte copy. The
bracket lines, a damaged line and a torn last line then simply do not parse.

A file laid out by another tool (indented by the original framework, all on one line) is
read by this store's own reader instead, which warns of damage as queries do.

The live file is read through a ``Snapshot``: up to its last complete entry, a block at a time
under a brief shared lock, so writers are not held up; if another program rewrites it in place
meanwhile, it is copied again under the lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import BinaryIO

from betty_telemetry.stores._damage import Damage
from betty_telemetry.stores._lock import DEFAULT_LOCK_TIMEOUT
from betty_telemetry.stores._snapshot import FileRewritten, Snapshot
from betty_telemetry.stores.json_array.forward import read_oldest_first
from betty_telemetry.stores.json_array.reader import HEAD_BYTES, array_head

BLOCK_BYTES = 1 << 20
_OUR_HEADS = (b"[\n{", b"[\n]")  # our layout: the bracket alone on the first line
Read = Callable[[int], bytes]


def copy_live(fd: int, path: str, out: BinaryIO, lock_timeout: float) -> None:
    """The entries of the live JSON-array file open at ``fd`` (``path``) into ``out``."""
    try:
        with Snapshot(fd, hold_lock=False, path=path, lock_timeout=lock_timeout) as snapshot:
            _copy_snapshot(snapshot, fd, path, out)
    except FileRewritten:  # rewritten in place by another program: again, under the lock
        out.seek(0)
        out.truncate()
        with Snapshot(fd, hold_lock=True, path=path, lock_timeout=lock_timeout) as snapshot:
            _copy_snapshot(snapshot, fd, path, out)


def copy_archive(fd: int, path: str, compressed: bool, out: BinaryIO, scratch: str) -> None:
    """The entries of a JSON-array archive open at ``fd`` (gzipped, or a staged file, which
    nothing writes any more) into ``out``; ``scratch``: a private folder for a foreign one."""
    import shutil

    with _archive_reader(fd, compressed) as archive:
        head = archive.read(HEAD_BYTES)
        if _ours(head):
            _transform(head, archive.read, out)
            return
        # Another layout: unpacked beside the copies, then read by our reader.
        plain = os.path.join(scratch, "archive.json")
        with open(os.open(plain, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600), "w+b") as unpacked:
            unpacked.write(head)
            shutil.copyfileobj(archive, unpacked, BLOCK_BYTES)
            unpacked.flush()
            lock_timeout = DEFAULT_LOCK_TIMEOUT
            with Snapshot(unpacked.fileno(), hold_lock=True, lock_timeout=lock_timeout) as snap:
                _copy_snapshot(snap, unpacked.fileno(), path, out)
        os.unlink(plain)


def _archive_reader(fd: int, compressed: bool) -> BinaryIO:
    import gzip

    raw = os.fdopen(os.dup(fd), "rb")  # its own offset: the descriptor stays ours
    if not compressed:
        return raw
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


def _copy_snapshot(snapshot: Snapshot, fd: int, path: str, out: BinaryIO) -> None:
    head = array_head(path, snapshot)  # CorruptStoreError if it is not a JSON array
    if head is None:
        return
    if _ours(snapshot.read(head, len(_OUR_HEADS[0]))):
        _transform(b"", _snapshot_reader(snapshot, head), out)
        return
    damage = Damage()
    try:
        for entry in read_oldest_first(path, snapshot, damage=damage):
            out.write(json.dumps(entry).encode("ascii") + b"\n")
    finally:
        damage.report(path, fd)


def _ours(head: bytes) -> bool:
    return head.lstrip(b" \t\r\n").startswith(_OUR_HEADS)


def _snapshot_reader(snapshot: Snapshot, start: int) -> Read:
    """Reads of the snapshot from ``start`` to its last complete entry (a torn tail left)."""
    position = start

    def read(size: int) -> bytes:
        nonlocal position
        data = snapshot.read(position, min(size, snapshot.content_end - position))
        position += len(data)
        return data

    return read


def _transform(first: bytes, read: Read, out: BinaryIO) -> None:
    """Copy the text (``first``, then what ``read`` gives) with the ``,`` ending each line
    dropped; a ``,`` that ends a block is kept back until the next block shows its line end."""
    pending = first
    while True:
        block = read(BLOCK_BYTES)
        data = pending + block
        if not block:
            break
        keep = 1 if data.endswith(b",") else 0
        out.write(data[: len(data) - keep].replace(b",\n", b"\n"))
        pending = data[len(data) - keep :]
    out.write(data.replace(b",\n", b"\n") + b"\n")
