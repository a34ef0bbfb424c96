"""Finding and reading the settings file.

From a folder upwards to the file system's root, the first folder that holds either of these
gives the settings, and the search stops there (as ruff finds its configuration):

1. ``betty-telemetry.toml``, whose top-level keys are the settings (even if it is empty);
2. ``pyproject.toml``, if it has a ``[tool.betty-telemetry]`` table (even an empty one). A
   ``pyproject.toml`` without that table is passed over: the search goes on upwards.

The nearest file wins whole: files further up are not merged in (a nested project's settings
do not inherit its parent's). Relative paths in the file are relative to its folder.
"""

from __future__ import annotations

import os
import sys
from typing import Any

DEDICATED_NAME = "betty-telemetry.toml"
PYPROJECT_NAME = "pyproject.toml"
TABLE = "betty-telemetry"


class SettingsFileError(ValueError):
    """A settings file that cannot be used: unreadable, not TOML, or not a table of settings."""


class SettingsFile:
    """A settings file found: its absolute ``path``, and its settings as TOML gave them."""

    __slots__ = ("path", "values")

    def __init__(self, path: str, values: dict[str, Any]) -> None:
        self.path, self.values = path, values

    @property
    def folder(self) -> str:
        """The folder that relative paths in the file start from."""
        return os.path.dirname(self.path)

    @property
    def where(self) -> str:
        """The file and, for a pyproject.toml, the table: how messages name them."""
        if os.path.basename(self.path) == PYPROJECT_NAME:
            return f"{self.path} [tool.{TABLE}]"
        return self.path


def find_settings_file(start: str) -> SettingsFile | None:
    """The settings file for the absolute folder ``start`` (see the module's rules), or None.
    Raises SettingsFileError for a file that should give the settings and cannot."""
    folder = start
    while True:
        for name in (DEDICATED_NAME, PYPROJECT_NAME):
            found = _settings_in(os.path.join(folder, name))
            if found is not None:
                return found
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _settings_in(path: str) -> SettingsFile | None:
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except PermissionError:
        if not os.access(os.path.dirname(path), os.X_OK):
            return None  # a folder this process may not look into holds nothing it could use
        raise SettingsFileError(
            f"{path}: cannot read it (permission denied), so betty-telemetry cannot tell "
            "whether it holds settings: make it readable, or move it"
        ) from None
    except OSError as exc:
        raise SettingsFileError(
            f"{path}: cannot read it ({exc.strerror or exc}), so betty-telemetry cannot tell "
            "whether it holds settings: make it readable, or move it"
        ) from None
    if os.path.basename(path) == DEDICATED_NAME:
        return SettingsFile(path, _table(_parsed(path, data), path))
    if not may_hold_our_table(data):
        return None
    text = our_table_text(data)
    values = None if text is None else _parsed(path, text, quiet=True)
    if values is not None:
        return SettingsFile(path, values)
    tool = _parsed(path, data).get("tool")
    if not isinstance(tool, dict) or TABLE not in tool:
        return None
    return SettingsFile(path, _table(tool[TABLE], f"{path} [tool.{TABLE}]"))


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsFileError(
            f"{where} must be a table of settings (key = value lines), got {type(value).__name__}"
        )
    return value


def _parsed(path: str, data: bytes, *, quiet: bool = False) -> Any:
    """``data`` parsed, else a SettingsFileError that says what is wrong (None if ``quiet``:
    for a part of the file, whose whole is parsed next)."""
    reader = toml_reader()
    if reader is None:
        raise SettingsFileError(
            f"{path} holds betty-telemetry settings, but Python "
            f"{sys.version_info[0]}.{sys.version_info[1]} has no TOML reader (tomllib is new "
            "in 3.11): pip install tomli (or betty-telemetry[toml]), or use Python 3.11+"
        )
    try:
        return reader.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        if quiet:
            return None
        raise SettingsFileError(
            f"{path} is not UTF-8 text (byte {exc.start}): TOML files are UTF-8; save it so"
        ) from None
    except reader.TOMLDecodeError as exc:
        if quiet:
            return None
        raise SettingsFileError(
            f"{path} is not valid TOML ({exc}): fix it, as betty-telemetry takes its settings "
            "from it"
        ) from None


def toml_reader() -> Any:
    """``tomllib`` (Python 3.11+), else ``tomli`` (the same reader, for Python 3.10), else
    None. Imported here, when a file is read: most captures never need one."""
    for name in ("tomllib", "tomli"):
        try:
            return __import__(name)
        except ImportError:
            continue
    return None


# -- how little of a pyproject.toml needs parsing for our table -----------------------------
#
# A command line capture is a fresh process per call, and looks for settings each time: the
# TOML reader's import and a parse of a whole pyproject.toml would cost it 2 to 4 ms (the parse
# alone about as much as the import, for a pyproject of 200 lines). So most pyproject.toml
# files, which cannot hold our table, are passed over unparsed, and of one that does, only the
# table's own lines are parsed when the file spells it as a plain ``[tool.betty-telemetry]``
# header. Both tests work on lines without their comment, blanks and quotes; they never pass
# over a file that defines the table (they may send one that does not to the full parse).

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
