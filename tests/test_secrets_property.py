"""Property: a secret planted anywhere never reaches the telemetry file, and the non-secret
values planted beside it come back unchanged.

Secrets of every documented format, with random valid bodies, are planted under random keys
(secret-looking or not), at random depths of dicts, lists and tuples, inside JSON strings,
URLs, sentences and reprs, in inputs, metadata and error messages, through
``TelemetryCapture.capture()`` and through a decorated function. Then the file's bytes are
searched for every 12-char piece of every secret.

All credentials here are random fakes.
"""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import betty_telemetry
from betty_telemetry import REDACTED, TelemetryCapture, capture_telemetry
from betty_telemetry.redaction.formats import CATALOGUE
from betty_telemetry.redaction.keys import secret_word_in
from tests.secret_keys import SECRET_KEYS

PIECE = 12  # no piece of a secret this long may appear in the file

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
URL_SAFE = ALNUM + "_-"
BASE64 = ALNUM + "+/"
BEARER = ALNUM + "._~+/"

# Non-secret words: none holds a secret word, and a value made of them always has a space
# (or an underscore and a short index, for keys) within every 12 chars, so it can never
# contain a 12-char piece of a planted secret.
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]

# Dict keys whose value is redacted whole, whatever it is.

# `word=value` in text. (Names the key rules know but text assignments may not, such as
# authorization and sessionid, are covered one by one in test_redact.py.)
ASSIGNMENT_WORDS = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apiKey",
    "API_KEY",
    "api-key",
    "auth",
    "credential",
    "private_key",
    "session",
    "cookie",
    "csrf",
    "jwt",
    "access_token",
    "client_secret",
    "DB_PASSWORD",
]


@dataclasses.dataclass(frozen=True)
class Secret:
    """A planted secret: its text, what that text must become, and the secret material
    (the parts that must never reach the file)."""

    text: str
    redacted: str
    material: tuple[str, ...]
    single_token: bool = False  # no spaces: may sit inside a URL's query


@dataclasses.dataclass(frozen=True)
class Plant:
    """A value to pass in, what query() must give back for it, and the secrets inside."""

    value: Any
    expected: Any
    material: tuple[str, ...] = ()


class JsonOf:
    """Expected: a string holding JSON that parses to ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonOf):
            return bool(self.value == other.value)
        return isinstance(other, str) and json.loads(other) == self.value

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"JsonOf({self.value!r})"


@dataclasses.dataclass
class Handle:
    """A live object whose repr holds text (a secret, perhaps)."""

    note: str


@dataclasses.dataclass
class Client:
    """A live client whose repr shows its key."""

    api_key: str


@pytest.fixture(autouse=True)
def default_rules() -> Any:
    yield
    betty_telemetry.reset_redaction_rules()


# -- secret formats, with random valid bodies -----------------------------------------------


def chars(alphabet: str, size: int, max_size: int | None = None) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=size, max_size=size if max_size is None else max_size)


def token(prefix: st.SearchStrategy[str], body: st.SearchStrategy[str]) -> Any:
    return st.builds(
        lambda p, b: Secret(p + b, REDACTED, (p + b,), single_token=True), prefix, body
    )


aws_keys = token(st.sampled_from(["AKIA", "ASIA"]), chars(UPPER_ALNUM, 16))
github_tokens = token(st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]), chars(ALNUM, 36))
github_fine_grained = token(
    st.just("github_pat_"),
    st.builds(lambda a, b: f"{a}_{b}", chars(ALNUM, 22), chars(ALNUM, 59)),
)
anthropic_keys = token(st.just("sk-ant-api03-"), chars(URL_SAFE, 32, 95))
openai_keys = token(st.just("sk-"), chars(ALNUM, 48))
openai_project_keys = token(st.just("sk-proj-"), chars(URL_SAFE, 40, 120))
slack_tokens = token(
    st.sampled_from(["xoxb-", "xoxp-"]),
    st.builds(
        lambda a, b, c: f"{a}-{b}-{c}",
        chars(string.digits, 10, 13),
        chars(string.digits, 10, 13),
        chars(ALNUM, 24, 32),
    ),
)
jwts = token(
    st.just("eyJ"),
    st.builds(
        lambda h, p, s: f"{h}.eyJ{p}.{s}",
        chars(URL_SAFE, 10, 40),
        chars(URL_SAFE, 10, 80),
        chars(URL_SAFE, 16, 64),
    ),
)


@st.composite
def pem_blocks(draw: st.DrawFn) -> Secret:
    label = draw(st.sampled_from(["RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED ", ""]))
    lines = draw(st.lists(chars(BASE64, 16, 64), min_size=1, max_size=4))
    body = "\n".join(lines)
    text = f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----"
    return Secret(text, REDACTED, tuple(lines))


@st.composite
def bearer_headers(draw: st.DrawFn) -> Secret:
    value = draw(chars(BEARER, 16, 60))
    scheme = draw(st.sampled_from(["Bearer", "bearer", "BEARER"]))
    return Secret(f"{scheme} {value}", f"{scheme} {REDACTED}", (value,))


@st.composite
def url_passwords(draw: st.DrawFn) -> Secret:
    scheme = draw(st.sampled_from(["postgres", "mysql", "redis", "https", "amqp", "mongodb+srv"]))
    user = draw(chars("abcdefgh0123456789", 1, 8))  # letters that spell no secret word
    password = draw(chars(ALNUM, 12, 30))
    host = draw(st.sampled_from(["db.internal", "10.0.0.7:5432", "cache.local", "example.com"]))
    path = draw(st.sampled_from(["", "/app", "/0", "/v1/items"]))
    return Secret(
        f"{scheme}://{user}:{password}@{host}{path}",
        f"{scheme}://{user}:{REDACTED}@{host}{path}",
        (password,),
    )


ASSIGNMENT_FORMS = ["{w}={v}", "{w}: {v}", "{w}='{v}'", '"{w}": "{v}"', "{w} = {v}"]


@st.composite
def assignments(draw: st.DrawFn) -> Secret:
    word = draw(st.sampled_from(ASSIGNMENT_WORDS))
    form = draw(st.sampled_from(ASSIGNMENT_FORMS))
    value = draw(chars(ALNUM, 12, 30))
    return Secret(form.format(w=word, v=value), form.format(w=word, v=REDACTED), (value,))


@st.composite
def catalogue_tokens(draw: st.DrawFn) -> Secret:
    """A credential of any format of the catalogue: its example with a random body of the
    same character classes (the anchor kept), still matched by the format's own pattern."""
    token_format = draw(st.sampled_from(CATALOGUE))
    example = token_format.example
    anchor = max((a for a in token_format.anchors if example.startswith(a)), key=len, default="")
    keep = len(anchor) if anchor else len(example)  # formats anchored inside: kept as they are
    body = [draw(st.sampled_from(_same_class(char))) for char in example[keep:]]
    text = example[:keep] + "".join(body)
    match = token_format.regex.search(text)
    assume(match is not None)
    assert match is not None
    group = "secret" if "secret" in token_format.regex.groupindex else 0
    start, end = match.span(group)
    assume(len(text[start:end]) >= PIECE)
    return Secret(text, text[:start] + REDACTED + text[end:], (text[start:end],), single_token=True)


def _same_class(char: str) -> str:
    for alphabet in (
        "0123456789",
        "abcdef",
        "ABCDEF",
        string.ascii_lowercase,
        string.ascii_uppercase,
    ):
        if char in alphabet:
            return alphabet
    return char


TOKEN_FORMATS = [
    aws_keys,
    github_tokens,
    github_fine_grained,
    anthropic_keys,
    openai_keys,
    openai_project_keys,
    slack_tokens,
    jwts,
    catalogue_tokens(),
    catalogue_tokens(),
    catalogue_tokens(),
]
# Every format equally likely (st.one_of would favour the first ones).
secrets = st.sampled_from(
    [*TOKEN_FORMATS, pem_blocks(), bearer_headers(), url_passwords(), assignments()]
).flatmap(lambda format: format)


# -- where they are planted -----------------------------------------------------------------

phrases = st.lists(st.sampled_from(WORDS), min_size=0, max_size=5).map(" ".join)
non_secret_scalars = st.one_of(
    phrases,
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.none(),
)
non_secrets = st.recursive(
    non_secret_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(WORDS), inner, max_size=3)
    ),
    max_leaves=6,
)


def expected_non_secret(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: expected_non_secret(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [expected_non_secret(v) for v in value]
    return value


@st.composite
def sentences(draw: st.DrawFn, secret: Secret) -> tuple[str, str]:
    """The secret inside a longer sentence, spaces around it: (text, expected)."""
    before = draw(st.lists(st.sampled_from(WORDS), max_size=4))
    after = draw(st.lists(st.sampled_from(WORDS), max_size=4))
    if secret.single_token and draw(st.booleans()):
        query = draw(st.sampled_from(["q", "id", "ref", "x"]))
        host = draw(st.sampled_from(["https://api.example.com/v1/items", "http://10.0.0.7/run"]))
        return (
            " ".join([*before, f"{host}?{query}={secret.text}&page=2", *after]),
            " ".join([*before, f"{host}?{query}={secret.redacted}&page=2", *after]),
        )
    return (
        " ".join([*before, secret.text, *after]),
        " ".join([*before, secret.redacted, *after]),
    )


@st.composite
def text_plants(draw: st.DrawFn) -> Plant:
    """A string holding a secret of any format, inside a sentence."""
    secret = draw(secrets)
    text, expected = draw(sentences(secret))
    return Plant(text, expected, secret.material)


@st.composite
def leaf_plants(draw: st.DrawFn) -> Plant:
    """One value holding a secret, in one of the ways a secret reaches telemetry."""
    kind = draw(
        st.sampled_from(["sentence", "json", "json-key", "repr", "client-repr", "argv", "key"])
    )
    if kind == "sentence":
        return draw(text_plants())
    if kind == "argv":
        token = draw(catalogue_tokens())
        flag_value = draw(chars(ALNUM, 12, 30))
        flag = draw(st.sampled_from(["--password", "--api-key", "--token", "--client-secret"]))
        argv = ["tool", "run", token.text, flag, flag_value, "--verbose"]
        expected = ["tool", "run", token.redacted, flag, REDACTED, "--verbose"]
        return Plant(argv, expected, (*token.material, flag_value))
    if kind == "key":
        token = draw(catalogue_tokens())
        assume(token.redacted == REDACTED)  # the whole key is the credential
        # and its words name no secret (access_token$production$..., or "aPw" in a random
        # body, read as the word pw): else its value goes too, rightly
        assume(secret_word_in(token.text) is None)
        sibling = draw(phrases)
        return Plant(
            {token.text: sibling, "zulu": 1}, {REDACTED: sibling, "zulu": 1}, token.material
        )
    if kind == "json":
        inner = draw(text_plants())
        key = draw(st.sampled_from(WORDS[:-1]))  # not "zulu", the sibling's key
        sibling = draw(non_secrets)
        if draw(st.booleans()):
            document: Any = {key: inner.value, "zulu": sibling}
            expected: Any = {key: inner.expected, "zulu": expected_non_secret(sibling)}
        else:
            document = [sibling, inner.value]
            expected = [expected_non_secret(sibling), inner.expected]
        return Plant(json.dumps(document), JsonOf(expected), inner.material)
    if kind == "json-key":
        key = draw(st.sampled_from(SECRET_KEYS))
        value = draw(chars(ALNUM, 12, 30))
        sibling = draw(phrases)
        document = {"alpha": sibling, key: value}
        return Plant(json.dumps(document), JsonOf({"alpha": sibling, key: REDACTED}), (value,))
    if kind == "repr":
        inner = draw(text_plants())
        return Plant(Handle(inner.value), repr(Handle(inner.expected)), inner.material)
    value = draw(chars(ALNUM, 12, 30))
    return Plant(Client(value), f"Client(api_key='{REDACTED}')", (value,))


@st.composite
def nested_plants(draw: st.DrawFn) -> Plant:
    """A secret (as a value, or as a plain value under a secret key) at a random depth."""
    if draw(st.integers(0, 3)):
        plant = draw(leaf_plants())
    else:
        key = draw(st.sampled_from(SECRET_KEYS))
        value = draw(chars(ALNUM, 12, 30))
        plant = Plant({key: value}, {key: REDACTED}, (value,))
    for shape in draw(st.lists(st.sampled_from(["dict", "list", "tuple"]), max_size=5)):
        sibling = draw(non_secrets)
        expected_sibling = expected_non_secret(sibling)
        if shape == "dict":
            key = draw(st.sampled_from(WORDS + SECRET_KEYS))
            other = "zulu" if key != "zulu" else "yankee"
            redacted = key in SECRET_KEYS
            plant = Plant(
                {key: plant.value, other: sibling},
                {key: REDACTED if redacted else plant.expected, other: expected_sibling},
                plant.material,
            )
        elif shape == "list":
            plant = Plant(
                [sibling, plant.value], [expected_sibling, plant.expected], plant.material
            )
        else:
            plant = Plant(
                (plant.value, sibling), [plant.expected, expected_sibling], plant.material
            )
    return plant


@st.composite
def mappings(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """Inputs or metadata: planted secrets under random keys, and non-secrets beside them."""
    value: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    material: tuple[str, ...] = ()
    for index, plant in enumerate(draw(st.lists(nested_plants(), min_size=1, max_size=3))):
        key = f"{draw(st.sampled_from(WORDS + SECRET_KEYS))}_{index}"
        value[key] = plant.value
        expected[key] = REDACTED if key.rsplit("_", 1)[0] in SECRET_KEYS else plant.expected
        material += plant.material
    for word, sibling in draw(
        st.dictionaries(st.sampled_from(WORDS), non_secrets, max_size=3)
    ).items():
        value[word] = sibling
        expected[word] = expected_non_secret(sibling)
    return value, expected, material


@st.composite
def error_messages(draw: st.DrawFn) -> tuple[str | None, str | None, tuple[str, ...]]:
    plants = draw(st.lists(text_plants(), max_size=3))
    if not plants:
        return None, None, ()
    material = tuple(piece for plant in plants for piece in plant.material)
    return (
        " ".join(plant.value for plant in plants),
        " ".join(plant.expected for plant in plants),
        material,
    )


# -- checks ---------------------------------------------------------------------------------


def library_text(entries: list[dict[str, Any]]) -> str:
    """The text the library itself writes around the values: field names and every other
    key, names, statuses, timestamps, and the report's paths and rule names.

    Hypothesis draws string constants from the code under test (``"secret-assignment"``,
    ``"error_message"``...) into random secret bodies; a piece of such a body that is also
    library text (a rule name in the report) is not a leak.
    """
    parts = ["RuntimeError: ", REDACTED]

    def keys(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                parts.append(key)
                keys(item)
        elif isinstance(value, list):
            for item in value:
                keys(item)

    for entry in entries:
        keys(entry)
        parts += [entry["skill"], entry["caller"], entry["status"], entry["timestamp"]]
        for note in entry["metadata"].get("redactions", []):
            parts += [note["path"], note["rule"]]
        parts += entry["metadata"].get("truncated", [])
    return "\n".join(parts)


def assert_no_piece_of(
    material: tuple[str, ...], path: Path, entries: list[dict[str, Any]], expected: Any = None
) -> None:
    """No 12-char piece of any planted secret is anywhere in the file's bytes, but where the
    library writes it itself, or where the expected (redacted) values hold it: a secret's body
    may begin with a word the text around it also has (``access_token=...`` beside a planted
    ``access_token$production$...``)."""
    data = path.read_bytes().decode("ascii")  # entries are stored as ASCII JSON
    own = library_text(entries) + "\n" + repr(expected)
    leaked = {}
    for secret in material:
        assert len(secret) >= PIECE
        pieces = {secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)}
        found = sorted(piece for piece in pieces if piece in data and piece not in own)
        if found:
            leaked[secret] = found
    stored = {secret for secret in material if secret in data}
    # A secret that is part of another one stored whole may itself have been redacted.
    whole = sorted(s for s in stored if not any(s != other and s in other for other in stored))
    assert not leaked, (
        f"planted secrets stored whole: {whole}\n"
        f"pieces of planted secrets in the file: {leaked}\nfile: {data}"
    )


def without_notes(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as the caller gave it: the library's own notes left out."""
    assert "truncated" not in metadata  # nothing planted is long enough to be cut
    return {k: v for k, v in metadata.items() if k != "redactions"}


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(inputs=mappings(), metadata=mappings(), error=error_messages())
def test_secrets_passed_to_capture_never_reach_the_file(
    tmp_path_factory: pytest.TempPathFactory,
    inputs: tuple[dict[str, Any], dict[str, Any], tuple[str, ...]],
    metadata: tuple[dict[str, Any], dict[str, Any], tuple[str, ...]],
    error: tuple[str | None, str | None, tuple[str, ...]],
) -> None:
    path = tmp_path_factory.mktemp("capture") / "telemetry.json"
    telemetry = TelemetryCapture(telemetry_file=path)
    try:
        telemetry.capture(
            "property.capture",
            "error" if error[0] is not None else "success",
            1.0,
            "hypothesis",
            inputs=inputs[0],
            error_message=error[0],
            metadata=metadata[0],
        )
        [entry] = telemetry.query()
    finally:
        telemetry.close()
    expected = [inputs[1], metadata[1], error[1]]
    assert_no_piece_of(inputs[2] + metadata[2] + error[2], path, [entry], expected)
    assert entry["inputs"] == inputs[1]
    assert without_notes(entry["metadata"]) == metadata[1]
    assert entry["error_message"] == error[1]


@SETTINGS
@given(
    payload=nested_plants(),
    extra=non_secrets,
    output=nested_plants(),
    error=text_plants(),
)
def test_secrets_through_a_decorated_function_never_reach_the_file(
    tmp_path_factory: pytest.TempPathFactory,
    payload: Plant,
    extra: Any,
    output: Plant,
    error: Plant,
) -> None:
    path = tmp_path_factory.mktemp("decorated") / "telemetry.json"
    telemetry = TelemetryCapture(telemetry_file=path)

    @capture_telemetry(
        "property.task",
        capture_inputs=True,
        capture_output=True,
        telemetry=telemetry,
    )
    def task(payload: Any, extra: Any, fail: bool) -> Any:
        if fail:
            raise RuntimeError(error.value)
        return output.value

    try:
        assert task(payload.value, extra, False) is output.value
        with pytest.raises(RuntimeError):
            task(payload.value, extra, True)
        failed, succeeded = telemetry.query()
    finally:
        telemetry.close()
    expected = [payload.expected, output.expected, error.expected]
    assert_no_piece_of(
        payload.material + output.material + error.material, path, [failed, succeeded], expected
    )
    expected_inputs = {"payload": payload.expected, "extra": expected_non_secret(extra)}
    assert succeeded["inputs"] == {**expected_inputs, "fail": False}
    assert succeeded["metadata"]["output"] == output.expected
    assert failed["inputs"] == {**expected_inputs, "fail": True}
    assert failed["error_message"] == f"RuntimeError: {error.expected}"
