"""The catalogue of credential formats: every row's example is found by its own rule, through
a real capture, and the table is documented whole in docs/redaction.md.

Examples are fakes built by the catalogue itself (``formats.fake``); none is a real credential.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from betty_telemetry import REDACTED, TelemetryCapture
from betty_telemetry.redaction import RedactionRules
from betty_telemetry.redaction.formats import CATALOGUE, TokenFormat
from betty_telemetry.redaction.tokens import RUN, WORD_CHARS
from tests.conftest import REPO

IDS = [f.name for f in CATALOGUE]


def test_the_catalogue_covers_at_least_60_formats_with_unique_names() -> None:
    names = [f.name for f in CATALOGUE]
    assert len(names) == len(set(names))
    assert len(names) >= 60
    assert len({f.provider for f in CATALOGUE}) >= 50


@pytest.mark.parametrize("token_format", CATALOGUE, ids=IDS)
def test_each_example_matches_its_own_pattern(token_format: TokenFormat) -> None:
    match = token_format.regex.search(token_format.example)
    assert match is not None
    secret = match.group("secret") if "secret" in token_format.regex.groupindex else match.group()
    assert len(secret) >= 8


@pytest.mark.parametrize("token_format", CATALOGUE, ids=IDS)
def test_each_example_holds_an_anchor_where_the_scanner_looks(token_format: TokenFormat) -> None:
    # The scanner only looks at word starts of runs of token characters, and only for the
    # first two characters of an anchor: the example must be found that way.
    example = token_format.example
    assert RUN.search(example) is not None
    assert all(len(anchor) >= 2 for anchor in token_format.anchors)
    starts = [0] + [i + 1 for i, char in enumerate(example) if char not in WORD_CHARS]
    starts += [i + 1 for i, char in enumerate(example) if char in "_-.+/=~$:%"]
    if token_format.infix:
        assert any(anchor in example for anchor in token_format.anchors)
    else:
        assert any(example.startswith(token_format.anchors, at) for at in starts)


@pytest.mark.parametrize("token_format", CATALOGUE, ids=IDS)
def test_each_example_is_redacted_in_a_sentence_under_a_plain_key(
    telemetry: TelemetryCapture, telemetry_path: Path, token_format: TokenFormat
) -> None:
    example = token_format.example
    entry = telemetry.capture(
        "catalogue.test", "success", 1.0, "pytest", inputs={"note": f"sent {example} upstream"}
    )
    match = token_format.regex.search(example)
    assert match is not None
    secret = match.group("secret") if "secret" in token_format.regex.groupindex else match.group()
    data = telemetry_path.read_bytes()
    assert secret.encode() not in data
    assert REDACTED in entry["inputs"]["note"]
    assert entry["inputs"]["note"].startswith("sent ")
    assert entry["inputs"]["note"].endswith(" upstream")
    rules = {note["rule"] for note in entry["metadata"]["redactions"]}
    assert token_format.name in rules


@pytest.mark.parametrize("token_format", CATALOGUE, ids=IDS)
def test_each_example_is_redacted_as_a_dict_key(token_format: TokenFormat) -> None:
    rules = RedactionRules()
    verdict = rules.key_rule(token_format.example)
    assert verdict is not None
    assert not isinstance(verdict, str)
    assert token_format.example not in verdict.cleaned


def test_the_redaction_page_lists_every_format_of_the_catalogue() -> None:
    page = (REPO / "docs" / "redaction.md").read_text(encoding="utf-8")
    missing = [f.name for f in CATALOGUE if f"| `{f.name}` | {f.provider} |" not in page]
    assert not missing


def _copy(token_format: TokenFormat, copy: int) -> TokenFormat:
    """The same format under other anchors, as a larger catalogue would hold."""
    number = CATALOGUE.index(token_format)
    anchors = tuple(f"zq{copy}n{number:03d}x{anchor}" for anchor in token_format.anchors)
    return token_format._replace(
        name=f"{token_format.name}-copy{copy}",
        anchors=anchors,
        pattern=re.escape(anchors[0]) + r"[A-Za-z0-9]{20,}",
        example=anchors[0] + "A" * 24,
    )


def test_a_catalogue_three_times_larger_finds_the_same_secrets_and_its_own() -> None:
    copies = [_copy(f, copy) for copy in (1, 2) for f in CATALOGUE]
    rules = RedactionRules(formats=(*CATALOGUE, *copies))
    for token_format in (*CATALOGUE, *copies):
        redacted, found = rules.redact_text(f"x {token_format.example} y")
        assert token_format.name in found
        assert redacted.startswith("x ")
        assert REDACTED in redacted
    assert rules.redact_text("plain words, a path /srv/app/config.yaml and an id") == (
        "plain words, a path /srv/app/config.yaml and an id",
        [],
    )
