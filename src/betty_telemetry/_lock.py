"""Advisory locks on the data file itself.

We lock the telemetry file, not a sidecar: the original framework's tools lock the data file,
and every writer of this format must serialize with every other. ``flock`` locks belong to the
open file description, so one process must never share a locked descriptor between threads
(the store adds a thread lock) or across ``fork`` (the store reopens in the child).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def shared_lock(fd: int) -> Iterator[None]:
    """Hold a shared ``flock`` on ``fd`` (readers) for the duration of the block."""
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
