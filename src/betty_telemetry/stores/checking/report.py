"""What a check found in a store, and what a repair did: format-neutral reports.

Stores fill them (each knows its own bytes); the lifecycle functions and the CLI only read
them. Places are 1-based line numbers in a file (``unit`` "line"), or row ids in a database
(``unit`` "row"). Messages describe what is there without quoting it (see ``_describe``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Kinds of problems, as --json names them.
UNREADABLE = "unreadable"
"""The file is not the store's format at all (not a JSON array...): nothing can be repaired."""
TORN_TAIL = "torn_tail"
"""The partial entry an interrupted write left at the end (repairable)."""
UNCLOSED = "unclosed_array"
"""A JSON array with no closing ``]`` after its last entry (repairable)."""
DAMAGED = "damaged"
"""Lines that are not entries between entries, or after the end (repairable: moved aside)."""
SYNTAX = "syntax"
"""Separators out of place between entries: a missing or extra ``,``, an early ``]``
(repairable)."""
SCHEMA = "schema"
"""An entry the schema rejects, or an element that is not an entry (not repaired: entries
are never changed or dropped)."""
INTEGRITY = "integrity"
"""A SQLite database whose pages are damaged (not repaired in place)."""


@dataclass(frozen=True)
class Finding:
    """One problem, where it is, and whether ``repair`` fixes it."""

    kind: str
    message: str
    line: int | None = None
    """Where it starts: a line (row id for SQLite), or None when it is not at one place."""
    end_line: int | None = None
    """Where a stretch of several lines ends (None: it is on ``line`` alone)."""
    repairable: bool = False

    def where(self, unit: str) -> str:
        if self.line is None:
            return ""
        if self.end_line is None or self.end_line == self.line:
            return f"{unit} {self.line}"
        return f"{unit}s {self.line}-{self.end_line}"


@dataclass(frozen=True)
class LegacyNote:
    """Entries that deviate from the schema in one way the original framework wrote."""

    deviation: str
    entries: int
    first: int | None
    """The line (row) of the first such entry."""


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found in one store."""

    path: str
    store: str
    """What kind of store the path holds: "JSON array", "JSON Lines", "SQLite database"..."""
    unit: str
    parseable: bool
    entries: int
    """Entries read (JSON objects), legacy and invalid ones included."""
    legacy_entries: int
    invalid_entries: int
    problems: tuple[Finding, ...]
    """The problems found, in file order (at most ``MAX_LISTED``; ``problem_count`` has all)."""
    problem_count: int
    legacy: tuple[LegacyNote, ...]
    """How legacy entries deviate: notes, not problems."""

    @property
    def clean(self) -> bool:
        return self.problem_count == 0

    @property
    def repairable(self) -> bool:
        """Whether ``repair`` can fix something here."""
        return any(problem.repairable for problem in self.problems)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON values (``--json``)."""
        found = asdict(self)
        found["clean"] = self.clean
        return found


@dataclass(frozen=True)
class RepairReport:
    """What ``repair`` did to one store."""

    path: str
    repaired: bool
    """Whether the store was rewritten."""
    message: str
    backup: str | None
    """The copy of the store as it was, taken first (None when nothing was changed)."""
    side_file: str | None
    """Where the damaged bytes went, as they were (None when there were none)."""
    fixed: tuple[Finding, ...]
    remaining: tuple[Finding, ...]
    """Problems a repair does not fix (entries the schema rejects, a damaged database)."""
    entries: int
    """Entries in the store after the repair: every complete entry it held."""
    unit: str = "line"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_LISTED = 1000
"""Problems a report lists; beyond, only counted (a file of a million bad entries)."""
