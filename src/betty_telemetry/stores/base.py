"""The store seam: what every sink and every store promises, whatever its format.

Modelled on OpenTelemetry's SDK: something upstream decides *when* entries are written (the
direct pipeline, or the batching sink on a thread); a ``Sink`` decides *where*. A ``Store`` is
a sink that can also be read back. Nothing outside ``stores/`` knows a file format: readers
hand a store an ``EntryFilter`` (*what* matches) and each store decides *how* to find it
(byte pre-tests in the JSON stores, SQL in SQLite).

Contracts every store keeps:

- ``write`` stores a whole batch or raises, leaving every entry already stored intact.
  ``LockTimeoutError`` means nothing of the batch was written (the caller may retry);
  ``CorruptStoreError`` means the location holds something that is not this store's format.
- ``scan`` yields entries *as stored* (extra keys kept, legacy shapes untouched), and never
  fewer than the filter wants: it may yield entries the filter rejects (a pre-test is only
  sound, not exact), so readers apply ``EntryFilter.matches`` after it. It reads in bounded
  memory and does not block writers for the whole scan. Close it to stop early.
- ``follow`` returns the last ``backlog`` wanted entries and a follower whose ``poll`` gives
  the entries stored since, oldest first, never one twice.
- A long operation may report how far it got through a ``ProgressHook`` (``scan_measured``,
  ``rotate``): a measure in units of the store's choosing, never the format's details, so a
  progress bar shows a fraction and a time left without knowing what a store is made of.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Generator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from betty_telemetry.model.filters import EntryFilter
    from betty_telemetry.stores._records import Archive as Archive
    from betty_telemetry.stores._records import EntryFile as EntryFile
    from betty_telemetry.stores._records import Pruned as Pruned


class Encoded(NamedTuple):
    """An entry ready to store: the entry as built, and its JSON text as one line of ASCII
    (no newline). Built once by the pipeline; every sink takes what it needs of it."""

    entry: dict[str, Any]
    line: bytes

    @classmethod
    def as_stored(cls, entry: dict[str, Any]) -> Encoded:
        """An entry read back, ready to store again as it is (extra keys, legacy shapes): one
        line of ASCII, in the layout our writers give it (``json.dumps``'s)."""
        return cls(entry, json.dumps(entry).encode())


ProgressHook = Callable[[int, int], None]
"""``hook(done, total)``: how far a long operation got, ``done`` of ``total`` units of the
store's choosing (bytes of a file, rows of a database). Callers show ``done / total`` and
never the units. Called now and then (once per block read, not per entry), so it costs
nothing measurable; ``done`` grows and stays within ``total``. A hook must be quick and must
not raise (an exception it raises ends the operation as any other would)."""


@runtime_checkable
class Sink(Protocol):
    """Anything that receives encoded entries: stores now, exporters later."""

    def write(self, batch: Sequence[Encoded]) -> None:
        """Store every entry of ``batch``, in order, or raise (see the module's contracts)."""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until what was written is as durable as this sink makes it; False on timeout."""

    def close(self) -> None:
        """Release what the sink holds open; a later ``write`` opens it again."""


@runtime_checkable
class Follower(Protocol):
    """New entries of a store, oldest first, each time ``poll`` is called."""

    def poll(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


@runtime_checkable
class Store(Sink, Protocol):
    """A sink that can be read back: the telemetry's source of truth."""

    @property
    def location(self) -> str:
        """Where the entries live (a path), as users configured it."""

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Entries that may match ``wanted``, newest first (or oldest first), as stored.

        ``fields``: the only fields the caller will look at; a store may then leave the
        others out where that is cheaper (``wanted`` must look at those fields only).
        """

    def follow(self, wanted: EntryFilter, backlog: int) -> tuple[list[dict[str, Any]], Follower]:
        """The last ``backlog`` entries matching ``wanted`` (oldest first), and a follower of
        what is stored after them, taken in the same moment: none missed, none twice."""

    def count(self, wanted: EntryFilter) -> int:
        """How many stored entries match ``wanted`` exactly."""


@runtime_checkable
class MeasuredStore(Store, Protocol):
    """A store whose scans say how far they got, for progress shown during long reads (every
    store of this package is one; a store of your own need not be)."""

    def scan_measured(
        self,
        wanted: EntryFilter,
        progress: ProgressHook | None,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """``scan``, calling ``progress(done, total)`` as it reads: once a block (a page) is
        read, before its entries are yielded; ``done == total`` once the last is read. A scan
        that stops early (a limit, a time window) stops reporting there."""


@runtime_checkable
class SummarizingStore(Store, Protocol):
    """A store that computes statistics itself (in SQL, say) rather than by a scan."""

    def stats(self, wanted: EntryFilter, by: str, sort: str) -> list[dict[str, Any]]:
        """As ``read.stats.compute_stats`` over the entries matching ``wanted``, exactly."""


@runtime_checkable
class TraceIndexedStore(Store, Protocol):
    """A store that finds the entries of one trace without a scan."""

    def trace_entries(self, trace_id: str) -> list[dict[str, Any]]:
        """Every entry of the trace, in the order they were stored."""


@runtime_checkable
class RotatingStore(Store, Protocol):
    """A store kept in files, whose entries can be moved into archives beside it."""

    def size(self) -> int:
        """Bytes the store takes on disk (0 when there is nothing yet)."""

    def archives(self) -> list[Archive]:
        """The store's archives, newest first."""

    def rotate(self, progress: ProgressHook | None = None) -> str | None:
        """Move every entry into a new archive and leave the store empty, atomically for
        every writer; the archive's path, or None if the store held no entry. ``progress``
        is told how far the copy and compression of the entries got."""

    def prune(self, before: str) -> Pruned:
        """Move every entry stamped before ``before`` (canonical UTC text) into a new archive
        and keep the others, atomically for every writer (entries without a readable
        timestamp are kept). ValueError, nothing changed, if the store holds damage that a
        rewrite would drop."""


@runtime_checkable
class EntryFilesStore(Store, Protocol):
    """A store that can hand its entries (and its archives') to an outside reader as files."""

    def entry_files(self, *, archives: bool) -> AbstractContextManager[list[EntryFile]]:
        """The store's entries (and, with ``archives``, every archive's) as JSON Lines files,
        taken in one moment: no entry in two of them, none missed by a rotation meanwhile.
        The files (and any copy made) stay until the context ends, and are never written
        through by the reader: descriptors are read-only, copies private (0600, removed)."""


# What stores hand back from their lifecycle operations (dataclasses) lives beside, loaded on
# first use: a capture, a fresh process per call on the command line, uses none of them,
# and importing dataclasses would cost it more than its append.
_RECORDS = ("Archive", "EntryFile", "Pruned")


def __getattr__(name: str) -> Any:
    if name not in _RECORDS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from betty_telemetry.stores import _records

    value = getattr(_records, name)
    globals()[name] = value
    return value
