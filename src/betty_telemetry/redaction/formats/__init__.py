"""The catalogue of credential formats with a shape of their own, one table per field.

Each row is a ``TokenFormat``: its name (the rule reported in ``metadata["redactions"]``), its
provider, the literals that anchor it, its pattern, and a fake example. The rule table of
docs/redaction.md lists every row; ``tests/test_catalogue.py`` checks each example against
its own pattern.
Contextual rules (keys, assignments, headers, URLs, command lines, private key blocks, cards)
live beside this package, in ``betty_telemetry.redaction``.
"""

from __future__ import annotations

from betty_telemetry.redaction.formats import ai, cloud, code, crypto, messaging, payments, saas
from betty_telemetry.redaction.formats._format import TokenFormat, fake

CATALOGUE: tuple[TokenFormat, ...] = (
    *cloud.FORMATS,
    *payments.FORMATS,
    *messaging.FORMATS,
    *code.FORMATS,
    *ai.FORMATS,
    *saas.FORMATS,
    *crypto.FORMATS,
)

__all__ = ["CATALOGUE", "TokenFormat", "fake"]
