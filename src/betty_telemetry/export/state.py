"""The export's own small file beside the telemetry file: ``NAME.otlp.json``.

It holds what every process exporting from that file must agree on, and what ``where`` shows:

- ``dropped``: spans the live export could not deliver (how many, why, when last), summed
  over every process and run since the file was made;
- ``replays``: how far each replay got (see ``replay``), so a re-run resumes there.

Each change is a read-modify-write under an exclusive ``flock`` of the file itself, written
in place (it is small), so ten processes counting drops at once add up. A reader that meets
it half-written (no lock) reads it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from betty_telemetry.model.entry import utc_timestamp

SUFFIX = ".otlp.json"
_READ_ATTEMPTS = 5
MAX_REASONS = 20
"""Reasons kept apart; more are summed under OTHER, so the file stays small."""
OTHER = "other reasons"


def state_path(telemetry_file: str | os.PathLike[str]) -> str:
    return os.fspath(telemetry_file) + SUFFIX


def read_state(path: str) -> dict[str, Any]:
    """The state as it is now ({} when there is none, or it is not an object)."""
    for _ in range(_READ_ATTEMPTS):
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except FileNotFoundError:
            return {}
        try:
            state = json.loads(text) if text else {}
        except ValueError:
            time.sleep(0.01)  # a writer is in the middle of it: read again
            continue
        return state if isinstance(state, dict) else {}
    return {}


def update_state(path: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Apply ``change`` to the state under its lock; the state written."""
    with _locked(path) as fd:
        text = _read_all(fd)
        try:
            state = json.loads(text) if text else {}
        except ValueError:
            state = {}  # a process killed mid-write: start the counts again, do not fail
        if not isinstance(state, dict):
            state = {}
        change(state)
        data = json.dumps(state, indent=1, sort_keys=True).encode() + b"\n"
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
    return state


@contextlib.contextmanager
def _locked(path: str) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing lets the lock go


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def add_drops(path: str, count: int, reason: str) -> None:
    """Count ``count`` spans more that could not be delivered, and why."""

    def change(state: dict[str, Any]) -> None:
        dropped = state.setdefault("dropped", {})
        dropped["total"] = int(dropped.get("total", 0)) + count
        reasons = dropped.setdefault("reasons", {})
        key = reason if reason in reasons or len(reasons) < MAX_REASONS else OTHER
        reasons[key] = int(reasons.get(key, 0)) + count
        dropped["last_reason"] = reason
        dropped["last_at"] = utc_timestamp()

    update_state(path, change)
