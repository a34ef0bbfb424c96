"""Deciding about an entry line from its bytes, before parsing it.

A reader scanning a million lines spends most of its time in ``json.loads``. A ``LineTest``
rejects lines that cannot match a query without parsing them, and tells the reader when every
older line is out of the time window so it can stop. It must be *sound*: it may keep a line
that the full filter later rejects, but never reject one the full filter would keep.

- A needle is text that must appear in the line's bytes, such as ``"failure"`` (with its
  quotes) for a status filter. Needles are only built from text whose JSON encoding is the
  same in every encoder: printable ASCII without quotes, backslashes or slashes.
- Times are read only from lines in our own layout, which start with
  ``{"timestamp": "<canonical UTC text>"``; any other line is left to the full filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from betty_telemetry.model.filters import OUT_OF_ORDER, EntryFilter, NamePattern
from betty_telemetry.model.times import is_canonical_bytes, shift

KEEP, SKIP, STOP = 0, 1, 2
_TIMESTAMP_PREFIX = b'{"timestamp": "'
_TS_START = len(_TIMESTAMP_PREFIX)
_TS_END = _TS_START + 32


def line_timestamp(line: bytes) -> bytes | None:
    """The canonical UTC timestamp at the start of one of our entry lines, else None."""
    if line.startswith(_TIMESTAMP_PREFIX) and line[_TS_END : _TS_END + 1] == b'"':
        stamp = line[_TS_START:_TS_END]
        if is_canonical_bytes(stamp):
            return stamp
    return None


@dataclass(frozen=True)
class LineTest:
    """``needles``: groups of alternatives; a line must contain one alternative of each group.

    ``since``/``until`` (canonical UTC text, as bytes) skip lines outside the window; ``stop``
    (older than ``since`` by the out-of-order tolerance) ends a newest-first scan.
    """

    needles: tuple[tuple[bytes, ...], ...] = ()
    since: bytes | None = None
    until: bytes | None = None
    stop: bytes | None = None

    def verdict(self, line: bytes) -> int:
        if self.since is not None or self.until is not None:
            stamp = line_timestamp(line)
            if stamp is not None:
                if self.stop is not None and stamp < self.stop:
                    return STOP
                if (self.since is not None and stamp < self.since) or (
                    self.until is not None and stamp > self.until
                ):
                    return SKIP
        for group in self.needles:
            if not any(needle in line for needle in group):
                return SKIP
        return KEEP

    def block_may_match(self, block: bytes, start: int = 0) -> bool:
        """False when some needle group has no alternative in ``block[start:]``."""
        return all(
            any(block.find(needle, start) >= 0 for needle in group) for group in self.needles
        )


def literal_needle(text: str) -> bytes | None:
    """``text`` as bytes if every encoder writes it the same way inside a JSON string."""
    if text and all(" " <= char <= "~" and char not in '"\\/' for char in text):
        return text.encode("ascii")
    return None


_HAS_TRACE = b'"trace_id": "'


def line_test_for(wanted: EntryFilter) -> LineTest | None:
    """A sound test on the lines of a JSON store for ``wanted`` (None when it could reject
    nothing): the quoted names, statuses and trace id every matching line must contain."""
    groups: list[tuple[bytes, ...]] = []
    for pattern in (wanted.skill, wanted.caller):
        needle = None if pattern is None else name_needle(pattern)
        if needle is not None:
            groups.append((needle,))
    if wanted.statuses is not None:
        groups.append(tuple(b'"' + status.encode() + b'"' for status in sorted(wanted.statuses)))
    if wanted.trace_id is not None:
        groups.append((wanted.trace_id.encode(),))
    elif wanted.with_trace:
        groups.append((_HAS_TRACE,))
    if not groups and wanted.since is None and wanted.until is None:
        return None
    return LineTest(
        needles=tuple(groups),
        since=None if wanted.since is None else wanted.since.encode(),
        until=None if wanted.until is None else wanted.until.encode(),
        stop=_stop_bound(wanted.since),
    )


def name_needle(pattern: NamePattern) -> bytes | None:
    """Bytes every line matching ``pattern`` contains: the quoted name, or a glob's longest
    literal (quoted on the side where the glob is anchored)."""
    if pattern.exact:
        literal = literal_needle(pattern.text)
        return None if literal is None else b'"' + literal + b'"'
    if "[" in pattern.text:
        return None
    pieces = re.split(r"[*?]+", pattern.text)
    longest = max(range(len(pieces)), key=lambda index: len(pieces[index]))
    literal = literal_needle(pieces[longest])
    if literal is None:
        return None
    opening = b'"' if longest == 0 else b""
    closing = b'"' if longest == len(pieces) - 1 else b""
    return opening + literal + closing


def _stop_bound(since: str | None) -> bytes | None:
    stop = None if since is None else shift(since, -OUT_OF_ORDER)
    return None if stop is None else stop.encode()
