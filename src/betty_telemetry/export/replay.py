"""Replay: the entries of any store (and its archives), sent as spans after the fact.

Oldest first, in batches, in bounded memory; each batch is mapped exactly as the live export
maps it (``mapping.span_of``), so a replay of what was exported live gives the same ids. A
batch the backend refuses is tried again with growing pauses for ``retry_for`` seconds, then
the replay stops with ExportFailed, its checkpoint after the last batch that went through
(see ``checkpoint``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from betty_telemetry.export.checkpoint import Checkpoint, Checkpoints, identity
from betty_telemetry.export.mapping import NotASpan, SpanData, span_of
from betty_telemetry.export.targets import Target, sent_with_retries
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.runs import is_pending
from betty_telemetry.stores.base import Store

BATCH = 512


class ExportFailed(ConnectionError):
    """The backend kept refusing a batch: what went before it is sent and checkpointed."""


@dataclass(frozen=True)
class Replayed:
    """What a replay did."""

    destination: str
    sent: int
    """Spans sent by this run."""
    skipped: int
    """Matching entries an earlier run had sent already (resumed after them)."""
    unexportable: int
    """Entries with no usable timestamp, which no span can place (counted, not sent)."""


@dataclass
class _Run:
    target: Target
    checkpoints: Checkpoints | None
    progress: Callable[[int], None] | None
    retry_for: float
    position: int = 0
    sent: int = 0
    unexportable: int = 0


def replay(
    store: Store,
    target: Target,
    wanted: EntryFilter,
    *,
    checkpoints: Checkpoints | None = None,
    progress: Callable[[int], None] | None = None,
    retry_for: float = 60.0,
) -> Replayed:
    """Send every entry of ``store`` that ``wanted`` matches to ``target``, after those an
    earlier run sent (``checkpoints``). ``progress`` gets the spans sent so far."""
    start = checkpoints.load() if checkpoints is not None else None
    entries, skipped = _resume(store, wanted, start) if start else (_matching(store, wanted), 0)
    run = _Run(target, checkpoints, progress, retry_for, position=skipped)
    with contextlib.closing(entries):
        batch: list[dict[str, Any]] = []
        for entry in entries:
            batch.append(entry)
            if len(batch) == BATCH:
                _send(run, batch)
                batch = []
        if batch:
            _send(run, batch)
    return Replayed(target.description, run.sent, skipped, run.unexportable)


def _matching(store: Store, wanted: EntryFilter) -> Generator[dict[str, Any], None, None]:
    with contextlib.closing(store.scan(wanted, newest_first=False)) as scan:
        for entry in scan:
            if wanted.matches(entry):
                yield entry


def _resume(
    store: Store, wanted: EntryFilter, checkpoint: Checkpoint
) -> tuple[Generator[dict[str, Any], None, None], int]:
    """The matching entries after the checkpoint's, and how many come before them."""
    entries = _matching(store, wanted)
    if _skip_to(entries, lambda place, entry: place == checkpoint.sent, checkpoint):
        return entries, checkpoint.sent
    entries.close()
    # Not at its place: entries before it were rotated or pruned away. Look for it.
    entries = _matching(store, wanted)
    found = _skip_to(entries, lambda place, entry: identity(entry) == checkpoint.last, None)
    if found:
        return entries, found
    entries.close()
    raise ValueError(
        f"the last entry an earlier export sent ({checkpoint.sent:,} entries in, span "
        f"{checkpoint.last}) is no longer among the entries to send: they were pruned, or "
        "the file was replaced. Pass --restart (restart=True) to send them all again"
    )


def _skip_to(
    entries: Iterator[dict[str, Any]],
    here: Callable[[int, dict[str, Any]], bool],
    check: Checkpoint | None,
) -> int:
    """Advance ``entries`` past the first one ``here`` is true of; its place (1-based), or 0
    if there is none (or, with ``check``, if it is not the checkpoint's entry)."""
    for place, entry in enumerate(entries, 1):
        if here(place, entry):
            if check is not None and identity(entry) != check.last:
                return 0
            return place
    return 0


def _send(run: _Run, batch: list[dict[str, Any]]) -> None:
    spans = _spans(run, batch)
    if spans:
        _deliver(run, spans)
    run.position += len(batch)
    run.sent += len(spans)
    if run.checkpoints is not None:
        run.checkpoints.save(Checkpoint(run.position, identity(batch[-1])))
    if run.progress is not None:
        run.progress(run.sent)


def _spans(run: _Run, batch: list[dict[str, Any]]) -> list[SpanData]:
    spans = []
    for entry in batch:
        if is_pending(entry):  # a run still going has no span yet; its final entry will
            continue
        try:
            spans.append(span_of(entry))
        except NotASpan:
            run.unexportable += 1
    return spans


def _deliver(run: _Run, spans: list[SpanData]) -> None:
    if not sent_with_retries(run.target, spans, run.retry_for, _sleep):
        raise ExportFailed(
            f"{run.target.description} refused {len(spans)} spans for {run.retry_for:g} s; "
            f"{run.sent:,} spans were sent before them, and a re-run resumes after those"
        )


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False  # a replay gives up only when its time is spent (or on Ctrl-C)
