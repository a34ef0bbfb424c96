"""Creating the telemetry file and its folders, and writing bytes whole.

Kept apart from the store's append logic: these are the file-system steps around it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data``; rewriting what a short write already wrote is harmless."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def create_complete(path: str, folder: str, *, fsync: bool) -> None:
    """Create ``path`` holding an empty array, readable by its owner only.

    Never as an empty file, even for a moment: another writer (the original framework's
    tools) that locks it in between would fail to load it, and a writer killed there would
    leave it so. The array is written to a temporary file beside it and linked into place;
    if another process created the file meanwhile, theirs stays.
    """
    try:
        fd, temporary = tempfile.mkstemp(prefix=".telemetry-", suffix=".new", dir=folder)
    except OSError as error:  # name the file we meant to create, not the temporary one
        raise type(error)(error.errno, error.strerror, path) from None
    try:
        pwrite_all(fd, b"[\n]\n", 0)
        os.fchmod(fd, 0o600)
        if fsync:  # the array, before its name: after a power loss, never an empty file
            os.fdatasync(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.close(fd)
        os.unlink(temporary)


def missing_folders(folder: str) -> list[str]:
    """The folders of ``folder``'s path that do not exist, deepest first."""
    missing = []
    while folder and not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
