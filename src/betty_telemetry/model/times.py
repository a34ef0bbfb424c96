"""Moments in time for reading: filter bounds (``since``/``until``) and entries' timestamps.

Everything is compared as *canonical UTC text*, ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``: the form
every entry we write has, which sorts lexicographically in time order. Comparing text lets the
reader test a line's timestamp without parsing the line or building a datetime. Times given
without an offset are UTC, like every timestamp in the file and in the CLI's tables.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

_UTC_SUFFIX = "+00:00"
_CANONICAL = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}\+00:00"
)
is_canonical = re.compile(_CANONICAL).fullmatch
"""Whether a text is canonical UTC (``2025-10-24T14:30:45.123456+00:00``): such texts sort
in time order, so they are compared without parsing. Fields are range-checked (no month 13,
hour 25); a day past its month's end (Feb 30) passes, and sorts where its text puts it."""
is_canonical_bytes = re.compile(_CANONICAL.encode()).fullmatch
# Compiled on use (re caches them): a capture stamps times but never parses one.
_RELATIVE = (
    r"\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|sec|secs|m|min|mins|h|hr|hrs|d|w)"
    r"(?:\s+ago)?\s*"
)
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "d": 86400,
    "w": 7 * 86400,
}
TIME_HELP = (
    "use a duration before now (15m, 2h, 7d, 1w, 90s), 'today', 'yesterday', 'now', "
    "or an ISO date or time (2025-10-24, 2025-10-24T14:30:00Z, 2025-10-24 14:30+02:00)"
)


def utc_text(moment: datetime) -> str:
    """``moment`` as canonical UTC text (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_moment(
    name: str, value: object, now: datetime | None = None, *, end_of_day: bool = False
) -> str:
    """A filter bound as canonical UTC text; raises ValueError saying what is accepted.

    Accepts a datetime or date, a timedelta (that long before now), or text: a relative
    duration (``"15m"``, ``"2h ago"``), ``today``/``yesterday``/``now``, or ISO 8601. With
    ``end_of_day`` (for ``until``), a whole day (a date, ``today``) means its last moment, so
    the day is included.
    """
    try:
        moment = _to_datetime(value, now or datetime.now(timezone.utc))
        if moment is not None:
            if end_of_day and _is_whole_day(value):
                moment += timedelta(days=1, microseconds=-1)
            return utc_text(moment)
    except OverflowError:  # "99999999d", timedelta.max: before year 1
        pass
    raise ValueError(f"{name}: {value!r} is not a time; {TIME_HELP}")


def parse_age(name: str, value: object) -> timedelta:
    """An age, as a timedelta > 0 or text such as ``"30d"``, ``"12h"``, ``"90m"``, ``"1w"``;
    else ValueError saying what is accepted."""
    if isinstance(value, timedelta) and value > timedelta(0):
        return value
    relative = (
        re.fullmatch(_RELATIVE, value.lower(), re.IGNORECASE) if isinstance(value, str) else None
    )
    if relative is not None:
        seconds = float(relative["amount"]) * _UNIT_SECONDS[relative["unit"]]
        if seconds > 0:
            return timedelta(seconds=seconds)
    raise ValueError(f"{name} must be an age such as 30d, 12h, 90m or 1w; got {value!r}")


def _is_whole_day(value: object) -> bool:
    if isinstance(value, date):
        return not isinstance(value, datetime)
    text = value.strip().lower() if isinstance(value, str) else ""
    return text in ("today", "yesterday") or re.fullmatch(_DATE_ONLY, text) is not None


_DATE_ONLY = r"\d{4}-\d{2}-\d{2}"


def _to_datetime(value: object, now: datetime) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, timedelta):
        return now - value
    return _parse_text(value, now) if isinstance(value, str) else None


def _parse_text(text: str, now: datetime) -> datetime | None:
    word = text.strip().lower()
    midnight = datetime.combine(now.astimezone(timezone.utc).date(), time(), timezone.utc)
    named = {"now": now, "today": midnight, "yesterday": midnight - timedelta(days=1)}
    if word in named:
        return named[word]
    relative = re.fullmatch(_RELATIVE, word, re.IGNORECASE)
    if relative is not None:
        seconds = float(relative["amount"]) * _UNIT_SECONDS[relative["unit"]]
        return now - timedelta(seconds=seconds)
    return parse_iso(text.strip())


def parse_iso(text: str) -> datetime | None:
    """An ISO 8601 date or date-time (``Z`` allowed, naive = UTC), or None if it is not one."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + _UTC_SUFFIX
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def canonical_timestamp(value: object) -> str | None:
    """An entry's timestamp as canonical UTC text, or None when it is missing or not a time.

    Our own timestamps are already canonical and are returned as they are, without parsing.
    """
    if type(value) is not str:
        return None
    if is_canonical(value):
        return value
    moment = parse_iso(value)
    return None if moment is None else utc_text(moment)


def timestamp_micros(value: object) -> int | None:
    """An entry's timestamp as microseconds since the epoch, or None if it is not a time."""
    text = canonical_timestamp(value)
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def start_micros(entry: dict[str, Any]) -> int | None:
    """When the run of ``entry`` started, in microseconds since the epoch: its timestamp
    (written when the run ended) less its duration; the timestamp alone without a usable
    duration; None without a time."""
    end = timestamp_micros(entry.get("timestamp"))
    duration = entry.get("duration_ms")
    if end is None or not (type(duration) is float or type(duration) is int):
        return end
    if duration != duration:  # NaN
        return end
    try:
        return end - round(duration * 1000)
    except OverflowError:  # an infinite duration
        return end


def shift(text: str, delta: timedelta) -> str | None:
    """Canonical text ``delta`` later than canonical ``text``; None beyond the calendar."""
    try:
        return utc_text(datetime.fromisoformat(text) + delta)
    except OverflowError:
        return None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_DURATION = r"\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|sec|m|min|h)?\s*"
_DURATION_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "m": 60_000.0, "min": 60_000.0}


def parse_duration_ms(name: str, text: str) -> float:
    """``"500"`` (milliseconds), ``"500ms"``, ``"1.5s"``, ``"2m"``, ``"1h"`` as milliseconds."""
    match = re.fullmatch(_DURATION, text, re.IGNORECASE)
    if match is None:
        raise ValueError(
            f"{name}: {text!r} is not a duration; use milliseconds (500) or a number with a "
            "unit: 500ms, 1.5s, 2m, 1h"
        )
    unit = (match["unit"] or "ms").lower()
    return float(match["amount"]) * _DURATION_MS.get(unit, 3_600_000.0)
