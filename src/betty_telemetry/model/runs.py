"""Runs that are still going: a ``pending`` entry when a run starts, its final entry when it
ends, and the rule by which every reader shows the two as one run.

A run that records a pending entry (opt-in per decorator or context, ``BETTY_TELEMETRY_PENDING``,
always for Claude Code tool runs) writes it when it starts: status ``pending``, duration 0, the
run's ``span_id``. Its final entry, written when it ends, has the same ``span_id`` and notes the
pending entry's timestamp in ``metadata["pending_at"]`` (``betty_telemetry.pending_at`` if the
caller's metadata holds that name). Files only ever grow, so both stay in the file.

The rule: an entry carrying the note replaces every older entry of its span, back to the
span's pending entry. Readers show the newest. That is the pending entry, once the run ended;
and also a final entry written before it: a run declared a timeout by ``running --sweep``
that ended after all, two sweeps at once, a Claude Code session resumed and ended again.

Only spans whose newest entry carries the note are remembered while reading newest first, and
each is forgotten at its pending entry, so memory stays small: a run without a pending entry
costs a reader a set lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a hook's capture uses the names below, not the filters
    from betty_telemetry.model.filters import EntryFilter

PENDING = "pending"
PENDING_NOTE = "pending_at"
_PREFIXED_NOTE = "betty_telemetry." + PENDING_NOTE

PENDING_MARK = b'"pending'
"""Bytes found in every line that matters to this rule (a pending status, a final's note): a
store that reads only part of a line (statistics' summaries) reads such lines whole."""


def pending_at(entry: dict[str, Any]) -> str | None:
    """The timestamp of the pending entry ``entry`` (a final one) replaces, if it does."""
    metadata = entry.get("metadata")
    if type(metadata) is not dict:
        return None
    noted = metadata.get(_PREFIXED_NOTE, metadata.get(PENDING_NOTE))
    return noted if type(noted) is str else None


def replaced_span(entry: dict[str, Any]) -> str | None:
    """The span id of the pending entry that ``entry`` replaces, or None."""
    if entry.get("status") == PENDING:
        return None
    span_id = entry.get("span_id")
    if type(span_id) is not str or pending_at(entry) is None:
        return None
    return span_id


def is_pending(entry: dict[str, Any]) -> bool:
    return entry.get("status") == PENDING


class Superseded:
    """Reading newest first: tells which entries a newer entry of their run replaces.

    ``hides(entry)`` is asked of every entry in order. A span whose entry carries the note is
    remembered; its older entries are hidden, down to its pending entry, where it is
    forgotten."""

    __slots__ = ("_replaced",)

    def __init__(self) -> None:
        self._replaced: set[str] = set()

    def hides(self, entry: dict[str, Any]) -> bool:
        replaced = self._replaced
        span_id = entry.get("span_id")
        if entry.get("status") == PENDING:
            if type(span_id) is str and span_id in replaced:
                replaced.discard(span_id)  # the run's first entry: nothing older is its
                return True
            return False
        if replaced and type(span_id) is str and span_id in replaced:
            return True  # a final entry a newer one replaced
        metadata = entry.get("metadata")
        if type(metadata) is dict and (PENDING_NOTE in metadata or _PREFIXED_NOTE in metadata):
            span = replaced_span(entry)
            if span is not None:
                replaced.add(span)
        return False


def one_per_run(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` in the order stored (oldest first), less those a newer entry of their run
    replaces: the same rule as a newest-first read, applied from the end."""
    kept = list(newest_first_runs(reversed(list(entries))))
    kept.reverse()
    return kept


def newest_first_runs(entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``entries``, newest first, less those a newer entry of their run replaces."""
    superseded = Superseded()
    hides = superseded.hides
    return (entry for entry in entries if not hides(entry))


_REPLACEABLE = frozenset({PENDING, "timeout"})
"""The statuses of entries a newer entry of their run may replace (a pending entry, a sweep's
timeout): a read asking for them must meet every status, to meet their replacements."""


def widened(wanted: EntryFilter) -> bool:
    """Whether ``with_finals`` reads more statuses than ``wanted`` asks for (the reader must
    then keep only those)."""
    return wanted.statuses is not None and not wanted.statuses.isdisjoint(_REPLACEABLE)


def with_finals(wanted: EntryFilter) -> EntryFilter:
    """What a reader asks of a store for ``wanted``: asked for pending entries or timeouts,
    every status, since the entries that replace them must be met to hide them (the reader
    then keeps only the statuses asked for). The other filters treat a run's entries alike,
    or let an older one through alone only where it was still the newest (``until`` before
    the run's end)."""
    if not widened(wanted):
        return wanted
    import dataclasses

    return dataclasses.replace(wanted, statuses=None)
