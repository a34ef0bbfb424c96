"""Credentials found by where they stand: the shapes that reached the file in review, each
pushed through capture() and searched for in the file's bytes.

Every credential here is a fake.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import REDACTED, TelemetryCapture, capture_telemetry

GHP = "ghp_" + "Zq7vLm2pXw9kB4nR6tY8uI0oP1aS3dF5gH7j"
SK_LIVE = "sk_" + "live_" + "51Hq8Zp2VxK9mN4bR7tY0uLwE3sD6fG"

# (id, text, what must not reach the file, what must still be there)
CASES: list[tuple[str, str, list[str], list[str]]] = [
    (
        "second-cookie",
        "Cookie: sid=a1b2c3d4e5; csrftoken=Zz9Yy8Xx7Ww6",
        ["a1b2c3d4e5", "Zz9Yy8Xx7Ww6"],
        ["sid=", "csrftoken="],
    ),
    (
        "set-cookie",
        "Set-Cookie: session=Qw3rTy7uI9oP; Path=/; HttpOnly",
        ["Qw3rTy7uI9oP"],
        ["Path=/", "HttpOnly"],
    ),
    (
        "passphrase",
        "password = correct horse battery staple",
        ["correct", "horse battery staple"],
        ["password = "],
    ),
    (
        "passphrase-yaml",
        "db:\n  password: correct horse battery staple\n  host: db1",
        ["horse battery"],
        ["host: db1"],
    ),
    (
        "dsn-at-hash",
        "postgresql://app:p@ss#w0rd@db/app",
        ["p@ss#w0rd", "ss#w0rd"],
        ["postgresql://app:", "@db/app"],
    ),
    (
        "dsn-slash-colon",
        "mysql://root:a/b:c@d@10.0.0.7:3306/shop",
        ["a/b:c@d"],
        ["@10.0.0.7:3306/shop"],
    ),
    (
        "json-after-prefix",
        'HTTP 400: {"credentials": {"user": "a", "password": "Zx9Cv8Bn7Mq6"}}',
        ["Zx9Cv8Bn7Mq6"],
        ["HTTP 400: "],
    ),
    (
        "json-after-newline",
        'response:\n{"error": "bad", "api_key": "Kk1Ll2Mm3Nn4Oo5"}',
        ["Kk1Ll2Mm3Nn4Oo5"],
        ['"error": "bad"'],
    ),
    (
        "ssws",
        "Authorization: SSWS 00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_",
        ["00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_"],
        ["Authorization: SSWS "],
    ),
    (
        "digest",
        'Authorization: Digest username="bob", response="6629fae49393a05397450978507c4ef1"',
        ["6629fae49393a05397450978507c4ef1", "bob"],
        ["Authorization: Digest "],
    ),
    (
        "aws4",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request,"
        " Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        ["fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"],
        ["AWS4-HMAC-SHA256 "],
    ),
    (
        "no-scheme",
        "Authorization: 9f8e7d6c5b4a3f2e1d0c",
        ["9f8e7d6c5b4a3f2e1d0c"],
        ["Authorization: "],
    ),
    ("api-key-prose", "API Key: Qz8Wx7Ec6Rv5Tb4", ["Qz8Wx7Ec6Rv5Tb4"], ["API Key: "]),
    (
        "subscription-header",
        "Ocp-Apim-Subscription-Key: 0123abcd4567efab89cd0123abcd4567",
        ["0123abcd4567efab89cd0123abcd4567"],
        ["Ocp-Apim-Subscription-Key: "],
    ),
    (
        "functions-header",
        "X-Functions-Key: Ab1Cd2Ef3Gh4Ij5Kl6==",
        ["Ab1Cd2Ef3Gh4Ij5Kl6"],
        ["X-Functions-Key: "],
    ),
    (
        "azure-connection",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4+/==;EndpointSuffix=core.windows.net",
        ["Zm9vYmFyYmF6cXV4+/=="],
        ["AccountName=acct", "EndpointSuffix=core.windows.net"],
    ),
    (
        "azure-sas",
        "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&se=2026-01-01&sig=Ab1%2BCd2%2FEf3Gh4%3D",
        ["Ab1%2BCd2%2FEf3Gh4%3D"],
        ["sv=2022-11-02", "&sig="],
    ),
    (
        "google-key-in-url",
        "https://maps.googleapis.com/maps/api/geocode/json?address=x&key=AIza"
        + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        ["SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"],
        ["address=x"],
    ),
    (
        "curl-u",
        "curl -u admin:hunter2pass https://api.example.com/v1",
        ["hunter2pass"],
        ["curl -u admin:", "https://api.example.com/v1"],
    ),
    ("mysql-p", "mysql -u root -pS3cr3tPass shop", ["S3cr3tPass"], ["mysql -u root -p", " shop"]),
    ("flag-space", "deploy --password Tr0ub4dor --region eu", ["Tr0ub4dor"], ["--region eu"]),
    ("flag-equals", "deploy --api-key=Kq9Wm2Xv7Lp4 --dry-run", ["Kq9Wm2Xv7Lp4"], ["--dry-run"]),
    ("sshpass", "sshpass -p Pa55w0rdX ssh deploy@host", ["Pa55w0rdX"], ["ssh deploy@host"]),
    (
        "env-lines",
        "DB_HOST=db1\nDB_PASS=Qq1Ww2Ee3Rr4\nREDIS_PASS=Tt5Yy6Uu7Ii8\n"
        "export SECRET_KEY=Oo9Pp0Aa1Ss2",
        ["Qq1Ww2Ee3Rr4", "Tt5Yy6Uu7Ii8", "Oo9Pp0Aa1Ss2"],
        ["DB_HOST=db1"],
    ),
    (
        "xml",
        "<config><user>bob</user><password>X9y8Z7w6V5u4</password></config>",
        ["X9y8Z7w6V5u4"],
        ["<user>bob</user>"],
    ),
    ("xml-add", '<add key="ApiKey" value="Mm3Nn4Bb5Vv6"/>', ["Mm3Nn4Bb5Vv6"], ['key="ApiKey"']),
    (
        "netrc",
        "machine api.example.com login bob password Hh7Jj8Kk9Ll0",
        ["Hh7Jj8Kk9Ll0"],
        ["login bob"],
    ),
    (
        "pgpass",
        "db.internal:5432:shop:app:Pg9Pass8Word7",
        ["Pg9Pass8Word7"],
        ["db.internal:5432:shop:app:"],
    ),
    (
        "slack-webhook",
        "https://hooks.slack.com/services/T0ABCDEF/B0GHIJKL/aBcDeFgHiJkLmNoPqRsTuVwX",
        ["aBcDeFgHiJkLmNoPqRsTuVwX"],
        ["https://hooks.slack.com/services/"],
    ),
    (
        "telegram-url",
        "https://api.telegram.org/bot1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9/sendMessage",
        ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"],
        ["/sendMessage"],
    ),
    (
        "pgp",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGNxYz0BCAC7Zz9\nyYxXwW\n"
        "-----END PGP PRIVATE KEY BLOCK-----",
        ["lQOYBGNxYz0BCAC7Zz9"],
        [],
    ),
    (
        "putty",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIPub\nPrivate-Lines: 1\nAAAAIGPrivateKeyMaterial0123456789\n"
        "Private-MAC: 0a1b2c3d4e5f",
        ["AAAAIGPrivateKeyMaterial0123456789", "0a1b2c3d4e5f"],
        ["Public-Lines: 2"],
    ),
    (
        "card-spaced",
        "paid with 4111 1111 1111 1111 today",
        ["4111 1111 1111 1111"],
        ["paid with", "today"],
    ),
    ("card-dashed", "card 5500-0000-0000-0004 declined", ["5500-0000-0000-0004"], ["declined"]),
    ("token-in-set-cookie-value", f"Set-Cookie: gh={GHP}; Secure", [GHP], ["Secure"]),
    ("stripe-in-log", f"charge failed with key {SK_LIVE} (402)", [SK_LIVE], ["(402)"]),
]


@pytest.mark.parametrize(
    ("text", "secrets", "kept"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_credential_in_context_never_reaches_the_file(
    telemetry: TelemetryCapture,
    telemetry_path: Path,
    text: str,
    secrets: list[str],
    kept: list[str],
) -> None:
    entry = telemetry.capture(
        "ctx", "error", 1.0, "t", inputs={"note": text}, error_message=text, metadata={"m": text}
    )
    data = telemetry_path.read_text()
    for secret in secrets:
        assert secret not in data
        assert json.dumps(secret)[1:-1] not in data
    for field in (entry["inputs"]["note"], entry["error_message"], entry["metadata"]["m"]):
        assert REDACTED in field
        for part in kept:
            assert part in field


# -- structures ------------------------------------------------------------------------------


def stored(telemetry: TelemetryCapture, value: Any) -> Any:
    return telemetry.capture("ctx", "success", 1.0, "t", inputs={"v": value})["inputs"]["v"]


def test_argv_list_loses_the_values_of_secret_flags(telemetry: TelemetryCapture) -> None:
    argv = ["mysql", "--password", "x1y2", "--api-key", "k3y4", "-pZsecret", "--host", "db1"]
    assert stored(telemetry, argv) == [
        "mysql",
        "--password",
        REDACTED,
        "--api-key",
        REDACTED,
        f"-p{REDACTED}",
        "--host",
        "db1",
    ]


def test_argv_list_keeps_the_user_of_curl_u(telemetry: TelemetryCapture) -> None:
    argv = ["curl", "-u", "admin:hunter2pass", "https://example.com"]
    assert stored(telemetry, argv) == ["curl", "-u", f"admin:{REDACTED}", "https://example.com"]


def test_argv_list_keeps_mkdir_p(telemetry: TelemetryCapture) -> None:
    assert stored(telemetry, ["mkdir", "-p", "/tmp/work"]) == ["mkdir", "-p", "/tmp/work"]


def test_sshpass_argv_loses_its_password(telemetry: TelemetryCapture) -> None:
    assert stored(telemetry, ["sshpass", "-p", "Pa55", "ssh", "h"]) == [
        "sshpass",
        "-p",
        REDACTED,
        "ssh",
        "h",
    ]


def test_header_list_of_tuples_loses_secret_values(telemetry: TelemetryCapture) -> None:
    headers = [("Accept", "application/json"), ("Authorization", "Bearer abc"), ("X-Api-Key", "k")]
    assert stored(telemetry, headers) == [
        ["Accept", "application/json"],
        ["Authorization", REDACTED],
        ["X-Api-Key", REDACTED],
    ]


def test_kubernetes_env_loses_secret_values_and_keeps_references(
    telemetry: TelemetryCapture,
) -> None:
    env = [
        {"name": "DB_PASSWORD", "value": "Kx9Lm8"},
        {"name": "DB_HOST", "value": "db1"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
    ]
    assert stored(telemetry, env) == [
        {"name": "DB_PASSWORD", "value": REDACTED},
        {"name": "DB_HOST", "value": "db1"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
    ]


def test_a_token_used_as_a_dict_key_is_redacted_and_the_keys_stay_distinct(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    other = "ghp_" + "Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2"
    entry = telemetry.capture(
        "ctx", "success", 1.0, "t", inputs={"users": {GHP: "alice", other: "bob"}}
    )
    assert entry["inputs"]["users"] == {REDACTED: "alice", f"{REDACTED}#2": "bob"}
    assert GHP not in telemetry_path.read_text()
    assert {"path": "inputs.users.***REDACTED***", "rule": "github-token:in-key"} in entry[
        "metadata"
    ]["redactions"]


def test_a_card_number_passed_as_an_int_is_redacted(telemetry: TelemetryCapture) -> None:
    assert stored(telemetry, {"n": 4111111111111111, "ms": 1733490000000}) == {
        "n": REDACTED,
        "ms": 1733490000000,
    }


def test_a_card_number_passed_as_a_negative_int_is_redacted(telemetry: TelemetryCapture) -> None:
    # Found by Hypothesis: the sign is no protection, the digits are the secret.
    assert stored(telemetry, {"n": -4112340997345340, "ms": -1733490000000}) == {
        "n": REDACTED,
        "ms": -1733490000000,
    }


def test_a_secret_in_a_set_and_in_a_tuple_key_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    stored(telemetry, {"s": {GHP, "x"}, "t": {("token", GHP): 1}})
    assert GHP not in telemetry_path.read_text()


def test_non_utf8_bytes_are_stored_as_redacted_text_not_as_an_encoding(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    value = b"\xff\xfe token=" + b"Zq7vLm2pXw9k" + b" " + GHP.encode()
    assert stored(telemetry, value) == f"\\xff\\xfe token={REDACTED} {REDACTED}"
    data = telemetry_path.read_text()
    assert "Zq7vLm2pXw9k" not in data
    assert "base64" not in data


class LongRepr:
    def __repr__(self) -> str:
        return "x" * 1010 + " api_key='" + "sk-" + "live-" + "Qw3Er4Ty5Ui6Op7As8Df9" + "'"


def test_a_repr_is_redacted_before_it_is_cut(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    value = stored(telemetry, LongRepr())
    assert value.endswith(f"...<{len(repr(LongRepr()))} chars>")
    assert "Qw3Er4" not in telemetry_path.read_text()


def test_a_repr_is_called_once_per_object(telemetry: TelemetryCapture) -> None:
    calls = []

    class Counted:
        def __repr__(self) -> str:
            calls.append(1)
            return "Counted()"

    stored(telemetry, {"a": Counted(), "s": {Counted(), Counted()}, (1, Counted()): 1})
    assert len(calls) == 4


def test_a_repr_that_changes_the_container_being_converted_changes_nothing(
    telemetry: TelemetryCapture,
) -> None:
    box: dict[str, Any] = {"a": 1}
    items: list[Any] = [1]
    inputs: dict[str, Any] = {}

    class Meddler:
        def __init__(self, target: dict[str, Any] | list[Any]) -> None:
            self.target = target

        def __repr__(self) -> str:
            if isinstance(self.target, dict):
                self.target[f"new{len(self.target)}"] = 2
            else:
                self.target.append(3)
            return "Meddler()"

    box["m"] = Meddler(box)
    items.append(Meddler(items))
    inputs.update(box=box, items=items, m=Meddler(inputs), n=1)
    entry = telemetry.capture("ctx", "success", 1.0, "t", inputs=inputs)
    assert entry["inputs"] == {
        "box": {"a": 1, "m": "Meddler()"},
        "items": [1, "Meddler()"],
        "m": "Meddler()",
        "n": 1,
    }


def test_the_decorator_redacts_argv_and_headers(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("ctx.run", capture_inputs=True, telemetry=telemetry)
    def run(argv: list[str], headers: list[tuple[str, str]]) -> None:
        pass

    run(["tool", "--token", "T0k3nV4lue"], [("Authorization", "Basic dXNlcjpwYXNz")])
    data = telemetry_path.read_text()
    assert "T0k3nV4lue" not in data
    assert "dXNlcjpwYXNz" not in data


def test_a_private_key_given_as_a_list_of_lines_loses_every_line(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    lines = [
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAvN3q8Zr7Wm5Tp3Lk1Hj8Gf6Ds4Aa2Ss0Dd9Ff8Gg7Hh6Jj5Kk4",
        "Ll3Zz2Xx1Cc0Vv9Bb8Nn7Mm6Qq5Ww4Ee3Rr2Tt1Yy0Uu9Ii8Oo7Pp6Aa5Ss4Dd3Ff2",
        "-----END RSA PRIVATE KEY-----",
        "after",
    ]
    assert stored(telemetry, lines)[1:] == [
        REDACTED,
        REDACTED,
        "-----END RSA PRIVATE KEY-----",
        "after",
    ]
    assert "MIIEowIBAAKCAQEA" not in telemetry_path.read_text()


def test_a_second_assignment_after_a_secret_keeps_its_name(telemetry: TelemetryCapture) -> None:
    text = "password=000000000000 password=000000000000 token=Zq7vLm2pXw9k"
    assert stored(telemetry, text) == (f"password={REDACTED} password={REDACTED} token={REDACTED}")


def test_a_yaml_block_under_a_secret_key_loses_its_lines(telemetry: TelemetryCapture) -> None:
    text = "config:\n  api_key: |\n    Qw3Er4Ty5Ui6\n    Op7As8Df9Gh0\n  region: eu\n"
    assert stored(telemetry, text) == f"config:\n  api_key: |{REDACTED}\n  region: eu\n"


def test_an_unclosed_bracket_after_a_secret_key_runs_to_the_end(
    telemetry: TelemetryCapture,
) -> None:
    assert stored(telemetry, 'credentials={"user": "a", "pw": "Zx9') == f"credentials={REDACTED}"


def test_three_tokens_as_keys_get_distinct_names_and_a_token_key_with_secret_words_loses_its_value(
    telemetry: TelemetryCapture,
) -> None:
    keys = ["ghp_" + c * 36 for c in "ABC"]
    braintree = "access_token$production$" + "a1" * 8 + "$" + "0f" * 16
    value = stored(telemetry, {**dict.fromkeys(keys, "x"), braintree: "v"})
    assert value == {
        REDACTED: "x",
        f"{REDACTED}#2": "x",
        f"{REDACTED}#3": "x",
        f"{REDACTED}#4": REDACTED,
    }


def test_long_bytes_are_cut_after_redaction_at_a_word(telemetry: TelemetryCapture) -> None:
    value = b"token=" + b"Zq7vLm2pXw9k " + b"w" * 20_000
    text = stored(telemetry, value)
    assert text.startswith(f"token={REDACTED} ")
    assert text.endswith("...<20019 bytes>")
