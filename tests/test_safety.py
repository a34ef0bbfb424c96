"""Telemetry never breaks the host: failure reporting and exception descriptions."""

from __future__ import annotations

import logging

import pytest

from betty_telemetry import _config
from betty_telemetry._safety import describe_exception, report_failure


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_an_exception_whose_str_raises_is_still_described() -> None:
    assert describe_exception(UnprintableError()) == (
        "UnprintableError: <UnprintableError whose str() failed>"
    )


def test_an_exception_without_a_message_is_described_by_its_type() -> None:
    assert describe_exception(KeyError()) == "KeyError"
    assert describe_exception(ValueError("bad")) == "ValueError: bad"


def test_each_cause_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        for _ in range(3):
            report_failure(OSError("disk full"))
        report_failure(OSError("another cause"))
    assert [r.getMessage().count("disk full") for r in caplog.records] == [1, 0]
    assert len(caplog.records) == 2


def test_once_the_memory_of_causes_is_full_new_causes_are_still_reported(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "_MAX_REMEMBERED_CAUSES", 2)
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        for cause in ("a", "b", "c", "c"):
            report_failure(OSError(cause))
    # Past the bound nothing more is remembered: better a repeated warning than a silent one.
    assert len(caplog.records) == 4
