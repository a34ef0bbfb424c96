"""Credentials on command lines, in strings and in argv lists: the values of secret flags
(``--password x``, ``--api-key=y``), ``-pSECRET`` (mysql), ``-u user:pass`` (curl), the cookies
of ``curl -b``, and the commands that take a password by position or short flag
(``sshpass -p``, ``redis-cli -a``, ``htpasswd -b``)."""

from __future__ import annotations

import re

from betty_telemetry.redaction.assignments import NameRule, cookie_values
from betty_telemetry.redaction.tokens import Span
from betty_telemetry.redaction.values import value_extent

# --long-flag, -x, -lowercaseword; not -pS3cret (a value attached to -p).
_FLAG = re.compile(
    r"(--[A-Za-z][\w\-]*|-[A-Za-z](?=[=\s])|-[a-z][a-z\-]+(?=[=\s]))(?:=|[ \t]+)(?=[^\s\-])"
)
_ARGV_FLAG = re.compile(r"--?[A-Za-z][\w\-]*")
_USER_FLAGS = frozenset({"-u", "--user", "--proxy-user", "--basic-auth"})
_COOKIE_FLAGS = frozenset({"-b", "--cookie"})
_ATTACHED_PASSWORD = re.compile(r"-p(?=[^\s\-])(\S+)")
_PORTS = re.compile(r"[0-9]{1,5}(?::[0-9]{1,5})*(?:/(?:tcp|udp))?")
# Commands whose password is a short flag or a position: sshpass -p X, redis-cli -a X,
# htpasswd -b FILE USER X.
_COMMAND_PASSWORDS = (
    ("sshpass", re.compile(r"sshpass\s+(?:-[a-zA-Z]\S*\s+)*-p[ \t]*(\S+)")),
    ("redis-cli", re.compile(r"redis-cli\b[^\n|;&]*?\s-a[ \t]+(\S+)")),
    (
        "htpasswd",
        re.compile(r"htpasswd\s+(?:-[a-zA-Z]*b[a-zA-Z]*\s+)(?:-[a-zA-Z]+\s+)*\S+\s+\S+\s+(\S+)"),
    ),
)
_UID_GID = re.compile(r"[0-9]+:[0-9]+")


def flag_spans(text: str, name_rule: NameRule) -> list[Span]:
    """Values of secret command-line flags: ``--password x``, ``--api-key=y``,
    ``-pSECRET`` (mysql), ``-u user:pass`` (curl), ``sshpass -p x``."""
    spans: list[Span] = []
    for match in _FLAG.finditer(text):
        if not _starts_word(text, match.start()):
            continue
        flag = match.group(1)
        start = match.end()
        if flag in _USER_FLAGS:
            spans += _user_password(text, start)
        elif flag in _COOKIE_FLAGS:
            spans += _cookie_flag(text, start)
        elif not flag.startswith("--no-") and name_rule(flag) is not None:
            extent = value_extent(text, start)
            if extent is not None:
                spans.append((*extent, "command-line-flag"))
    for match in _ATTACHED_PASSWORD.finditer(text):
        if _starts_word(text, match.start()) and not _PORTS.fullmatch(match.group(1)):
            spans.append((*match.span(1), "command-line-flag"))
    for command, regex in _COMMAND_PASSWORDS:
        if command in text:
            spans += [(*m.span(1), "command-line-flag") for m in regex.finditer(text)]
    return spans


def _starts_word(text: str, at: int) -> bool:
    return at == 0 or text[at - 1].isspace()


def _cookie_flag(text: str, start: int) -> list[Span]:
    """``curl -b 'a=1; b=2'``: the value of every cookie (not a cookie file's name)."""
    return [
        (*span, "cookie") for span in cookie_values(text, start) if "=" in text[start : span[0]]
    ]


def _user_password(text: str, start: int) -> list[Span]:
    """``-u user:password``: the part after the first colon (not a ``uid:gid``)."""
    quoted = text[start] in "\"'"
    begin = start + 1 if quoted else start
    end = text.find(text[start], begin) if quoted else len(text)
    if end < 0:
        end = len(text)
    word = re.match(r"\S+", text[begin:end]) if not quoted else None
    if word is not None:
        end = begin + word.end()
    colon = text.find(":", begin, end)
    if colon < 0 or _UID_GID.fullmatch(text, begin, end) or colon + 1 >= end:
        return []
    return [(colon + 1, end, "command-line-flag")]


def argv_secret_positions(argv: list[str], name_rule: NameRule) -> dict[int, str]:
    """In an argv list, the indexes of credentials: the argument after a secret flag
    (``["--password", "x"]``), after ``-p`` of sshpass, and the password of ``-u user:pass``;
    each with the part to redact (``"all"`` or ``"after-colon"``). Flags with their value
    attached (``--password=x``, ``-pX``) are single strings, redacted as text."""
    found: dict[int, str] = {}
    sshpass = any(arg.rsplit("/", 1)[-1] == "sshpass" for arg in argv)
    for index, flag in enumerate(argv[:-1]):
        if not _ARGV_FLAG.fullmatch(flag) or argv[index + 1].startswith("-"):
            continue
        if flag in _USER_FLAGS:
            found[index + 1] = "after-colon"
        elif (flag == "-p" and sshpass) or name_rule(flag) is not None:
            found[index + 1] = "all"
    return found
