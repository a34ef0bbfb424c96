"""Returned values whose inspection raises never reach the host (issue 6, item 7).

The decorator looks into a returned mapping for a ``status``. A closed ``shelve.Shelf`` is a
Mapping whose ``in`` raises ValueError: the call must still return it, by identity, and be
recorded as a success, with one warning that quotes nothing of the value or its error.
"""

from __future__ import annotations

import asyncio
import logging
import shelve
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, capture_telemetry
from tests.stores import store_bytes

pytestmark = pytest.mark.every_store

SECRET = "sk-proj-HOSTILEhostileHOSTILEhostile0123456789"


@pytest.fixture
def closed_shelf(tmp_path: Path) -> shelve.Shelf[Any]:
    with shelve.open(str(tmp_path / "shelf")) as shelf:
        shelf["status"] = "failure"
    with pytest.raises(ValueError, match="closed shelf"):  # the hazard is real
        _ = "status" in shelf
    assert isinstance(shelf, Mapping)
    return shelf


class SecretMapping(Mapping[str, Any]):
    """A mapping whose every look-up fails with a message holding a secret."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError(f"no access with token={SECRET}")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError(f"no access with token={SECRET}")

    def __len__(self) -> int:
        return 1

    def __contains__(self, key: object) -> bool:
        raise RuntimeError(f"no access with token={SECRET}")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "betty_telemetry" and record.levelno == logging.WARNING
    ]


def recorded(telemetry: TelemetryCapture) -> list[dict[str, Any]]:
    return list(reversed(telemetry.query()))


def call_sync(value: object, telemetry: TelemetryCapture, output: bool) -> object:
    @capture_telemetry(skill_name="hostile.sync", telemetry=telemetry, capture_output=output)
    def run() -> object:
        return value

    return run()


def call_async(value: object, telemetry: TelemetryCapture, output: bool) -> object:
    @capture_telemetry(skill_name="hostile.async", telemetry=telemetry, capture_output=output)
    async def run() -> object:
        await asyncio.sleep(0)
        return value

    return asyncio.run(run())


def call_generator(value: object, telemetry: TelemetryCapture, output: bool) -> object:
    @capture_telemetry(skill_name="hostile.gen", telemetry=telemetry, capture_output=output)
    def run() -> Iterator[int]:
        yield 1
        yield 2
        return value  # type: ignore[misc]

    generator = run()
    assert list(_items(generator)) == [1, 2]
    return _returned


_returned: object = None


def _items(generator: Iterator[int]) -> Iterator[int]:
    global _returned
    _returned = yield from generator


CALLS: dict[str, Callable[[object, TelemetryCapture, bool], object]] = {
    "sync": call_sync,
    "async": call_async,
    "generator": call_generator,
}


@pytest.mark.parametrize("output", [False, True], ids=["plain", "capture_output"])
@pytest.mark.parametrize("kind", list(CALLS))
def test_a_closed_shelf_is_returned_by_identity_and_recorded_as_a_success(
    kind: str,
    output: bool,
    closed_shelf: shelve.Shelf[Any],
    telemetry: TelemetryCapture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    assert CALLS[kind](closed_shelf, telemetry, output) is closed_shelf
    [entry] = recorded(telemetry)
    assert (entry["status"], entry["error_message"]) == ("success", None)
    if kind == "generator":
        assert entry["metadata"]["items"] == 2
        if output:
            assert entry["metadata"]["output"] == 2  # a generator's output is its item count
    elif output:
        assert "DbfilenameShelf" in entry["metadata"]["output"]  # a bounded repr
    else:
        assert entry["metadata"] == {}
    [warning] = warnings_of(caplog)
    assert "DbfilenameShelf" in warning
    assert "recorded as a success" in warning
    assert "ValueError" in warning


@pytest.mark.parametrize("kind", list(CALLS))
def test_many_calls_returning_a_closed_shelf_log_one_warning(
    kind: str,
    closed_shelf: shelve.Shelf[Any],
    telemetry: TelemetryCapture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    for _ in range(3):
        assert CALLS[kind](closed_shelf, telemetry, False) is closed_shelf
    assert [entry["status"] for entry in recorded(telemetry)] == ["success"] * 3
    assert len(warnings_of(caplog)) == 1


@pytest.mark.parametrize("kind", list(CALLS))
def test_the_warning_never_quotes_the_error_of_the_returned_value(
    kind: str, telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    value = SecretMapping()
    assert CALLS[kind](value, telemetry, False) is value
    [entry] = recorded(telemetry)
    assert entry["status"] == "success"
    [warning] = warnings_of(caplog)
    assert "SecretMapping" in warning
    assert SECRET not in caplog.text
    assert SECRET not in json_text(telemetry)


def json_text(telemetry: TelemetryCapture) -> str:
    """Every byte the store keeps, as text (a secret in it would show here)."""
    return store_bytes(telemetry.telemetry_file).decode("utf-8", "replace")


def test_a_mapping_with_a_status_still_sets_the_status(telemetry: TelemetryCapture) -> None:
    # The guard must not swallow the ordinary case it wraps.
    assert call_sync({"status": "failure", "error": "bad input"}, telemetry, False)
    [entry] = recorded(telemetry)
    assert (entry["status"], entry["error_message"]) == ("failure", "bad input")
