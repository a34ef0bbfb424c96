"""TelemetryCapture: the programmatic API every other interface ends in."""

from __future__ import annotations

import functools
import os
from collections.abc import Generator, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, cast

from betty_telemetry._config import (
    DEFAULT_QUEUE_SIZE,
    IN_MEMORY,
    redaction_rules,
    resolve_durability,
    resolve_lock_timeout,
    resolve_rotation_limits,
    resolve_telemetry_path,
)
from betty_telemetry.capture.build import build_entry
from betty_telemetry.capture.exporting import start_export
from betty_telemetry.capture.pipeline import Pipeline
from betty_telemetry.capture.queued import queue_capture
from betty_telemetry.capture.spans import linked_span
from betty_telemetry.model.checks import is_finite_at_least, whole_number
from betty_telemetry.stores import open_store
from betty_telemetry.stores.base import Store

# The read side, the lifecycle and the archives are imported by the methods that use them,
# not here: a capture (a command line one starts a fresh process each time) needs none.
if TYPE_CHECKING:
    from pathlib import Path

    from typing_extensions import Unpack

    from betty_telemetry.export.live import LiveExport
    from betty_telemetry.export.settings import OtlpExport
    from betty_telemetry.lifecycle.rotation import Rotation
    from betty_telemetry.model.filters import EntryFilter, Filters, TimeAndTextFilters
    from betty_telemetry.model.types import (
        Durability,
        Entry,
        StatsGrouping,
        StatsRow,
        StatsSort,
        Status,
        StoredStatus,
        TraceNode,
    )
    from betty_telemetry.read import sql as _sql
    from betty_telemetry.report.building import WrittenReport
    from betty_telemetry.stores.base import Pruned


class TelemetryCapture:
    """Record telemetry entries in, and read them back from, one telemetry file.

    The file is chosen once, here: ``telemetry_file`` if given, else ``$BETTY_TELEMETRY_FILE``,
    else ``$BETTY_HOME/registry/telemetry.json``, else the settings file's ``file`` (or
    ``home``), else ``./registry/telemetry.json``. It and its folders are created on first
    capture; a new file is readable by its owner only (0600). Each setting below that is not
    given here comes from its environment variable, else from the settings file
    (``[tool.betty-telemetry]`` in the nearest ``pyproject.toml``, or a
    ``betty-telemetry.toml``), else its default; a bad value there raises ValueError.

    - ``lock_timeout`` (else ``$BETTY_TELEMETRY_LOCK_TIMEOUT``, else 10): seconds a capture or a
      read waits for a file another process keeps locked, before LockTimeoutError.
    - ``background=True``: ``capture()`` only checks its arguments and queues the entry; a
      thread writes queued entries in batches (see ``flush()``, ``close()`` and docs/guarantees.md).
      At most ``queue_size`` entries wait; more are dropped, counted and reported.
    - ``durability="fsync"`` (else ``$BETTY_TELEMETRY_FSYNC=1``): each append (each batch in
      the background) is flushed to the disk before it counts as written, so it survives a
      power loss, not only a crash of the process. The default is ``"write"``.
    - ``store``: record in, and read from, this ``Store`` instead of a file chosen as above (a
      ``MemoryStore``, a store made by ``open_store``, or your own). ``telemetry_file`` is then
      its location; its lock timeout and durability are its own (``lock_timeout`` here only
      bounds how long a read waits for queued entries), so ``durability`` may not be given.
      ``close()`` closes it. ``telemetry_file=":memory:"`` records in a new ``MemoryStore``.
    - ``max_bytes`` (``10_000_000`` or ``"10MB"``; else ``$BETTY_TELEMETRY_MAX_BYTES``) and
      ``max_entries`` (else ``$BETTY_TELEMETRY_MAX_ENTRIES``): once a write takes the store
      past either, it is rotated on a thread (see ``rotate``); captures never wait for it.
    - ``export``: also send every entry, once stored, as an OpenTelemetry span to an OTLP
      backend, in batches on a thread (``OtlpExport(...)`` or ``"otlp"``; needs the ``[otel]``
      extra). Default: ``$BETTY_TELEMETRY_EXPORT=otlp`` turns it on; ``False`` keeps it off.
    """

    def __init__(
        self,
        telemetry_file: str | os.PathLike[str] | None = None,
        *,
        lock_timeout: float | None = None,
        background: bool = False,
        durability: Durability | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        store: Store | None = None,
        max_bytes: int | str | None = None,
        max_entries: int | None = None,
        export: OtlpExport | str | bool | None = None,
    ) -> None:
        self.lock_timeout = resolve_lock_timeout(lock_timeout)
        self.durability: Durability | None
        """``"write"`` or ``"fsync"``; None when given a ``store``, which has its own."""
        if store is None:
            resolved = resolve_telemetry_path(telemetry_file)
            location, self.path_rule = resolved.path, resolved.rule
            self.durability = cast("Durability", resolve_durability(durability))
            limit_bytes, limit_entries = resolve_rotation_limits(max_bytes, max_entries)
            store = open_store(
                location,
                lock_timeout=self.lock_timeout,
                fsync=self.durability == "fsync",
                max_bytes=limit_bytes,
                max_entries=limit_entries,
            )
        else:
            _check_store(store, telemetry_file, durability)
            if max_bytes is not None or max_entries is not None:
                raise ValueError(
                    "max_bytes and max_entries are the store's own when you pass store=: "
                    "open a file store with open_store(path, max_bytes=...)"
                )
            location, self.path_rule = store.location, "store argument"
            self.durability = None
        self.store: Store = store
        self._location = location
        if background:
            whole_number("queue_size", queue_size, minimum=1)
        self.pipeline = Pipeline(
            self.store,
            background=background,
            queue_size=queue_size,
            export=start_export(export, None if self.store.location == IN_MEMORY else location),
        )
        """Where built entries go (the decorator and context manager hand theirs to it)."""

    @property
    def export(self) -> LiveExport | None:
        """The live OTLP export, if on: its ``exported`` and ``dropped`` counts, ``flush``."""
        return self.pipeline.export  # type: ignore[return-value]

    @property
    def background(self) -> bool:
        """Whether captures are queued for a writer thread."""
        return self.pipeline.background

    @property
    def dropped(self) -> int:
        """Entries this capture dropped from a queue (full, or a write failed): in background
        mode, or while a stuck lock held the decorator's entries back."""
        return self.pipeline.dropped

    def __repr__(self) -> str:
        return f"TelemetryCapture(telemetry_file={str(self.telemetry_file)!r})"

    @functools.cached_property
    def telemetry_file(self) -> Path:
        """Where entries go, as a ``Path`` (the store's location). Made on first use: pathlib
        (with urllib.parse and ipaddress) would cost a command line capture, a fresh process
        per call, a tenth of its time."""
        from pathlib import Path

        return Path(self._location)

    def capture(
        self,
        skill: str,
        status: Status,
        duration_ms: float,
        caller: str,
        inputs: dict[str, Any] | None = None,
        error_message: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Entry:
        """Validate, record and return one entry, exactly as it is stored.

        Secrets in ``inputs``, ``metadata`` and ``error_message`` are redacted (see
        docs/redaction.md). Inside a traced run, or with ``TRACEPARENT`` set, the entry joins
        the trace.

        Raises ValueError for a bad status, name, duration or a non-mapping inputs/metadata,
        CorruptStoreError if the file is not a JSON array, and OSError if it cannot be written.

        In background mode, the arguments are checked (ValueError as above), and the entry is
        queued and returned as queued: inputs, metadata and error message as given, before
        redaction and size limits, which the writer thread applies. Write errors are then
        logged once per cause, and the entries counted as dropped.
        """
        # The entry is a dict[str, Any] to the code that builds it, and an Entry to the caller:
        # "type: ignore", not cast(), which would cost a call on every capture.
        if self.pipeline.background:
            return queue_capture(  # type: ignore[return-value]
                self.pipeline, skill, status, duration_ms, caller, inputs, error_message, metadata
            )
        span = linked_span(skill) if isinstance(skill, str) else None
        # Arguments spelled out, by position: a call through *args costs 1,500 instructions
        # more here, keywords 500.
        entry = build_entry(
            skill,
            status,
            duration_ms,
            caller,
            inputs,
            error_message,
            metadata,
            redaction_rules(),
            span,
        )
        return self.pipeline.record(entry)  # type: ignore[return-value]

    def query(
        self,
        skill: str | None = None,
        status: StoredStatus | Iterable[StoredStatus] | None = None,
        caller: str | None = None,
        limit: int | None = None,
        *,
        offset: int = 0,
        archives: bool = False,
        **filters: Unpack[TimeAndTextFilters],
    ) -> list[Entry]:
        """Entries matching every given filter, newest first: at most ``limit``, after
        skipping ``offset`` matches.

        ``skill`` and ``caller`` are exact names or globs (``"agent.*"``); ``status`` is one
        status or several; ``since``/``until`` are datetimes, ISO text or durations before now
        (``"15m"``, ``"2h"``, ``"7d"``); ``trace_id``, ``min_duration_ms`` and ``text`` (found
        in the error message, ignoring case) narrow further. Reading starts at the end of the
        file and stops once ``limit`` entries matched, or at entries older than ``since``.
        ``archives=True`` reads on into the store's archives, newest first (see ``rotate``).
        Raises ValueError for a bad filter value, CorruptStoreError for a corrupt file.
        """
        from betty_telemetry.read import reading as _reading

        wanted = _entry_filter(skill=skill, status=status, caller=caller, **filters)
        checked_limit = whole_number("limit", limit, allow_none=True)
        checked_offset = whole_number("offset", offset)
        store = self._settled(archives)
        return cast("list[Entry]", _reading.page(store, wanted, checked_limit, checked_offset or 0))

    def iter_entries(
        self, *, archives: bool = False, **filters: Unpack[Filters]
    ) -> Generator[Entry, None, None]:
        """Every entry matching the filters (as ``query`` takes them), newest first, streamed:
        memory stays bounded however large the file. Close the iterator if you stop early.
        ``archives=True``: the archives' entries follow the store's."""
        from betty_telemetry.read import reading as _reading

        entries = _reading.select(self._settled(archives), _entry_filter(**filters))
        return cast("Generator[Entry, None, None]", entries)

    def stats(
        self,
        by: StatsGrouping = "skill",
        *,
        sort: StatsSort = "count",
        archives: bool = False,
        **filters: Unpack[Filters],
    ) -> list[StatsRow]:
        """Statistics of the matching entries per ``by`` group: ``"skill"``, ``"caller"``,
        ``"status"``, ``"day"`` or ``"hour"`` (UTC).

        One dict per group, with ``key``, ``count``, ``statuses`` (status -> count),
        ``failure_rate`` (failure, error, timeout and the legacy failed, over count),
        ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``, ``mean_ms`` (exact; None when the group
        has no duration), ``first`` and ``last`` (timestamps). Largest group first, or in key
        order with ``sort="key"``. ``archives=True`` counts the archives' entries too.
        """
        from betty_telemetry.read import reading as _reading

        wanted = _entry_filter(**filters)
        return cast("list[StatsRow]", _reading.stats(self._settled(archives), wanted, by, sort))

    def trace(self, trace_id: str | None = None, *, archives: bool = False) -> list[TraceNode]:
        """The runs of one trace as a tree: root nodes ``{"entry": ..., "children": [...]}``,
        children in start order (timestamp minus duration). Empty if no entry has the id.
        Without ``trace_id``, the newest trace (``last_trace_id()``; empty if no entry
        belongs to one). ``archives=True`` finds the trace's runs in the archives too."""
        from betty_telemetry.model.filters import check_trace_id
        from betty_telemetry.read import reading as _reading

        if trace_id is None:
            newest = self.last_trace_id(archives=archives)
            return [] if newest is None else self.trace(newest, archives=archives)
        checked = check_trace_id(trace_id)
        if checked is None:
            raise ValueError("trace_id must be 32 hexadecimal digits, got None")
        return cast("list[TraceNode]", _reading.trace(self._settled(archives), checked))

    def last_trace_id(self, *, archives: bool = False) -> str | None:
        """The trace id of the newest entry that has one, or None."""
        from betty_telemetry.read import reading as _reading

        return _reading.last_trace_id(self._settled(archives))

    def report(
        self,
        path: str | os.PathLike[str] = "report.html",
        *,
        title: str | None = None,
        archives: bool = False,
        **filters: Unpack[Filters],
    ) -> WrittenReport:
        """Write the HTML report of the matching entries to ``path`` (one file that opens
        offline: totals, runs over time, per-skill table, durations, slowest runs, recent
        failures, trace waterfalls). Needs the ``[report]`` extra (plotly). Returns where it
        went, its size in bytes and the runs it shows."""
        from betty_telemetry.report.building import build_report, describe_filters, write_report
        from betty_telemetry.report.page import plotly_script

        plotly_js = plotly_script()
        report = build_report(
            self._settled(archives),
            _entry_filter(**filters),
            title=title,
            filters=describe_filters(dict(filters)),
            archives=archives,
        )
        return write_report(report, path, plotly_js)

    def tail(
        self, n: int = 10, *, archives: bool = False, **filters: Unpack[Filters]
    ) -> list[Entry]:
        """The last ``n`` matching entries, oldest first (``archives=True``: reaching back
        into the archives when the store holds fewer)."""
        from betty_telemetry.read import reading as _reading

        count = whole_number("n", n)
        store = self._settled(archives)
        return cast("list[Entry]", _reading.tail(store, _entry_filter(**filters), count or 0))

    def follow(
        self,
        *,
        backlog: int = 0,
        poll_interval: float = 0.25,
        archives: bool = False,
        **filters: Unpack[Filters],
    ) -> Generator[Entry, None, None]:
        """Yield the last ``backlog`` matching entries, then each matching entry as it is
        appended, oldest first, for as long as you iterate (like ``tail -F``: it follows the
        path across rotation, replacement and deletion). Close the iterator to stop.
        ``archives=True``: the backlog reaches into the archives when the store holds fewer."""
        from betty_telemetry.read import reading as _reading

        wanted = _entry_filter(**filters)
        count = whole_number("backlog", backlog) or 0
        if not is_finite_at_least(poll_interval, 0) or not 0 < poll_interval <= 60:
            raise ValueError(f"poll_interval must be seconds in (0, 60], got {poll_interval!r}")
        entries = _reading.follow(self._settled(archives), wanted, float(poll_interval), count)
        return cast("Generator[Entry, None, None]", entries)

    def running(self, *, archives: bool = False, **filters: Unpack[Filters]) -> list[Entry]:
        """The runs still going: their ``pending`` entries that no final entry replaced yet,
        newest first (see ``capture_telemetry(pending=True)``). Reads the whole store."""
        filters["status"] = "pending"
        return self.query(archives=archives, **filters)

    def sweep(
        self,
        stale_after: timedelta | str | None = None,
        *,
        per_skill: Mapping[str, timedelta | str] | None = None,
        now: datetime | None = None,
    ) -> list[Entry]:
        """Declare a ``timeout`` every run pending for longer than its limit (``stale_after``,
        default 1 hour; ``per_skill`` maps skill names or globs to their own, the first match
        winning): appends the final entry each would have written, which replaces its pending
        one in every reader. Returns the entries written. A run that ends after its sweep
        then shows its real end (it replaces the timeout); sweep with limits longer than your
        runs can last."""
        from betty_telemetry.capture import sweep as _sweep

        limits = _sweep.StaleLimits.build(stale_after, per_skill)
        moment = now or datetime.now(timezone.utc)
        written = []
        running = cast("list[dict[str, Any]]", self.running())
        for pending in _sweep.stale(running, limits, moment):
            entry = _sweep.timeout_entry(pending, moment)
            if entry is not None:
                written.append(self.pipeline.record(entry))
        return cast("list[Entry]", written)

    def rotate(
        self,
        *,
        max_bytes: int | str | None = None,
        max_entries: int | None = None,
        max_age: timedelta | str | None = None,
    ) -> Rotation:
        """Move the store's entries into a new compressed archive beside it, leaving it empty:
        now, or, given thresholds, if any is crossed (``max_bytes``: ``10_000_000`` or
        ``"10MB"``; ``max_entries``; ``max_age``: the oldest entry older than ``"30d"``).

        Safe while other processes write: none of their entries is lost, duplicated or
        written into the archive after it was made. Entries queued in background mode are
        written first. Returns what was done (``archive`` is None if nothing was rotated).
        ValueError for a bad threshold or a store kept in memory.
        """
        from betty_telemetry.lifecycle.rotation import RotationPolicy, rotate

        policy = RotationPolicy.of(max_bytes, max_entries, max_age)
        return rotate(self._settled(), policy)

    def prune(
        self,
        older_than: timedelta | str | None = None,
        *,
        before: datetime | str | None = None,
    ) -> Pruned:
        """Move the entries older than ``older_than`` (``"30d"``, a timedelta), or stamped
        before ``before`` (a datetime or ISO text), into a new compressed archive beside the
        store, and keep the rest: nothing is deleted. Atomic for every writer, as ``rotate``.

        Returns what was done: ``archive`` (None if no entry was old enough), ``moved`` and
        ``kept``. ValueError for a bad age or date, for a store kept in memory, and for a file
        with damaged lines, which the rewrite would drop (repair it first).
        """
        from betty_telemetry.lifecycle import retention

        return retention.prune(self._settled(), older_than=older_than, before=before)

    def remove_archives(
        self, *, keep: int | None = None, older_than: timedelta | str | None = None
    ) -> list[str]:
        """Delete archives (never the store's entries): all but the newest ``keep``, and those
        rotated more than ``older_than`` ago. Returns the paths removed, newest first."""
        from betty_telemetry.lifecycle import retention

        return retention.remove_archives(self._settled(), keep=keep, older_than=older_than)

    def archives(self) -> list[str]:
        """The paths of the store's archives, newest first ([] for a store kept in memory)."""
        from betty_telemetry.stores.base import RotatingStore

        store = self._settled()
        return (
            [archive.path for archive in store.archives()]
            if isinstance(store, RotatingStore)
            else []
        )

    def sql(
        self, query: str, parameters: _sql.Parameters = None, *, archives: bool = False
    ) -> _sql.SqlResult:
        """Run ``query`` with DuckDB over a view ``entries`` of the store (with ``archives``,
        of its archives too), and return every row: ``.columns``, ``.types``, ``.rows``
        (tuples), ``.dicts()``. Needs the extra: ``pip install 'betty-telemetry[sql]'``.

        ``parameters`` fill the query's ``?`` (a sequence) or ``$name`` (a mapping). JSON
        columns (``inputs``, ``metadata``, ``entry``) come back parsed; timestamps as
        ``datetime`` in UTC. docs/sql.md lists the view's columns.

        The store's files are only read. ImportError without DuckDB; SqlError (a ValueError)
        for a query DuckDB refuses, naming the view's columns; CorruptStoreError for a file
        that is not its store's format. A missing file is an empty view.
        """
        from betty_telemetry.read import sql as _sql

        return _sql.run(self._settled(), query, parameters, archives=archives)

    def stream_sql(
        self, query: str, parameters: _sql.Parameters = None, *, archives: bool = False
    ) -> AbstractContextManager[_sql.SqlRows]:
        """As ``sql``, for large results: a context manager giving the rows as they are
        produced (``.columns``, ``.types``; iterate for tuples, or ``.batches(n)``)::

            with telemetry.stream_sql("SELECT * FROM entries") as rows:
                for row in rows: ...
        """
        from betty_telemetry.read import sql as _sql

        return _sql.rows(self._settled(), query, parameters, archives=archives)

    def _settled(self, archives: bool = False) -> Store:
        """The store, once queued entries are written (with its archives, if asked)."""
        from betty_telemetry.stores import with_archives

        store = self.pipeline.settled(self.lock_timeout)
        return with_archives(store) if archives else store

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every entry queued so far is written (background mode, or entries held
        back by a stuck lock; at once otherwise). Returns False if ``timeout`` seconds passed
        first."""
        return self.pipeline.flush(timeout)

    def close(self) -> None:
        """Write what is queued (waiting up to 5 s) and end the writer thread, then close the
        store; the next capture opens it again (and starts a writer again). A live export
        sends what it holds first (up to 5 s more)."""
        self.pipeline.close()

    def __enter__(self) -> TelemetryCapture:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """``close()`` at the end of a ``with`` block (an exception goes on)."""
        self.close()


def _entry_filter(**filters: Any) -> EntryFilter:
    # Here, not at the top: filters (and their time parsing) are the read side's, and a
    # capture, a fresh process per call on the command line, never reads.
    from betty_telemetry.model.filters import EntryFilter

    return EntryFilter.build(**filters)


def _check_store(store: object, telemetry_file: object, durability: object) -> None:
    if not isinstance(store, Store):
        raise TypeError(
            f"store must be a Store (location, write, flush, close, scan, follow, count), "
            f"such as betty_telemetry.testing.MemoryStore(), got {type(store).__name__}"
        )
    if telemetry_file is not None:
        raise ValueError(
            "give telemetry_file or store, not both: a store already has its location "
            f"({store.location!r})"
        )
    if durability is not None:
        raise ValueError(
            "durability is the store's own when you pass store=: open a file store with "
            "open_store(path, fsync=True) for fsync durability"
        )
