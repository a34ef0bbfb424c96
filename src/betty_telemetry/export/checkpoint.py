"""How far a replay got, kept in the export's state file so a re-run resumes there.

A replay sends the matching entries oldest first. After each batch the backend accepted, it
records how many matching entries were behind it and the ids of the last one. A re-run with
the same destination, filters and archives setting skips that many, once it has checked that
the entry at that place is still the last one sent; if it is not (a rotation or a prune moved
entries out of the file), it looks for that entry and goes on after it. A checkpoint whose
entry is gone entirely is refused with a clear error: only ``restart`` sends everything again.

The one window left is the instant between the backend's answer and the checkpoint's write: a
kill there sends that batch again, with the same span ids (which backends that deduplicate
by id fold back into one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from betty_telemetry.export import state
from betty_telemetry.export.mapping import ids_of

Identity = str
"""An entry's span ids, ``TRACE:SPAN`` in hex: the same every time the entry is read."""


def identity(entry: Mapping[str, Any]) -> Identity:
    trace_id, span_id, _ = ids_of(entry)
    return f"{trace_id:032x}:{span_id:016x}"


def replay_key(destination: str, filters: Mapping[str, Any], archives: bool) -> str:
    """What a checkpoint belongs to: the same destination, filters and archives setting."""
    described = json.dumps(dict(filters), sort_keys=True, default=str)
    return f"{destination} {described} archives={archives}"


@dataclass(frozen=True)
class Checkpoint:
    """``sent`` matching entries were delivered, the last of them ``last``."""

    sent: int
    last: Identity


class Checkpoints:
    """The checkpoint of one replay (``key``) in the state file ``path`` (None: kept in
    memory, for a store in memory)."""

    def __init__(self, path: str | None, key: str) -> None:
        self.path = path
        self.key = key
        self._memory: Checkpoint | None = None

    def load(self) -> Checkpoint | None:
        if self.path is None:
            return self._memory
        found = state.read_state(self.path).get("replays", {}).get(self.key)
        if not isinstance(found, dict):
            return None
        sent, last = found.get("sent"), found.get("last")
        if isinstance(sent, int) and sent > 0 and isinstance(last, str):
            return Checkpoint(sent, last)
        return None

    def save(self, checkpoint: Checkpoint) -> None:
        self._memory = checkpoint
        if self.path is None:
            return

        def change(current: dict[str, Any]) -> None:
            replays = current.setdefault("replays", {})
            replays[self.key] = {"sent": checkpoint.sent, "last": checkpoint.last}

        state.update_state(self.path, change)

    def clear(self) -> None:
        self._memory = None
        if self.path is None:
            return

        def change(current: dict[str, Any]) -> None:
            current.get("replays", {}).pop(self.key, None)

        state.update_state(self.path, change)
