"""Text made safe and measurable for a terminal.

Entries hold text from anywhere: an error message may carry escape sequences (which a
terminal would obey: set its title, clear the screen, fake other output), bidi overrides that
reorder what is shown, or wide characters that take two columns each. Every cell a read
command prints to people goes through ``printable``; widths are counted in columns.
"""

from __future__ import annotations

import unicodedata
from typing import TextIO

# Format characters that change how the text around them is displayed (bidi overrides and
# isolates, marks); other format characters (zero-width joiners in emoji) are harmless.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """``text`` on one line, with control and bidi characters shown as escapes (``\\x1b``).

    Runs of whitespace (newlines, tabs) become one space.
    """
    text = " ".join(text.split())
    if text.isprintable():  # the usual case, checked in C
        return text
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if unicodedata.category(char) == "Cc" or char in _BIDI:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (East Asian) characters count 2, combining 0."""
    if text.isascii():
        return len(text)
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def pad(text: str, columns: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``columns`` (on the left when ``right``)."""
    fill = " " * max(columns - width(text), 0)
    return fill + text if right else text + fill


def cut(text: str, columns: int) -> str:
    """``text`` if it fits in ``columns``, else as much as fits before a final ``…``."""
    if width(text) <= columns:
        return text
    kept, used = [], 0
    for char in text:
        used += _char_width(char)
        if used > columns - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a stream without ``isatty`` is not)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
