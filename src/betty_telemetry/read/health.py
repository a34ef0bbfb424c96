"""What a store says about the telemetry's own health, read in one pass: how many entries and
of what shape, their time span, and what the library noted about itself in them.

The library leaves its notes in the entries it writes, so any process can read them later:
``metadata.redactions`` (the values redaction replaced), ``metadata.truncated`` (the values
cut to the size limits) and the ``betty_telemetry.dropped`` entries a background writer
stores when it had to drop entries (``metadata.dropped``: how many).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from betty_telemetry.model.entry import DROPPED_SKILL, ENTRY_FIELDS
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.times import canonical_timestamp
from betty_telemetry.stores.base import Store

_SPEC_FIELDS = frozenset(ENTRY_FIELDS)


@dataclass
class Health:
    """The counts of one pass over a store's entries."""

    entries: int = 0
    legacy: int = 0
    """Entries without every field of the spec (the original framework's, or another tool's)."""
    statuses: Counter[str] = field(default_factory=Counter)
    oldest: str | None = None
    newest: str | None = None
    dropped: int = 0
    """Entries a background writer could not record, as its reports in the store say."""
    drop_reports: int = 0
    redacted_entries: int = 0
    redacted_values: int = 0
    truncated_entries: int = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.entries += 1
        if not entry.keys() >= _SPEC_FIELDS:
            self.legacy += 1
        self.statuses[str(entry.get("status"))] += 1
        moment = canonical_timestamp(entry.get("timestamp"))
        if moment is not None:
            self.oldest = moment if self.oldest is None else min(self.oldest, moment)
            self.newest = moment if self.newest is None else max(self.newest, moment)
        metadata = entry.get("metadata")
        if isinstance(metadata, dict):
            self._add_notes(entry, metadata)

    def _add_notes(self, entry: dict[str, Any], metadata: dict[str, Any]) -> None:
        redactions = metadata.get("redactions")
        if isinstance(redactions, list) and redactions:
            self.redacted_entries += 1
            self.redacted_values += len(redactions)
        if metadata.get("truncated"):
            self.truncated_entries += 1
        dropped = metadata.get("dropped")
        if entry.get("skill") == DROPPED_SKILL and type(dropped) is int:
            self.drop_reports += 1
            self.dropped += dropped


def health(store: Store) -> Health:
    """The health of every entry ``store`` holds (read newest first, in bounded memory)."""
    found = Health()
    with contextlib.closing(store.scan(EntryFilter())) as entries:
        for entry in entries:
            found.add(entry)
    return found
