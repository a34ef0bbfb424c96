"""How much work converting one value may cost, and how much of it is kept.

Telemetry must cost the host a bounded amount whatever it is given: a 10-million-item list,
a 10,000-level nesting, a 50 MB string or a ``repr`` of a live object are stored as bounded
summaries, in milliseconds, with markers saying what was left out.
"""

from __future__ import annotations

MAX_STRING_CHARS = 4096
"""Longer strings are cut (after redaction), with a marker giving their length and a hash."""

MAX_REPR_CHARS = 1024
"""A ``repr`` of an arbitrary object, and the text of ``bytes``, are cut to this."""

MAX_KEY_CHARS = 1024
"""A dict key longer than this is cut (after redaction), with a marker giving its length."""

MAX_NAME_CHARS = 1024
"""``skill`` and ``caller`` are names: longer ones are cut."""

SCAN_MARGIN = 4096
"""Redaction looks this far past where a long text will be cut, so a credential that starts
before the cut is recognised whole (and a word that the cut splits is dropped whole)."""

MAX_CREDENTIAL_CHARS = 2048
"""No credential of the catalogue is longer without a break: a longer word is not one."""

MAX_JSON_INSIDE_CHARS = 1 << 20
"""A string that is a JSON document up to this long is parsed whole, to redact its keys."""

MAX_JSON_ATTEMPTS = 8
"""How many places inside one string may be tried as the start of embedded JSON."""

MAX_DEPTH = 64
"""Containers nested deeper are replaced by a marker."""

MAX_ITEMS = 1000
"""Items kept per container; a marker says how many more there were."""

MAX_NODES = 10_000
"""Values converted per entry, all containers together; beyond, markers stand in."""

MAX_REPORTED = 100
"""Redactions listed one by one in ``metadata["redactions"]``; beyond, one line counts them."""
