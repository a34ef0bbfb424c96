"""A report's data: the digest of a store's matching entries, and what the page says about it
(title, source, filters, when it was made)."""

from __future__ import annotations

import functools
import os
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from betty_telemetry import __version__
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.read import reading
from betty_telemetry.report.digest import digest
from betty_telemetry.stores.base import Store

DEFAULT_TITLE = "Telemetry report"


def build_report(
    store: Store,
    wanted: EntryFilter,
    *,
    title: str | None = None,
    filters: str = "",
    archives: bool = False,
    progress: reading.ReadProgress | None = None,
) -> dict[str, Any]:
    """The report of the entries of ``store`` matching ``wanted``, read once, newest first."""

    with closing(reading.select(store, wanted, progress=progress)) as entries:
        numbers = digest(entries, functools.partial(reading.trace, store))
    return {
        "title": title or DEFAULT_TITLE,
        "source": store.location,
        "filters": filters,
        "archives": archives,
        "entries": numbers["totals"]["runs"],  # one per run, as every reader counts them
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "version": __version__,
        "digest": numbers,
        "live": None,
    }


class WrittenReport(NamedTuple):
    """A report written: where, how large, and how many runs it shows."""

    path: Path
    size: int
    runs: int


def write_report(
    report: dict[str, Any], path: str | os.PathLike[str], plotly_js: str
) -> WrittenReport:
    """``report`` as its HTML page at ``path``, written whole or not at all (a reader never
    opens half a page, an error leaves an older report as it was)."""
    from betty_telemetry.report.page import render_page

    page = render_page(report, plotly_js).encode()
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        partial.write_bytes(page)
        os.replace(partial, target)
    except OSError as error:  # named after the report, not the file it is staged in
        raise OSError(error.errno, error.strerror, str(target)) from error
    finally:
        partial.unlink(missing_ok=True)
    return WrittenReport(target, len(page), report["digest"]["totals"]["runs"])


def describe_filters(filters: dict[str, Any]) -> str:
    """The filters of a report as its page names them: ``skill=agent.*, since=7d``."""
    return ", ".join(
        f"{name}={','.join(map(str, value)) if isinstance(value, list) else value}"
        for name, value in filters.items()
    )
