"""Stored times as people read them: in the local time zone, saying its offset.

Entries keep their timestamps in UTC (``2026-12-07T09:15:02.123456+00:00``); tables show
``2026-12-07 10:15:02.123 +01:00`` where ``TZ`` (or the system) says the zone is Europe/Paris,
or the UTC time itself with ``+00:00`` under ``--utc`` or ``TZ=UTC``. Each time gets the
offset in force at that moment, so a table across a daylight-saving change is right on both
sides of it. Only the text shown changes: JSON, JSON Lines and CSV keep the stored times.

When a table is too wide for the terminal, its time column is shortened
(``without_milliseconds``, then ``month_day_minute``, as ``render``'s steps say): the
milliseconds go first, then the year, the seconds and the offset.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from betty_telemetry.cli.cells import printable
from betty_telemetry.model.times import canonical_timestamp

# What ``shown_time`` makes: date, time, milliseconds, offset.
_SHOWN = re.compile(r"(\d{4}-)(\d\d-\d\d \d\d:\d\d)(:\d\d)(\.\d{3})? ([+-]\d\d:\d\d)")


def shown_time(value: object, *, utc: bool = False, milliseconds: bool = True) -> str:
    """A stored timestamp in local time (UTC when ``utc``) with its offset; a value that is
    not a time as it is (made printable), ``""`` for none."""
    if value is None:
        return ""
    text = canonical_timestamp(value)
    if text is None:
        return printable(str(value))
    moment = datetime.fromisoformat(text)
    if not utc:
        moment = _local(moment)
    # Not strftime: glibc's %Y writes the year 1 as "1".
    shown = f"{moment:%m-%d %H:%M:%S}"
    shown = f"{moment.year:04d}-{shown}"
    if milliseconds:
        shown += f".{moment.microsecond // 1000:03d}"
    return f"{shown} {_offset(moment.utcoffset() or timedelta(0))}"


def _local(moment: datetime) -> datetime:
    try:
        return moment.astimezone()  # the zone TZ names, the system's without it
    except (OverflowError, ValueError, OSError):  # year 1 or 9999, past what localtime takes
        return moment


def _offset(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def without_milliseconds(shown: str) -> str:
    """``2026-12-07 10:15:02 +01:00``, from ``shown_time``'s text (other text as it is)."""
    match = _SHOWN.fullmatch(shown)
    return f"{match[1]}{match[2]}{match[3]} {match[5]}" if match else shown


def month_day_minute(shown: str) -> str:
    """``12-07 10:15``, from ``shown_time``'s text (other text as it is): the shortest form,
    still in the zone of the longer ones, which the documentation says."""
    match = _SHOWN.fullmatch(shown)
    return match[2] if match else shown
