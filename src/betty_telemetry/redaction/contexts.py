"""Credentials found by where they stand in a document: ``.netrc`` and ``.pgpass`` lines,
XML elements, after ``Bearer`` or a secret word in prose, and private key blocks. (URLs and
command lines have modules of their own.)

Each function returns the spans to replace in a text; they run only on text that holds their
trigger (``<``, ``Bearer``...), see ``TextScanner``.
"""

from __future__ import annotations

import re
import string

from betty_telemetry.redaction.assignments import NameRule
from betty_telemetry.redaction.tokens import Span

# -- files holding credentials -------------------------------------------------------------

_NETRC_CONTEXT = re.compile(r"(?:machine|default|login)\s+\S")
_NETRC_PASSWORD = re.compile(r"(?:password|passwd|account)[ \t]+(\S+)")
# host:port:database:user:password, found from ":port:" and checked back to the line start.
_PGPASS_FIELDS = re.compile(r":(?:[0-9]{1,5}|\*):[^:\s]+:[^:\s]+:(\S[^\r\n]*)$", re.MULTILINE)
_PGPASS_HOST = re.compile(r"[^:\s#]+(?=\s|\Z)")
_MAC_OR_IPV6 = re.compile(r"[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")


def netrc_spans(text: str) -> list[Span]:
    """``machine h login u password p`` (.netrc) and ``host:port:db:user:password`` lines
    (.pgpass)."""
    spans: list[Span] = []
    if ("passw" in text or "account" in text) and _NETRC_CONTEXT.search(text):
        spans += [
            (*m.span(1), "netrc-password")
            for m in _NETRC_PASSWORD.finditer(text)
            if m.start() == 0 or not text[m.start() - 1].isalnum()
        ]
    reverse = text[::-1]
    for match in _PGPASS_FIELDS.finditer(text):
        host = _PGPASS_HOST.match(reverse, len(text) - match.start())
        if host is not None and not _MAC_OR_IPV6.match(text, len(text) - host.end()):
            spans.append((*match.span(1), "pgpass-password"))
    return spans


_XML_ELEMENT = re.compile(
    r"<(?P<tag>[A-Za-z_][\w:.\-]*)(?:\s[^<>]*)?>(?P<value>[^<]+)</(?P=tag)\s*>"
)
_XML_NAME_VALUE = re.compile(
    r"(?:key|name)\s*=\s*([\"'])(?P<name>[^\"']+)\1\s+value\s*=\s*([\"'])(?P<value>[^\"']*)\3"
)


def xml_spans(text: str, name_rule: NameRule) -> list[Span]:
    """``<password>x</password>`` and ``<add key="ApiKey" value="x"/>``."""
    spans: list[Span] = []
    for match in _XML_ELEMENT.finditer(text):
        if name_rule(match.group("tag").rpartition(":")[2]) is not None:
            spans.append((*match.span("value"), "xml-element"))
    for match in _XML_NAME_VALUE.finditer(text) if "value" in text else ():
        if name_rule(match.group("name")) is not None and match.group("value"):
            spans.append((*match.span("value"), "xml-element"))
    return spans


# -- prose and key blocks ------------------------------------------------------------------

_PROSE_CREDENTIAL = re.compile(
    r"(?:[Bb]earer|BEARER|[Bb]asic|BASIC)[ \t]+([A-Za-z0-9\-._~+/]{6,}=*)"
)
_ENGLISH_WORD = re.compile(r"[A-Za-z][a-z]{0,14}")


def prose_credential_spans(text: str) -> list[Span]:
    """``Bearer <token>`` and ``Basic <credentials>`` anywhere; not ``Bearer authentication``
    (a word is not a credential)."""
    return [
        (*m.span(1), "bearer-token")
        for m in _PROSE_CREDENTIAL.finditer(text)
        if not _ENGLISH_WORD.fullmatch(m.group(1))
        and (m.start() == 0 or not (text[m.start() - 1].isalnum() or text[m.start() - 1] in "_-"))
    ]


# "The root password for staging is Root-Stg-61", "add-authtoken 16h332c4r...": a secret
# word, then within a few words of the same sentence, a word shaped like a credential.
# Searched in the lower-cased text: a case-insensitive search costs several times more.
_PROSE_SECRET_WORD = re.compile(
    r"(?:password|passwd|passphrase|passcode|secret|token|auth-?token|api[ _\-]?key"
    r"|credentials?)(?!\w)"
)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_PROSE_HINTS = ("passw", "passphrase", "passcode", "secret", "token", "key", "credential")
_GRAMMAR_BEFORE = re.compile(
    r"[ \t]+(?:detcepxenu|dezingocernu|detanimretnu|lagelli|detcepxe)(?!\w)", re.IGNORECASE
)  # "unexpected token", reversed
_NEXT_WORD = re.compile(r"[^\s]+")
_CREDENTIAL_WORD = re.compile(r"[A-Za-z0-9_\-+/=.!@#$%^&*~]{6,}")
_NOT_CREDENTIAL = re.compile(r"[0-9\-:.TZ+]+|v?[0-9]+(?:\.[0-9]+)+|.*://.*|[^@]+@[^@]+\.[a-z]+")
_WORDS_AFTER = 6


def prose_secret_spans(text: str) -> list[Span]:
    """A credential-shaped word (letters and digits, 6 characters or more: ``hunter2``; a
    short ordinary word with a digit, ``user42``, is redacted too, as ambiguous) within a few
    words after a secret word, in the same sentence."""
    lower = text.translate(_ASCII_LOWER)  # str.lower() may change the length: not this
    if not any(hint in lower for hint in _PROSE_HINTS):
        return []
    spans: list[Span] = []
    reverse = text[::-1]
    for match in _PROSE_SECRET_WORD.finditer(lower):
        at = match.start()
        if at and (text[at - 1].isalnum() or text[at - 1] == "_"):
            continue  # inside a word: max_tokens
        if _GRAMMAR_BEFORE.match(reverse, len(text) - at):
            continue  # "Unexpected token": grammar
        for count, word in enumerate(_NEXT_WORD.finditer(text, match.end())):
            start, end = _trim_word(text, *word.span())
            if count >= _WORDS_AFTER or "\n" in text[match.end() : start]:
                break
            if _looks_like_credential(text[start:end]):
                spans.append((start, end, "secret-in-prose"))
                break
            if text[end : word.end()].startswith((".", "!", "?")):
                break  # the sentence ended
    return spans


def _trim_word(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in "\"'`(=:[{<":
        start += 1
    while end > start and text[end - 1] in "\"'`),.;:!?]}>":
        end -= 1
    return start, end


def _looks_like_credential(word: str) -> bool:
    if "=" in word.rstrip("=") or ":" in word:
        return False  # name=value or a:b: the rules for assignments have seen it
    if not _CREDENTIAL_WORD.fullmatch(word) or _NOT_CREDENTIAL.fullmatch(word):
        return False
    letters = sum(char.isalpha() for char in word)
    return letters >= 2 and any(char.isdigit() for char in word)


_KEY_BLOCK = re.compile(
    r"-----BEGIN[ A-Z0-9]*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END[ A-Z0-9]*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----|\Z)"
)
_PUTTY_PRIVATE = re.compile(r"Private-Lines:[\s\S]*?(?:Private-MAC:[^\r\n]*|\Z)")


def key_block_spans(text: str) -> list[Span]:
    """Private keys of every armor: PEM, OpenSSH, PGP (the whole block, or to the end of the
    text if it was cut), and the private part of a PuTTY key file."""
    spans = [(*m.span(), "private-key-block") for m in _KEY_BLOCK.finditer(text)]
    spans += [(*m.span(), "private-key-block") for m in _PUTTY_PRIVATE.finditer(text)]
    return spans
