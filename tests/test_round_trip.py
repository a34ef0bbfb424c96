"""Round trips: what is captured comes back from query() as captured, after the documented
redaction and coercion (issue 5, item 6).

Text is arbitrary Unicode: control characters, quotes, backslashes, emoji, line and paragraph
separators, and lone surrogates, which Python's JSON writes as ``\\udXXX`` escapes and reads
back as the same lone surrogates. Two code points that form a UTF-16 pair (a high surrogate
then a low one) cannot survive JSON: ``"\\ud83d\\ude00"`` reads back as one character, U+1F600.
Generated text is therefore normalised the way JSON reads it (``utf16`` below), and that
behaviour is pinned by its own test.

Where the expected value is simple it is computed here, from the documentation
(docs/entries.md, Limits): text that no redaction rule can touch comes back exactly, and text
over 4,096 characters is cut with a marker giving its length and hash. Where the rules would
act, the properties are that what ``capture()`` returned (what was stored) is what ``query()``
reads, that a background capture stores what a direct one does, and that what is read
survives ``json.dumps``.

Each property runs against two files made once per module (one direct capture, one
background capture, so one writer thread), and reads the newest entry back.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from betty_telemetry import ENTRY_FIELDS, VALID_STATUSES, TelemetryCapture, reset_redaction_rules
from betty_telemetry.redaction.cards import card_spans, is_card_int
from tests.stores import STORES, TEXT_STORES, store_bytes

pytestmark = pytest.mark.every_store

MODES = ["direct", "background"]
MAX_STRING_CHARS = 4096  # docs/entries.md, Limits
GLOB_CHARS = set("*?[")
LONE = re.compile("[\ud800-\udfff]")
# The `captures` fixture only picks the store's captures made once for the module: examples
# may share it (hypothesis would otherwise refuse a function-scoped fixture).
SHARED_FIXTURE = [HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=100, deadline=None, suppress_health_check=SHARED_FIXTURE)


def utf16(text: str) -> str:
    """``text`` as JSON reads it back: adjacent surrogate code points become one character."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def cut(text: str) -> str:
    """The documented cut: the first 4,096 characters, then the length and a short sha256."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{text[:MAX_STRING_CHARS]}...[truncated: {len(text)} chars, sha256 {digest}]"


# -- strategies --------------------------------------------------------------------------------

SPECIALS = [
    '"',
    "\\",
    "/",
    "'",
    "\x00",
    "\x1f",
    "\x7f",
    "\x85",
    "\n",
    "\r",
    "\t",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u0301",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "é",
    "😀",
    "\U0010ffff",
]
# Every code point, lone surrogates included (exclude_categories=() keeps category Cs), and
# surrogates and the characters JSON escapes drawn far more often than by chance.
any_char = st.one_of(
    st.characters(exclude_categories=()),
    st.sampled_from(SPECIALS),
    st.characters(categories=["Cs"]),
)


def texts(
    chars: st.SearchStrategy[str], min_size: int = 0, max_size: int = 12
) -> st.SearchStrategy[str]:
    """Text of ``chars``, normalised as JSON reads it back. Drawn as a list of characters:
    ``st.text`` would merge the alphabet into one range of code points and lose the weights
    that make surrogates and escaped characters common."""
    return st.lists(chars, min_size=min_size, max_size=max_size).map(lambda cs: utf16("".join(cs)))


# No redaction rule can start from text without these: every value rule needs an ASCII letter,
# "=" or ":", and secret key words are ASCII letters once lowercased (U+0130 and the Kelvin
# sign U+212A are the only other characters whose lowercase holds an ASCII letter).
NOT_PLAIN = string.ascii_letters + "=:\u0130\u212a"
plain_char = st.one_of(
    st.characters(exclude_categories=(), exclude_characters=NOT_PLAIN),
    st.sampled_from([char for char in SPECIALS if char not in NOT_PLAIN]),
)


def plain_text(min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    # A text starting with { or [ is parsed as JSON to look for secret keys inside: left out.
    return texts(plain_char, min_size=min_size, max_size=max_size).filter(
        lambda text: not text.startswith(("{", "["))
    )


def repeated(seed: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    """Long text, cheaply: a short seed repeated to a length in [low, high]."""
    return st.tuples(seed, st.integers(low, high)).map(
        lambda pair: utf16((pair[0] * (pair[1] // len(pair[0]) + 1))[: pair[1]])
    )


long_plain_text = repeated(plain_text(min_size=1, max_size=6), 4090, 4110)  # across the limit
plain_keys = plain_text(max_size=8)
plain_leaves = st.one_of(
    st.none(),
    st.booleans(),
    # A number shaped like a payment card (Luhn and an issuer's prefix) is a secret: not plain,
    # and so is its negative (the sign may be a typo or a separator; when in doubt, redact).
    st.integers(-(2**200), 2**200).filter(lambda number: not is_card_int(abs(number))),
    st.floats(allow_nan=False, allow_infinity=False),
    plain_text().filter(lambda text: not card_spans(text)),
)
plain_values = st.recursive(
    plain_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(plain_keys, children, max_size=4),
    ),
    max_leaves=8,
)
plain_mappings = st.dictionaries(plain_keys, plain_values, max_size=5)

names = texts(any_char, min_size=1, max_size=30).filter(lambda name: name.strip())
durations = st.one_of(
    st.floats(min_value=0, max_value=1e15, allow_nan=False), st.integers(0, 10**12)
)
statuses = st.sampled_from(VALID_STATUSES)

SNIPPETS = [
    "password=hunter22",
    "api_key: 'abcd1234'",
    "Client(token='abcd1234')",
    "ghp_" + "A1" * 18,
    "sk-ant-" + "x" * 24,
    "sk-proj-" + "y" * 24,
    "AKIA" + "Q" * 16,
    "Bearer abcdefgh12345",
    "postgres://user:pw1234@db.example/app",
    "xoxb-1234567890-abcdef",
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.c2lnbmF0dXJl",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY-----",
    '{"token": "abc", "n": 1}',
    '[{"password": "p"}, 2]',
    "{not json",
    "***REDACTED***",
    "max_tokens=100",
    '👩\u200d💻 "quoted" C:\\path\\',
]
any_text = st.lists(
    st.one_of(texts(any_char, max_size=10), st.sampled_from(SNIPPETS)), max_size=4
).map(lambda pieces: utf16("".join(pieces)))
any_long_text = repeated(
    st.one_of(st.sampled_from(SNIPPETS), texts(any_char, min_size=1, max_size=10)), 4000, 5000
).filter(lambda text: not opens_deep_json(text))


def opens_deep_json(text: str) -> bool:
    """Text read as JSON (it starts with [ or {) that may nest past the recursion limit: such
    text makes capture() raise (see the xfail test below), so the properties leave it out."""
    return text.startswith(("[", "{")) and text.count("[") + text.count("{") > 200


any_keys = st.one_of(
    texts(any_char, max_size=10),
    st.sampled_from(
        ["api_key", "password", "X-Auth-Token", "sessionId", "max_tokens", "author", "truncated"]
    ),
    st.sampled_from(["redactions", "output", "user", "apiKey", "client_secret", ""]),
    st.integers(-5, 5),
    st.none(),
    st.booleans(),
    st.floats(),
)
any_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**200), 2**200),
    st.floats(),  # NaN and infinities included: stored as text
    any_text,
    st.binary(max_size=12),
    st.sets(st.one_of(st.integers(-9, 9), texts(any_char, max_size=4)), max_size=4),
)
any_values = st.recursive(
    any_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(any_keys, children, max_size=4),
    ),
    max_leaves=10,
)
any_mappings = st.one_of(
    st.none(), st.dictionaries(any_keys, st.one_of(any_values, any_long_text), max_size=5)
)
any_errors = st.one_of(st.none(), any_text, any_long_text)


@st.composite
def plain_calls(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments no redaction rule can touch; at most one string over (or at) the limit."""
    inputs = draw(plain_mappings)
    metadata = draw(plain_mappings)
    error = draw(st.one_of(st.none(), plain_text()))
    long_place = draw(st.sampled_from([None, "inputs", "metadata", "error_message"]))
    if long_place == "error_message":
        error = draw(long_plain_text)
    elif long_place is not None:
        target = inputs if long_place == "inputs" else metadata
        target[draw(plain_keys)] = draw(long_plain_text)
    return {
        "skill": draw(names),
        "status": draw(statuses),
        "duration_ms": draw(durations),
        "caller": draw(names),
        "inputs": inputs,
        "error_message": error,
        "metadata": metadata,
    }


@st.composite
def any_calls(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "skill": draw(names),
        "status": draw(statuses),
        "duration_ms": draw(durations),
        "caller": draw(names),
        "inputs": draw(any_mappings),
        "error_message": draw(any_errors),
        "metadata": draw(any_mappings),
    }


# -- expected values, computed here ----------------------------------------------------------


def expected_value(value: Any, path: str, truncated: list[str]) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            truncated.append(path)
            return cut(value)
        return value
    if isinstance(value, (list, tuple)):
        return [expected_value(v, f"{path}[{i}]", truncated) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expected_value(v, f"{path}.{k}", truncated) for k, v in value.items()}
    return value


def expected_entry(call: dict[str, Any]) -> dict[str, Any]:
    """The stored entry (without its timestamp) for a call that no redaction rule touches."""
    truncated: list[str] = []
    inputs = expected_value(call["inputs"], "inputs", truncated)
    metadata = expected_value(call["metadata"], "metadata", truncated)
    error = call["error_message"]
    if error is not None:
        error = expected_value(error, "error_message", truncated)
    if truncated:
        metadata["truncated"] = truncated
    return {
        "skill": call["skill"],
        "status": call["status"],
        "duration_ms": float(call["duration_ms"]),
        "caller": call["caller"],
        "inputs": inputs,
        "error_message": error,
        "metadata": metadata,
    }


def without_timestamp(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "timestamp"}


# -- the files -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_stores_captures(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, TelemetryCapture]]]:
    """One capture per store and mode for the whole module: a background capture's writer
    thread lives as long as the process, so one per example would leave hundreds of idle
    threads."""
    reset_redaction_rules()  # the documented defaults, whatever ran before
    folder = tmp_path_factory.mktemp("round_trip")
    made = {
        kind: {
            "direct": TelemetryCapture(folder / f"direct{suffix}"),
            "background": TelemetryCapture(folder / f"background{suffix}", background=True),
        }
        for kind, suffix in STORES.items()
    }
    yield made
    for by_mode in made.values():
        for capture in by_mode.values():
            capture.close()


@pytest.fixture
def captures(
    every_stores_captures: dict[str, dict[str, TelemetryCapture]], store_kind: str
) -> dict[str, TelemetryCapture]:
    """The direct and the background capture of the store under test."""
    return every_stores_captures[store_kind]


def newest(capture: TelemetryCapture) -> dict[str, Any]:
    [entry] = capture.query(limit=1)  # reads flush first in background mode
    return entry


# -- properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@FAST
@given(call=plain_calls())
def test_text_no_rule_touches_comes_back_exactly_or_cut_at_the_limit(
    captures: dict[str, TelemetryCapture], mode: str, call: dict[str, Any]
) -> None:
    expected = expected_entry(call)
    assume(len(json.dumps(expected)) < 60_000)  # under the 64 KiB entry limit: nothing removed
    event("a string was cut" if "truncated" in expected["metadata"] else "nothing cut")
    capture = captures[mode]
    capture.capture(**call)
    entry = newest(capture)
    assert list(entry) == list(ENTRY_FIELDS)
    assert without_timestamp(entry) == expected


@FAST
@given(call=any_calls())
def test_a_direct_capture_returns_exactly_what_query_reads_back(
    captures: dict[str, TelemetryCapture], call: dict[str, Any]
) -> None:
    capture = captures["direct"]
    returned = capture.capture(**call)
    entry = newest(capture)
    event(f"redactions: {bool(entry['metadata'].get('redactions'))}")
    event(f"lone surrogates: {bool(LONE.search(json.dumps(entry, ensure_ascii=False)))}")
    assert entry == returned
    assert entry["skill"] == call["skill"]  # names are never redacted or cut
    assert entry["caller"] == call["caller"]
    assert json.loads(json.dumps(entry, allow_nan=False)) == entry


@FAST
@given(call=any_calls())
def test_a_background_capture_stores_what_a_direct_capture_stores(
    captures: dict[str, TelemetryCapture], call: dict[str, Any]
) -> None:
    direct = captures["direct"].capture(**call)
    captures["background"].capture(**call)
    entry = newest(captures["background"])
    assert without_timestamp(entry) == without_timestamp(direct)
    assert json.loads(json.dumps(entry, allow_nan=False)) == entry


@FAST
@given(call=any_calls())
def test_a_background_capture_returns_its_arguments_as_given(
    captures: dict[str, TelemetryCapture], call: dict[str, Any]
) -> None:
    returned = captures["background"].capture(**call)
    assert without_timestamp(returned) == {
        "skill": call["skill"],
        "status": call["status"],
        "duration_ms": float(call["duration_ms"]),
        "caller": call["caller"],
        "inputs": call["inputs"] or {},
        "error_message": call["error_message"],
        "metadata": call["metadata"] or {},
    }
    assert captures["background"].flush(10)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=40, deadline=None, suppress_health_check=SHARED_FIXTURE)
@given(skill=names, caller=names, status=statuses)
def test_an_entry_is_found_again_by_its_exact_skill_and_caller(
    captures: dict[str, TelemetryCapture], mode: str, skill: str, caller: str, status: str
) -> None:
    assume(not GLOB_CHARS & set(skill + caller))  # with * ? [ the names are globs
    capture = captures[mode]
    capture.capture(skill, status, 1.0, caller)
    found = capture.query(skill=skill, caller=caller, status=status, limit=1)
    assert [(e["skill"], e["caller"], e["status"]) for e in found] == [(skill, caller, status)]
    assert found[0] == newest(capture)


WHITESPACE = [chr(code) for code in range(0x3001) if chr(code).isspace()]
blank_names = st.text(st.sampled_from(WHITESPACE), max_size=5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("field", ["skill", "caller"])
@settings(max_examples=25, deadline=None, suppress_health_check=SHARED_FIXTURE)
@given(blank=blank_names)
def test_a_blank_skill_or_caller_is_refused_and_nothing_is_written(
    captures: dict[str, TelemetryCapture], mode: str, field: str, blank: str
) -> None:
    capture = captures[mode]
    assert capture.flush(10)
    size = _size(capture.telemetry_file)
    call: dict[str, Any] = {
        "skill": "s",
        "status": "success",
        "duration_ms": 1.0,
        "caller": "c",
        field: blank,
    }
    with pytest.raises(ValueError, match=f"{field} must be a non-empty string"):
        capture.capture(**call)
    assert capture.flush(10)
    assert _size(capture.telemetry_file) == size


def _size(path: Path) -> int:
    """Bytes the store keeps (its file and any beside it, see ``store_bytes``), or -1."""
    return len(store_bytes(path)) if path.exists() else -1


# -- single cases the properties rely on ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_lone_surrogates_are_stored_as_ascii_escapes_and_read_back(
    captures: dict[str, TelemetryCapture], mode: str, store_kind: str
) -> None:
    capture = captures[mode]
    text = "a\ud800b\udfffc"
    capture.capture(text, "success", 1.0, "c", inputs={text: text}, error_message=text)
    entry = newest(capture)
    assert (entry["skill"], entry["inputs"], entry["error_message"]) == (text, {text: text}, text)
    if store_kind in TEXT_STORES:
        capture.telemetry_file.read_bytes().decode("ascii")  # the file itself is plain ASCII
        assert b'"a\\ud800b\\udfffc"' in capture.telemetry_file.read_bytes()


def test_surrogate_code_points_forming_a_pair_read_back_as_one_character(
    captures: dict[str, TelemetryCapture],
) -> None:
    capture = captures["direct"]
    returned = capture.capture("pair", "success", 1.0, "c", inputs={"s": "\ud83d\ude00"})
    entry = newest(capture)
    assert returned["inputs"]["s"] == "\ud83d\ude00"  # two code points, as given
    assert entry["inputs"]["s"] == "\U0001f600"  # JSON has no way to keep them apart


@pytest.mark.parametrize(("length", "is_cut"), [(4096, False), (4097, True)])
def test_a_string_is_cut_only_beyond_4096_characters(
    captures: dict[str, TelemetryCapture], length: int, is_cut: bool
) -> None:
    capture = captures["direct"]
    text = ("é😀\ud800" * length)[:length]
    capture.capture("limit", "success", 1.0, "c", inputs={"text": text})
    entry = newest(capture)
    assert entry["inputs"]["text"] == (cut(text) if is_cut else text)
    assert entry["metadata"] == ({"truncated": ["inputs.text"]} if is_cut else {})


def test_an_integer_too_long_for_text_conversion_does_not_fail_the_capture(
    captures: dict[str, TelemetryCapture],
) -> None:
    capture = captures["direct"]
    returned = capture.capture("huge", "success", 1.0, "c", inputs={"n": 10**5000})
    assert newest(capture) == returned


def test_text_opening_thousands_of_json_arrays_does_not_fail_the_capture(
    captures: dict[str, TelemetryCapture],
) -> None:
    capture = captures["direct"]
    text = "[" * 5000
    returned = capture.capture("brackets", "success", 1.0, "c", inputs={"text": text})
    assert newest(capture) == returned
    assert returned["inputs"]["text"] == cut(text)  # not JSON: only cut, like any long text
