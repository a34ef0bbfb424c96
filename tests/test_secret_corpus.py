"""The secret corpus (tests/secret_corpus.py) through every interface that records values:
the decorator (arguments, raised error), the API (inputs, metadata, error message) and the
CLI (inputs JSON, --metadata JSON, error message; in-process for every case, as a real
process for a sample).

A case passes when none of its material reaches the telemetry file or the CLI's output in
any spelling a reader could turn back into the secret: raw, JSON-escaped, percent-encoded,
base64 (at any of the three alignments), or as any 12-character piece of it (a partly
redacted secret is a leak). Ordinary values must come back unchanged, and unreported.

Failures on today's code are expected: the corpus is the oracle the redaction engine is
judged by, written from real credential shapes, not from the library's rules.
"""

from __future__ import annotations

import base64
import json
import keyword
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import betty_telemetry
from betty_telemetry import TelemetryCapture, capture_telemetry
from betty_telemetry.cli.main import main as cli_main
from tests.conftest import run_cli
from tests.secret_corpus import ORDINARY, SECRETS, STRUCTURED, Kwargs, SecretCase

PIECE = 12  # no piece of a material this long may reach the file
SKILL = "corpus.check"
MIN_SECRETS, MIN_FORMATS, MIN_STRUCTURED, MIN_ORDINARY = 170, 65, 15, 110
MAX_CHANGED_ORDINARY = 0.02
PROCESS_SAMPLE_STRIDE = 19  # every 19th case also runs as a real `python -m betty_telemetry`
# The entry's own values, which a short material (a PIN, a CVV) could match by chance.
VOLATILE_FIELDS = ("timestamp", "trace_id", "span_id", "parent_id")
# Keys the corpus passes values under: plain words, so only the value can give a secret away.
PLAIN_KEYS = frozenset(
    {
        "value",
        "config",
        "log",
        "line",
        "header",
        "headers",
        "url",
        "command",
        "snippet",
        "body",
        "connection_string",
        "message",
        "note",
        "request",
        "card",
        "env",
        "output",
        "dsn",
        "manifest",
        "params",
    }
)


@pytest.fixture(autouse=True)
def default_rules() -> Iterator[None]:
    yield
    betty_telemetry.reset_redaction_rules()


# -- corpus as test parameters ---------------------------------------------------------------


def _case_ids(cases: Sequence[SecretCase]) -> list[str]:
    seen: Counter[str] = Counter()
    ids = []
    for case in cases:
        seen[case.fmt] += 1
        ids.append(f"{case.fmt}-{seen[case.fmt]}")
    return ids


CASE_IDS = _case_ids(SECRETS)
SECRET_PARAMS = [pytest.param(case, id=name) for case, name in zip(SECRETS, CASE_IDS, strict=True)]
PROCESS_PARAMS = SECRET_PARAMS[::PROCESS_SAMPLE_STRIDE]


def resolve(value: Any) -> Any:
    """A structured case's value: a factory (function or class) is called for a fresh one."""
    return value() if callable(value) else value


def _json_representable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


STRUCTURED_PARAMS = [pytest.param(value, material, id=name) for name, value, material in STRUCTURED]
STRUCTURED_JSON_PARAMS = [
    pytest.param(value, material, id=name)
    for name, value, material in STRUCTURED
    if _json_representable(resolve(value))
]


# -- what counts as a leak -------------------------------------------------------------------


@cache
def spellings(material: str) -> tuple[tuple[str, bytes], ...]:
    """Every byte string whose presence in the file gives ``material`` (or part of it) away,
    each with the name of its spelling."""
    found: dict[bytes, str] = {}

    def add(form: str, text: str | bytes) -> None:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        if data:
            found.setdefault(data, form)

    escaped = json.dumps(material)[1:-1]
    add("raw", material)
    add("json-escaped", json.dumps(material, ensure_ascii=False)[1:-1])
    add("json-ascii-escaped", escaped)
    add("percent-encoded", urllib.parse.quote(material, safe=""))
    raw = material.encode("utf-8", "surrogatepass")
    add("base64", base64.b64encode(raw))
    for shift in (0, 1, 2):
        # Inside a longer base64 text the material can start at any byte offset; the chars
        # that depend on its bytes alone are the same whatever surrounds it.
        encoded = base64.b64encode(b"\0" * shift + raw)
        core = encoded[4 if shift else 0 : 4 * ((shift + len(raw)) // 3)]
        if len(core) >= PIECE:
            add(f"base64 at offset {shift}", core)
    for text, form in ((material, "piece"), (escaped, "json-ascii-escaped piece")):
        for start in range(len(text) - PIECE + 1):
            add(f"{form} [{start}:{start + PIECE}]", text[start : start + PIECE])
    return tuple((form, data) for data, form in found.items())


def leaks(data: bytes, material: Sequence[str]) -> list[str]:
    """One line per material found in ``data``, with the spelling and where it sits."""
    found = []
    for index, secret in enumerate(material):
        for form, needle in spellings(secret):
            at = data.find(needle)
            if at >= 0:
                around = data[max(0, at - 40) : at + len(needle) + 40]
                found.append(f"material[{index}] {secret[:20]!r}... as {form}: ...{around!r}...")
                break
    return found


def scrub(data: bytes, entries: list[dict[str, Any]]) -> bytes:
    """``data`` with the entries' own volatile values (times, ids, durations) blanked out."""
    for entry in entries:
        for field in VOLATILE_FIELDS:
            value = entry.get(field)
            if isinstance(value, str) and value:
                data = data.replace(value.encode(), b"<" + field.encode() + b">")
        duration = f'"duration_ms": {entry["duration_ms"]!r}'.encode()
        data = data.replace(duration, b'"duration_ms": <duration>')
    return data


def assert_kept_out(material: Sequence[str], path: Path, stdout: str = "") -> None:
    """Exactly one entry was written, and no material is in the file or in ``stdout``."""
    assert path.exists(), f"nothing was written to {path}"
    raw = path.read_bytes()
    entries = json.loads(raw)
    assert len(entries) == 1, f"expected one entry in {path}, found {len(entries)}"
    problems = [f"file: {leak}" for leak in leaks(scrub(raw, entries), material)]
    if stdout:
        printed = scrub(stdout.replace(str(path), "<file>").encode("utf-8", "replace"), entries)
        problems += [f"stdout: {leak}" for leak in leaks(printed, material)]
    assert not problems, "secret material reached the output:\n" + "\n".join(problems)


# -- the interfaces --------------------------------------------------------------------------


def function_taking(names: Sequence[str], body: Callable[..., None]) -> Callable[..., None]:
    """A plain function whose parameters are ``names`` (so capture_inputs records each value
    under its own name), running ``body`` with the arguments."""
    for name in names:
        assert name.isidentifier(), name
        assert not keyword.iskeyword(name), name
    params = ", ".join(names)
    namespace: dict[str, Any] = {"_body": body}
    exec(f"def run_skill({params}):\n    return _body({params})\n", namespace)
    function: Callable[..., None] = namespace["run_skill"]
    return function


def call_decorated(telemetry: TelemetryCapture, key: str, value: Any) -> None:
    names = list(value) if isinstance(value, Kwargs) else [key]
    decorate = capture_telemetry(skill_name=SKILL, telemetry=telemetry, capture_inputs=True)
    skill = decorate(function_taking(names, lambda *args: None))
    if isinstance(value, Kwargs):
        skill(**value)
    else:
        skill(value)


def as_mapping(key: str, value: Any) -> dict[str, Any]:
    """How a value is passed as inputs or metadata: keyword arguments each under their own
    name, anything else under ``key``."""
    return dict(value) if isinstance(value, Kwargs) else {key: value}


def capture_api(telemetry: TelemetryCapture, **fields: Any) -> None:
    telemetry.capture(SKILL, "failure", 1.0, "pytest", **fields)


def cli_args(
    path: Path, inputs: dict[str, Any], error_message: str, metadata: dict[str, Any]
) -> list[str]:
    """``capture SKILL failure 1 pytest INPUTS_JSON ERROR_MESSAGE --metadata JSON --file PATH``"""
    return [
        "capture",
        SKILL,
        "failure",
        "1",
        "pytest",
        json.dumps(inputs),
        error_message,
        "--metadata",
        json.dumps(metadata),
        "--file",
        str(path),
    ]


def run_cli_in_process(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    code = cli_main(args)
    printed = capsys.readouterr()
    assert code == 0, f"CLI exited {code}: {printed.err}"
    return printed.out


def run_cli_process(args: list[str]) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"CLI exited {result.returncode}: {result.stderr}"
    return result.stdout


CLI_FIELDS = ("inputs", "metadata", "error_message")


def cli_args_for(path: Path, case: SecretCase, field: str) -> list[str]:
    """The case's text in one CLI field, plain values in the others."""
    inputs = {case.key: case.text} if field == "inputs" else {}
    metadata = {case.key: case.text} if field == "metadata" else {}
    error_message = case.text if field == "error_message" else "request failed"
    return cli_args(path, inputs, error_message, metadata)


# -- secret cases: decorator -----------------------------------------------------------------


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_decorator_argument_keeps_the_secret_out(
    case: SecretCase, telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    call_decorated(telemetry, case.key, case.text)
    assert_kept_out(case.material, telemetry_path)


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_decorator_raised_error_keeps_the_secret_out(
    case: SecretCase, telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    def fail(*args: object) -> None:
        raise RuntimeError(f"request failed: {case.text}")

    skill = capture_telemetry(skill_name=SKILL, telemetry=telemetry)(
        function_taking([case.key], fail)
    )
    with pytest.raises(RuntimeError, match="request failed"):
        skill(case.text)
    assert_kept_out(case.material, telemetry_path)


# -- secret cases: API -----------------------------------------------------------------------


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_api_inputs_keep_the_secret_out(
    case: SecretCase, telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_api(telemetry, inputs={case.key: case.text})
    assert_kept_out(case.material, telemetry_path)


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_api_metadata_keeps_the_secret_out(
    case: SecretCase, telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_api(telemetry, metadata={case.key: case.text})
    assert_kept_out(case.material, telemetry_path)


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_api_error_message_keeps_the_secret_out(
    case: SecretCase, telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_api(telemetry, error_message=case.text)
    assert_kept_out(case.material, telemetry_path)


# -- secret cases: CLI -----------------------------------------------------------------------


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_cli_inputs_keep_the_secret_out(
    case: SecretCase, telemetry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_cli_in_process(capsys, cli_args_for(telemetry_path, case, "inputs"))
    assert_kept_out(case.material, telemetry_path, out)


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_cli_metadata_keeps_the_secret_out(
    case: SecretCase, telemetry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_cli_in_process(capsys, cli_args_for(telemetry_path, case, "metadata"))
    assert_kept_out(case.material, telemetry_path, out)


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_cli_error_message_keeps_the_secret_out(
    case: SecretCase, telemetry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_cli_in_process(capsys, cli_args_for(telemetry_path, case, "error_message"))
    assert_kept_out(case.material, telemetry_path, out)


@pytest.mark.parametrize("field", CLI_FIELDS)
@pytest.mark.parametrize("case", PROCESS_PARAMS)
def test_cli_process_keeps_the_secret_out(
    case: SecretCase, field: str, telemetry_path: Path
) -> None:
    out = run_cli_process(cli_args_for(telemetry_path, case, field))
    assert_kept_out(case.material, telemetry_path, out)


# -- structured cases ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "material"), STRUCTURED_PARAMS)
def test_structured_decorator_argument_keeps_the_secret_out(
    value: Any, material: tuple[str, ...], telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    call_decorated(telemetry, "value", resolve(value))
    assert_kept_out(material, telemetry_path)


@pytest.mark.parametrize(("value", "material"), STRUCTURED_PARAMS)
def test_structured_api_inputs_keep_the_secret_out(
    value: Any, material: tuple[str, ...], telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_api(telemetry, inputs=as_mapping("value", resolve(value)))
    assert_kept_out(material, telemetry_path)


@pytest.mark.parametrize(("value", "material"), STRUCTURED_PARAMS)
def test_structured_api_metadata_keeps_the_secret_out(
    value: Any, material: tuple[str, ...], telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_api(telemetry, metadata=as_mapping("value", resolve(value)))
    assert_kept_out(material, telemetry_path)


@pytest.mark.parametrize(("value", "material"), STRUCTURED_JSON_PARAMS)
def test_structured_cli_inputs_keep_the_secret_out(
    value: Any,
    material: tuple[str, ...],
    telemetry_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = cli_args(telemetry_path, as_mapping("value", resolve(value)), "request failed", {})
    assert_kept_out(material, telemetry_path, run_cli_in_process(capsys, args))


@pytest.mark.parametrize(("value", "material"), STRUCTURED_JSON_PARAMS)
def test_structured_cli_metadata_keeps_the_secret_out(
    value: Any,
    material: tuple[str, ...],
    telemetry_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = cli_args(telemetry_path, {}, "request failed", as_mapping("value", resolve(value)))
    assert_kept_out(material, telemetry_path, run_cli_in_process(capsys, args))


# -- ordinary values -------------------------------------------------------------------------


def _skill_for(index: int) -> str:
    return f"corpus.ordinary-{index}"


@pytest.fixture
def ordinary_entries(telemetry: TelemetryCapture) -> dict[str, dict[str, Any]]:
    """Each ordinary value captured alone (under its key, in inputs and in metadata), read
    back with query(), by skill name."""
    for index, (key, value) in enumerate(ORDINARY):
        telemetry.capture(
            _skill_for(index), "success", 1.0, "pytest", inputs={key: value}, metadata={key: value}
        )
    return {entry["skill"]: entry for entry in telemetry.query()}


@pytest.mark.parametrize("field", ["inputs", "metadata"])
def test_ordinary_values_come_back_unchanged(
    ordinary_entries: dict[str, dict[str, Any]], field: str
) -> None:
    missing = object()
    changed = []
    for index, (key, value) in enumerate(ORDINARY):
        stored = ordinary_entries[_skill_for(index)][field].get(key, missing)
        if stored != value:
            shown = "<missing>" if stored is missing else repr(stored)
            changed.append(f"{key}: {value!r} came back as {shown}")
    allowed = int(len(ORDINARY) * MAX_CHANGED_ORDINARY)
    assert len(changed) <= allowed, (
        f"{len(changed)} of {len(ORDINARY)} ordinary values changed in {field} "
        f"(at most {allowed} may):\n" + "\n".join(changed)
    )


def test_ordinary_values_are_never_reported_as_redacted(
    ordinary_entries: dict[str, dict[str, Any]],
) -> None:
    named = []
    for index, (key, value) in enumerate(ORDINARY):
        redactions = ordinary_entries[_skill_for(index)]["metadata"].get("redactions") or []
        for redaction in redactions:
            named.append(f"{key}: {value!r} reported as {redaction}")
    assert not named, f"{len(named)} redactions of ordinary values:\n" + "\n".join(named)


# -- the corpus itself -----------------------------------------------------------------------


def test_corpus_is_large_and_varied_enough() -> None:
    formats = {case.fmt for case in SECRETS}
    assert len(SECRETS) >= MIN_SECRETS
    assert len(formats) >= MIN_FORMATS
    assert len(STRUCTURED) >= MIN_STRUCTURED
    assert len(ORDINARY) >= MIN_ORDINARY
    assert len(PROCESS_PARAMS) >= 15
    assert len(set(CASE_IDS)) == len(CASE_IDS)
    assert len({name for name, _, _ in STRUCTURED}) == len(STRUCTURED)


@pytest.mark.parametrize("case", SECRET_PARAMS)
def test_case_material_is_in_its_text_and_nowhere_else(case: SecretCase) -> None:
    # If an engine removed exactly the material, the case would pass: every material is in
    # the text, and no 12-char piece of one is left in the text once all are cut out.
    assert case.material
    assert case.key in PLAIN_KEYS
    rest = case.text
    for secret in sorted(case.material, key=len, reverse=True):
        assert len(secret) >= 6, secret
        assert secret in case.text, secret
        rest = rest.replace(secret, "\0")
    assert not leaks(rest.encode(), case.material)


@pytest.mark.parametrize(("value", "material"), STRUCTURED_PARAMS)
def test_structured_material_is_in_its_value(value: Any, material: tuple[str, ...]) -> None:
    shown = repr(resolve(value))
    assert material
    for secret in material:
        assert len(secret) >= 3, secret
        assert secret in shown, secret


def test_ordinary_values_are_plain_json() -> None:
    # So "came back unchanged" can be judged by equality after the JSON round trip.
    for key, value in ORDINARY:
        assert isinstance(key, str)
        assert json.loads(json.dumps(value)) == value, key
