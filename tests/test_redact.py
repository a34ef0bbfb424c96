"""Default redaction, end to end: what reaches the telemetry file, read back with query() and
searched for in the file's raw bytes.

Every fake credential below is built for the test; none is real.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import betty_telemetry
from betty_telemetry import REDACTED, TelemetryCapture, capture_telemetry
from tests.secret_keys import SECRET_KEYS

MAX_STRING_CHARS = 4096
MAX_ENTRY_BYTES = 64 * 1024

# -- fake credentials, one per documented format ------------------------------------------

AWS_KEY = "AKIA" + "Q7RZ2XKW4M8PJN3T"
GITHUB_PAT_CLASSIC = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xYz1C3"
GITHUB_OAUTH = "gho_" + "Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCb7A"
GITHUB_USER_TO_SERVER = "ghu_" + "M4n5B6v7C8x9Z0l1K2j3H4g5F6d7S8a9P0o1"
GITHUB_SERVER_TO_SERVER = "ghs_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
GITHUB_REFRESH = "ghr_" + "L9k8J7h6G5f4D3s2A1q0W9e8R7t6Y5u4I3o2"
GITHUB_FINE_GRAINED = (
    "github_pat_11ABCDEFG0hIjKlMnOpQrS_"
    + "tUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEf"
)
ANTHROPIC_KEY = "sk-ant-api03-" + "Xq9Zr7Wm5Tp3Lk1Hj8Gf6Ds4Aa2Ss0Dd_Ff-Gg9Hh8Jj7Kk6Ll5" + "AA"
OPENAI_KEY = "sk-" + "T3BlbkFJzX9qW8eR7tY6uI5oP4aS3dF2gH1jK0lZxCvBnM12"
OPENAI_PROJECT_KEY = "sk-proj-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv_Wx-Yz12"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_USER = "xoxp-" + "210987654321-3210987654321-9876543210987-0fEdCbA9876543210fEdCbA98765432"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM_BODY = (
    "MIIEowIBAAKCAQEAvN3q8Zr7Wm5Tp3Lk1Hj8Gf6Ds4Aa2Ss0Dd9Ff8Gg7Hh6Jj5Kk4\n"
    "Ll3Zz2Xx1Cc0Vv9Bb8Nn7Mm6Qq5Ww4Ee3Rr2Tt1Yy0Uu9Ii8Oo7Pp6Aa5Ss4Dd3Ff2"
)
PEM_BLOCK = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
BEARER_VALUE = "Zm9vYmFyLmJhei5xdXgu4f7c2a9e"
URL_PASSWORD = "Pg5ecretW0rd"

VALUE_FORMATS = {
    "aws-access-key": AWS_KEY,
    "github-ghp": GITHUB_PAT_CLASSIC,
    "github-gho": GITHUB_OAUTH,
    "github-ghu": GITHUB_USER_TO_SERVER,
    "github-ghs": GITHUB_SERVER_TO_SERVER,
    "github-ghr": GITHUB_REFRESH,
    "github-fine-grained": GITHUB_FINE_GRAINED,
    "anthropic": ANTHROPIC_KEY,
    "openai": OPENAI_KEY,
    "openai-project": OPENAI_PROJECT_KEY,
    "slack-bot": SLACK_BOT,
    "slack-user": SLACK_USER,
    "jwt": JWT,
    "pem-private-key": PEM_BLOCK,
}


@pytest.fixture(autouse=True)
def default_rules() -> Iterator[None]:
    """Rules added by a test (add_secret_keys, add_redaction_pattern) never reach the next."""
    yield
    betty_telemetry.reset_redaction_rules()


def raw(path: Path) -> bytes:
    return path.read_bytes()


def only_entry(telemetry: TelemetryCapture) -> dict[str, Any]:
    entries = telemetry.query()
    assert len(entries) == 1
    return entries[0]


def capture(telemetry: TelemetryCapture, **fields: Any) -> dict[str, Any]:
    """Record one entry with the given inputs/metadata/error_message, and read it back."""
    telemetry.capture("redact.test", fields.pop("status", "success"), 1.0, "pytest", **fields)
    return only_entry(telemetry)


def entry_lines(path: Path) -> list[bytes]:
    """The stored lines of the file's entries (the JSON array's brackets left out)."""
    lines = raw(path).splitlines()
    assert lines[0] == b"["
    assert lines[-1] == b"]"
    return [line.removesuffix(b",") for line in lines[1:-1]]


# -- on by default, everywhere ------------------------------------------------------------


def test_secret_key_in_inputs_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"user": "bob", "password": "hunter2-horse"})
    assert entry["inputs"] == {"user": "bob", "password": REDACTED}
    assert b"hunter2-horse" not in raw(telemetry_path)


def test_secret_key_in_metadata_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, metadata={"model": "m-1", "session": "s3ss10n-v4lue"})
    assert entry["metadata"]["model"] == "m-1"
    assert entry["metadata"]["session"] == REDACTED
    assert b"s3ss10n-v4lue" not in raw(telemetry_path)


def test_secret_value_in_error_message_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(
        telemetry, status="error", error_message=f"401 for {GITHUB_PAT_CLASSIC} at /repos"
    )
    assert entry["error_message"] == f"401 for {REDACTED} at /repos"
    assert GITHUB_PAT_CLASSIC.encode() not in raw(telemetry_path)


def test_decorated_function_inputs_are_redacted_by_default(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("redact.inputs", capture_inputs=True, telemetry=telemetry)
    def call_api(user: str, api_key: str) -> None:
        pass

    call_api("bob", "abc123xyz-not-a-format")
    entry = only_entry(telemetry)
    assert entry["inputs"] == {"user": "bob", "api_key": REDACTED}
    assert b"abc123xyz-not-a-format" not in raw(telemetry_path)


def test_captured_output_is_redacted(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    @capture_telemetry("redact.output", capture_output=True, telemetry=telemetry)
    def login() -> dict[str, Any]:
        return {"user": "bob", "access_token": "opaque-0a1b2c3d4e", "note": f"key {OPENAI_KEY}"}

    login()
    entry = only_entry(telemetry)
    assert entry["metadata"]["output"] == {
        "user": "bob",
        "access_token": REDACTED,
        "note": f"key {REDACTED}",
    }
    data = raw(telemetry_path)
    assert b"opaque-0a1b2c3d4e" not in data
    assert OPENAI_KEY.encode() not in data


def test_exception_message_of_decorated_function_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("redact.error", telemetry=telemetry)
    def connect() -> None:
        raise ConnectionError(f"refused with key {ANTHROPIC_KEY}")

    with pytest.raises(ConnectionError):
        connect()
    entry = only_entry(telemetry)
    assert entry["error_message"] == f"ConnectionError: refused with key {REDACTED}"
    assert ANTHROPIC_KEY.encode() not in raw(telemetry_path)


# -- at any depth ---------------------------------------------------------------------------


def test_secret_key_nested_in_dicts_and_lists_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    inputs = {"config": {"databases": [{"host": "db1", "password": "deep-p4ssw0rd"}]}}
    entry = capture(telemetry, inputs=inputs)
    assert entry["inputs"] == {"config": {"databases": [{"host": "db1", "password": REDACTED}]}}
    assert b"deep-p4ssw0rd" not in raw(telemetry_path)


def test_secrets_inside_tuples_are_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    inputs = {"pair": ("visible", {"token": "tuple-t0ken-value"}, f"id {AWS_KEY}")}
    entry = capture(telemetry, inputs=inputs)
    assert entry["inputs"] == {"pair": ["visible", {"token": REDACTED}, f"id {REDACTED}"]}
    data = raw(telemetry_path)
    assert b"tuple-t0ken-value" not in data
    assert AWS_KEY.encode() not in data


def test_secret_value_deep_in_metadata_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    metadata = {"a": [{"b": ({"c": [f"header Bearer {BEARER_VALUE}"]},)}]}
    entry = capture(telemetry, metadata=metadata)
    assert entry["metadata"]["a"] == [{"b": [{"c": [f"header Bearer {REDACTED}"]}]}]
    assert BEARER_VALUE.encode() not in raw(telemetry_path)


def test_json_object_in_a_string_has_its_secret_key_redacted_and_stays_json(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    body = json.dumps({"user": "bob", "settings": {"client_secret": "js0n-cl1ent-s3cret"}})
    entry = capture(telemetry, inputs={"body": body})
    assert json.loads(entry["inputs"]["body"]) == {
        "user": "bob",
        "settings": {"client_secret": REDACTED},
    }
    assert b"js0n-cl1ent-s3cret" not in raw(telemetry_path)


def test_json_array_in_a_string_has_its_secret_key_redacted_and_stays_json(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    body = json.dumps([{"name": "a", "sessionid": "sess-9f8e7d6c5b"}, 3])
    entry = capture(telemetry, metadata={"response": body})
    assert json.loads(entry["metadata"]["response"]) == [{"name": "a", "sessionid": REDACTED}, 3]
    assert b"sess-9f8e7d6c5b" not in raw(telemetry_path)


def test_json_string_without_secrets_is_kept_as_written(telemetry: TelemetryCapture) -> None:
    body = '{"max_tokens":512,"author":"Jane"}'
    entry = capture(telemetry, inputs={"body": body})
    assert entry["inputs"] == {"body": body}
    assert "redactions" not in entry["metadata"]


def test_long_json_string_has_its_secret_key_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    # Longer than the 4 KiB cut (and than the parser's own limit): the secret is near the start,
    # where the cut keeps it, so it must be found before cutting.
    body = json.dumps({"authorization": "l0ng-js0n-auth-v4lue", "data": "d" * 50_000})
    entry = capture(telemetry, inputs={"body": body})
    assert entry["inputs"]["body"].startswith('{"authorization": "***REDACTED***"')
    assert b"l0ng-js0n-auth-v4lue" not in raw(telemetry_path)


# -- keys -----------------------------------------------------------------------------------


NON_SECRET_KEYS = [
    "max_tokens",
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "author",
    "authors",
    "keyboard",
    "monkey",
    "tokenizer",
    "keys",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_key_name_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path, key: str
) -> None:
    entry = capture(telemetry, inputs={key: "plain-v4lue-0451", "other": "kept"})
    assert entry["inputs"] == {key: REDACTED, "other": "kept"}
    assert b"plain-v4lue-0451" not in raw(telemetry_path)


@pytest.mark.parametrize("key", NON_SECRET_KEYS)
def test_non_secret_key_name_is_kept(telemetry: TelemetryCapture, key: str) -> None:
    entry = capture(telemetry, inputs={key: "plain value 451"})
    assert entry["inputs"] == {key: "plain value 451"}
    assert "redactions" not in entry["metadata"]


def test_secret_key_redacts_a_nested_value_whole(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"credentials": {"user": "bob", "pin": "pin-4711-x"}})
    assert entry["inputs"] == {"credentials": REDACTED}
    assert b"pin-4711-x" not in raw(telemetry_path)


# -- value formats, whatever their key ------------------------------------------------------


@pytest.mark.parametrize("secret", VALUE_FORMATS.values(), ids=VALUE_FORMATS.keys())
def test_secret_value_format_is_redacted_under_a_plain_key(
    telemetry: TelemetryCapture, telemetry_path: Path, secret: str
) -> None:
    entry = capture(telemetry, inputs={"note": f"using {secret} today"})
    assert entry["inputs"] == {"note": f"using {REDACTED} today"}
    data = raw(telemetry_path)
    assert secret.encode() not in data
    for line in secret.splitlines():  # a PEM block is stored with its newlines escaped
        if not line.startswith("-----"):
            assert line.encode() not in data


def test_bearer_header_keeps_the_scheme_and_redacts_the_token(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"header": f"sent Bearer {BEARER_VALUE} upstream"})
    assert entry["inputs"] == {"header": f"sent Bearer {REDACTED} upstream"}
    assert BEARER_VALUE.encode() not in raw(telemetry_path)


def test_url_password_alone_is_redacted(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    entry = capture(telemetry, inputs={"dsn": f"postgres://u:{URL_PASSWORD}@host/db"})
    assert entry["inputs"] == {"dsn": "postgres://u:***REDACTED***@host/db"}
    assert URL_PASSWORD.encode() not in raw(telemetry_path)


def test_url_password_inside_a_sentence_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    text = f"could not reach redis://cache:{URL_PASSWORD}@10.0.0.7:6379/0 after 3 tries"
    entry = capture(telemetry, status="error", error_message=text)
    assert entry["error_message"] == (
        f"could not reach redis://cache:{REDACTED}@10.0.0.7:6379/0 after 3 tries"
    )
    assert URL_PASSWORD.encode() not in raw(telemetry_path)


def test_password_assignment_in_text_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"log": "login with password=hunter22 failed"})
    assert entry["inputs"] == {"log": f"login with password={REDACTED} failed"}
    assert b"hunter22" not in raw(telemetry_path)


def test_api_key_colon_assignment_in_text_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"log": "config api_key: k3yV4lue99 loaded"})
    assert entry["inputs"] == {"log": f"config api_key: {REDACTED} loaded"}
    assert b"k3yV4lue99" not in raw(telemetry_path)


@dataclasses.dataclass
class Client:
    api_key: str


def test_repr_of_a_live_client_object_has_its_key_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    client = Client("abc123xyz")
    assert repr(client) == "Client(api_key='abc123xyz')"
    entry = capture(telemetry, inputs={"client": client})
    assert entry["inputs"] == {"client": f"Client(api_key='{REDACTED}')"}
    assert b"abc123xyz" not in raw(telemetry_path)


@pytest.mark.parametrize("name", SECRET_KEYS)
def test_assignment_in_text_to_a_secret_key_name_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path, name: str
) -> None:
    # Every one of these names is redacted as a dict key (test_secret_key_name_is_redacted);
    # written as `name=value` in a log line or repr, the value is just as secret.
    entry = capture(telemetry, error_message=f"request failed: {name}=Zq7vLm2pXw9k sent")
    assert entry["error_message"] == f"request failed: {name}={REDACTED} sent"
    assert b"Zq7vLm2pXw9k" not in raw(telemetry_path)


@pytest.mark.parametrize(
    ("text", "credential"),
    [
        ("Authorization: Basic dXNlcjpodW50ZXIyMjI=", "dXNlcjpodW50ZXIyMjI="),
        ("headers={'Authorization': 'Token 9f8e7d6c5b4a3f2e'}", "9f8e7d6c5b4a3f2e"),
    ],
    ids=["basic", "token-scheme"],
)
def test_authorization_header_in_text_has_its_credentials_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path, text: str, credential: str
) -> None:
    # The header's value is scheme + credentials; redacting only the scheme word leaks them.
    entry = capture(telemetry, error_message=f"request failed: {text}")
    assert REDACTED in entry["error_message"]
    assert credential.encode() not in raw(telemetry_path)


def test_quoted_assignment_value_with_spaces_is_redacted_whole(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"call": "login(password='correct horse battery staple')"})
    assert entry["inputs"] == {"call": f"login(password='{REDACTED}')"}
    assert b"battery staple" not in raw(telemetry_path)


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=512",
        "prompt_tokens: 1200",
        "author: Jane Doe",
        "the monkey ate a banana",
        "keyboard: qwerty-layout",
        "risk-assessment-framework-2024",
        "desk-reservation-system-v2",
        "see https://example.com/docs/getting-started for help",
    ],
)
def test_text_that_only_looks_like_a_secret_is_kept(telemetry: TelemetryCapture, text: str) -> None:
    entry = capture(telemetry, inputs={"note": text})
    assert entry["inputs"] == {"note": text}
    assert "redactions" not in entry["metadata"]


# -- the redaction report -------------------------------------------------------------------


def test_report_names_the_path_and_rule_of_a_secret_key(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(telemetry, inputs={"api_key": "r3port-k3y-value"})
    assert entry["metadata"]["redactions"] == [{"path": "inputs.api_key", "rule": "key:apikey"}]
    assert b"r3port-k3y-value" not in raw(telemetry_path)


def test_report_gives_the_full_path_of_a_nested_key(telemetry: TelemetryCapture) -> None:
    entry = capture(telemetry, inputs={"config": {"dbs": [{"password": "n3sted-pw-v4lue"}]}})
    assert entry["metadata"]["redactions"] == [
        {"path": "inputs.config.dbs[0].password", "rule": "key:password"}
    ]


def test_report_names_the_value_rule(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    entry = capture(telemetry, metadata={"note": f"id {AWS_KEY}"})
    assert entry["metadata"]["redactions"] == [{"path": "metadata.note", "rule": "aws-access-key"}]
    assert AWS_KEY.encode() not in raw(telemetry_path)


def test_report_covers_the_error_message(telemetry: TelemetryCapture) -> None:
    entry = capture(telemetry, status="error", error_message=f"bad token {GITHUB_OAUTH}")
    assert entry["metadata"]["redactions"] == [{"path": "error_message", "rule": "github-token"}]


def test_report_covers_captured_output(telemetry: TelemetryCapture) -> None:
    @capture_telemetry("redact.report", capture_output=True, telemetry=telemetry)
    def fetch() -> dict[str, str]:
        return {"cookie": "c00kie-v4lue-123"}

    fetch()
    entry = only_entry(telemetry)
    assert entry["metadata"]["redactions"] == [
        {"path": "metadata.output.cookie", "rule": "key:cookie"}
    ]


def test_entry_without_secrets_has_no_report(telemetry: TelemetryCapture) -> None:
    entry = capture(telemetry, inputs={"query": "weather in Paris"}, metadata={"model": "m"})
    assert entry["metadata"] == {"model": "m"}


def test_report_entries_hold_only_path_and_rule(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture(
        telemetry,
        inputs={"token": "r3d4cted-t0ken", "note": f"k {SLACK_BOT}"},
        error_message=f"jwt {JWT}",
    )
    report = entry["metadata"]["redactions"]
    assert [sorted(item) for item in report] == [["path", "rule"]] * len(report)
    assert {item["path"] for item in report} == {"inputs.token", "inputs.note", "error_message"}
    data = raw(telemetry_path)
    for secret in ("r3d4cted-t0ken", SLACK_BOT, JWT):
        assert secret.encode() not in data


# -- sanitize_keys and redact=False ---------------------------------------------------------


def test_sanitize_keys_redacts_the_named_key_case_insensitively(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(
        "redact.keys", capture_inputs=True, sanitize_keys=["customer_id"], telemetry=telemetry
    )
    def bill(payload: dict[str, Any]) -> None:
        pass

    bill({"Customer_ID": "cust-8812", "amount": 5})
    entry = only_entry(telemetry)
    assert entry["inputs"] == {"payload": {"Customer_ID": REDACTED, "amount": 5}}
    assert entry["metadata"]["redactions"] == [
        {"path": "inputs.payload.Customer_ID", "rule": "sanitize_keys"}
    ]
    assert b"cust-8812" not in raw(telemetry_path)


def test_sanitize_keys_matches_exact_names_only(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(
        "redact.keys", capture_inputs=True, sanitize_keys=["customer"], telemetry=telemetry
    )
    def bill(payload: dict[str, Any]) -> None:
        pass

    bill({"customer_name": "Ann", "customers": 3})
    entry = only_entry(telemetry)
    assert entry["inputs"] == {"payload": {"customer_name": "Ann", "customers": 3}}


def test_sanitize_keys_adds_to_the_default_rules(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(
        "redact.keys", capture_inputs=True, sanitize_keys=["customer_id"], telemetry=telemetry
    )
    def bill(customer_id: str, github_token: str, note: str) -> None:
        pass

    bill("cust-8812", "gh-t0ken-plain", f"via {AWS_KEY}")
    entry = only_entry(telemetry)
    assert entry["inputs"] == {
        "customer_id": REDACTED,
        "github_token": REDACTED,
        "note": f"via {REDACTED}",
    }
    data = raw(telemetry_path)
    assert b"gh-t0ken-plain" not in data
    assert AWS_KEY.encode() not in data


def test_redact_false_keeps_a_default_secret_key(telemetry: TelemetryCapture) -> None:
    @capture_telemetry("redact.off", capture_inputs=True, redact=False, telemetry=telemetry)
    def clone(github_token: str) -> None:
        pass

    clone("gh-t0ken-plain")
    entry = only_entry(telemetry)
    assert entry["inputs"] == {"github_token": "gh-t0ken-plain"}
    assert "redactions" not in entry["metadata"]


def test_redact_false_keeps_a_default_value_format(telemetry: TelemetryCapture) -> None:
    @capture_telemetry("redact.off", capture_inputs=True, redact=False, telemetry=telemetry)
    def clone(note: str) -> None:
        pass

    clone(f"using {GITHUB_PAT_CLASSIC}")
    entry = only_entry(telemetry)
    assert entry["inputs"] == {"note": f"using {GITHUB_PAT_CLASSIC}"}


def test_redact_false_still_applies_sanitize_keys(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(
        "redact.off",
        capture_inputs=True,
        sanitize_keys=["pin"],
        redact=False,
        telemetry=telemetry,
    )
    def unlock(pin: str, github_token: str) -> None:
        pass

    unlock("8642", "gh-t0ken-plain")
    entry = only_entry(telemetry)
    assert entry["inputs"] == {"pin": REDACTED, "github_token": "gh-t0ken-plain"}
    assert entry["metadata"]["redactions"] == [{"path": "inputs.pin", "rule": "sanitize_keys"}]
    assert b'"8642"' not in raw(telemetry_path)


def test_redact_false_applies_only_to_its_own_decorator(telemetry: TelemetryCapture) -> None:
    @capture_telemetry("redact.off", capture_inputs=True, redact=False, telemetry=telemetry)
    def unredacted(github_token: str) -> None:
        pass

    @capture_telemetry("redact.on", capture_inputs=True, telemetry=telemetry)
    def redacted(github_token: str) -> None:
        pass

    unredacted("gh-t0ken-plain")
    redacted("gh-t0ken-plain")
    assert telemetry.query(skill="redact.on")[0]["inputs"] == {"github_token": REDACTED}


# -- global rules ---------------------------------------------------------------------------


def test_add_secret_keys_applies_to_direct_captures(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    betty_telemetry.add_secret_keys("tenant")
    entry = capture(telemetry, inputs={"Tenant": "acme-corp-4411", "region": "eu"})
    assert entry["inputs"] == {"Tenant": REDACTED, "region": "eu"}
    assert entry["metadata"]["redactions"][0]["path"] == "inputs.Tenant"
    assert b"acme-corp-4411" not in raw(telemetry_path)


def test_add_secret_keys_applies_to_a_decorator_created_earlier(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("redact.global", capture_inputs=True, telemetry=telemetry)
    def provision(tenant: str) -> None:
        pass

    betty_telemetry.add_secret_keys("tenant")
    provision("acme-corp-4411")
    assert only_entry(telemetry)["inputs"] == {"tenant": REDACTED}
    assert b"acme-corp-4411" not in raw(telemetry_path)


def test_add_redaction_pattern_with_a_regex_string(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    betty_telemetry.add_redaction_pattern("ticket", r"TICKET-\d+")
    entry = capture(telemetry, inputs={"note": "see TICKET-90210 today"})
    assert entry["inputs"] == {"note": f"see {REDACTED} today"}
    assert entry["metadata"]["redactions"] == [{"path": "inputs.note", "rule": "ticket"}]
    assert b"TICKET-90210" not in raw(telemetry_path)


def test_add_redaction_pattern_with_a_compiled_regex_keeps_its_flags(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    betty_telemetry.add_redaction_pattern("order", re.compile(r"order-\d{6}", re.IGNORECASE))
    entry = capture(telemetry, inputs={"note": "shipped ORDER-123456 twice"})
    assert entry["inputs"] == {"note": f"shipped {REDACTED} twice"}
    assert entry["metadata"]["redactions"] == [{"path": "inputs.note", "rule": "order"}]
    assert b"ORDER-123456" not in raw(telemetry_path)


def test_add_redaction_pattern_with_a_function(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    def hide_codename(text: str) -> str:
        return text.replace("Project Nightjar", REDACTED)

    betty_telemetry.add_redaction_pattern("codename", hide_codename)
    entry = capture(telemetry, error_message="Project Nightjar build failed")
    assert entry["error_message"] == f"{REDACTED} build failed"
    assert entry["metadata"]["redactions"] == [{"path": "error_message", "rule": "codename"}]
    assert b"Nightjar" not in raw(telemetry_path)


def test_regex_group_named_secret_is_the_only_part_replaced(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    betty_telemetry.add_redaction_pattern("employee", r"employee #(?P<secret>\d+)")
    entry = capture(telemetry, inputs={"note": "employee #558812 called"})
    assert entry["inputs"] == {"note": f"employee #{REDACTED} called"}
    assert b"#558812" not in raw(telemetry_path)


def test_add_redaction_pattern_applies_to_a_decorator_created_earlier(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("redact.global", capture_inputs=True, telemetry=telemetry)
    def triage(note: str) -> None:
        pass

    betty_telemetry.add_redaction_pattern("ticket", r"TICKET-\d+")
    triage("about TICKET-90210")
    assert only_entry(telemetry)["inputs"] == {"note": f"about {REDACTED}"}
    assert b"TICKET-90210" not in raw(telemetry_path)


def test_custom_pattern_applies_to_a_short_value(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    betty_telemetry.add_redaction_pattern("pin", r"^\d{4}$")
    entry = capture(telemetry, inputs={"code": "8642"})
    assert entry["inputs"] == {"code": REDACTED}
    assert b'"8642"' not in raw(telemetry_path)


def test_reset_redaction_rules_removes_added_rules(telemetry: TelemetryCapture) -> None:
    betty_telemetry.add_secret_keys("tenant")
    betty_telemetry.add_redaction_pattern("ticket", r"TICKET-\d+")
    betty_telemetry.reset_redaction_rules()
    entry = capture(telemetry, inputs={"tenant": "acme", "note": "TICKET-1", "token": "t0k-v4l"})
    assert entry["inputs"] == {"tenant": "acme", "note": "TICKET-1", "token": REDACTED}


# -- a redaction function that fails --------------------------------------------------------


def explode(text: str) -> str:
    raise RuntimeError("redactor exploded")


def test_failing_redaction_function_does_not_break_capture(
    telemetry: TelemetryCapture,
) -> None:
    betty_telemetry.add_redaction_pattern("boom", explode)
    returned = telemetry.capture(
        "redact.fail", "success", 1.0, "pytest", inputs={"note": "some words to check"}
    )
    assert returned["status"] == "success"
    assert len(telemetry.query()) == 1


def test_failing_redaction_function_fails_closed(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    betty_telemetry.add_redaction_pattern("boom", explode)
    entry = capture(telemetry, inputs={"note": "ordinary words here", "n": 7})
    assert entry["inputs"] == {"note": REDACTED, "n": 7}
    assert entry["metadata"]["redactions"] == [{"path": "inputs.note", "rule": "boom:failed"}]
    assert b"ordinary words here" not in raw(telemetry_path)


def test_failing_redaction_function_fails_closed_on_the_error_message(
    telemetry: TelemetryCapture,
) -> None:
    betty_telemetry.add_redaction_pattern("boom", explode)
    entry = capture(telemetry, status="error", error_message="it went wrong somewhere")
    assert entry["error_message"] == REDACTED


def test_failing_redaction_function_logs_one_warning(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    betty_telemetry.add_redaction_pattern("boom", explode)
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    for _ in range(3):
        telemetry.capture(
            "redact.fail", "success", 1.0, "pytest", inputs={"a": "first text", "b": "second"}
        )
    warnings = [r for r in caplog.records if r.name.startswith("betty_telemetry")]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    message = warnings[0].getMessage()
    assert "Redaction rule 'boom' failed, value withheld: RuntimeError" in message
    assert "redactor exploded" not in message  # its text may quote the secret it failed on


def test_failing_redaction_function_keeps_the_decorated_result(
    telemetry: TelemetryCapture,
) -> None:
    betty_telemetry.add_redaction_pattern("boom", explode)

    @capture_telemetry("redact.fail", capture_inputs=True, telemetry=telemetry)
    def double(word: str) -> str:
        return word * 2

    assert double("ab ab ab") == "ab ab abab ab ab"
    entry = only_entry(telemetry)
    assert entry["status"] == "success"
    assert entry["inputs"] == {"word": REDACTED}


# -- size limits ----------------------------------------------------------------------------


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_string_over_4096_chars_is_cut_with_length_and_hash(
    telemetry: TelemetryCapture,
) -> None:
    text = "".join(chr(97 + i % 26) for i in range(5000))
    entry = capture(telemetry, inputs={"blob": text})
    assert entry["inputs"]["blob"] == (
        f"{text[:MAX_STRING_CHARS]}...[truncated: 5000 chars, sha256 {sha12(text)}]"
    )
    assert entry["metadata"]["truncated"] == ["inputs.blob"]


def test_string_of_exactly_4096_chars_is_kept_whole(telemetry: TelemetryCapture) -> None:
    text = "q" * MAX_STRING_CHARS
    entry = capture(telemetry, inputs={"blob": text})
    assert entry["inputs"] == {"blob": text}
    assert "truncated" not in entry["metadata"]


def test_truncated_lists_the_path_of_a_nested_string(telemetry: TelemetryCapture) -> None:
    entry = capture(telemetry, metadata={"docs": [{"text": "z" * 4097}]})
    assert entry["metadata"]["truncated"] == ["metadata.docs[0].text"]


def test_long_error_message_is_cut(telemetry: TelemetryCapture) -> None:
    message = "E" * 6000
    entry = capture(telemetry, status="error", error_message=message)
    assert entry["error_message"] == (
        f"{'E' * MAX_STRING_CHARS}...[truncated: 6000 chars, sha256 {sha12(message)}]"
    )
    assert entry["metadata"]["truncated"] == ["error_message"]


@pytest.mark.parametrize(
    "secret",
    [GITHUB_PAT_CLASSIC, AWS_KEY, OPENAI_KEY, JWT, "password=Zq7vLm2pXw9kQ4tR"],
    ids=["github", "aws", "openai", "jwt", "assignment"],
)
@pytest.mark.parametrize("offset", [2, 6, 10, 16])
def test_secret_straddling_the_cut_leaves_no_prefix(
    telemetry: TelemetryCapture, telemetry_path: Path, secret: str, offset: int
) -> None:
    # The secret starts `offset` chars before the 4096th: a cut before redaction would keep
    # its first `offset` chars (too short to match any format) and leak them.
    text = "w" * (MAX_STRING_CHARS - offset - 1) + " " + secret + " and more text"
    entry = capture(telemetry, inputs={"blob": text})
    assert entry["metadata"]["truncated"] == ["inputs.blob"]
    data = raw(telemetry_path).decode("ascii")
    material = secret.removeprefix("password=")
    for start in range(len(material) - 7):
        assert material[start : start + 8] not in data


def test_entry_over_64_kib_is_shrunk_to_fit_and_kept(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    inputs = {f"field{i:02d}": chr(ord("a") + i) * MAX_STRING_CHARS for i in range(20)}
    metadata = {"doc": "M" * MAX_STRING_CHARS, "small": "kept"}
    telemetry.capture("redact.big", "success", 1.0, "pytest", inputs=inputs, metadata=metadata)
    [line] = entry_lines(telemetry_path)
    assert len(line) <= MAX_ENTRY_BYTES
    entry = only_entry(telemetry)
    assert entry["skill"] == "redact.big"
    shrunk = [f"inputs.{k}" for k, v in inputs.items() if entry["inputs"][k] != v]
    shrunk += [f"metadata.{k}" for k, v in metadata.items() if entry["metadata"][k] != v]
    assert shrunk
    assert sorted(entry["metadata"]["truncated"]) == sorted(shrunk)
    assert entry["metadata"]["small"] == "kept"


def test_entry_over_64_kib_keeps_its_redaction_report(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    inputs: dict[str, Any] = {f"field{i:02d}": "b" * MAX_STRING_CHARS for i in range(20)}
    inputs["password"] = "b1g-entry-pw-val"
    telemetry.capture("redact.big", "success", 1.0, "pytest", inputs=inputs)
    entry = only_entry(telemetry)
    assert {"path": "inputs.password", "rule": "key:password"} in entry["metadata"]["redactions"]
    assert b"b1g-entry-pw-val" not in raw(telemetry_path)


def test_entry_of_many_small_values_over_64_kib_is_kept_within_the_limit(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    inputs = {f"k{i:05d}": "v" * 30 for i in range(3000)}
    telemetry.capture("redact.many", "success", 1.0, "pytest", inputs=inputs)
    [line] = entry_lines(telemetry_path)
    assert len(line) <= MAX_ENTRY_BYTES
    entry = only_entry(telemetry)
    assert entry["skill"] == "redact.many"
    assert entry["metadata"]["truncated"]


def test_redaction_rules_compare_hash_and_show_their_fields_not_their_caches() -> None:
    from betty_telemetry.redaction import RedactionRules

    rules = RedactionRules().with_keys(["pin"])
    same = RedactionRules().with_keys(["pin"])
    rules.plain_text("warms the cache of one of them only")
    assert rules == same
    assert hash(rules) == hash(same)
    assert rules != RedactionRules()
    assert rules != "RedactionRules"
    assert repr(RedactionRules()) == (
        "RedactionRules(defaults=True, extra_keys=frozenset(), patterns=(), formats=None)"
    )
    with pytest.raises(AttributeError, match="cannot assign to field 'defaults'"):
        rules.defaults = False
    with pytest.raises(AttributeError, match="cannot delete field 'extra_keys'"):
        del rules.extra_keys
