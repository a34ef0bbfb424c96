"""Retention: old entries pruned into an archive, old archives removed.

Pruning never deletes an entry: the store moves the entries older than the cut into a new
archive and keeps the rest, atomically (``RotatingStore.prune``). What is deleted, and only
on request, is archives: beyond the newest ``keep``, or rotated more than ``older_than`` ago
(as logrotate's ``rotate N`` and ``maxage``). A staged archive (a rotation under way or
interrupted, not compressed yet) is never removed.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta, timezone

from betty_telemetry.lifecycle.rotation import rotating
from betty_telemetry.model.checks import whole_number
from betty_telemetry.model.times import parse_age, parse_moment
from betty_telemetry.stores.base import Pruned, Store


def prune(
    store: Store,
    *,
    older_than: timedelta | str | None = None,
    before: datetime | str | None = None,
    now: datetime | None = None,
) -> Pruned:
    """Move the entries older than ``older_than`` (``"30d"``), or stamped before ``before``
    (a datetime or ISO text), into a new archive; exactly one of the two is given."""
    cut = cut_of(older_than, before, now)
    return rotating(store, "prune").prune(cut)


def cut_of(
    older_than: timedelta | str | None, before: datetime | str | None, now: datetime | None
) -> str:
    """The moment before which entries are pruned, as canonical UTC text."""
    if (older_than is None) == (before is None):
        raise ValueError(
            "give older_than (an age: 30d, 12h) or before (a date or time), exactly one: "
            "entries older than it are moved into an archive"
        )
    now = now or datetime.now(timezone.utc)
    if older_than is not None:
        return parse_moment("older_than", now - parse_age("older_than", older_than), now)
    return parse_moment("before", before, now)


def remove_archives(
    store: Store,
    *,
    keep: int | None = None,
    older_than: timedelta | str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete the store's compressed archives beyond the newest ``keep``, and those rotated
    more than ``older_than`` ago; the paths removed, newest first. Entries in the store are
    never touched."""
    kept = whole_number("keep", keep, allow_none=True)
    age = None if older_than is None else parse_age("older_than", older_than)
    if kept is None and age is None:
        raise ValueError("give keep (a number of archives) or older_than (an age), or both")
    limit = None if age is None else (now or datetime.now(timezone.utc)) - age
    removed: list[str] = []
    archives = rotating(store, "remove archives").archives()
    compressed = [archive for archive in archives if archive.compressed]
    for rank, archive in enumerate(compressed):
        beyond = kept is not None and rank >= kept
        too_old = limit is not None and archive.rotated_at < limit
        if beyond or too_old:
            with contextlib.suppress(FileNotFoundError):  # removed by another process
                os.unlink(archive.path)
                removed.append(archive.path)
    return removed
