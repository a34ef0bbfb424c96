"""Creating the telemetry file and its folders, and writing bytes whole.

Kept apart from the store's append logic: these are the file-system steps around it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time

from betty_telemetry.stores._errors import explained, not_a_regular_file


def open_regular(path: str, flags: int, outcome: str) -> int:
    """A descriptor on the regular file at ``path``, opened with ``flags``.

    Anything else is refused before it is used, naming the path, with ``outcome`` (what did not
    happen): a FIFO would block a reader for ever and cannot be read at an offset, a device
    swallows entries or never ends. So the open itself must not block (``O_NONBLOCK``: opening
    a FIFO for reading waits for a writer), and the type is checked on the descriptor, which
    cannot change under us, not on the path. FileNotFoundError is raised as it is (the caller
    may create the file); other errors say what they mean (see ``explained``).
    """
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        _refuse_special_file(path, outcome)  # a socket cannot be opened at all: ENXIO
        better = explained(error, path, outcome)
        if better is error:
            raise
        raise better from error
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return fd
    os.close(fd)
    if stat.S_ISDIR(mode):  # opens fine read-only on Linux, and fails only at the first read
        folder = IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        raise explained(folder, path, outcome)
    raise not_a_regular_file(path, mode, outcome)


def _refuse_special_file(path: str, outcome: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise not_a_regular_file(path, mode, outcome) from None


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
    import tempfile  # here: only a new file needs it, and it imports shutil

    try:
        fd, temporary = tempfile.mkstemp(
            prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=folder
        )
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
        # Another process may have removed it already (see remove_stale_temporaries).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".telemetry-", ".new"
_STALE_AFTER = 60.0  # seconds: a creation takes microseconds, one this old was killed


def remove_stale_temporaries(folder: str, live: os.stat_result) -> None:
    """Remove what creations killed half-way left in ``folder``: a temporary file that is a
    second name of the live file (killed between linking it into place and unlinking it),
    or one linked nowhere and older than a minute. Both hold nothing another name lacks.
    ``live`` is the live file's status (an ``fstat``, or a ``stat`` for a SQLite database:
    closing a descriptor of it would drop the process's SQLite locks)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    now = time.time()
    for name in names:
        if not (name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)):
            continue
        path = os.path.join(folder, name)
        try:
            status = os.lstat(path)
            same = (status.st_dev, status.st_ino) == (live.st_dev, live.st_ino)
            if same or (status.st_nlink == 1 and now - status.st_mtime > _STALE_AFTER):
                os.unlink(path)
        except FileNotFoundError:
            continue


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
