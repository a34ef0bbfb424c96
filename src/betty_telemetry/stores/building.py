"""A new store built whole before it appears: filled under a temporary name beside its path,
then given the path in one step (``convert`` into a file that does not exist yet).

Killed while it is filled, nothing is at the path: a later run starts again, rather than
finding half a store that looks whole. The temporary file (``.NAME.building-TOKEN.NAME``,
keeping the extension that chooses the store) is then left behind, named as such.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator

from betty_telemetry.stores._files import fsync_folder
from betty_telemetry.stores.base import Store

_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


@contextlib.contextmanager
def new_store(path: str, opener: Callable[[str], Store]) -> Iterator[Store]:
    """A store (opened by ``opener``) to fill, that takes ``path`` once the ``with`` ends
    without an error; FileExistsError, the temporary file removed, if something took the path
    meanwhile (a link never replaces a file). On an error it is removed, and the path left
    as it was."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.building-{secrets.token_hex(4)}.{name}")
    store = opener(temporary)
    try:
        yield store
        store.close()  # SQLite folds its write-ahead log into the file as it closes
        _check_whole(temporary)
        os.link(temporary, path)
        fsync_folder(folder or ".")
    finally:
        store.close()
        for leftover in (temporary, *(temporary + side for side in _SQLITE_SIDE_FILES)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _check_whole(temporary: str) -> None:
    """The temporary store is one file: a write-ahead log left beside it would hold entries
    the linked file lacks."""
    for side in ("-wal", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            if os.path.getsize(temporary + side):
                raise OSError(f"{temporary}{side} is left after closing: the store is not whole")
