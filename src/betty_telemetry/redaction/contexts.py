"""Credentials found by where they stand: in URLs, on command lines, in ``.netrc`` and
``.pgpass`` lines, in XML elements, after ``Bearer`` in prose, and in private key blocks.

Each function returns the spans to replace in a text; they run only on text that holds their
trigger (``://``, a dash, ``<``...), see ``TextScanner``.
"""

from __future__ import annotations

import re
import string

from betty_telemetry.redaction.assignments import NameRule, cookie_values, value_extent

Span = tuple[int, int, str]

# -- URLs --------------------------------------------------------------------------------------

_URL_END = re.compile(r"[\s\"'`<>]")
_SCHEME_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
_PORT_AND_PATH = re.compile(r"[0-9]{1,5}(?:/|\Z)")
# Query parameters that carry credentials although no secret word names them.
URL_SECRET_PARAMS = frozenset({"sig", "key", "code", "st", "hmac", "apikey", "appid", "auth"})
_QUERY_PARAM = re.compile(r"[?&;#]([A-Za-z0-9_.\-\[\]]+)=([^&#;\s\"'`<>]+)")


def url_credential_spans(text: str) -> list[Span]:
    """Passwords in URLs (``scheme://user:PASSWORD@host``), whatever characters they hold,
    and user names long enough to be tokens (``https://TOKEN@host``)."""
    spans: list[Span] = []
    at = text.find("://")
    while at >= 0:
        if _SCHEME_BEFORE.search(text, max(0, at - 32), at):
            spans += _userinfo_spans(text, at + 3)
        at = text.find("://", at + 3)
    return spans


def _userinfo_spans(text: str, start: int) -> list[Span]:
    end_match = _URL_END.search(text, start)
    end = end_match.start() if end_match is not None else len(text)
    at_sign = text.rfind("@", start, end)
    if at_sign < 0:
        return []
    colon = text.find(":", start, at_sign)
    if colon < 0:
        # A user name alone: a token used as one (a Sentry DSN's key, a git token); with a
        # slash in it, the @ is in the path (a Teams webhook), not after a user name.
        user = text[start:at_sign]
        return [(start, at_sign, "url-credentials")] if len(user) >= 16 and "/" not in user else []
    if _PORT_AND_PATH.match(text, colon + 1, at_sign):
        return []  # host:8080/path/@user: no user info, an @ in the path
    return [(colon + 1, at_sign, "url-password")] if at_sign > colon + 1 else []


# user:password@host with no scheme (a URL's netloc, a urlsplit() result, an rsync target).
# Found from the colon (a literal the regex engine finds fast), the user checked backwards.
_NETLOC = re.compile(
    r":(?P<secret>[^\s:@/\"'`<>]+)@"
    r"(?=[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*(?::[0-9]{1,5})?(?:[/\s\"'`]|\Z))"
)
_USER_BEFORE = re.compile(r"[\w.\-]+(?![\w/:@.\-])")


def netloc_spans(text: str) -> list[Span]:
    """The password of ``user:password@host`` written without a scheme."""
    spans: list[Span] = []
    reverse = text[::-1]
    for match in _NETLOC.finditer(text):
        if _USER_BEFORE.match(reverse, len(text) - match.start()):
            spans.append((*match.span("secret"), "url-password"))
    return spans


def query_param_spans(text: str, name_rule: NameRule) -> list[Span]:
    """Values of query parameters that carry credentials (``?sig=``, ``&access_token=``,
    ``&key=``), in URLs and form bodies."""
    spans: list[Span] = []
    for match in _QUERY_PARAM.finditer(text):
        name = match.group(1)
        if name.lower() in URL_SECRET_PARAMS or name_rule(name) is not None:
            spans.append((match.start(2), match.end(2), "url-query-credential"))
    return spans


# -- command lines -----------------------------------------------------------------------------

# --long-flag, -x, -lowercaseword; not -pS3cret (a value attached to -p).
_FLAG = re.compile(
    r"(--[A-Za-z][\w\-]*|-[A-Za-z](?=[=\s])|-[a-z][a-z\-]+(?=[=\s]))(?:=|[ \t]+)(?=[^\s\-])"
)
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
        if not flag.startswith("-") or argv[index + 1].startswith("-"):
            continue
        if flag in _USER_FLAGS:
            found[index + 1] = "after-colon"
        elif (flag == "-p" and sshpass) or name_rule(flag) is not None:
            found[index + 1] = "all"
    return found


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
_CREDENTIAL_WORD = re.compile(r"[A-Za-z0-9_\-+/=.!@#$%^&*~]{8,}")
_NOT_CREDENTIAL = re.compile(r"[0-9\-:.TZ+]+|v?[0-9]+(?:\.[0-9]+)+|.*://.*|[^@]+@[^@]+\.[a-z]+")
_WORDS_AFTER = 6


def prose_secret_spans(text: str) -> list[Span]:
    """A credential-shaped word (letters and digits, 8 characters or more) within a few
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
