"""Saying what a file holds without quoting it.

Errors and warnings about a file's content must quote none of it: pointed at the wrong file
(a ``.env``, a config), the library would print its secrets into an error message, a log or
a terminal. They say where (line, column, byte offset) and what kind of thing was found.
"""

from __future__ import annotations

TOO_DEEP = "an entry nested deeper than Python's JSON reader can read (about 1,000 levels)"
CUT_SHORT = "an entry cut short or damaged"
AFTER_THE_END = "data after the end of the array"
MISSING_COMMA = "an entry with no ',' before it (the entry itself was read)"

_WHITESPACE = b" \t\r\n"
_SAMPLE = 64
_STARTS = {
    b"{": "a JSON object",
    b"[": "a JSON array",
    b"]": "a closing bracket",
    b",": "a comma",
    b'"': "a JSON string",
}


def kind_of(data: bytes) -> str:
    """What ``data`` (a file's bytes from some point on) starts with: "a JSON object", "text
    that is not JSON", "binary data"... Never any of the bytes themselves."""
    data = data.lstrip(_WHITESPACE)
    if not data:
        return "the end of the file"
    if is_binary(data[:_SAMPLE]):
        return "binary data"
    first = data[:1]
    if first in _STARTS:
        return _STARTS[first]
    if first in b"-0123456789":
        return "a number"
    if data.startswith((b"true", b"false", b"null")):
        return "a JSON true, false or null"
    return "text that is not JSON"


def is_binary(sample: bytes) -> bool:
    """Whether ``sample`` holds bytes no text holds: NUL, control characters, bad UTF-8."""
    if b"\0" in sample:
        return True
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 3:  # not just a character cut by the sample's end
            return True
        text = sample[: error.start].decode("utf-8")
    return any(ord(char) < 32 and char not in "\t\r\n" for char in text)


def position_in(text: str, pos: int) -> str:
    """Where character ``pos`` of ``text`` (a file decoded with surrogateescape from its first
    byte) is: ``line L, column C (byte offset B)``, all counted from 1 but the offset."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    offset = len(text[:pos].encode("utf-8", "surrogateescape"))
    return f"line {line}, column {column} (byte offset {offset})"


def found_at(text: str, pos: int) -> str:
    """What ``text`` holds from character ``pos`` on (see ``kind_of``)."""
    return kind_of(text[pos : pos + _SAMPLE].encode("utf-8", "surrogateescape"))
