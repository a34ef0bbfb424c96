"""Which names are secret: new secret words, and names that only mention one (fewer false
positives), as dict keys, in text assignments, as flags and as header names."""

from __future__ import annotations

import pytest

from betty_telemetry import REDACTED, TelemetryCapture
from betty_telemetry.redaction.keys import secret_word_in

NEW_SECRET_KEYS = [
    "pw",
    "passcode",
    "pin",
    "ssn",
    "credit_card",
    "card_number",
    "cvv",
    "private",
    "signature",
    "DB_PASS",
    "REDIS_PASS",
    "Ocp-Apim-Subscription-Key",
    "X-Functions-Key",
    "AccountKey",
    "secret_id",
    "client_secret_id",
    "session_token",
    "session_key",
    "auth_header",
    "aws_secret_access_key",
    "password_hash",
    "access_key_id",
    "private_key_id",
    "APP_KEY",
    "FERNET_KEY",
    "DD-APPLICATION-KEY",
    "tls.key",
    "psk",
]

KEPT_KEYS = [
    "token_count",
    "token_usage",
    "input_token_limit",
    "max_tokens",
    "password_min_length",
    "min_password_length",
    "secretary",
    "session_id",
    "sessionId",
    "secretName",
    "secretKeyRef",
    "token_type",
    "token_url",
    "token_id",
    "password_file",
    "password_stdin",
    "private_ip",
    "max_token_budget",
    "access_token_expires_in",
    "passwordless",
    "cache_key",
    "ssh_public_key",
    "kms_key_id",
    "key",
    "partition_key",
]


@pytest.mark.parametrize("key", NEW_SECRET_KEYS)
def test_new_secret_word_makes_a_key_secret(telemetry: TelemetryCapture, key: str) -> None:
    entry = telemetry.capture("k", "success", 1.0, "t", inputs={key: "v4lue-0451", "x": 1})
    assert entry["inputs"] == {key: REDACTED, "x": 1}


@pytest.mark.parametrize("key", KEPT_KEYS)
def test_a_measurement_or_reference_of_a_secret_is_kept(
    telemetry: TelemetryCapture, key: str
) -> None:
    entry = telemetry.capture("k", "success", 1.0, "t", inputs={key: "v4lue-0451"})
    assert entry["inputs"] == {key: "v4lue-0451"}
    assert "redactions" not in entry["metadata"]


@pytest.mark.parametrize("key", KEPT_KEYS)
def test_a_measurement_or_reference_is_kept_in_text_too(
    telemetry: TelemetryCapture, key: str
) -> None:
    text = f"config {key}=v4lue-0451 loaded"
    entry = telemetry.capture("k", "success", 1.0, "t", inputs={"log": text})
    assert entry["inputs"] == {"log": text}


@pytest.mark.parametrize("value", [True, False, None])
def test_a_bool_or_none_under_a_secret_key_is_kept(
    telemetry: TelemetryCapture, value: bool | None
) -> None:
    entry = telemetry.capture("k", "success", 1.0, "t", inputs={"private": value})
    assert entry["inputs"] == {"private": value}


def test_the_word_that_made_a_key_secret_is_reported() -> None:
    assert secret_word_in("X-Api-Key") == "apikey"
    assert secret_word_in("client_secret") == "clientsecret"
    assert secret_word_in("Unexpected token") is None
    assert secret_word_in("API Key") == "apikey"


@pytest.mark.parametrize(
    "text",
    [
        "Unexpected token: 'EOF'",
        "SyntaxError: unexpected token: '}' at line 3",
        "Bearer authentication required",
        "token_limit: 2048",
        "password: required",
        "Password: incorrect for user bob",
        "token: missing",
        "auth: none",
        "Invalid password for user bob",
        "Password must be at least 12 characters",
        "session_id: 6f1c2a9e-0b7d-4e3a-9c51-2d8f7e6a4b10",
        "max_tokens=512 temperature=0.2",
        "see https://user@github.com/org/repo.git",
        "listening on http://localhost:8080/@admin",
        "docker run -p8080:80 -u 1000:1000 image",
        "mkdir -p /tmp/work && cd /tmp/work",
        "2026-01-01T12:00:00Z INFO worker: started",
    ],
)
def test_prose_that_only_mentions_a_secret_word_is_kept(
    telemetry: TelemetryCapture, text: str
) -> None:
    entry = telemetry.capture("k", "success", 1.0, "t", inputs={"note": text})
    assert entry["inputs"] == {"note": text}
    assert "redactions" not in entry["metadata"]
