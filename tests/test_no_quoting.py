"""Errors and warnings about a file's content describe it and never quote it (issue 6, item 4).

Pointed at a ``.env`` by mistake, the library used to print the API key into the error
(``it starts with b'OPENAI_API_KEY=sk-proj-...'``). Whatever a file holds, and whichever
interface meets it, what the library says (exceptions, warnings, the CLI's stderr) must hold
no part of it, and still say where and what kind of thing was found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import CorruptStoreError, TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry.stores._describe import kind_of
from tests.conftest import run_cli

# Fake, but shaped like the real thing (the redaction rules would know it).
SECRET = "sk-proj-FAKEfakeFAKE0123456789abcdefghijKLMNOPqrstuvWXYZ"
TOKEN = "ghp_FAKE0123456789abcdefghijklmnopqrstuv"


def pieces(secret: str, size: int = 8) -> list[str]:
    """Every run of ``size`` characters of the secret: a quote cut short still leaks."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def assert_quotes_nothing(said: str) -> None:
    for secret in (SECRET, TOKEN):
        leaked = [piece for piece in pieces(secret) if piece in said]
        assert not leaked, f"{leaked[:3]} leaked into: {said}"


# File contents that are not arrays, or arrays damaged with a secret in the damage.
NOT_ARRAYS: dict[str, bytes] = {
    "env": f"OPENAI_API_KEY={SECRET}\nGITHUB_TOKEN={TOKEN}\n".encode(),
    "env-with-comment": f"# local settings\nOPENAI_API_KEY={SECRET}\n".encode(),
    "json-object": f'{{"api_key": "{SECRET}", "token": "{TOKEN}"}}\n'.encode(),
    "binary": b"\x00\x01\x02\x03" + SECRET.encode() + b"\xff\xfe" + TOKEN.encode(),
    "json-string": f'"{SECRET}"'.encode(),
}
DAMAGED_ARRAYS: dict[str, bytes] = {
    "missing-comma": f'[{{"a": 1}} {{"token": "{TOKEN}", "key": "{SECRET}"}}]'.encode(),
    "after-the-end": f'[\n{{"a": 1}}\n]\nOPENAI_API_KEY={SECRET}\n{TOKEN}\n'.encode(),
    "torn-then-text": f'[\n{{"a": 1}},\n{{"key": "{SECRET}\nGITHUB_TOKEN={TOKEN}\n'.encode(),
}
# Damage an O(1) append cannot see: the tail is sound, so captures succeed; readers report it.
DAMAGED_MIDDLES: dict[str, bytes] = {
    "line": b'[\n{"skill": "a"},\n' + f"OPENAI_API_KEY={SECRET} {TOKEN}".encode()
    + b',\n{"skill": "b"}\n]\n',
    "entry-line": b'[\n{"skill": "a"},\n{"key": "' + SECRET.encode()
    + b'\x01"},\n{"skill": "b"}\n]\n',
    "indented": b'[\n  {\n    "skill": "a"\n  },\n  token=' + TOKEN.encode() + b" "
    + SECRET.encode() + b'\n  {\n    "skill": "b"\n  }\n]\n',
}  # fmt: skip
REFUSED = {**NOT_ARRAYS, **DAMAGED_ARRAYS}
EVERY = {**REFUSED, **DAMAGED_MIDDLES}


def written(tmp_path: Path, content: bytes, name: str = ".env") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def said_by(action: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> str:
    """Everything the library said while ``action`` ran: its exception, if any, and warnings."""
    caplog.clear()
    try:
        action()
    except (CorruptStoreError, OSError) as error:
        return f"{error}\n{caplog.text}"
    return caplog.text


@pytest.mark.parametrize("name", list(REFUSED))
def test_capture_refuses_the_file_describing_it_without_quoting(name: str, tmp_path: Path) -> None:
    path = written(tmp_path, REFUSED[name])
    with pytest.raises(CorruptStoreError) as caught:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    message = str(caught.value)
    assert str(path) in message
    assert "not a JSON array" in message
    assert_quotes_nothing(message)
    assert path.read_bytes() == REFUSED[name]


@pytest.mark.parametrize(
    ("name", "description"),
    [
        ("env", "it starts with text that is not JSON"),
        ("json-object", "it starts with a JSON object"),
        ("binary", "it starts with binary data"),
        ("json-string", "it starts with a JSON string"),
    ],
)
def test_the_error_says_what_kind_of_thing_the_file_starts_with(
    name: str, description: str, tmp_path: Path
) -> None:
    path = written(tmp_path, NOT_ARRAYS[name])
    for action in (
        lambda: TelemetryCapture(path).capture("s", "success", 1.0, "c"),
        lambda: TelemetryCapture(path).query(),
    ):
        with pytest.raises(CorruptStoreError, match=description):
            action()


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("missing-comma", "at line 1, column 11 (byte offset 10): found a JSON object"),
        ("after-the-end", "at line 4, column 1 (byte offset 13): found text that is not JSON"),
    ],
)
def test_a_damaged_array_is_refused_saying_where_and_what(
    name: str, where: str, tmp_path: Path
) -> None:
    path = written(tmp_path, DAMAGED_ARRAYS[name])
    with pytest.raises(CorruptStoreError) as caught:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    assert where in str(caught.value)


READS: dict[str, Callable[[TelemetryCapture], Any]] = {
    "query": lambda t: t.query(),
    "stats": lambda t: t.stats(),
    "tail": lambda t: t.tail(),
    "trace": lambda t: t.trace("4bf92f3577b34da6a3ce929d0e0e4736"),
    "last_trace_id": lambda t: t.last_trace_id(),
    "follow": lambda t: t.follow(backlog=5).close(),
}


@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("name", list(EVERY))
def test_reads_quote_nothing_of_the_file(
    name: str, read: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="betty_telemetry")
    path = written(tmp_path, EVERY[name])
    said = said_by(lambda: READS[read](TelemetryCapture(path)), caplog)
    assert_quotes_nothing(said)
    assert path.read_bytes() == EVERY[name]


@pytest.mark.parametrize("name", list(EVERY))
def test_the_decorator_and_context_warnings_quote_nothing_of_the_file(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="betty_telemetry")
    path = written(tmp_path, EVERY[name])
    telemetry = TelemetryCapture(path)

    @capture_telemetry(skill_name="quoting.decorated", telemetry=telemetry)
    def work() -> int:
        return 7

    def in_context() -> None:
        with TelemetryContext("quoting.context", caller="x", telemetry=telemetry):
            pass

    assert work() == 7
    in_context()
    if name in REFUSED:
        assert "not a JSON array" in caplog.text
    assert_quotes_nothing(caplog.text)


CLI = {
    "capture": ["capture", "s", "success", "1", "CLI"],
    "query": ["query"],
    "query-json": ["query", "--json"],
    "stats": ["stats"],
    "tail": ["tail"],
    "trace": ["trace", "--last"],
}


@pytest.mark.parametrize("command", list(CLI))
@pytest.mark.parametrize("name", list(EVERY))
def test_cli_stderr_quotes_nothing_of_the_file(name: str, command: str, tmp_path: Path) -> None:
    path = written(tmp_path, EVERY[name])
    result = run_cli(*CLI[command], "--file", str(path))
    assert "Traceback" not in result.stderr
    assert_quotes_nothing(result.stderr)
    if name in REFUSED and command == "capture":
        assert result.returncode == 1
        assert result.stderr.startswith(f"Error: {path} is not a JSON array")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "the end of the file"),
        (b"  \n\t", "the end of the file"),
        (b'{"a": 1}', "a JSON object"),
        (b"[1]", "a JSON array"),
        (b"]", "a closing bracket"),
        (b",", "a comma"),
        (b'"text"', "a JSON string"),
        (b"-12", "a number"),
        (b"null", "a JSON true, false or null"),
        (b"OPENAI_API_KEY=x", "text that is not JSON"),
        (b"caf\xc3\xa9 au lait", "text that is not JSON"),
        (b"x" * 63 + "é".encode(), "text that is not JSON"),  # a character cut by the sample
        (b"\x00\x01", "binary data"),
        (b"\xff\xfe\xfd abc", "binary data"),
        (b"abc\x1b[31m", "binary data"),
    ],
)
def test_kind_of_names_what_the_bytes_are_without_them(data: bytes, kind: str) -> None:
    assert kind_of(data) == kind
