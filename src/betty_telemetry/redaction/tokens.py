"""Finding credentials of the catalogue's formats in text, at a cost that does not grow with
the catalogue.

Every credential of the catalogue is a run of at least 16 token characters (letters, digits
and ``_ - . + / = ~ $ : %``), and each format has anchors: literals at the start of a word
of that run. So the text is cut into runs with one regular expression (in C), each run into
words, and each word's first two characters are looked up in a dict of anchors: a dict
lookup costs the same for 100 formats as for 1,000. Only a word whose head is an anchor's
head gets its format's pattern tried. Text with no run of 16 token characters (most values)
costs one regex search and nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the catalogue is loaded by the scanner, when a text needs it
    from betty_telemetry.redaction.formats import TokenFormat

Span = tuple[int, int, str]
"""Where a secret is in a text: start, end, and the rule that found it."""

MIN_RUN = 16
TOKEN_PUNCTUATION = "_-.+/=~$:%"
# string.ascii_letters + string.digits, spelled out: importing string (its Template class
# compiles a regex) would cost a command line capture, a fresh process per call, ~1 ms.
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
WORD_CHARS = frozenset(_ALPHANUMERIC + TOKEN_PUNCTUATION)
"""Characters of credential-like words: letters, digits and ``_ - . + / = ~ $ : %``."""
TOKEN_CHARS = "A-Za-z0-9" + re.escape(TOKEN_PUNCTUATION)
"""WORD_CHARS, as a regex character class body."""
RUN = re.compile(rf"[A-Za-z0-9][{TOKEN_CHARS}]{{{MIN_RUN - 1},}}")
_WORD_BREAK = re.compile(rf"[{re.escape(TOKEN_PUNCTUATION)}]")


class TokenIndex:
    """The catalogue's formats, indexed by the first two characters of their anchors."""

    def __init__(self, formats: Iterable[TokenFormat]) -> None:
        by_head: dict[str, list[TokenFormat]] = {}
        infix: dict[str, list[TokenFormat]] = {}
        for token_format in formats:
            index = infix if token_format.infix else by_head
            for head in {anchor[:2] for anchor in token_format.anchors}:
                index.setdefault(head, []).append(token_format)
        # Formats keep catalogue order under each head: the first that matches names the rule.
        self._by_head = {head: tuple(found) for head, found in by_head.items()}
        self._infix = tuple((head, tuple(found)) for head, found in infix.items())

    def find(self, text: str) -> list[Span]:
        """Every credential of a known format in ``text``."""
        spans: list[Span] = []
        for run in RUN.finditer(text):
            self._find_in_run(text, run.start(), run.group(), spans)
        return spans

    def _find_in_run(self, text: str, start: int, run: str, spans: list[Span]) -> None:
        by_head = self._by_head
        end = start + len(run)
        position = start
        for word in _WORD_BREAK.split(run):
            candidates = by_head.get(text[position : position + 2])
            if candidates is not None:
                _match_at(text, position, end, candidates, spans)
            position += len(word) + 1
        for head, formats in self._infix:  # anchors inside a word: one search per head
            if head in run:
                for token_format in formats:
                    _search_around(text, token_format, start, end, spans)


def _match_at(
    text: str, position: int, run_end: int, candidates: tuple[TokenFormat, ...], spans: list[Span]
) -> None:
    for token_format in candidates:
        if not text.startswith(token_format.anchors, position):
            continue
        if token_format.reach:
            match = _covering(token_format.regex, text, position, token_format.reach, run_end)
        else:
            match = token_format.regex.match(text, position)
        if match is not None:
            spans.append((*_secret_span(match), token_format.name))
            return


def _covering(
    regex: re.Pattern[str], text: str, position: int, reach: int, run_end: int
) -> re.Match[str] | None:
    """A match that starts at most ``reach`` characters before ``position`` and spans it
    (within the run: formats found this way are made of token characters only)."""
    for match in regex.finditer(text, max(0, position - reach), run_end):
        if match.start() > position:
            return None
        if match.end() > position:
            return match
    return None


def _search_around(
    text: str, token_format: TokenFormat, start: int, end: int, spans: list[Span]
) -> None:
    if not any(anchor in text[start:end] for anchor in token_format.anchors):
        return
    for match in token_format.regex.finditer(text, start, end):
        spans.append((*_secret_span(match), token_format.name))


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        return match.span("secret")
    return match.span()
