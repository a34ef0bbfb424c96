"""Filters over entries as they stream from a store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EntryFilter:
    """Exact-match filters; a field left as None matches every entry."""

    skill: str | None = None
    status: str | None = None
    caller: str | None = None

    def matches(self, entry: dict[str, Any]) -> bool:
        return (
            (self.skill is None or entry.get("skill") == self.skill)
            and (self.status is None or entry.get("status") == self.status)
            and (self.caller is None or entry.get("caller") == self.caller)
        )

    def select(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.skill is None and self.status is None and self.caller is None:
            yield from entries
            return
        for entry in entries:
            if self.matches(entry):
                yield entry
