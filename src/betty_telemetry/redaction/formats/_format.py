"""One credential format with a shape of its own, and fake examples of it."""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from betty_telemetry._hashing import sha256

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"
URL_SAFE = ALNUM + "_-"
BASE64 = ALNUM + "+/"
DIGITS = "0123456789"


class TokenFormat(NamedTuple):
    """A credential format: where to look for it, and what it looks like.

    ``anchors`` are literals one of which every credential of this format holds at the start
    of a word (at the start of a run of token characters, or right after one of
    ``_ - . + / = ~ $ : %``); the scanner looks a word's first two characters up in an index
    of anchors, so the cost of scanning does not grow with the catalogue. ``pattern`` is
    matched where the anchor starts, or searched from ``reach`` characters before it for
    formats whose anchor is not their first word (``<32 hex>-us12``). Its group named
    ``secret``, if it has one, is what is replaced (a webhook URL keeps its host); otherwise
    the whole match. ``infix`` formats have no anchor at a word start: their anchor is looked
    for anywhere inside runs of token characters.
    """

    name: str
    provider: str
    anchors: tuple[str, ...]
    pattern: str
    example: str
    reach: int = 0
    infix: bool = False

    @property
    def regex(self) -> re.Pattern[str]:
        # Compiled on first use: most formats never meet a candidate in a given process.
        return _compiled(self.pattern)


# Each pattern compiled once, when first used (as the cached property it replaces did).
_compiled = functools.cache(re.compile)


def fake(alphabet: str, size: int, seed: str) -> str:
    """``size`` characters from ``alphabet``, the same for the same seed: fake credential
    bodies that look random, built at import instead of written out as literals (so no
    secret scanner mistakes this file for a leak)."""
    out: list[str] = []
    counter = 0
    while len(out) < size:
        digest = sha256(f"{seed}:{counter}".encode()).digest()
        out += (alphabet[byte % len(alphabet)] for byte in digest)
        counter += 1
    return "".join(out[:size])
