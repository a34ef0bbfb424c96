"""Key material and password hashes that are not armored text: base64-encoded private keys
(Kubernetes secrets, environment variables) and crypt(3) hashes (htpasswd, /etc/shadow),
which give the password away to an offline guess."""

from __future__ import annotations

import base64

from betty_telemetry.redaction.formats._format import BASE64, TokenFormat, fake

_ARMORS = ("", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED ", "PGP ")
_BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _base64_prefix(text: str) -> str:
    """The base64 of ``text`` up to its last whole group: what every encoding of a text
    starting with ``text`` starts with."""
    encoded = base64.b64encode(text.encode()).decode()
    return encoded[: len(text) // 3 * 4]


_PEM_IN_BASE64 = tuple(
    _base64_prefix(f"-----BEGIN {armor}{kind}")
    for armor in _ARMORS
    for kind in ("PRIVATE KEY", "SECRET KEY")
)

FORMATS = (
    TokenFormat(
        "private-key-base64",
        "PEM private key, base64-encoded (Kubernetes secrets, variables)",
        _PEM_IN_BASE64,
        r"(?:" + "|".join(_PEM_IN_BASE64) + r")[A-Za-z0-9+/=]*",
        base64.b64encode(
            b"-----BEGIN EC PRIVATE KEY-----\n" + fake(BASE64, 64, "pem-b64").encode()
        ).decode(),
    ),
    TokenFormat(
        "password-hash",
        "bcrypt, argon2 and SHA-crypt password hashes",
        ("2a$", "2b$", "2y$", "argon2", "6$", "5$"),
        r"\$(?:2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}|argon2(?:id|i|d)\$v=[0-9]+\$[^\s$]+\$[A-Za-z0-9+/]+"
        r"\$[A-Za-z0-9+/]+|[56]\$(?:rounds=[0-9]+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86})",
        "$2y$05$" + fake(_BCRYPT, 53, "bcrypt"),
        reach=1,
    ),
)
