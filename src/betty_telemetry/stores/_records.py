"""What stores hand back from their lifecycle operations: an archive, a prune's outcome, a
file of entries for an outside reader. Public as ``betty_telemetry.stores.base.Archive``
(and ``Pruned``, ``EntryFile``): kept here so that ``stores.base``, which every capture
imports, does not import dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Archive:
    """One archive of a store: its path, the moment it was rotated, and its format."""

    path: str
    rotated_at: datetime
    format: str
    """The extension of the store's format inside (``json``, ``jsonl``)."""
    compressed: bool
    """False for a staged file whose compression was interrupted: readable as it is."""


@dataclass(frozen=True)
class Pruned:
    """What a prune did: the archive made (None if no entry was old enough), the entries
    moved into it and the entries kept in the store."""

    archive: str | None
    moved: int
    kept: int


@dataclass(frozen=True)
class EntryFile:
    """A store's entries as a reader outside the library (DuckDB) takes them: a file of JSON
    Lines, one entry per line, perhaps gzipped. Lines that are not whole JSON objects (a
    damaged line, a torn last one, a bracket) are not entries: the reader skips them.

    ``path`` is what to open: the store's own file (opened already, as ``/dev/fd/N``, so a
    rotation or a pruning meanwhile changes nothing), or a copy made for the read.
    """

    path: str
    compressed: bool
    origin: str
    """The file the entries are in: the store's path, or an archive's."""
