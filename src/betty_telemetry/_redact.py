"""Redaction rules: which keys hold secrets, and which values look like secrets.

Keys are matched by their words (``github_token``, ``apiKey``, ``X-Api-Key``, ``DB_PASSWORD``),
not by exact name and not by bare substring: ``max_tokens`` and ``author`` are not secrets.
Values are matched by the formats of well-known credentials wherever they appear, whatever
their key: inside longer strings, in reprs of live objects, in error messages.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

REDACTED = "***REDACTED***"
NO_KEYS: frozenset[str] = frozenset()
MAX_STRING_CHARS = 4096

# Words that make a key secret when they appear as a word of it (split on _ - . and case).
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "session",
        "sessionid",
        "cookie",
        "cookies",
        "csrf",
        "xsrf",
        "jwt",
        "bearer",
        "apikey",
        "privatekey",
        "accesskey",
        "secretkey",
        "clientsecret",
        "authtoken",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "",
    }
)
# Single words made of a secret word and more (githubtoken, passwordhash, mysecret).
_SECRET_SUFFIXES = ("token", "secret", "password", "passwd", "apikey", "privatekey", "sessionid")
_SECRET_PREFIXES = ("password", "passwd", "secret", "apikey", "credential", "privatekey")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def redaction_keys(names: object) -> frozenset[str]:
    """Normalise ``sanitize_keys`` (None or an iterable of names) for case-insensitive matching."""
    if names is None:
        return NO_KEYS
    if isinstance(names, str):
        # A lone string is almost always a mistake for a one-item list; honour the intent.
        return frozenset({names.lower()})
    return frozenset(str(name).lower() for name in names)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=4096)
def secret_word_in(key: str) -> str | None:
    """The secret word that makes ``key`` secret, or None."""
    words = [w for w in _WORD_SPLIT.split(_CAMEL.sub(r"\1_\2", key).lower()) if w]
    for index, word in enumerate(words):
        if word in _SECRET_WORDS:
            return word
        if index + 1 < len(words) and word + words[index + 1] in _SECRET_WORDS:
            return word + words[index + 1]  # api_key, private-key, client_secret
        if word.endswith(_SECRET_SUFFIXES) or word.startswith(_SECRET_PREFIXES):
            return word
    return None


# Value formats. Each pattern's group "secret" (or the whole match) is what gets replaced.
# Each starts with a literal where it can (the regex engine then scans fast), and comes with
# hints: literals one of which a matching text must contain, checked before the regex runs.
DEFAULT_VALUE_PATTERNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "private-key-block": (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*"
        r"PRIVATE KEY-----|[\s\S]*)",
        ("-----BEGIN",),
    ),
    "aws-access-key": (
        r"(?<![0-9A-Z])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[0-9A-Z]{16}"
        r"(?![0-9A-Z])",
        ("A",),
    ),
    "github-token": (
        r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{20,255})",
        ("gh", "github_pat_"),
    ),
    "anthropic-key": (r"(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_\-]{16,}", ("sk-",)),
    "openai-key": (r"(?<![A-Za-z0-9])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", ("sk-",)),
    "slack-token": (
        r"(?<![A-Za-z0-9])(?:xox[abposr]-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,})",
        ("xox", "xapp-"),
    ),
    "jwt": (
        r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        ("eyJ",),
    ),
    "bearer-token": (
        r"[Bb][Ee][Aa][Rr][Ee][Rr]\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)",
        ("earer", "EARER"),
    ),
    "url-password": (r"://[^\s:/?#@]*:(?P<secret>[^\s@/?#]+)@", ("://",)),
}

# "password=hunter2", "api_key: abc", "Client(token='...')", '"authorization": "..."': a key
# whose words make it secret (the same test as for dict keys), right before = or :.
_ASSIGNED_KEY = re.compile(r"([A-Za-z0-9_.\-]+)[\"']?\s*\Z")
# The value: a quoted string whole (spaces and all), or an HTTP auth scheme and its
# credentials ("Basic dXNl...", "Token 9f8e..."), or one bare word of 4 or more characters.
_ASSIGNED_VALUE = re.compile(
    r"\s*(?:\"(?!\*\*\*REDACTED)([^\"]+)\"|'(?!\*\*\*REDACTED)([^']+)'|"
    r"(?!\*\*\*REDACTED)((?i:basic|bearer|token|digest|negotiate)\s+[^\s\"',;)}\]]+|"
    r"[^\s\"',;)}\]]{4,}))"
)
_SEPARATOR = re.compile(r"[=:]")


def redact_assignments(text: str) -> str:
    """Replace the values of ``<secret word> = value`` and ``<secret word>: value``."""
    pieces: list[str] = []
    done = 0
    for separator in _SEPARATOR.finditer(text):
        at = separator.start()
        key = _ASSIGNED_KEY.search(text, max(done, at - 64), at)
        if at < done or key is None or secret_word_in(key.group(1)) is None:
            continue
        value = _ASSIGNED_VALUE.match(text, at + 1)
        if value is not None:
            group = next(g for g in (1, 2, 3) if value.group(g) is not None)
            pieces += (text[done : value.start(group)], REDACTED)
            done = value.end(group)
    return "".join(pieces) + text[done:] if pieces else text


@dataclass(frozen=True)
class ValuePattern:
    """A named value rule: a regex (its ``secret`` group, else the whole match, is replaced)
    or a function from text to redacted text."""

    name: str
    regex: re.Pattern[str] | None = None
    function: Callable[[str], str] | None = None
    hints: tuple[str, ...] = ()

    def apply(self, text: str) -> str:
        if self.function is not None:
            return self.function(text)
        assert self.regex is not None
        return self.regex.sub(_replace_secret, text)


def _replace_secret(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start()
        text = match.group(0)
        return text[: start - whole_start] + REDACTED + text[end - whole_start :]
    return REDACTED


@dataclass(frozen=True)
class RedactionRules:
    """What to redact. Immutable: changing the global rules swaps the object."""

    default_keys: bool = True
    extra_keys: frozenset[str] = frozenset()
    patterns: tuple[ValuePattern, ...] = ()
    _key_cache: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _plain_cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # One scan for every pattern's hints tells which patterns can match a text at all;
        # for almost every value the answer is none, and this runs on every string.
        hints = sorted({h for p in self.patterns for h in p.hints}, key=len, reverse=True)
        regex = re.compile("|".join(map(re.escape, hints))) if hints else None
        unhinted = tuple(p for p in self.patterns if not p.hints)
        object.__setattr__(self, "_hint_regex", regex)
        object.__setattr__(self, "_unhinted", unhinted)
        # Work needed: a hint anywhere, or JSON to look into. Patterns without hints (user
        # functions) make every text need work.
        needs = "|".join([r"\A[\[{]", *map(re.escape, hints)]) if not unhinted else ""
        object.__setattr__(self, "_needs_work", re.compile(needs).search if needs else None)

    def plain_text(self, text: str) -> bool:
        """True when ``text`` needs no work at all: no pattern can match, it is not JSON to
        look into, and it is short enough to keep whole."""
        known = self._plain_cache.get(text)
        if known is not None:
            return known
        needs_work = self._needs_work  # type: ignore[attr-defined]
        plain = needs_work is not None and len(text) <= MAX_STRING_CHARS and not needs_work(text)
        if len(text) <= _CACHED_TEXT_CHARS:
            # Values repeat (paths, names, formats): remember the answer, within a bound.
            if len(self._plain_cache) >= _CACHED_TEXTS:
                self._plain_cache.clear()
            self._plain_cache[text] = plain
        return plain

    def patterns_for(self, text: str) -> tuple[ValuePattern, ...]:
        """The patterns that may match ``text``: those without hints, or with a hint in it."""
        regex: re.Pattern[str] | None = self._hint_regex  # type: ignore[attr-defined]
        found = regex.findall(text) if regex is not None else None
        if not found:
            return self._unhinted  # type: ignore[attr-defined, no-any-return]
        hits = set(found)
        return tuple(p for p in self.patterns if not p.hints or not hits.isdisjoint(p.hints))

    def key_rule(self, key: str) -> str | None:
        """The rule that makes ``key`` secret (``"key:<word>"``), or None. Cached per key."""
        cached = self._key_cache.get(key, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        rule = self._match_key(key)
        if len(self._key_cache) > 4096:
            self._key_cache.clear()
        self._key_cache[key] = rule
        return rule

    def _match_key(self, key: str) -> str | None:
        if key.lower() in self.extra_keys:
            return "sanitize_keys"
        if self.default_keys:
            word = secret_word_in(key)
            if word is not None:
                return f"key:{word}"
        return None

    def with_keys(self, names: Iterable[str]) -> RedactionRules:
        extra = self.extra_keys | {name.lower() for name in names}
        return RedactionRules(self.default_keys, extra, self.patterns)

    def with_pattern(
        self,
        name: str,
        pattern: str | re.Pattern[str] | Callable[[str], str],
        hints: tuple[str, ...] = (),
    ) -> RedactionRules:
        if isinstance(pattern, str):
            rule = ValuePattern(name, regex=re.compile(pattern), hints=hints)
        elif isinstance(pattern, re.Pattern):
            rule = ValuePattern(name, regex=pattern, hints=hints)
        else:
            rule = ValuePattern(name, function=pattern, hints=hints)
        return RedactionRules(self.default_keys, self.extra_keys, (*self.patterns, rule))

    def without_defaults(self) -> RedactionRules:
        """Only the caller's own keys: the default keys and default value formats are off."""
        custom = tuple(p for p in self.patterns if p.name not in _DEFAULT_NAMES)
        return RedactionRules(False, self.extra_keys, custom)


_MISSING = object()
_CACHED_TEXTS = 8192
_CACHED_TEXT_CHARS = 256
_DEFAULT_NAMES = frozenset({*DEFAULT_VALUE_PATTERNS, "secret-assignment"})


def default_rules() -> RedactionRules:
    rules = RedactionRules()
    for name, (pattern, hints) in DEFAULT_VALUE_PATTERNS.items():
        rules = rules.with_pattern(name, pattern, hints)
    return rules.with_pattern("secret-assignment", redact_assignments, ("=", ":"))
