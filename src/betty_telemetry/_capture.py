"""TelemetryCapture: the programmatic API every other interface ends in."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from betty_telemetry._config import redaction_rules, resolve_telemetry_path
from betty_telemetry._context import linked_span
from betty_telemetry._encode import encode_entry
from betty_telemetry._entry import MAX_ENTRY_BYTES, build_entry, fit_to_size
from betty_telemetry._query import EntryFilter
from betty_telemetry.stores import JsonArrayStore


class TelemetryCapture:
    """Record telemetry entries in, and read them back from, one telemetry file.

    The file is chosen once, here: ``telemetry_file`` if given, else ``$BETTY_TELEMETRY_FILE``,
    else ``$BETTY_HOME/registry/telemetry.json``, else ``./registry/telemetry.json``. It and its
    folders are created on first capture; a new file is readable by its owner only (0600).
    """

    def __init__(self, telemetry_file: str | os.PathLike[str] | None = None) -> None:
        resolved = resolve_telemetry_path(telemetry_file)
        self.telemetry_file = Path(resolved.path)
        self.path_rule = resolved.rule
        self._store = JsonArrayStore(resolved.path)

    def __repr__(self) -> str:
        return f"TelemetryCapture(telemetry_file={str(self.telemetry_file)!r})"

    def capture(
        self,
        skill: str,
        status: str,
        duration_ms: float,
        caller: str,
        inputs: dict[str, Any] | None = None,
        error_message: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Validate, record and return one entry, exactly as it is stored.

        Secrets in ``inputs``, ``metadata`` and ``error_message`` are redacted (see the
        README). Inside a traced run, or with ``TRACEPARENT`` set, the entry joins the trace.

        Raises ValueError for a bad status, name, duration or a non-mapping inputs/metadata,
        CorruptStoreError if the file is not a JSON array, and OSError if it cannot be written.
        """
        span = linked_span(skill) if isinstance(skill, str) else None
        entry = build_entry(
            skill,
            status,
            duration_ms,
            caller,
            inputs,
            error_message,
            metadata,
            rules=redaction_rules(),
            span=span,
        )
        return self._record(entry)

    def _record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Store a built entry (shrunk to the size limit first) and return it as stored."""
        line = encode_entry(entry)
        if len(line) > MAX_ENTRY_BYTES:
            entry, line = fit_to_size(entry, line)
        self._store.append(line)
        return entry

    def query(
        self,
        skill: str | None = None,
        status: str | None = None,
        caller: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries matching every given filter exactly, newest first, at most ``limit``.

        Reading starts at the end of the file and stops once ``limit`` entries matched, so a
        small limit costs the same on a file of any size.
        """
        wanted = EntryFilter(skill=skill, status=status, caller=caller)
        checked_limit = _check_limit(limit)
        # closing(): stopping early must release the shared lock now, not at garbage collection.
        with closing(self._store.iter_newest_first()) as entries:
            return take(wanted.select(entries), checked_limit)

    def close(self) -> None:
        """Close the open file; the next capture opens it again."""
        self._store.close()


def _check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a whole number >= 0 or None (no limit), got {limit!r}")
    return limit


def take(entries: Iterable[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """The first ``limit`` entries (all when None), without reading further than needed."""
    result: list[dict[str, Any]] = []
    if limit == 0:
        return result
    for entry in entries:
        result.append(entry)
        if limit is not None and len(result) >= limit:
            break
    return result
