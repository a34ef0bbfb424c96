"""Finding entries in a list, with the filters ``TelemetryCapture.query`` takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from betty_telemetry.model.filters import EntryFilter, Filters

if TYPE_CHECKING:
    from typing_extensions import Unpack

E = TypeVar("E", bound=Mapping[str, Any])
"""An entry: an ``Entry`` as the library hands them back, or any mapping (entries loaded
from JSON by hand): ``find`` and ``one`` return the type they were given."""


def find(entries: Iterable[E], **filters: Unpack[Filters]) -> list[E]:
    """The entries matching every filter, in their order.

    The filters are ``TelemetryCapture.query``'s: ``skill`` and ``caller`` (exact names or
    globs, ``"agent.*"``), ``status`` (one or several), ``trace_id``, ``since``, ``until``,
    ``min_duration_ms``, ``text`` (in the error message). ValueError for a bad filter value.
    """
    wanted = EntryFilter.build(**filters)
    return [entry for entry in entries if wanted.matches(entry)]


def one(entries: Iterable[E], **filters: Unpack[Filters]) -> E:
    """The one entry matching every filter (as ``find``); AssertionError, listing the entries
    there are, if there is none or more than one."""
    listed = list(entries)
    found = find(listed, **filters)
    if len(found) == 1:
        return found[0]
    asked = ", ".join(f"{name}={value!r}" for name, value in filters.items()) or "no filter"
    seen = "; ".join(_summary(entry) for entry in listed) or "none"
    raise AssertionError(
        f"expected one telemetry entry with {asked}, found {len(found)} among {len(listed)}: {seen}"
    )


def _summary(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('skill')} {entry.get('status')}"
