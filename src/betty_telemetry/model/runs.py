"""Runs that are still going: a ``pending`` entry when a run starts, its final entry when it
ends, and the rule by which every reader shows the two as one run.

A run that records a pending entry (opt-in per decorator or context, ``BETTY_TELEMETRY_PENDING``,
always for Claude Code tool runs) writes it when it starts: status ``pending``, duration 0, the
run's ``span_id``. Its final entry, written when it ends, has the same ``span_id`` and notes the
pending entry's timestamp in ``metadata["pending_at"]`` (``betty_telemetry.pending_at`` if the
caller's metadata holds that name). Files only ever grow, so both stay in the file; readers hide
a pending entry once they have met its final one.

Only finals that carry the note are remembered while reading, so memory stays small: a run
without a pending entry costs a reader one dictionary lookup.
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
    """Reading newest first: tells which pending entries a final entry already met replaces.

    ``hides(entry)`` is asked of every entry in order; a final's span is remembered until its
    pending entry comes, which is then hidden."""

    __slots__ = ("_finished",)

    def __init__(self) -> None:
        self._finished: set[str] = set()

    def hides(self, entry: dict[str, Any]) -> bool:
        status = entry.get("status")
        if status == PENDING:
            span_id = entry.get("span_id")
            if type(span_id) is str and span_id in self._finished:
                self._finished.discard(span_id)
                return True
            return False
        metadata = entry.get("metadata")
        if type(metadata) is dict and (PENDING_NOTE in metadata or _PREFIXED_NOTE in metadata):
            span_id = replaced_span(entry)
            if span_id is not None:
                self._finished.add(span_id)
        return False


def one_per_run(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` in any order, without the pending entries whose final entry is among them."""
    entries = list(entries)
    finished = {span for entry in entries if (span := replaced_span(entry)) is not None}
    if not finished:
        return entries
    return [
        entry
        for entry in entries
        if not (entry.get("status") == PENDING and entry.get("span_id") in finished)
    ]


def newest_first_runs(entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``entries``, newest first, without the pending entries replaced by a final one."""
    superseded = Superseded()
    hides = superseded.hides
    return (entry for entry in entries if not hides(entry))


def with_finals(wanted: EntryFilter) -> EntryFilter:
    """What a reader asks of a store for ``wanted``: asked for pending entries, every status,
    since the final entries that replace them must be met to hide them (the reader then keeps
    only the statuses asked for). The other filters treat a run's two entries alike, or let
    its pending one through alone only where it was still pending (``until`` before its end).
    """
    if wanted.statuses is None or PENDING not in wanted.statuses:
        return wanted
    import dataclasses

    return dataclasses.replace(wanted, statuses=None)
