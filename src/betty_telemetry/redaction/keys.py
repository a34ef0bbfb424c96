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

# Words that make a name secret on their own.
SECRET_WORDS = frozenset(
    {
        # passwords and passphrases
        "password",
        "passwd",
        "pwd",
        "pswd",
        "pw",
        "pass",
        "passphrase",
        "passcode",
        "pin",
        "psk",
        # tokens, keys and sessions
        "secret",
        "secrets",
        "token",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "creds",
        "session",
        "sessionid",
        "cookie",
        "cookies",
        "csrf",
        "xsrf",
        "jwt",
        "bearer",
        "otp",
        "totp",
        "mfa",
        "signature",
        "sig",
        "private",
        "privkey",
        "mnemonic",
        # payment cards and identity numbers
        "ssn",
        "cvv",
        "cvv2",
        "cvc",
        # two words spelled as one (also matched when written as two: api_key, api-key)
        "apikey",
        "privatekey",
        "accesskey",
        "secretkey",
        "clientsecret",
        "authtoken",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authkey",
        "appsecret",
        "accountkey",
        "subscriptionkey",
        "functionkey",
        "functionskey",
        "masterkey",
        "signingkey",
        "encryptionkey",
        "sharedkey",
        "hostkey",
        "licensekey",
        "creditcard",
        "cardnumber",
        "ccnumber",
    }
)

# One word made of a secret word and more (githubtoken, passwordhash, mysecret): ends or
# starts with one of these.
_SECRET_SUFFIXES = (
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "privatekey",
    "sessionid",
    "accesskey",
    "secretkey",
    "sessid",
)
_SECRET_PREFIXES = ("password", "passwd", "secret", "apikey", "credential", "privatekey")
# English words that merely start like a secret word.
_PLAIN_WORDS = frozenset(
    {
        "secretary",
        "secretaries",
        "secretariat",
        "secretion",
        "secretions",
        "secreted",
        "secretive",
        "secretly",
        "passwordless",
        "secretsmanager",
        "secretmanager",
    }
)

# Words after a secret word that make the name a measurement or a reference to the secret,
# not the secret itself (token_count, password_min_length, secret_name, token_url).
MEASURE_WORDS = frozenset(
    {
        "count",
        "counts",
        "usage",
        "used",
        "limit",
        "limits",
        "length",
        "len",
        "min",
        "max",
        "size",
        "total",
        "budget",
        "remaining",
        "rate",
        "ratio",
        "cost",
        "price",
        "estimate",
        "window",
        "index",
        "offset",
        "position",
        "type",
        "types",
        "kind",
        "name",
        "names",
        "ref",
        "refs",
        "reference",
        "file",
        "files",
        "path",
        "dir",
        "env",
        "var",
        "field",
        "url",
        "uri",
        "endpoint",
        "expiry",
        "expires",
        "expiration",
        "expired",
        "ttl",
        "lifetime",
        "timeout",
        "age",
        "policy",
        "rotation",
        "version",
        "required",
        "enabled",
        "disabled",
        "mode",
        "method",
        "algorithm",
        "alg",
        "format",
        "strength",
        "provider",
        "store",
        "manager",
        "backend",
        "stdin",
        "prompt",
        "changed",
        "updated",
        "created",
        "reset",
        "hint",
        "domain",
        "ip",
        "ips",
        "address",
        "subnet",
        "network",
        "host",
        "dns",
        "zone",
        "repo",
        "repository",
        "registry",
        "channel",
        "bucket",
        "link",
    }
)
# Words before a secret word that make the name a measurement (max_token_budget, num_tokens).
_MEASURE_BEFORE = frozenset({"max", "min", "num", "total", "count"})
# "id" names an identifier only after these: session_id, token_id, key_id (Vault's secret_id
# and a password_id stay secret).
_ID_OF = frozenset({"session", "token", "run"})
# A name that ends in "key" is secret (APP_KEY, FERNET_KEY, DD-APPLICATION-KEY, tls.key)
# unless the word before says what kind of non-secret key it is.
_PLAIN_KEY_KINDS = frozenset(
    {
        "public",
        "pub",
        "cache",
        "sort",
        "partition",
        "primary",
        "foreign",
        "unique",
        "composite",
        "range",
        "hash",
        "row",
        "index",
        "lookup",
        "object",
        "s3",
        "bucket",
        "blob",
        "file",
        "storage",
        "dedup",
        "dedupe",
        "idempotency",
        "routing",
        "group",
        "shard",
        "map",
        "dict",
        "redis",
        "kms",
        "sign",
        "translation",
        "i18n",
        "label",
        "message",
        "metric",
        "config",
        "setting",
        "registry",
        "hot",
        "short",
        "cut",
        "react",
        "sha",
        "md5",
    }
)
# Parsers say "Unexpected token: 'EOF'": a token of the grammar, not a credential.
_GRAMMAR_BEFORE = frozenset({"unexpected", "unrecognized", "unterminated", "illegal", "expected"})

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
    if len(words) >= 2 and words[-1] in ("key", "keys") and words[-2] not in _PLAIN_KEY_KINDS:
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
    if word in _PLAIN_WORDS:
        return None
    if word.endswith(_SECRET_SUFFIXES) or word.startswith(_SECRET_PREFIXES):
        return word
    return None


def _measures(words: list[str], index: int, found: str) -> bool:
    """Whether the words around the secret word at ``index`` make the name a measurement or
    a reference (``token_count``, ``max_token_budget``, ``session_id``)."""
    if index and words[index - 1] in _MEASURE_BEFORE:
        return True
    if index and words[index - 1] in _GRAMMAR_BEFORE and found == "token":
        return True
    after = words[index + 1 + (found != words[index]) :]
    for position, word in enumerate(after):
        if word in MEASURE_WORDS:
            return True
        if word in ("id", "ids"):
            owner = after[position - 1] if position else words[index + (found != words[index])]
            if owner in _ID_OF:
                return True
    return False


__all__ = ["MEASURE_WORDS", "SECRET_WORDS", "secret_word_in", "words_of"]
