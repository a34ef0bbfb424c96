"""The marker a secret is replaced by, and the test that tells a text needs no rule at all.

Apart from the rules themselves (``scanner`` and what it runs, the catalogue of ``formats``),
so that a process that only meets plain values (a command line capture of ``plugin.build``
with a version number: a fresh process each time) never compiles the rules' expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from betty_telemetry.redaction.tokens import MIN_RUN, TOKEN_CHARS

REDACTED = "***REDACTED***"

# A text needs the rules only if it holds one of their triggers; most values hold none.
NEEDS_SCAN = (
    r"[=:<\[{]"  # assignments, headers, URLs, XML, JSON
    rf"|[A-Za-z0-9][{TOKEN_CHARS}]{{{MIN_RUN - 1}}}"  # a run long enough to be a token
    r"|[0-9](?:[ \-]?[0-9]){12}"  # a card number
    r"|(?:^|\s)-"  # command-line flags
    r"|-----BEGIN|Private-Lines"  # private key blocks
    r"|(?i:bearer|basic|password|passwd|passphrase|passcode|secret|token|key|credentials?)[ \t]"
)


def compile_needs_scan(extra_hints: Iterable[str]) -> re.Pattern[str]:
    """The trigger test for the built-in rules and the given literal hints of added rules."""
    hints = sorted(set(extra_hints), key=len, reverse=True)
    return re.compile("|".join([NEEDS_SCAN, *map(re.escape, hints)]))
