"""Errors the stores raise."""

from __future__ import annotations

import errno
import stat


class CorruptStoreError(ValueError):
    """The telemetry file is not in its store's format (a JSON array, JSON Lines); it was left
    exactly as it was."""

    def __init__(self, path: str, found: str, *, expected: str = "a JSON array") -> None:
        self.path = path
        self.found = found
        super().__init__(
            f"{path} is not {expected} of telemetry entries ({found}). "
            "It was left unchanged: move it aside or fix it, then capture again."
        )


class NotARegularFileError(OSError):
    """The telemetry path is a FIFO, a device or a socket, not a regular file.

    An OSError (errno EINVAL) whose ``filename`` is the path, like the other errors on the file.
    """


def not_a_regular_file(path: str, mode: int, outcome: str) -> NotARegularFileError:
    """The error for ``path``, whose ``st_mode`` is ``mode``, saying what it is and what to do."""
    message = (
        f"the path is {_kind_of_file(mode)}, not a regular file: telemetry needs a regular file "
        "that it can lock, read at any offset and append to; give the path of a file, such as "
        f".../telemetry.json; {outcome}"
    )
    return NotARegularFileError(errno.EINVAL, message, path)


def _kind_of_file(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"  # pragma: no cover - doors and event ports, not on Linux


NOT_RECORDED = "the entry was not recorded, and nothing else was changed"
NOT_READ = "nothing was read"
_NOT_WRITABLE = (
    "this process lacks permission on the file or one of its folders: check their "
    "permissions, or choose another file (telemetry_file=..., --file, BETTY_TELEMETRY_FILE)"
)
_WRONG_PATH = "a part of the path that should be a folder is a file: fix the path"
_HINTS = {
    errno.EACCES: _NOT_WRITABLE,
    errno.EPERM: _NOT_WRITABLE,
    errno.EROFS: "the file system is read-only: choose a telemetry file on a writable one",
    errno.EISDIR: "the path is a folder: give the path of a file, such as .../telemetry.json",
    errno.ENOTDIR: _WRONG_PATH,
    errno.EEXIST: _WRONG_PATH,  # os.makedirs, when a folder to create exists as a file
    errno.EFBIG: "the file reached this process's file size limit (ulimit -f): raise the "
    "limit or rotate the file",
    errno.ENOSPC: "the disk is full: free some space or rotate the file",
    errno.EDQUOT: "the disk quota is used up: free some space or rotate the file",
}


def explained(error: OSError, path: str, outcome: str) -> OSError:
    """``error`` with what it means for the telemetry file and what to do, same type and
    errno (so ``except PermissionError`` still works); unknown errors are returned as they
    are."""
    hint = _HINTS.get(error.errno or 0)
    if hint is None:
        return error
    message = f"{error.strerror}: {hint}; {outcome}"
    return type(error)(error.errno, message, error.filename or path)
