"""Pieces to a report: entries checked against the schema, problems listed, legacy noted."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from betty_telemetry.model.schema import EXTRA_FIELDS, deviations
from betty_telemetry.stores.checking import pieces as P
from betty_telemetry.stores.checking.report import (
    DAMAGED,
    INTEGRITY,
    MAX_LISTED,
    SCHEMA,
    SYNTAX,
    TORN_TAIL,
    UNCLOSED,
    UNREADABLE,
    CheckReport,
    Finding,
    LegacyNote,
)

_REPAIRABLE = {DAMAGED, TORN_TAIL, UNCLOSED, SYNTAX}
_MAX_NAMES = 12


@dataclass
class Collector:
    """Reads pieces as a walk yields them (``watch``), and makes the report (``report``)."""

    path: str
    store: str
    unit: str = "line"
    repairs: bool = True
    """Whether a repair of this store fixes what ``_REPAIRABLE`` names (not for a
    database, nor an archive)."""
    schema: bool = True
    """Whether entries are checked against the schema (a repair's first walk needs only the
    file's structure: it never changes an entry)."""
    parseable: bool = True
    entries: int = 0
    legacy_entries: int = 0
    invalid_entries: int = 0
    problems: list[Finding] = field(default_factory=list)
    problem_count: int = 0
    legacy: dict[str, int] = field(default_factory=dict)
    """Deviation -> how many entries have it."""
    legacy_first: dict[str, int | None] = field(default_factory=dict)
    """Deviation -> the line of the first entry that has it."""
    extra_fields: dict[str, None] = field(default_factory=dict)
    """The names of extra fields legacy entries have (an ordered set, bounded)."""
    _unclosed: Finding | None = None

    def watch(self, pieces: Iterable[P.Piece]) -> Iterator[P.Piece]:
        """Yield ``pieces`` on, noting each."""
        for piece in pieces:
            self.note(piece)
            yield piece

    def note(self, piece: P.Piece) -> None:
        kind = piece.kind
        if kind == P.ELEMENT:
            self._element(piece)
        elif kind == P.DAMAGE:
            self._add(DAMAGED, piece.what, piece)
        elif kind == P.TORN:
            self._add(TORN_TAIL, piece.what, piece)
        elif kind == P.SEPARATOR:
            self._add(SYNTAX, piece.what, piece)
        elif kind == P.TAIL and piece.what:
            self._unclosed = _finding(UNCLOSED, piece.what, piece, self.repairs)
        elif kind == P.UNREADABLE:
            self.parseable = False
            self._add(UNREADABLE, piece.what, piece)
        elif kind == P.INTEGRITY:
            self._add(INTEGRITY, piece.what, piece)

    def _element(self, piece: P.Piece) -> None:
        if type(piece.value) is dict:
            self.entries += 1
        if not self.schema:
            return
        found = deviations(piece.value)
        if not found:
            return
        violations = [deviation.message for deviation in found if not deviation.legacy]
        if violations:
            self.invalid_entries += type(piece.value) is dict
            self._add(SCHEMA, "; ".join(violations), piece)
            return
        self.legacy_entries += 1
        for deviation in found:
            self.legacy_first.setdefault(deviation.kind, piece.line)
            self.legacy[deviation.kind] = self.legacy.get(deviation.kind, 0) + 1
            for name in deviation.fields:
                if len(self.extra_fields) < _MAX_NAMES:
                    self.extra_fields.setdefault(name)

    def _add(self, kind: str, message: str, piece: P.Piece) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(_finding(kind, message, piece, self.repairs))

    def report(self) -> CheckReport:
        problems = self.problems
        if self._unclosed is not None and not any(p.kind == TORN_TAIL for p in problems):
            # A torn tail lacks its "]" too: one problem, not two.
            self.problem_count += 1
            problems = [*problems, self._unclosed][:MAX_LISTED]
        return CheckReport(
            path=self.path,
            store=self.store,
            unit=self.unit,
            parseable=self.parseable,
            entries=self.entries,
            legacy_entries=self.legacy_entries,
            invalid_entries=self.invalid_entries,
            problems=tuple(problems),
            problem_count=self.problem_count,
            legacy=tuple(
                LegacyNote(self._described(deviation), count, self.legacy_first[deviation])
                for deviation, count in sorted(self.legacy.items(), key=lambda item: -item[1])
            ),
        )

    def _described(self, deviation: str) -> str:
        if deviation != EXTRA_FIELDS:
            return deviation
        more = ", ..." if len(self.extra_fields) >= _MAX_NAMES else ""
        return f"{deviation}: {', '.join(self.extra_fields)}{more}"


def _finding(kind: str, message: str, piece: P.Piece, repairs: bool) -> Finding:
    end_line = piece.end_line if piece.end_line != piece.line else None
    return Finding(kind, message, piece.line, end_line, repairs and kind in _REPAIRABLE)
