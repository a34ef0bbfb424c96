"""A file with more after its last entry than a torn append can leave (issue 6, item 3).

An append writes ``,\\n<entry>\\n]\\n`` over the ``\\n]\\n`` after the last entry, so a killed
writer leaves at most a ``,`` and one ``]`` after the last complete entry (and a partial entry
as the file's last line). A second ``]`` (``[\\n{...}\\n]\\n]\\n``), or lines after a partial
entry, come from something else: such a file is not a JSON array, and every writer refuses it
with CorruptStoreError and leaves it byte for byte as it was, instead of "repairing" it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from betty_telemetry import CorruptStoreError, TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry.capture.build import build_entry
from betty_telemetry.capture.encode import encode_entry
from betty_telemetry.stores import JsonArrayStore
from tests.conftest import run_cli

ENTRY = encode_entry(build_entry("kept.entry", "success", 1.0, "test", {"n": 1}))
INDENTED = json.dumps([{"skill": "old", "status": "success"}], indent=2).encode()

NOT_TORN = {
    "second-bracket": b"[\n" + ENTRY + b"\n]\n]\n",
    "brackets-together": b"[\n" + ENTRY + b"\n]]\n",
    "second-bracket-no-newline": b"[\n" + ENTRY + b"\n]\n]",
    "comma-then-two-brackets": b"[\n" + ENTRY + b",\n]\n]\n",
    "two-brackets-then-comma": b"[\n" + ENTRY + b"\n]\n],\n",
    "empty-array-twice-closed": b"[\n]\n]\n",
    "indented-twice-closed": INDENTED + b"\n]\n",
    "partial-after-second-bracket": b"[\n" + ENTRY + b'\n]\n]\n{"timestamp": "20',
    "lines-after-a-partial-entry": b"[\n" + ENTRY + b',\n{"skill": "x\nmore text\n',
}
CLEAN_ENDS = {
    "canonical": b"[\n" + ENTRY + b"\n]\n",
    "empty-array": b"[\n]\n",
    "indented": INDENTED,
    "compact": b'[{"skill": "old"}, {"skill": "older", "args": [1, 2]}]',
}


@pytest.mark.parametrize("name", list(NOT_TORN))
def test_the_store_refuses_the_file_and_leaves_it_unchanged(name: str, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(NOT_TORN[name])
    store = JsonArrayStore(str(path))
    for _ in range(2):  # refused again, not repaired by the first attempt
        with pytest.raises(CorruptStoreError) as caught:
            store.append(ENTRY)
        assert str(path) in str(caught.value)
        assert "left unchanged" in str(caught.value)
    assert path.read_bytes() == NOT_TORN[name]


@pytest.mark.parametrize("name", list(CLEAN_ENDS))
def test_a_second_bracket_after_any_complete_file_is_refused(name: str, tmp_path: Path) -> None:
    # Whatever the layout, once our append made it canonical, a "]" added is never cut away.
    path = tmp_path / "t.json"
    path.write_bytes(CLEAN_ENDS[name])
    JsonArrayStore(str(path)).append(ENTRY)
    content = path.read_bytes() + b"]\n"
    path.write_bytes(content)
    with pytest.raises(CorruptStoreError, match="data after the end of the array"):
        JsonArrayStore(str(path)).append(ENTRY)
    assert path.read_bytes() == content


def test_the_error_says_where_the_extra_bracket_is_and_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(NOT_TORN["second-bracket"])
    offset = len(b"[\n" + ENTRY + b"\n]\n")
    with pytest.raises(CorruptStoreError) as caught:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    assert (
        f"data after the end of the array at line 4, column 1 (byte offset {offset}): "
        "found a closing bracket" in str(caught.value)
    )


def test_no_repair_warning_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "t.json"
    path.write_bytes(NOT_TORN["second-bracket"])
    with pytest.raises(CorruptStoreError):
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    assert "Repaired" not in caplog.text


def test_a_comma_and_one_bracket_after_the_last_entry_are_still_repaired(tmp_path: Path) -> None:
    # The state a writer killed after the first byte of its append leaves: ",]\n".
    path = tmp_path / "t.json"
    path.write_bytes(b"[\n" + ENTRY + b",]\n")
    JsonArrayStore(str(path)).append(ENTRY)
    assert path.read_bytes() == b"[\n" + ENTRY + b",\n" + ENTRY + b"\n]\n"


def test_the_decorator_warns_once_and_leaves_the_file_unchanged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "t.json"
    path.write_bytes(NOT_TORN["second-bracket"])

    @capture_telemetry(skill_name="brackets.decorated", telemetry=TelemetryCapture(path))
    def work(n: int) -> int:
        return n + 1

    assert [work(n) for n in range(3)] == [1, 2, 3]
    warnings = [r.getMessage() for r in caplog.records if r.name == "betty_telemetry"]
    assert len(warnings) == 1
    assert "CorruptStoreError" in warnings[0]
    assert "data after the end of the array" in warnings[0]
    assert path.read_bytes() == NOT_TORN["second-bracket"]


def test_the_context_manager_warns_once_and_leaves_the_file_unchanged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "t.json"
    path.write_bytes(NOT_TORN["second-bracket"])
    telemetry = TelemetryCapture(path)
    for _ in range(3):
        with TelemetryContext("brackets.context", caller="x", telemetry=telemetry) as ctx:
            pass
        assert ctx.entry is None
    assert len([r for r in caplog.records if r.name == "betty_telemetry"]) == 1
    assert path.read_bytes() == NOT_TORN["second-bracket"]


@pytest.mark.parametrize("name", ["second-bracket", "lines-after-a-partial-entry"])
def test_cli_capture_is_an_error_and_leaves_the_file_unchanged(name: str, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(NOT_TORN[name])
    result = run_cli("capture", "s", "success", "1", "CLI", "--file", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {path} is not a JSON array")
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == NOT_TORN[name]
