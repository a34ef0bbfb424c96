"""Which names hold secrets: dict keys, ``key=value`` keys in text, flags, headers, XML tags.

A name is split into words (on ``_ - .``, spaces and camelCase) and is secret when a word is a
secret word (``github_token``, ``apiKey``, ``X-Api-Key``, ``DB_PASS``), or two neighbouring words
spell one (``api_key``, ``Ocp-Apim-Subscription-Key``). Words are matched, not substrings:
``max_tokens``, ``author`` and ``secretary`` are not secrets.

A secret word followed by a word of measurement or reference is not a secret either:
``token_count``, ``password_min_length``, ``session_id``, ``secretName``, ``token_url`` name a
number, an identifier or a place, not the credential itself. When a name is ambiguous, it is
treated as secret: a leaked credential costs more than a lost word.
"""

from __future__ import annotations

import functools
import re

from betty_telemetry.redaction.words import (
    GRAMMAR_BEFORE,
    ID_OF,
    MEASURE_BEFORE,
    MEASURE_WORDS,
    PLAIN_KEY_KINDS,
    PLAIN_WORDS,
    SECRET_PREFIXES,
    SECRET_SUFFIXES,
    SECRET_WORDS,
)

_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def words_of(name: str) -> list[str]:
    """``name`` split into lower-case words: ``"X-Api-Key"`` -> ``["x", "api", "key"]``."""
    return [w for w in _WORD_SPLIT.split(_CAMEL.sub(r"\1_\2", name).lower()) if w]


@functools.lru_cache(maxsize=8192)
def secret_word_in(name: str) -> str | None:
    """The secret word that makes ``name`` secret, or None."""
    words = words_of(name)
    for index in range(len(words)):
        found = _secret_at(words, index)
        if found is None:
            continue
        if _measures(words, index, found):
            return None
        return found
    # One identifier (APP_KEY), not two words of prose ("add key", "the key").
    if len(words) >= 2 and words[-1] in ("key", "keys") and words[-2] not in PLAIN_KEY_KINDS:
        return "key" if " " not in name else None
    return None


def _secret_at(words: list[str], index: int) -> str | None:
    word = words[index]
    following = words[index + 1] if index + 1 < len(words) else ""
    # api_key, private-key, client_secret; but session_id is an id, not Django's sessionid
    if following not in ("", "id", "ids") and word + following in SECRET_WORDS:
        return word + following
    if word in SECRET_WORDS:
        return word
    if word in PLAIN_WORDS:
        return None
    if word.endswith(SECRET_SUFFIXES) or word.startswith(SECRET_PREFIXES):
        return word
    return None


def _measures(words: list[str], index: int, found: str) -> bool:
    """Whether the words around the secret word at ``index`` make the name a measurement or
    a reference (``token_count``, ``max_token_budget``, ``session_id``)."""
    if index and words[index - 1] in MEASURE_BEFORE:
        return True
    if index and words[index - 1] in GRAMMAR_BEFORE and found == "token":
        return True
    after = words[index + 1 + (found != words[index]) :]
    for position, word in enumerate(after):
        if word in MEASURE_WORDS:
            return True
        if word in ("id", "ids"):
            owner = after[position - 1] if position else words[index + (found != words[index])]
            if owner in ID_OF:
                return True
    return False


__all__ = ["secret_word_in", "words_of"]
