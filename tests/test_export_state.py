"""The export's state file (NAME.otlp.json) and checkpoints: damaged or odd contents never
stop an export, and the file stays small."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.export import OtlpExport
from betty_telemetry.export.checkpoint import Checkpoint, Checkpoints
from betty_telemetry.export.live import LiveExport
from betty_telemetry.export.state import MAX_REASONS, OTHER, add_drops, read_state, update_state
from betty_telemetry.export.targets import Target


@pytest.fixture
def state_file(tmp_path: Path) -> str:
    return str(tmp_path / "t.json.otlp.json")


def test_no_file_is_an_empty_state(state_file: str) -> None:
    assert read_state(state_file) == {}


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "{not json", ""])
def test_odd_or_damaged_contents_read_as_empty(state_file: str, text: str) -> None:
    Path(state_file).write_text(text)
    assert read_state(state_file) == {}


@pytest.mark.parametrize("text", ["[1, 2]", "{not json"])
def test_odd_or_damaged_contents_are_started_again_on_update(state_file: str, text: str) -> None:
    Path(state_file).write_text(text)
    add_drops(state_file, 3, "why")
    assert read_state(state_file)["dropped"]["total"] == 3


def test_drops_add_up_by_reason(state_file: str) -> None:
    add_drops(state_file, 2, "a")
    add_drops(state_file, 5, "b")
    add_drops(state_file, 1, "a")
    dropped = read_state(state_file)["dropped"]
    assert dropped["total"] == 8
    assert dropped["reasons"] == {"a": 3, "b": 5}
    assert dropped["last_reason"] == "a"


def test_reasons_beyond_the_limit_are_summed_together(state_file: str) -> None:
    for index in range(MAX_REASONS + 5):
        add_drops(state_file, 1, f"reason {index}")
    add_drops(state_file, 1, "reason 0")
    reasons = read_state(state_file)["dropped"]["reasons"]
    assert len(reasons) == MAX_REASONS + 1
    assert reasons[OTHER] == 5
    assert reasons["reason 0"] == 2


def test_the_file_is_the_owners_only(state_file: str) -> None:
    update_state(state_file, lambda state: state.update(x=1))
    assert Path(state_file).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "stored",
    [None, "text", {"sent": "3", "last": "a:b"}, {"sent": 0, "last": "a:b"}, {"sent": 3}],
)
def test_an_odd_checkpoint_is_no_checkpoint(state_file: str, stored: object) -> None:
    Path(state_file).write_text(json.dumps({"replays": {"key": stored}}))
    assert Checkpoints(state_file, "key").load() is None


def test_checkpoints_are_saved_cleared_and_kept_apart(state_file: str) -> None:
    first, second = Checkpoints(state_file, "one"), Checkpoints(state_file, "two")
    first.save(Checkpoint(10, "a:b"))
    second.save(Checkpoint(20, "c:d"))
    assert first.load() == Checkpoint(10, "a:b")
    first.clear()
    assert first.load() is None
    assert second.load() == Checkpoint(20, "c:d")


def test_a_store_in_memory_keeps_its_checkpoint_in_memory() -> None:
    checkpoints = Checkpoints(None, "key")
    checkpoints.save(Checkpoint(4, "a:b"))
    assert checkpoints.load() == Checkpoint(4, "a:b")
    checkpoints.clear()
    assert checkpoints.load() is None


def test_a_state_file_that_cannot_be_written_costs_the_count_not_the_host(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(settings: OtlpExport) -> Target:
        raise ConnectionError("no route to the collector")

    export = LiveExport(OtlpExport(), str(tmp_path / "missing" / "t.otlp.json"), unreachable)
    telemetry = TelemetryCapture(tmp_path / "t.json", export=False)
    entry = telemetry.capture("x", "success", 1.0, "CLI")
    from betty_telemetry.stores.base import Encoded

    export.write([Encoded.as_stored(entry)])
    export.flush(10)
    export.close()
    assert export.dropped == 1
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "no route to the collector" in messages
    assert "could not count dropped spans" in messages
