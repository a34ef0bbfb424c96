"""Values JSON cannot hold, shared by the entry and redaction tests."""

from __future__ import annotations

import enum


class Color(enum.Enum):
    RED = "red"
    BLUE = ("b", 1)


class Level(enum.IntEnum):
    HIGH = 3


class Thing:
    def __repr__(self) -> str:
        return "Thing()"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")
