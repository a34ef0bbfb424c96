"""The API's small courtesies: both spellings of the skill on the decorator and the context
manager, ``TelemetryCapture`` in a ``with``, ``trace()`` meaning the newest trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry
from tests.stores import stored_entries

pytestmark = pytest.mark.every_store


def test_the_decorator_takes_skill_too(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    @capture_telemetry(skill="plugin.build", telemetry=telemetry)
    def build() -> None:
        pass

    @capture_telemetry(skill_name="plugin.lint", skill="plugin.lint", telemetry=telemetry)
    def lint() -> None:
        pass

    build()
    lint()
    assert [e["skill"] for e in stored_entries(telemetry_path)] == ["plugin.build", "plugin.lint"]


def test_the_context_manager_takes_skill_name_too(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with TelemetryContext(skill_name="agent.plan", telemetry=telemetry):
        pass
    with TelemetryContext("agent.act", telemetry=telemetry):  # the spec's spelling
        pass
    assert [e["skill"] for e in stored_entries(telemetry_path)] == ["agent.plan", "agent.act"]


def test_two_different_names_or_none_are_refused(telemetry: TelemetryCapture) -> None:
    with pytest.raises(TypeError, match="give the skill once, as skill= or skill_name="):
        capture_telemetry(skill_name="a.b", skill="c.d")
    with pytest.raises(TypeError, match="give the skill once"):
        TelemetryContext("a.b", skill_name="c.d", telemetry=telemetry)
    with pytest.raises(TypeError, match=r"TelemetryContext\('plugin.build'\)"):
        TelemetryContext(telemetry=telemetry)
    with pytest.raises(ValueError, match="skill must be a non-empty string"):
        TelemetryContext(skill_name="  ", telemetry=telemetry)


def test_telemetry_capture_closes_at_the_end_of_a_with(telemetry_path: Path) -> None:
    with TelemetryCapture(telemetry_file=telemetry_path, background=True) as telemetry:
        telemetry.capture("plugin.build", "success", 5.0, "test")
        telemetry.capture("plugin.build", "failure", 7.0, "test")
    # Closed: the writer thread wrote what was queued before the block ended.
    assert [e["status"] for e in stored_entries(telemetry_path)] == ["success", "failure"]


def test_an_exception_in_the_with_goes_on_and_the_entries_stay(telemetry_path: Path) -> None:
    def record_then_fail() -> None:
        with TelemetryCapture(telemetry_file=telemetry_path) as telemetry:
            telemetry.capture("plugin.build", "success", 5.0, "test")
            raise KeyError("boom")

    with pytest.raises(KeyError):
        record_then_fail()
    assert len(stored_entries(telemetry_path)) == 1


def test_trace_without_an_id_is_the_newest_trace(telemetry: TelemetryCapture) -> None:
    assert telemetry.trace() == []  # nothing yet
    with TelemetryContext("workflow.old", telemetry=telemetry):
        pass
    with (
        TelemetryContext("workflow.new", telemetry=telemetry),
        TelemetryContext("step", telemetry=telemetry),
    ):
        pass
    roots = telemetry.trace()
    assert [root["entry"]["skill"] for root in roots] == ["workflow.new"]
    assert roots[0]["children"][0]["entry"]["skill"] == "step"
    assert roots == telemetry.trace(telemetry.last_trace_id())


def test_the_types_the_api_returns_are_exported(
    telemetry: TelemetryCapture, telemetry_path: Path, tmp_path: Path
) -> None:
    import betty_telemetry

    assert isinstance(betty_telemetry.resolve_telemetry_path(), betty_telemetry.ResolvedPath)
    with TelemetryContext("outer", telemetry=telemetry):
        assert isinstance(betty_telemetry.current_span(), betty_telemetry.Span)
    written = telemetry.report(tmp_path / "r.html")
    assert isinstance(written, betty_telemetry.WrittenReport)
    for name in ("ResolvedPath", "Span", "WrittenReport"):
        assert name in betty_telemetry.__all__
