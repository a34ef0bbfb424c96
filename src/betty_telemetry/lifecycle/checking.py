"""Checking a store and repairing it, whatever its format (the work is the store's own:
``stores.check_location``, ``stores.repair_location``)."""

from __future__ import annotations

import os

from betty_telemetry.stores import CheckReport, RepairReport, check_location, repair_location


def check(location: str | os.PathLike[str], *, lock_timeout: float | None = None) -> CheckReport:
    """What the store (or archive) at ``location`` holds, and what is wrong with it; reads
    wait at most ``lock_timeout`` seconds for the file's lock (default: the stores')."""
    if lock_timeout is None:
        return check_location(location)
    return check_location(location, lock_timeout=lock_timeout)


def repair(location: str | os.PathLike[str], *, lock_timeout: float | None = None) -> RepairReport:
    """Fix what can be fixed in the store at ``location``, after a backup; every complete
    entry is kept."""
    if lock_timeout is None:
        return repair_location(location)
    return repair_location(location, lock_timeout=lock_timeout)


def exit_code(report: CheckReport | RepairReport) -> int:
    """0 when the store is clean (after a repair: nothing is left to fix), 1 otherwise.
    Legacy entries are notes, not problems."""
    if isinstance(report, CheckReport):
        return 0 if report.clean else 1
    return 0 if not report.remaining else 1
