"""``name = value`` in text: log lines, reprs, env and INI files, YAML, headers, JSON text.

The name is the identifier right before ``=``, ``:``, ``=>``, ``:=`` or ``==`` (quoted or not),
with the word before it for prose (``API Key: ...``, ``DB password = ...``); it is secret by
the same rules as a dict key. Where the value ends is the hard part:

- a quoted value ends at its closing quote, spaces and all (``login(password='a b c')``);
- a value that opens a bracket ends where the bracket closes (``"credentials": {...}``);
- a YAML block (``key: |``) runs over the lines indented below the key;
- otherwise the value is one word (``password=hunter2 failed`` keeps ``failed``), unless that
  word is a short lower-case word: then it is taken as the first word of a passphrase and the
  value runs to the end of the line (``password = correct horse battery staple``), or to the
  next ``name=`` on the line, a ``;`` or a ``&``.
- ``Authorization`` keeps its scheme (``Bearer``, ``Basic``, ``SSWS``...) and loses everything
  after it on the line; ``Cookie`` and ``Set-Cookie`` lose the value of every cookie.

A value that only says there is no credential (``password: required``, ``token: missing``) is
kept. Ambiguous cases are redacted.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from betty_telemetry.redaction.keys import words_of

Span = tuple[int, int, str]

NameRule = Callable[[str], "str | None"]
"""The rule that makes a name secret (``"key:password"``), or None."""

RULE = "secret-assignment"
_SEPARATOR = re.compile(r"==|=>|:=|[=:]")
# The name before a separator, matched backwards on the reversed text (anchored, so each
# separator costs one short match, not a search): blanks, a quote, the name, and in prose the
# word before it (``API Key:``).
_NAME_BEFORE = re.compile(
    r"[ \t]*[\"']?(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-$@]*)(?:[ \t]+(?P<prev>[A-Za-z]+))?"
    r"(?![\w.\-$@])"
)
# One word of an unquoted value: up to white space, a quote, or a separator between fields.
_WORD = re.compile(r"[^\s\"'`;&<>]+")
_PLAIN_WORD = re.compile(r"[a-z]{1,10}")
_LINE_REST = re.compile(r"[^\r\n\"`;&<>]*")
_NEXT_FIELD = re.compile(r",?[ \t]+[A-Za-z_][\w.\-]*[ \t]*[=:]")
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
# A reference to a value, not the value: $1, ?, %s, ${DB_PASSWORD}, {{ secret }}, <token>.
_PLACEHOLDER = re.compile(
    r"\$[0-9]+|\?|%s|%\(\w+\)s|:\w+"  # SQL and format parameters
    r"|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|<[\w\- ]+>"  # variables, templates
    r"|\*+|\.\.\.|x{3,}"  # already masked
)
_CLOSERS = {")": "(", "]": "[", "}": "{"}
# The whole value says a credential is absent or wrong, not what it is.
NON_VALUES = frozenset(
    {
        "none",
        "null",
        "nil",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "n/a",
        "na",
        "empty",
        "required",
        "missing",
        "invalid",
        "incorrect",
        "expired",
        "revoked",
        "failed",
        "wrong",
        "ok",
        "set",
        "unset",
        "provided",
        "redacted",
        "masked",
        "hidden",
        "is",
        "was",
        "not",
        "must",
        "should",
        "cannot",
        "***",
        "********",
    }
)
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
    start = _skip_blanks(text, at)
    if start >= len(text) or text[start] in "\r\n" or text.startswith(REDACTED_MARK, start):
        return []
    kind = "".join(words_of(name)[-2:])
    if kind.endswith(tuple(_AUTH_NAMES)):
        return _after_scheme(text, start, separator)
    if kind.endswith(tuple(_COOKIE_NAMES)):
        return cookie_values(text, start)
    span = value_extent(text, start, separator)
    return [] if span is None else [span]


def value_extent(text: str, start: int, separator: str = "=") -> tuple[int, int] | None:
    """Where the value starting at ``start`` ends (see the module's docstring); None when
    there is no credential to hide."""
    opener = text[start]
    if opener in "\"'":
        end = _closing_quote(text, start)
        return (start + 1, end) if end > start + 1 else None
    if opener in "{[(":
        return start, _closing_bracket(text, start)
    if (
        opener in "|>"
        and separator == ":"
        and not text[start + 1 : _line_end(text, start)].strip("-+ \t")
    ):
        return _yaml_block(text, start)
    word = _WORD.match(text, start)
    if word is None:
        return None
    end = _trim(text, start, word.end())
    if (
        end <= start
        or text[start:end].lower() in NON_VALUES
        or _PLACEHOLDER.fullmatch(text, start, end)
    ):
        return None
    if _PLAIN_WORD.fullmatch(text, start, end):
        end = _passphrase_end(text, start)
    return start, end


def _skip_blanks(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t":
        at += 1
    return at


def _line_end(text: str, start: int) -> int:
    ends = [at for at in (text.find("\n", start), text.find("\r", start)) if at >= 0]
    return min(ends) if ends else len(text)


def _closing_quote(text: str, start: int) -> int:
    """Offset of the quote that closes the one at ``start`` (backslash escapes honoured), or
    the end of the line when it is never closed."""
    quote = text[start]
    at = start + 1
    line_end = _line_end(text, start)
    while at < line_end:
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == quote:
            return at
        at += 1
    return line_end


def _closing_bracket(text: str, start: int) -> int:
    """Offset just after the bracket that closes the one at ``start`` (strings skipped), or
    the end of the text."""
    depth = 0
    at = start
    while at < len(text):
        char = text[at]
        if char in "\"'":
            at = _closing_quote(text, at) + 1
            continue
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0:
                return at + 1
        at += 1
    return len(text)


def _yaml_block(text: str, start: int) -> tuple[int, int] | None:
    """The indented lines of a YAML block scalar (``key: |``) after ``start``."""
    line_start = text.rfind("\n", 0, start) + 1
    indent = len(text[line_start:start]) - len(text[line_start:start].lstrip(" "))
    at = _line_end(text, start)
    end = at
    while at < len(text):
        next_start = (
            at + 1 if text[at] == "\n" else at + 2 if text.startswith("\r\n", at) else at + 1
        )
        line_end = _line_end(text, next_start)
        line = text[next_start:line_end]
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        end = line_end
        at = line_end
        if at >= len(text):
            break
    return (start + 1, end) if end > start + 1 else None


def _trim(text: str, start: int, end: int) -> int:
    """Drop what ends a word without being part of it: a closing bracket the value did not
    open, a trailing comma or full stop."""
    while end - 1 > start and (text[end - 1] in ",." or _unopened(text, start, end)):
        end -= 1
    return end


def _unopened(text: str, start: int, end: int) -> bool:
    """Whether the last character of ``text[start:end]`` closes a bracket opened before it."""
    opener = _CLOSERS.get(text[end - 1])
    return opener is not None and text.count(opener, start, end) < text.count(
        text[end - 1], start, end
    )


def _passphrase_end(text: str, start: int) -> int:
    """The end of a value that may hold spaces: the end of the line, or the next field."""
    rest = _LINE_REST.match(text, start)
    end = rest.end() if rest is not None else len(text)
    next_field = _NEXT_FIELD.search(text, start, end)
    if next_field is not None:
        end = next_field.start()
    end = _trim(text, start, end)
    while end > start and text[end - 1] in " \t":
        end -= 1
    return end


def _after_scheme(text: str, start: int, separator: str) -> list[tuple[int, int]]:
    """An Authorization value: a known scheme (``Bearer``, ``Basic``, ``SSWS``...) stays, the
    credentials after it go, to the end of the line or the closing quote. Without a known
    scheme, a header line (``Authorization: ...``) loses all of it, ``authorization=x`` its
    value."""
    begin, end = _quoted_or_line(text, start)
    scheme = _SCHEME.match(text, begin, end)
    if scheme is not None and scheme.group(1).lower() in AUTH_SCHEMES:
        cut = scheme.end()
        if _PLACEHOLDER.fullmatch(text.strip(), cut, end) or _PLACEHOLDER.fullmatch(text, cut, end):
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
    word = _WORD.match(text, start)
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
        return start + 1, _closing_quote(text, start)
    rest = _HEADER_REST.match(text, start)
    return start, rest.end() if rest is not None else len(text)
