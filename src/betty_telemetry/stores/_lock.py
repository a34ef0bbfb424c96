"""Advisory locks on the data file itself, with a timeout.

We lock the telemetry file, not a sidecar: the original framework's tools lock the data file,
and every writer of this format must serialize with every other. ``flock`` has no timeout,
and a blocked ``flock`` cannot be interrupted from another thread, so a lock that is taken is
waited for by polling: first a non-blocking attempt (the one system call of the usual,
uncontended case), then attempts spaced from 50 µs up to 5 ms until the deadline. A writer
that is stuck (stopped, or hung while holding the lock) then costs each capture at most the
timeout and a clear error, instead of hanging the host for ever.
"""

from __future__ import annotations

import fcntl
import time

from betty_telemetry._config import DEFAULT_LOCK_TIMEOUT

__all__ = ["DEFAULT_LOCK_TIMEOUT", "LockTimeoutError", "lock", "unlock"]

_FIRST_PAUSE = 0.00005
_LONGEST_PAUSE = 0.005
_flock, _NB = fcntl.flock, fcntl.LOCK_NB


class LockTimeoutError(TimeoutError):
    """Another process held the telemetry file's lock for longer than the timeout."""

    def __init__(self, path: str, timeout: float, action: str) -> None:
        self.path = path
        self.timeout = timeout
        waited = f"for {timeout:g} s" if timeout else "(lock_timeout=0: no waiting)"
        super().__init__(
            f"{path} stayed locked by another process {waited}, so {action}. "
            f"A writer may be stuck: `fuser {path}` names the processes that have it open. "
            "To wait longer, set TelemetryCapture(lock_timeout=SECONDS) or "
            "BETTY_TELEMETRY_LOCK_TIMEOUT."
        )


def lock(fd: int, kind: int, timeout: float, path: str, action: str) -> None:
    """Take ``kind`` (``LOCK_EX`` or ``LOCK_SH``) on ``fd`` within ``timeout`` seconds, else
    raise LockTimeoutError saying that ``action`` did not happen."""
    try:
        _flock(fd, kind | _NB)
        return
    except BlockingIOError:
        pass
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE
    while True:
        time.sleep(pause)
        try:
            _flock(fd, kind | _NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeoutError(path, timeout, action) from None
        pause = min(pause * 2, _LONGEST_PAUSE)


def unlock(fd: int) -> None:
    _flock(fd, fcntl.LOCK_UN)
