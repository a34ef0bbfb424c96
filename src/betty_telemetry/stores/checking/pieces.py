"""The pieces a store's walk finds in it, in order: what a check reports and a repair keeps.

Each store walks its own bytes (``json_array.inspect``, ``json_lines.inspect``,
``sqlite.inspect``) and yields these; ``collect`` turns them into a report, ``rewrite`` into
a repaired file. Offsets are bytes of the file; ``line`` is 1-based (a row id for SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

HEAD = "head"
"""Bytes kept as they are before the first element (a JSON array's ``[``)."""
ELEMENT = "element"
"""A complete JSON value: an entry (an object), or another value where entries should be."""
KEPT = "kept"
"""Bytes kept as they are, meaning nothing (a blank line of a JSON Lines file)."""
DAMAGE = "damage"
"""Bytes that are not entries: moved aside by a repair."""
TORN = "torn"
"""The partial entry an interrupted write left at the end: moved aside by a repair."""
SEPARATOR = "separator"
"""Separators out of place before an element (a missing ``,``...): rewritten by a repair."""
TAIL = "tail"
"""What follows the last element (a JSON array's ``]``)."""
UNREADABLE = "unreadable"
"""The store is not in its format at all; the walk stops."""
INTEGRITY = "integrity"
"""A database's own check failed here."""


@dataclass(slots=True)
class Piece:
    kind: str
    start: int
    end: int
    line: int | None
    end_line: int | None = None
    value: Any = None
    """The element's value (ELEMENT)."""
    what: str = ""
    """What is wrong (DAMAGE, TORN, SEPARATOR, UNREADABLE, INTEGRITY), quoting nothing."""
    gap_start: int = 0
    """ELEMENT, TAIL: where the bytes between the previous element (or the head) and this
    one start."""
    clean: bool = True
    """ELEMENT, TAIL: whether those bytes are a separator to keep as it is."""
    first: bool = False
    """ELEMENT: the first one of the array."""
    fix: bytes = b""
    """ELEMENT, TAIL: what a repair writes instead of those bytes when they are not clean
    (a separator, the closing bracket)."""


class View(Protocol):
    """Bytes of a file, read at any offset: ``size`` of them."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...
