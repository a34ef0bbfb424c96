"""``betty-telemetry doctor``: the store, what it holds, the settings, and what the library
noted about itself (redactions, truncations, drops), read back from the entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.cli.doctor import doctor_report, render
from betty_telemetry.cli.main import main
from betty_telemetry.model.entry import DROPPED_SKILL
from betty_telemetry.stores import MemoryStore, open_store
from betty_telemetry.stores.archives import free_staged_path
from tests.conftest import FIXTURE
from tests.entries import numbered_entry
from tests.stores import encoded

pytestmark = pytest.mark.every_store

SECRET = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def report(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["doctor", "--json", *args]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def drops_report(count: int) -> dict[str, Any]:
    return numbered_entry(
        50,
        skill=DROPPED_SKILL,
        status="error",
        metadata={"dropped": count, "reasons": {"queue full": count}},
    )


def test_a_file_not_created_yet(telemetry_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = report(capsys, "--file", str(telemetry_path))
    assert found["exists"] is False
    assert (found["entries"], found["size_bytes"], found["archives"]["count"]) == (0, None, 0)
    assert found["chosen_by"] == "--file option"
    assert main(["doctor", "--file", str(telemetry_path)]) == 0
    assert "(not created yet: nothing captured there)" in capsys.readouterr().out


def test_counts_what_the_library_noted_about_itself(
    telemetry: TelemetryCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    telemetry.capture("a", "success", 1, "t", inputs={"token": SECRET, "key": SECRET})
    telemetry.capture("b", "failure", 2, "t", inputs={"text": "x" * 100_000}, error_message="no")
    telemetry.capture("c", "success", 3, "t")
    store = open_store(telemetry.telemetry_file)
    store.write([encoded(drops_report(7)), encoded(drops_report(5))])
    store.close()
    file = str(telemetry.telemetry_file)
    found = report(capsys, "--file", file)
    assert found["self"] == {
        "dropped_entries": 12,
        "drop_reports": 2,
        "redacted_values": 2,
        "redacted_entries": 1,
        "truncated_entries": 1,
    }
    assert found["entries"] == 5
    assert main(["doctor", "--file", file]) == 0
    text = capsys.readouterr().out
    assert "lost          12 entries dropped by background writers (2 reports)" in text
    assert "query --skill betty_telemetry.dropped" in text


def test_redactions_truncations_and_statuses(
    telemetry: TelemetryCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    telemetry.capture("a", "success", 1, "t", inputs={"token": SECRET, "key": SECRET})
    telemetry.capture("b", "failure", 2, "t", inputs={"text": "x" * 100_000}, error_message="no")
    telemetry.capture("c", "success", 3, "t")
    found = report(capsys, "--file", str(telemetry.telemetry_file))
    assert found["entries"] == 3
    assert found["statuses"] == {"success": 2, "failure": 1}
    assert found["self"] == {
        "dropped_entries": 0,
        "drop_reports": 0,
        "redacted_values": 2,
        "redacted_entries": 1,
        "truncated_entries": 1,
    }
    assert found["oldest"] < found["newest"]
    assert found["size_bytes"] >= 0
    assert main(["doctor", "--file", str(telemetry.telemetry_file)]) == 0
    text = capsys.readouterr().out
    assert "redactions    2 values in 1 entries" in text
    assert "truncations   1 entries with values cut" in text
    assert "lost          nothing: no entry was dropped" in text
    assert SECRET not in text


def test_archives_and_their_entries(
    telemetry: TelemetryCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    telemetry.capture("old", "success", 1, "t")
    telemetry.rotate()
    telemetry.capture("new", "success", 1, "t")
    file = str(telemetry.telemetry_file)
    found = report(capsys, "--file", file)
    assert (found["entries"], found["archives"]["count"]) == (1, 1)
    assert found["archives"]["bytes"] > 0
    assert found["archives"]["unfinished"] == 0
    assert report(capsys, "--file", file, "--archives")["entries"] == 2
    Path(free_staged_path(file)).write_bytes(b"")  # a rotation under way
    assert main(["doctor", "--archives", "--file", file]) == 0
    text = capsys.readouterr().out
    assert "entries       2 (with the archives)" in text
    assert "archives      2, " in text
    assert "1 not compressed yet" in text


def test_settings_come_from_the_environment(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(telemetry_path))
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_BYTES", "50MB")
    monkeypatch.setenv("BETTY_TELEMETRY_LOCK_TIMEOUT", "3")
    found = report(capsys)
    assert found["chosen_by"] == "$BETTY_TELEMETRY_FILE"
    assert found["settings"] == {
        "max_bytes": 50 * 1024 * 1024,
        "max_entries": None,
        "lock_timeout_s": 3.0,
        "durability": "write",
    }
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert "rotation      max_bytes 50.0 MiB, max_entries off" in text
    assert "lock timeout 3 s, durability write" in text


@pytest.mark.only_stores("json", reason="the fixture is a JSON array")
def test_the_original_frameworks_file(capsys: pytest.CaptureFixture[str]) -> None:
    found = report(capsys, "--file", str(FIXTURE))
    everything = json.loads(FIXTURE.read_text())
    assert found["entries"] == len(everything)
    assert 0 < found["legacy_entries"] < len(everything)
    assert found["statuses"]["failed"] > 0
    assert main(["doctor", "--file", str(FIXTURE)]) == 0
    assert "in a legacy shape" in capsys.readouterr().out


def test_a_store_in_memory() -> None:
    telemetry = TelemetryCapture(store=MemoryStore())
    telemetry.capture("a", "success", 1, "t")
    found = doctor_report(telemetry, archives=False)
    assert found["store"] == "in memory"
    assert (found["size_bytes"], found["archives"]["count"]) == (None, 0)
    assert found["settings"]["durability"] is None
    assert "durability the store's own" in render(found)


def test_sizes_are_shown_in_binary_units(
    telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_BYTES", "3GiB")
    telemetry = TelemetryCapture(telemetry_path)
    assert "max_bytes 3.0 GiB" in render(doctor_report(telemetry, archives=False))
    monkeypatch.setenv("BETTY_TELEMETRY_MAX_BYTES", "1000")
    assert "max_bytes 1,000 bytes" in render(
        doctor_report(TelemetryCapture(telemetry_path), archives=False)
    )
