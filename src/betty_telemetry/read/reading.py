"""The read side over any store: filtered streams, pages, statistics, traces, tail and follow.

Each function takes a ``Store`` and an ``EntryFilter`` already checked, so ``TelemetryCapture``
only validates arguments and delegates here. Only the ``Store`` protocol is used: how a store
finds entries (bytes, SQL) is its own business.

Long reads take an optional ``progress`` (a ``ReadProgress``), told the entries read so far
and how far the store's scan got, for a progress bar (``cli.progress``).
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections.abc import Callable, Collection, Generator, Iterator
from contextlib import closing
from typing import Any

from betty_telemetry.model.entry import SUMMARY_FIELDS, normalize_entry
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.model.runs import Superseded, one_per_run, with_finals
from betty_telemetry.read.stats import compute_stats
from betty_telemetry.read.trace import Node, build_tree
from betty_telemetry.stores.base import (
    Follower,
    MeasuredStore,
    ProgressHook,
    Store,
    SummarizingStore,
    TraceIndexedStore,
)

_IN_A_TRACE = EntryFilter(with_trace=True)

ReadProgress = Callable[[int, int, int], None]
"""``progress(entries, done, total)``: ``entries`` read so far (those wanted), and how far the
store's scan got, ``done`` of ``total`` (see ``stores.base.ProgressHook``; both 0 while
unknown). Called once per block the store reads, and once at the end of the read."""


def select(
    store: Store,
    wanted: EntryFilter,
    *,
    summaries: bool = False,
    progress: ReadProgress | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Entries matching ``wanted``, newest first, streamed (the file is read as they go), as
    readers get them (``normalize_entry``: every spec field present).

    With ``summaries``, entries hold at least SUMMARY_FIELDS, as stored, for callers that look
    only those up; ``wanted`` must then filter on those fields only.
    """
    normalize = not summaries
    fields = SUMMARY_FIELDS if summaries else None
    matches = None if wanted.is_empty else wanted.matches
    hides = Superseded().hides  # a run's final entry replaces its pending one (model.runs)
    counted = 0  # a local the measure reads: counting costs the loop next to nothing
    reached = (0, 0)
    measure: ProgressHook | None = None
    if progress is not None:
        report = progress

        def measure_and_report(done: int, total: int) -> None:
            nonlocal reached
            reached = (done, total)
            report(counted, done, total)

        measure = measure_and_report
    # closing(): stopping early must end the read now, not at garbage collection.
    with closing(_scan(store, with_finals(wanted), measure, fields=fields)) as entries:
        for entry in entries:
            if hides(entry):
                continue
            if matches is None or matches(entry):
                counted += 1
                yield normalize_entry(entry) if normalize else entry
    if progress is not None:
        progress(counted, *reached)


def _scan(
    store: Store,
    wanted: EntryFilter,
    measure: ProgressHook | None,
    *,
    fields: Collection[str] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """The store's scan, measured if asked and the store can measure (a store of your own
    need not)."""
    if measure is not None and isinstance(store, MeasuredStore):
        return store.scan_measured(wanted, measure, fields=fields)
    return store.scan(wanted, fields=fields)


def page(
    store: Store,
    wanted: EntryFilter,
    limit: int | None,
    offset: int,
    progress: ReadProgress | None = None,
) -> list[dict[str, Any]]:
    """Matching entries ``offset`` to ``offset + limit`` (newest first), reading no further."""
    if limit == 0:
        return []
    with closing(select(store, wanted, progress=progress)) as entries:
        return list(window(entries, limit, offset))


def window(
    entries: Iterator[dict[str, Any]], limit: int | None, offset: int
) -> Iterator[dict[str, Any]]:
    """Entries ``offset`` to ``offset + limit`` of ``entries``, taken lazily."""
    return itertools.islice(entries, offset, None if limit is None else offset + limit)


def stats(
    store: Store,
    wanted: EntryFilter,
    by: str,
    sort: str,
    progress: ReadProgress | None = None,
) -> list[dict[str, Any]]:
    """Statistics per ``by`` group; ``progress`` is not told anything by a store that
    computes them itself (in SQL)."""
    if isinstance(store, SummarizingStore):
        return store.stats(wanted, by, sort)
    summaries = wanted.fields() <= set(SUMMARY_FIELDS)
    with closing(select(store, wanted, summaries=summaries, progress=progress)) as entries:
        return compute_stats(entries, by, sort)


def trace(store: Store, trace_id: str, progress: ReadProgress | None = None) -> list[Node]:
    if isinstance(store, TraceIndexedStore):
        stored = one_per_run(store.trace_entries(trace_id))
        in_file_order = [normalize_entry(entry) for entry in stored]
    else:
        wanted = EntryFilter(trace_id=trace_id)
        with closing(select(store, wanted, progress=progress)) as entries:
            in_file_order = list(entries)
        in_file_order.reverse()  # runs that start together keep the order they were recorded in
    return build_tree(in_file_order)


def last_trace_id(store: Store, progress: ReadProgress | None = None) -> str | None:
    """The trace of the newest entry that belongs to one."""
    measure = None if progress is None else lambda done, total: progress(0, done, total)
    with closing(_scan(store, _IN_A_TRACE, measure)) as entries:
        for entry in entries:
            trace_id = entry.get("trace_id")
            if type(trace_id) is str and trace_id:
                return trace_id
    return None


def tail(
    store: Store, wanted: EntryFilter, count: int, progress: ReadProgress | None = None
) -> list[dict[str, Any]]:
    """The last ``count`` matching entries, oldest first (as ``tail`` prints them)."""
    newest = page(store, wanted, count, 0, progress)
    newest.reverse()
    return newest


def follow(
    store: Store, wanted: EntryFilter, poll_interval: float, backlog: int
) -> Generator[dict[str, Any], None, None]:
    """The last ``backlog`` matching entries, then matching entries as they are appended,
    oldest first, until the caller stops.

    The store is opened and its backlog read here, before the generator is returned, so a
    corrupt or unreadable store raises at once rather than at the first ``next()``.
    """
    recent, follower = store.follow(wanted, backlog)
    recent = one_per_run(recent)  # live, a run shows as it starts (pending), then as it ends
    stream = _follow_on(follower, recent, wanted, poll_interval)
    # A generator never started runs no finally: close the file when it is dropped.
    weakref.finalize(stream, follower.close)
    return stream


def _follow_on(
    follower: Follower, recent: list[dict[str, Any]], wanted: EntryFilter, poll_interval: float
) -> Generator[dict[str, Any], None, None]:
    try:
        yield from map(normalize_entry, recent)
        while True:
            entries = follower.poll()
            for entry in entries:
                if wanted.matches(entry):
                    yield normalize_entry(entry)
            if not entries:
                time.sleep(poll_interval)
    finally:
        follower.close()
