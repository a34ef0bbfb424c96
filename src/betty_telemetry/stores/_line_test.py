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

from dataclasses import dataclass

from betty_telemetry._times import is_canonical_bytes

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
