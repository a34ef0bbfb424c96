"""How little of a pyproject.toml needs parsing for our table.

A command line capture is a fresh process per call, and looks for settings each time: the
TOML reader's import and a parse of a whole pyproject.toml would cost it 2 to 4 ms (the parse
alone about as much as the import, for a pyproject of 200 lines). So most pyproject.toml
files, which cannot hold our table, are passed over unparsed, and of one that does, only the
table's own lines are parsed when the file spells it as a plain ``[tool.betty-telemetry]``
header. Both tests work on lines without their comment, blanks and quotes; they never pass
over a file that defines the table (they may send one that does not to the full parse).
"""

from __future__ import annotations

MARK = b"betty-telemetry"
_HEADER = b"[tool.betty-telemetry]"


def _squeezed(line: bytes) -> bytes:
    """``[ "tool" . betty-telemetry ]  # ours`` -> ``[tool.betty-telemetry]``."""
    return line.split(b"#", 1)[0].translate(None, b" \t\r\n\"'")


def may_hold_our_table(data: bytes) -> bool:
    """Whether ``data`` may define ``tool.betty-telemetry``: a header naming us (a broken one
    too, to be reported), a dotted key from the top (``tool.betty-telemetry.file = ...``),
    ``tool`` as an inline table, or our name as a key (``betty-telemetry = {...}``) in a file
    with a ``[tool]`` header. A project that depends on us (``"betty-telemetry>=1"``,
    Poetry's ``betty-telemetry = "^1"`` under ``[tool.poetry.dependencies]``) may not."""
    if MARK not in data:
        return False
    keyed = False
    for line in data.splitlines():
        if MARK not in line:
            continue
        squeezed = _squeezed(line)
        if squeezed.startswith((b"[", b"tool.betty-telemetry", b"tool=")):
            return True
        keyed = keyed or squeezed.startswith((b"betty-telemetry=", b"betty-telemetry."))
    return keyed and any(_squeezed(line) == b"[tool]" for line in data.splitlines())


def our_table_text(data: bytes) -> bytes | None:
    """The lines of the table under the one plain ``[tool.betty-telemetry]`` header, up to
    the next header; None when the file spells the table otherwise (sub-tables, dotted keys,
    a second header...), which the whole file's parse then reads or refuses. A line starting
    with ``[`` inside a value (a multi-line array or string) cuts the text short, and its
    parse then fails: the caller falls back to the whole file."""
    lines = data.splitlines(keepends=True)
    start = None
    for index, line in enumerate(lines):
        if MARK not in line:
            continue
        squeezed = _squeezed(line)
        if squeezed == _HEADER and start is None:
            start = index + 1
        elif squeezed.startswith((b"[", b"tool", b"betty-telemetry")):
            return None
    if start is None:
        return None
    end = next((i for i in range(start, len(lines)) if lines[i].lstrip()[:1] == b"["), None)
    return b"".join(lines[start:end])
