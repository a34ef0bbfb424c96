"""``name = value`` in text: log lines, reprs, env and INI files, YAML, headers, JSON text.

The name is the identifier right before ``=``, ``:``, ``=>``, ``:=`` or ``==`` (quoted or not),
with the word before it for prose (``API Key: ...``, ``DB password = ...``); it is secret by
the same rules as a dict key. Where its value ends is ``values.value_extent``'s business, but
for two kinds of header: ``Authorization`` keeps its scheme (``Bearer``, ``Basic``, ``SSWS``...)
and loses everything after it on the line; ``Cookie`` and ``Set-Cookie`` lose the value of
every cookie. Ambiguous cases are redacted.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from betty_telemetry.redaction.keys import words_of
from betty_telemetry.redaction.tokens import Span
from betty_telemetry.redaction.values import (
    WORD,
    closing_quote,
    is_placeholder,
    skip_blanks,
    value_extent,
)

NameRule = Callable[[str], "str | None"]
"""The rule that makes a name secret (``"key:password"``), or None."""

RULE = "secret-assignment"
_LONGEST_NAME = 64
_SEPARATOR = re.compile(r"==|=>|:=|[=:]")
# The name before a separator, matched backwards on the reversed text (anchored, so each
# separator costs one short match, not a search): blanks, a quote, the name, and in prose the
# word before it (``API Key:``).
_NAME_BEFORE = re.compile(
    r"[ \t]*[\"']?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-$@]*)(?:[ \t]+(?P<prev>[A-Za-z]+))?"
    r"(?![\w.\-$@])"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9_\-]*)[ \t]+(?=\S)")
AUTH_SCHEMES = frozenset(
    {
        "basic",
        "bearer",
        "token",
        "digest",
        "negotiate",
        "ntlm",
        "kerberos",
        "ssws",
        "hoba",
        "mutual",
        "dpop",
        "gnap",
        "mac",
        "oauth",
        "apikey",
        "api-key",
        "key",
        "jwt",
        "sharedkey",
        "sharedkeylite",
        "signature",
        "aws4-hmac-sha256",
        "goog4-hmac-sha256",
        "privatetoken",
        "vapid",
        "otp",
        "sso",
        "splunk",
        "klaviyo-api-key",
        "geniekey",
    }
)
_COOKIE_PAIR = re.compile(r"[^;]+")
_HEADER_REST = re.compile(r"[^\r\n`]*")  # a backtick ends a header quoted in Markdown
_AUTH_NAMES = frozenset({"authorization", "proxyauthorization"})
_COOKIE_NAMES = frozenset({"cookie", "setcookie", "cookies"})
_COOKIE_ATTRIBUTES = frozenset(
    {"path", "domain", "expires", "maxage", "samesite", "secure", "httponly", "partitioned"}
)
REDACTED_MARK = "***REDACTED***"


def assignment_spans(text: str, name_rule: NameRule) -> list[Span]:
    """The values of secret names assigned in ``text``."""
    spans: list[Span] = []
    done = 0
    reverse = text[::-1]
    size = len(text)
    for separator in _SEPARATOR.finditer(text):
        at = separator.start()
        before = _NAME_BEFORE.match(reverse, size - at) if at >= done else None
        if before is None:
            continue
        name_start = size - before.end()
        if separator.group() == ":" and name_start > 0 and text[name_start - 1] == ":":
            continue  # arn:aws:secretsmanager:...:secret:name: fields of one value
        name = before.group("name")[::-1]
        if len(name) > _LONGEST_NAME:
            continue  # not a name: a token or base64 ending in "=" padding
        prev = before.group("prev")
        rule = _rule_of(name_rule, prev[::-1] if prev else None, name)
        if rule is None:
            continue
        for start, end in _value_spans(text, separator.end(), name, separator.group()):
            spans.append((start, end, RULE))
            done = max(done, end)
    return spans


def _rule_of(name_rule: NameRule, prev: str | None, name: str) -> str | None:
    """The rule that makes ``name`` secret, read with the word before it in prose: ``API Key``
    and ``DB password`` are secret, ``Unexpected token`` and ``max token`` are not, and a
    secret word before a plain name (``pass https:``) does not make the name secret."""
    rule = name_rule(name)
    if prev is None:
        return rule
    if rule is not None or name_rule(prev) is None:
        return name_rule(f"{prev} {name}")
    return None


def _value_spans(text: str, at: int, name: str, separator: str) -> list[tuple[int, int]]:
    start = skip_blanks(text, at)
    if start >= len(text) or text[start] in "\r\n" or text.startswith(REDACTED_MARK, start):
        return []
    kind = "".join(words_of(name)[-2:])
    if kind.endswith(tuple(_AUTH_NAMES)):
        return _after_scheme(text, start, separator)
    if kind.endswith(tuple(_COOKIE_NAMES)):
        return cookie_values(text, start)
    span = value_extent(text, start, separator)
    return [] if span is None else [span]


def _after_scheme(text: str, start: int, separator: str) -> list[tuple[int, int]]:
    """An Authorization value: a known scheme (``Bearer``, ``Basic``, ``SSWS``...) stays, the
    credentials after it go, to the end of the line or the closing quote. Without a known
    scheme, a header line (``Authorization: ...``) loses all of it, ``authorization=x`` its
    value."""
    begin, end = _quoted_or_line(text, start)
    scheme = _SCHEME.match(text, begin, end)
    if scheme is not None and scheme.group(1).lower() in AUTH_SCHEMES:
        cut = scheme.end()
        if is_placeholder(text, cut, end):
            return []  # "Authorization: Bearer <token>" in documentation
    elif begin > start or separator == ":":
        cut = begin
    else:
        span = value_extent(text, start, separator)
        return [] if span is None else [span]
    while end > cut and text[end - 1] in " \t,;":
        end -= 1
    return [(cut, end)] if end > cut else []


def cookie_values(text: str, start: int) -> list[tuple[int, int]]:
    """A Cookie or Set-Cookie value: the value of every cookie goes, names stay."""
    word = WORD.match(text, start)
    if text[start] not in "\"'" and word is not None and "=" not in word.group():
        span = value_extent(text, start)  # a bare value (Set-Cookie=abc), not a cookie list
        return [] if span is None else [span]
    begin, end = _quoted_or_line(text, start)
    spans: list[tuple[int, int]] = []
    for pair in _COOKIE_PAIR.finditer(text, begin, end):
        name, equals, _ = pair.group().partition("=")
        if "".join(words_of(name)) in _COOKIE_ATTRIBUTES or not name.strip():
            continue
        value_start = pair.start() + (len(name) + 1 if equals else 0)
        if pair.end() > value_start:
            spans.append((value_start, pair.end()))
    return spans


def _quoted_or_line(text: str, start: int) -> tuple[int, int]:
    """The inside of the quoted string at ``start``, or the rest of the line."""
    if text[start] in "\"'":
        return start + 1, closing_quote(text, start)
    rest = _HEADER_REST.match(text, start)
    return start, rest.end() if rest is not None else len(text)
