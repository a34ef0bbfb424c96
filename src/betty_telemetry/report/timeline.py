"""Runs and failures over time, counted per minute as entries are read, drawn per bucket.

Counts are kept per minute while the period is short, per hour (then per day) once there
are too many minutes to keep: memory stays bounded whatever the period. The buckets drawn
are chosen at the end, the smallest unit that gives at most ``MAX_BUCKETS`` of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

MAX_BUCKETS = 240
KEPT_KEYS = 20_000
"""Counters kept at most before they are folded into the next coarser unit."""
_UNITS = (60, 300, 900, 3600, 6 * 3600, 86_400, 7 * 86_400)  # seconds
_RESOLUTIONS = ((16, ":00+00:00", 60), (13, ":00:00+00:00", 3600), (10, "T00:00:00+00:00", 86_400))
"""(characters of a canonical timestamp kept, what makes them a time again, seconds)."""
_MONDAY = 4 * 86_400  # the epoch fell on a Thursday: weeks start on Mondays


class Timeline:
    def __init__(self) -> None:
        self._resolution = 0
        self._counts: dict[str, list[int]] = {}

    def add(self, minute: str, runs: int, failures: int) -> None:
        """Count ``runs`` (``failures`` of them failed) that ended in ``minute`` (the first 16
        characters of a canonical UTC timestamp); an empty ``minute`` counts nothing."""
        if not runs:
            return
        key = minute[: _RESOLUTIONS[self._resolution][0]]
        counts = self._counts.get(key)
        if counts is None:
            if len(self._counts) >= KEPT_KEYS and self._resolution < len(_RESOLUTIONS) - 1:
                self._coarsen()
                self.add(minute, runs, failures)
                return
            counts = self._counts[key] = [0, 0]
        counts[0] += runs
        counts[1] += failures

    def _coarsen(self) -> None:
        self._resolution += 1
        length = _RESOLUTIONS[self._resolution][0]
        coarser: dict[str, list[int]] = {}
        for key, (runs, failures) in self._counts.items():
            counts = coarser.setdefault(key[:length], [0, 0])
            counts[0] += runs
            counts[1] += failures
        self._counts = coarser

    def buckets(self) -> dict[str, Any]:
        """``unit_s`` (seconds per bucket), ``starts`` (UTC), ``runs`` and ``failures``,
        every bucket from the first run's to the last run's, empty ones included."""
        _, suffix, resolution = _RESOLUTIONS[self._resolution]
        moments: dict[int, list[int]] = {}
        for key, counts in self._counts.items():
            try:
                moments[int(datetime.fromisoformat(key + suffix).timestamp())] = counts
            except ValueError:  # a day past its month's end (model.times): not drawn
                continue
        if not moments:
            return {"unit_s": resolution, "starts": [], "runs": [], "failures": []}
        first, last = min(moments), max(moments)
        unit = next(
            (u for u in _UNITS if u >= resolution and (last - first) // u < MAX_BUCKETS),
            _UNITS[-1],
        )
        origin = _floor(first, unit)
        size = (_floor(last, unit) - origin) // unit + 1
        runs, failures = [0] * size, [0] * size
        for moment, (count, failed) in moments.items():
            slot = (_floor(moment, unit) - origin) // unit
            runs[slot] += count
            failures[slot] += failed
        starts = [_utc(origin + slot * unit) for slot in range(size)]
        return {"unit_s": unit, "starts": starts, "runs": runs, "failures": failures}


def _floor(moment: int, unit: int) -> int:
    if unit % (7 * 86_400) == 0:
        return moment - (moment - _MONDAY) % unit
    return moment - moment % unit


def _utc(moment: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=moment)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
