"""Credentials in URLs: passwords (``scheme://user:PASSWORD@host``, and ``user:PASSWORD@host``
without a scheme), user names long enough to be tokens, and query parameters that carry
credentials (``?sig=``, ``&access_token=``), in URLs and form bodies."""

from __future__ import annotations

import re

from betty_telemetry.redaction.assignments import NameRule
from betty_telemetry.redaction.tokens import Span

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
    if colon >= 0 and any(char in text[start:colon] for char in "/?#"):
        return []  # no user name holds these: the @ is further on (in a query, a path)
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
