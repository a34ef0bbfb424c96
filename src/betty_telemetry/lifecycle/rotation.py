"""When to rotate a store, and doing it: thresholds of size, entries and age.

A rotation with no threshold happens now; with thresholds, when any one of them is crossed
(as logrotate and the OpenTelemetry Collector's file exporter do). The work itself, atomic
for every writer, is the store's own (``RotatingStore.rotate``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from betty_telemetry.model.checks import byte_size, whole_number
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.times import canonical_timestamp, parse_age, utc_text
from betty_telemetry.stores.base import ProgressHook, RotatingStore, Store


@dataclass(frozen=True)
class RotationPolicy:
    """Thresholds for a rotation; all None means rotate now."""

    max_bytes: int | None = None
    max_entries: int | None = None
    max_age: timedelta | None = None

    @classmethod
    def of(
        cls,
        max_bytes: int | str | None = None,
        max_entries: int | None = None,
        max_age: timedelta | str | None = None,
    ) -> RotationPolicy:
        """Checked thresholds (ValueError saying what is accepted)."""
        return cls(
            None if max_bytes is None else byte_size("max_bytes", max_bytes),
            whole_number("max_entries", max_entries, minimum=1, allow_none=True),
            None if max_age is None else parse_age("max_age", max_age),
        )

    def reason(self, store: RotatingStore, now: datetime | None = None) -> str | None:
        """Why the store is due, or None if no threshold is crossed (the cheap ones first)."""
        if self.max_bytes is None and self.max_entries is None and self.max_age is None:
            return "asked to rotate now"
        if self.max_bytes is not None and (size := store.size()) >= self.max_bytes:
            return f"{size:,} bytes, at least max_bytes={self.max_bytes:,}"
        if self.max_age is not None:
            oldest = _oldest_timestamp(store)
            limit = utc_text((now or datetime.now(timezone.utc)) - self.max_age)
            if oldest is not None and oldest <= limit:
                return f"oldest entry at {oldest}, older than max_age={self.max_age}"
        if self.max_entries is not None:
            count = store.count(EntryFilter())
            if count >= self.max_entries:
                return f"{count:,} entries, at least max_entries={self.max_entries:,}"
        return None


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the archive made (None if nothing was rotated), and why."""

    archive: str | None
    reason: str


def rotate(
    store: Store,
    policy: RotationPolicy,
    now: datetime | None = None,
    progress: ProgressHook | None = None,
) -> Rotation:
    """Rotate ``store`` if ``policy`` says it is due; ``progress`` is told how far moving
    the entries into the archive got. ValueError for a store kept in memory."""
    store = rotating(store, "rotate")
    reason = policy.reason(store, now)
    if reason is None:
        return Rotation(None, "no threshold crossed")
    archive = store.rotate(progress)
    return Rotation(archive, reason if archive is not None else "the store holds no entry")


def _oldest_timestamp(store: Store) -> str | None:
    with contextlib.closing(store.scan(EntryFilter(), newest_first=False)) as entries:
        for entry in entries:
            moment = canonical_timestamp(entry.get("timestamp"))
            if moment is not None:
                return moment
    return None


def rotating(store: Store, action: str) -> RotatingStore:
    """``store``, if it keeps files; ValueError for one kept in memory (``action``: what was
    asked of it)."""
    if not isinstance(store, RotatingStore):
        raise ValueError(
            f"{type(store).__name__} keeps no files, so it has nothing to {action}: rotation "
            "and retention work on a file store's entries and the archives beside it"
        )
    return store
