"""JSON nested 10,000 levels deep, past what Python's JSON reader can follow (issue 6, item 1).

``json.loads`` recurses once per level and raises RecursionError near 1,000. On the command line
that is a bad value: ``Error: ...`` saying so and what to do, exit 1, nothing written. In a file
being read, the entry holding it is skipped and reported like any damaged line, and every
other entry is read. A writer that must parse the file to append (its tail is not one of
ours) cannot tell where such a value ends, so it refuses the file, leaving it untouched.
No RecursionError ever escapes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import CorruptStoreError, TelemetryCapture, capture_telemetry
from betty_telemetry.stores.json_array.follow import ArrayFollower
from tests.conftest import SKILL_DIR, run_cli, run_python
from tests.entries import TRACE, numbered_entry

LEVELS = 10_000
DEEP = "[" * LEVELS + "]" * LEVELS
DEEP_OBJECT = '{"a": ' * LEVELS + "1" + "}" * LEVELS
TOO_DEEP = "nested deeper than Python's JSON reader can read"
Entry = dict[str, Any]


def entry(n: int) -> Entry:
    return numbered_entry(n)


ENTRIES = [entry(n) for n in range(6)]
LINES = [json.dumps(e).encode() for e in ENTRIES]
# Written by another tool: the deep value comes before any field our summaries stop at.
DEEP_LINE = f'{{"skill": "deep", "trace_id": "{TRACE}", "payload": {DEEP}}}'.encode()


def canonical(lines: list[bytes]) -> bytes:
    return b"[\n" + b",\n".join(lines) + b"\n]\n"


def indented_with_deep_element() -> bytes:
    """An indented array (the original framework's layout) whose third element holds the
    deep value on one line."""
    text = json.dumps(ENTRIES, indent=2)
    third = text.index('  {\n    "timestamp": "' + ENTRIES[2]["timestamp"])
    deep = f'  {{\n    "skill": "deep",\n    "trace_id": "{TRACE}",\n    "payload": {DEEP}\n  }},\n'
    return (text[:third] + deep + text[third:]).encode()


FILES = {
    "our-layout": canonical([*LINES[:3], DEEP_LINE, *LINES[3:]]),
    "our-layout-deep-last": canonical([*LINES, DEEP_LINE]),
    "indented": indented_with_deep_element(),
}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "betty_telemetry"]


def _backlog(telemetry: TelemetryCapture) -> list[Entry]:
    follower = ArrayFollower(str(telemetry.telemetry_file))
    try:
        return follower.start_at_end(100)
    finally:
        follower.close()


READS: dict[str, tuple[Callable[[TelemetryCapture], Any], Any]] = {
    "query": (lambda t: t.query(), list(reversed(ENTRIES))),
    "iter_entries": (lambda t: list(t.iter_entries()), list(reversed(ENTRIES))),
    "tail": (lambda t: t.tail(100), ENTRIES),
    "stats": (lambda t: sum(row["count"] for row in t.stats()), len(ENTRIES)),
    "trace": (lambda t: len(t.trace(TRACE)), len(ENTRIES)),
    "last_trace_id": (lambda t: t.last_trace_id(), TRACE),
    "follow-backlog": (_backlog, ENTRIES),
}


@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("layout", list(FILES))
def test_every_reader_skips_the_deep_entry_reads_the_rest_and_says_why(
    layout: str, read: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(FILES[layout])
    do, expected = READS[read]
    assert do(TelemetryCapture(path)) == expected
    if read == "last_trace_id" and layout == "our-layout":
        return  # found in the newest lines: the read stops before the deep one
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"{path}: skipped a damaged line")
    assert TOO_DEEP in warning
    assert path.read_bytes() == FILES[layout]


def test_an_entry_of_ours_with_deep_inputs_is_skipped_by_queries_and_counted_by_stats(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # stats() reads only the five fields before "inputs": they are sound, so it counts it.
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    deep = (
        json.dumps(entry(9) | {"inputs": {}})
        .encode()
        .replace(b'"inputs": {}', b'"inputs": ' + DEEP.encode())
    )
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical([*LINES[:3], deep, *LINES[3:]]))
    telemetry = TelemetryCapture(path)
    assert telemetry.query() == list(reversed(ENTRIES))
    assert TOO_DEEP in warnings_of(caplog)[0]
    assert sum(row["count"] for row in telemetry.stats()) == len(ENTRIES) + 1


def test_follow_skips_a_deep_entry_appended_while_following(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical(LINES[:2]))
    follower = ArrayFollower(str(path))
    try:
        assert follower.start_at_end(10) == ENTRIES[:2]
        path.write_bytes(canonical([*LINES[:2], DEEP_LINE, *LINES[2:4]]))
        found: list[Entry] = []
        for _ in range(20):
            found += follower.poll()
            if len(found) >= 2:
                break
        assert found == ENTRIES[2:4]
    finally:
        follower.close()
    assert any(TOO_DEEP in warning for warning in warnings_of(caplog))


@pytest.mark.parametrize("command", [["query", "--jsonl", "--all"], ["stats", "--json"]])
@pytest.mark.parametrize("layout", ["our-layout", "indented"])
def test_cli_reads_print_the_other_entries_and_one_warning(
    layout: str, command: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(FILES[layout])
    result = run_cli(*command, "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [warning] = result.stderr.splitlines()
    assert warning.startswith("Warning: ")
    assert TOO_DEEP in warning
    if command[0] == "stats":
        assert sum(row["count"] for row in json.loads(result.stdout)) == len(ENTRIES)
    else:
        assert len(result.stdout.splitlines()) == len(ENTRIES)


# -- writers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["our-layout", "indented"])
def test_captures_append_to_a_file_holding_a_deep_entry(layout: str, tmp_path: Path) -> None:
    # The tail is sound, so the append never parses the deep entry; it stays byte for byte.
    path = tmp_path / "telemetry.json"
    path.write_bytes(FILES[layout])
    new = TelemetryCapture(path).capture("after.deep", "success", 1.0, "test")
    content = path.read_bytes()
    assert content.startswith(FILES[layout].rstrip(b"\n]").rstrip())
    assert TelemetryCapture(path).query(limit=1) == [new]


def test_a_torn_append_after_a_deep_entry_is_repaired_and_the_deep_entry_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry.json"
    kept = b"[\n" + b",\n".join([*LINES[:2], DEEP_LINE])
    path.write_bytes(kept + b',\n{"timestamp": "2025-10-2')
    TelemetryCapture(path).capture("after.torn", "success", 1.0, "test")
    assert path.read_bytes().startswith(kept + b",\n{")


DEEP_REFUSED = {
    # The slow path must parse to find the end: it cannot, so it does not write.
    "compact": f'[{{"skill": "a"}}, {{"payload": {DEEP}}}]'.encode(),
    "deep-last-line-then-extra": canonical([*LINES[:2], DEEP_LINE]) + b"]\n",
    "deep-object": f'[{{"skill": "a"}},{DEEP_OBJECT}]'.encode(),
}


@pytest.mark.parametrize("name", list(DEEP_REFUSED))
def test_a_writer_that_must_parse_a_deep_value_refuses_the_file_untouched(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(DEEP_REFUSED[name])
    with pytest.raises(CorruptStoreError) as caught:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    assert str(path) in str(caught.value)
    assert path.read_bytes() == DEEP_REFUSED[name]


def test_the_refusal_says_where_and_why(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(DEEP_REFUSED["compact"])
    with pytest.raises(CorruptStoreError) as caught:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    assert f"{TOO_DEEP} (about 1,000 levels) at line 1, column 18 (byte offset 17)" in str(
        caught.value
    )


def test_the_decorator_warns_once_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(DEEP_REFUSED["compact"])

    @capture_telemetry(skill_name="deep.decorated", telemetry=TelemetryCapture(path))
    def work(n: int) -> int:
        return -n

    assert [work(n) for n in range(3)] == [0, -1, -2]
    [warning] = warnings_of(caplog)
    assert "CorruptStoreError" in warning
    assert TOO_DEEP in warning
    assert path.read_bytes() == DEEP_REFUSED["compact"]


# -- the CLI's own JSON arguments ------------------------------------------------------------

CLI_FORMS = {
    "inputs": ["capture", "deep.cli", "success", "1", "CLI", DEEP],
    "inputs-object": ["capture", "deep.cli", "success", "1", "CLI", DEEP_OBJECT],
    "bare-inputs": ["deep.cli", "success", "1", "CLI", DEEP],
    "metadata": ["capture", "deep.cli", "success", "1", "CLI", "--metadata", DEEP],
    "metadata-in-object": ["deep.cli", "success", "1", "CLI", "{}", "--metadata", DEEP_OBJECT],
}


@pytest.mark.parametrize("form", list(CLI_FORMS))
def test_cli_refuses_deeply_nested_json_clearly_and_writes_nothing(
    form: str, tmp_path: Path
) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    result = run_cli(*CLI_FORMS[form], "--file", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "RecursionError" not in result.stderr
    name = "metadata" if form.startswith("metadata") else "inputs"
    assert result.stderr.startswith(f"Error: Invalid JSON for {name}: it is {TOO_DEEP}")
    assert "Pass an object nested less deeply" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not path.parent.exists()


def test_cli_leaves_an_existing_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(canonical(LINES))
    result = run_cli("capture", "deep.cli", "success", "1", "CLI", DEEP, "--file", str(path))
    assert result.returncode == 1
    assert path.read_bytes() == canonical(LINES)


def test_the_skill_script_refuses_deeply_nested_json_too(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    script = str(SKILL_DIR / "telemetry_capture.py")
    result = run_python(script, "deep.skill", "success", "1", "CLI", DEEP, "--file", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: Invalid JSON for inputs: it is {TOO_DEEP}")
    assert not path.exists()
