"""Redaction: finding secrets in keys, text and structure before anything reaches the disk.

- ``keys``: which names hold secrets (dict keys, ``name=value`` names, flags, headers, tags);
- ``formats``: the catalogue of credential formats with a shape of their own;
- ``tokens``: finding them in text at a cost that does not grow with the catalogue;
- ``assignments``, ``contexts``, ``cards``: credentials found by where they stand;
- ``scanner``: every text rule over one text; ``rules``: the rules in force;
- ``sanitize``, ``text_values``: the walk over a value, bounded by ``limits``.
"""

from __future__ import annotations

from betty_telemetry.redaction.rules import (
    NO_KEYS,
    NO_RULES,
    RedactionRules,
    default_rules,
    redaction_keys,
)
from betty_telemetry.redaction.sanitize import Sanitizer, clean_mapping_items, to_json_safe
from betty_telemetry.redaction.triggers import REDACTED

__all__ = [
    "NO_KEYS",
    "NO_RULES",
    "REDACTED",
    "RedactionRules",
    "Sanitizer",
    "clean_mapping_items",
    "default_rules",
    "redaction_keys",
    "to_json_safe",
]
