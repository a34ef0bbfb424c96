"""Every built-in text rule over one text: where the secrets are, and the text without them.

The rules run only where their trigger is in the text (a ``://`` for URLs, a ``<`` for XML...),
and each returns spans; overlapping spans are merged and each is replaced once by the marker,
so a credential found by two rules (a token inside an ``Authorization`` header) is one marker.
"""

from __future__ import annotations

from collections.abc import Iterable

from betty_telemetry.redaction.assignments import NameRule, assignment_spans
from betty_telemetry.redaction.cards import card_spans
from betty_telemetry.redaction.commands import flag_spans
from betty_telemetry.redaction.contexts import (
    key_block_spans,
    netrc_spans,
    prose_credential_spans,
    prose_secret_spans,
    xml_spans,
)
from betty_telemetry.redaction.formats import TokenFormat
from betty_telemetry.redaction.tokens import Span, TokenIndex
from betty_telemetry.redaction.triggers import REDACTED
from betty_telemetry.redaction.urls import netloc_spans, query_param_spans, url_credential_spans


class TextScanner:
    """The built-in text rules, with the catalogue's formats and a test for secret names."""

    def __init__(self, formats: Iterable[TokenFormat], name_rule: NameRule) -> None:
        self._tokens = TokenIndex(formats)
        self._name_rule = name_rule

    def spans(self, text: str) -> list[Span]:
        """Where the secrets in ``text`` are, by every rule whose trigger it holds."""
        name_rule = self._name_rule
        spans = self._tokens.find(text)
        has_equals, has_colon = "=" in text, ":" in text
        if has_equals or has_colon:
            spans += assignment_spans(text, name_rule)
        if has_colon or "assw" in text:
            spans += netrc_spans(text)
        if "://" in text:
            spans += url_credential_spans(text)
        if "@" in text and has_colon:
            spans += netloc_spans(text)
        if has_equals and ("?" in text or "&" in text or ";" in text or "#" in text):
            spans += query_param_spans(text, name_rule)
        if "-" in text:
            spans += flag_spans(text, name_rule)
        if "-----BEGIN" in text or "Private-Lines" in text:
            spans += key_block_spans(text)
        if "<" in text:
            spans += xml_spans(text, name_rule)
        if "earer" in text or "EARER" in text or "asic" in text or "ASIC" in text:
            spans += prose_credential_spans(text)
        spans += prose_secret_spans(text)
        spans += [(start, end, "card-number") for start, end in card_spans(text)]
        return spans

    def redact(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every secret replaced by the marker, and the rules that found them."""
        spans = self.spans(text)
        if not spans:
            return text, []
        return replace_spans(text, spans)


# Rules that catch what more precise rules may have caught: named only when no other did.
_FALLBACK_RULES = frozenset({"secret-in-prose", "secret-assignment"})


def replace_spans(text: str, spans: list[Span]) -> tuple[str, list[str]]:
    """``text`` with each (merged) span replaced by the marker; the rules, in order found.

    Where spans overlap, the one that starts first names the redaction (the most precise
    rule, at a tie: a token's format before the assignment or sentence it sits in)."""
    spans.sort(key=lambda span: (span[0], span[2] in _FALLBACK_RULES, -span[1]))
    pieces: list[str] = []
    rules: dict[str, None] = {}
    done = 0
    region_start, region_end = -1, -1
    for start, end, rule in spans:
        if end <= start:
            continue
        if start <= region_end:  # overlaps or touches the region being built: extend it
            region_end = max(region_end, end)
            continue
        rules[rule] = None
        if region_end > region_start >= 0:
            pieces += (text[done:region_start], REDACTED)
            done = region_end
        region_start, region_end = start, end
    if region_end > region_start >= 0:
        pieces += (text[done:region_start], REDACTED)
        done = region_end
    return "".join(pieces) + text[done:], list(rules)
