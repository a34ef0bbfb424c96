"""The public shapes of what the library hands back, for type checkers: entries, statistics
rows, trace nodes, and the words its arguments take (statuses, groupings, durability).

At run time these are plain ``dict``s and ``str``s, exactly as before: a ``TypedDict`` is a
``dict`` and a ``Literal`` a ``str``, so nothing is converted or copied to give them their
types. Internally the library keeps ``dict[str, Any]`` and casts where a public method
returns (``typing.cast`` returns its argument).

The words are checked at run time too (a ValueError naming the ones accepted): a caller
without a type checker gets the same answer, later. ``tests/test_typing.py`` holds the
``Literal``s to the tuples the checks use.

``NotRequired`` (3.11) is not used: the package runs on 3.10 with no dependency, so the keys
an entry may lack live in a ``total=False`` subclass of the keys it always has.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Status = Literal["success", "failure", "timeout", "error", "pending"]
"""The statuses a new entry may have (``capture(status=...)``, ``set_status``)."""

LegacyStatus = Literal["failed"]
"""The original framework's word for a failure: found in its entries, and asked for by name."""

StoredStatus = Literal[Status, LegacyStatus]
"""A status as read back: one of ``Status``, or ``failed`` in the original framework's entries.
Also what the read filters take (``query(status=...)``)."""

StatsGrouping = Literal["skill", "caller", "status", "day", "hour"]
"""What ``stats(by=...)`` groups by (``day`` and ``hour`` in UTC)."""

StatsSort = Literal["count", "key"]
"""How ``stats(sort=...)`` orders its rows: largest group first, or by the group's key."""

Durability = Literal["write", "fsync"]
"""When an append counts as written: once written (survives the process crashing), or once
flushed to the disk (survives a power loss too)."""


class _SpecFields(TypedDict):
    """The spec's eight fields: every entry read back has them all (an entry of the original
    framework that lacks one reads it as None, or ``{}`` for ``inputs`` and ``metadata``)."""

    timestamp: str
    skill: str
    status: StoredStatus
    duration_ms: float
    caller: str
    inputs: dict[str, Any]
    error_message: str | None
    metadata: dict[str, Any]


class Entry(_SpecFields, total=False):
    """One telemetry entry, as ``capture()`` returns it and every read hands it back
    (``query``, ``iter_entries``, ``tail``, ``follow``, ``running``, ``sweep``, trace nodes,
    ``TelemetryContext.entry``, ``testing.capture_entries``).

    The spec's eight fields are always there. The three trace fields are there when the entry
    belongs to a trace (the decorator and the context manager always add them). Entries
    written by the original framework may also have ``status`` ``failed``, an integer
    ``duration_ms`` (a ``float`` to a type checker), ``error`` (its error message) and keys
    of their own (``execution_id``...): they are kept, and a type checker does not know them
    (read them with ``entry.get(...)`` through a ``Mapping[str, object]``, or ``cast``).
    Entries that even the original framework's shapes do not describe (``betty-telemetry
    check`` reports them) are returned as stored, whatever their types.
    """

    trace_id: str
    """The trace's id: 32 lowercase hexadecimal digits."""
    span_id: str
    """This run's id within the trace: 16 lowercase hexadecimal digits."""
    parent_id: str | None
    """The enclosing run's ``span_id``, or None for a trace's root."""
    error: str | None
    """The original framework's error message (it wrote no ``error_message``)."""


class StatsRow(TypedDict):
    """One group of ``stats()``: its entries counted, and their durations' percentiles."""

    key: str | None
    """The group's skill, caller or status, or its day (``2025-10-24``) or hour
    (``2025-10-24T14:00``) in UTC; None for entries without one."""
    count: int
    statuses: dict[str, int]
    """Status -> entries, most frequent first."""
    failure_rate: float
    """(``failure`` + ``error`` + ``timeout`` + legacy ``failed``) / ``count``."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    """The durations' figures: None when no entry of the group has a duration."""
    first: str | None
    last: str | None
    """The timestamps of the group's earliest and latest entries, as stored."""


class TraceNode(TypedDict):
    """One run of a trace (``trace()``): its entry, and the runs it called, in start order."""

    entry: Entry
    children: list[TraceNode]
