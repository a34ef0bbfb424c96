"""Finding entries in a list, with the filters ``TelemetryCapture.query`` takes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from betty_telemetry.model.filters import EntryFilter, Filters

if TYPE_CHECKING:
    from typing_extensions import Unpack


def find(entries: Iterable[dict[str, Any]], **filters: Unpack[Filters]) -> list[dict[str, Any]]:
    """The entries matching every filter, in their order.

    The filters are ``TelemetryCapture.query``'s: ``skill`` and ``caller`` (exact names or
    globs, ``"agent.*"``), ``status`` (one or several), ``trace_id``, ``since``, ``until``,
    ``min_duration_ms``, ``text`` (in the error message). ValueError for a bad filter value.
    """
    wanted = EntryFilter.build(**filters)
    return [entry for entry in entries if wanted.matches(entry)]


def one(entries: Iterable[dict[str, Any]], **filters: Unpack[Filters]) -> dict[str, Any]:
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


def _summary(entry: dict[str, Any]) -> str:
    return f"{entry.get('skill')} {entry.get('status')}"
