"""Redaction rules: which keys hold secrets, and which values look like secrets.

Keys are matched by their words (``github_token``, ``apiKey``, ``X-Api-Key``, ``DB_PASSWORD``),
not by exact name and not by bare substring: ``max_tokens`` and ``author`` are not secrets.
Values are matched by the formats of well-known credentials wherever they appear, whatever
their key: inside longer strings, in reprs of live objects, in error messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

REDACTED = "***REDACTED***"

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
DEFAULT_VALUE_PATTERNS: dict[str, str] = {
    "private-key-block": (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*"
        r"PRIVATE KEY-----|[\s\S]*)"
    ),
    "aws-access-key": r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[0-9A-Z]{16}\b",
    "github-token": r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{20,255})",
    "anthropic-key": r"\bsk-ant-[A-Za-z0-9_\-]{16,}",
    "openai-key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    "slack-token": r"\bxox[abposr]-[A-Za-z0-9\-]{10,}|\bxapp-[0-9]-[A-Za-z0-9\-]{10,}",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    "bearer-token": r"(?i:\bbearer)\s+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)",
    "url-password": r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/?#@]*:(?P<secret>[^\s@/?#]+)@",
    "secret-assignment": (
        r"(?i:\b[\w\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|auth|credential|"
        r"private[_\-]?key|session|cookie|csrf|jwt))\b[\"']?\s*[=:]\s*[\"']?"
        r"(?P<secret>(?!\*\*\*REDACTED)[^\s\"',;)}\]]{4,})"
    ),
}


@dataclass(frozen=True)
class ValuePattern:
    """A named value rule: a regex (its ``secret`` group, else the whole match, is replaced)
    or a function from text to redacted text."""

    name: str
    regex: re.Pattern[str] | None = None
    function: Callable[[str], str] | None = None

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

    def __post_init__(self) -> None:
        # One combined search tells, in one pass, whether a string needs the pattern-by-pattern
        # work: almost no value does, and this check runs on every string of every entry.
        plain = [p.regex.pattern for p in self.patterns if p.regex is not None and _combinable(p)]
        combined = "|".join(f"(?:{s.replace('(?P<secret>', '(?:')})" for s in plain)
        object.__setattr__(self, "_prefilter", re.compile(combined) if plain else None)
        object.__setattr__(self, "_always", any(not _combinable(p) for p in self.patterns))

    def needs_patterns(self, text: str) -> bool:
        """Whether some value pattern may match ``text`` (False is certain, True is not)."""
        if self._always:  # type: ignore[attr-defined]
            return True
        prefilter: re.Pattern[str] | None = self._prefilter  # type: ignore[attr-defined]
        return prefilter is not None and prefilter.search(text) is not None

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

    def with_keys(
        self, names: Iterable[str], *, default_keys: bool | None = None
    ) -> RedactionRules:
        return RedactionRules(
            self.default_keys if default_keys is None else default_keys,
            self.extra_keys | {name.lower() for name in names},
            self.patterns,
        )

    def with_pattern(
        self, name: str, pattern: str | re.Pattern[str] | Callable[[str], str]
    ) -> RedactionRules:
        if isinstance(pattern, str):
            rule = ValuePattern(name, regex=re.compile(pattern))
        elif isinstance(pattern, re.Pattern):
            rule = ValuePattern(name, regex=pattern)
        else:
            rule = ValuePattern(name, function=pattern)
        return RedactionRules(self.default_keys, self.extra_keys, (*self.patterns, rule))

    def without_defaults(self) -> RedactionRules:
        """Only the caller's own keys: the default keys and default value formats are off."""
        custom = tuple(p for p in self.patterns if p.name not in DEFAULT_VALUE_PATTERNS)
        return RedactionRules(False, self.extra_keys, custom)


_MISSING = object()


def _combinable(pattern: ValuePattern) -> bool:
    """Plain regexes (no flags of their own) can share the combined pre-check."""
    return pattern.regex is not None and not pattern.regex.flags & ~re.UNICODE


def default_rules() -> RedactionRules:
    rules = RedactionRules()
    for name, pattern in DEFAULT_VALUE_PATTERNS.items():
        rules = rules.with_pattern(name, pattern)
    return rules
