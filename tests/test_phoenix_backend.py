"""The real-backend harness works (tests/backend/phoenix.py): spans exported by the official SDK
over OTLP/HTTP are stored by Arize Phoenix and read back with their ids, parent link, times,
status and attributes, in the project chosen for them; and without Phoenix installed as pinned
the harness says what to run instead of starting something else."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.backend import phoenix as harness
from tests.backend.phoenix import Phoenix, PhoenixSpan, PhoenixUnavailable, as_stored_by_phoenix


@pytest.mark.backend
def test_a_parent_and_a_failed_child_are_stored_as_sent(
    phoenix: Phoenix, phoenix_project: str
) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "smoke"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    exporter = OTLPSpanExporter(endpoint=phoenix.endpoint, headers=phoenix.headers(phoenix_project))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.phoenix")
    workflow_attributes = {"betty.caller": "cli", "betty.inputs.count": 3, "betty.ok": True}
    with (
        tracer.start_as_current_span("workflow", attributes=workflow_attributes),
        tracer.start_as_current_span(
            "step", attributes={"openinference.span.kind": "TOOL"}
        ) as step,
    ):
        step.add_event("retry", {"attempt": 2})
        step.set_status(Status(StatusCode.ERROR, "disk full"))
    provider.shutdown()

    sent = {span.name: span for span in memory.get_finished_spans()}
    stored = {span.name: span for span in phoenix.wait_for_spans(2, phoenix_project)}
    assert sorted(stored) == ["step", "workflow"]
    workflow, child = sent["workflow"], sent["step"]
    assert stored["workflow"] == PhoenixSpan(
        trace_id=f"{workflow.context.trace_id:032x}",
        span_id=f"{workflow.context.span_id:016x}",
        parent_span_id=None,
        name="workflow",
        span_kind="UNKNOWN",
        start_ns=as_stored_by_phoenix(workflow.start_time or 0),
        end_ns=as_stored_by_phoenix(workflow.end_time or 0),
        status_code="UNSET",
        status_message="",
        attributes=workflow_attributes,
        events=[],
        phoenix_id=stored["workflow"].phoenix_id,
    )
    step_stored = stored["step"]
    assert (step_stored.trace_id, step_stored.span_id, step_stored.parent_span_id) == (
        f"{child.context.trace_id:032x}",
        f"{child.context.span_id:016x}",
        f"{workflow.context.span_id:016x}",
    )
    assert (step_stored.status_code, step_stored.status_message) == ("ERROR", "disk full")
    # Phoenix reads OpenInference's kind out of the attributes, which keep the rest.
    assert (step_stored.span_kind, step_stored.attributes) == ("TOOL", {})
    [event] = step_stored.events
    assert (event.name, event.attributes) == ("retry", {"attempt": 2})
    assert event.time_ns == as_stored_by_phoenix(child.events[0].timestamp)
    assert (step_stored.start_ns, step_stored.end_ns) == (
        as_stored_by_phoenix(child.start_time or 0),
        as_stored_by_phoenix(child.end_time or 0),
    )
    assert phoenix.spans(phoenix_project, trace_id=step_stored.trace_id) == sorted(
        stored.values(), key=lambda span: (span.start_ns, span.span_id)
    )
    assert phoenix_project in phoenix.projects()
    assert all(span.trace_id != step_stored.trace_id for span in phoenix.spans("default"))


@pytest.mark.backend
def test_the_resource_attribute_chooses_the_project_from_the_standard_variable(
    phoenix: Phoenix, phoenix_project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={phoenix_project}")
    provider = TracerProvider(resource=Resource.create({"service.name": "smoke"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=phoenix.endpoint)))
    with provider.get_tracer("tests.phoenix").start_as_current_span("by-resource"):
        pass
    provider.shutdown()
    [stored] = phoenix.wait_for_spans(1, phoenix_project)
    assert stored.name == "by-resource"


def test_without_phoenix_installed_the_harness_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "STAMP", tmp_path / "absent")
    with pytest.raises(
        PhoenixUnavailable, match=r"not installed .* run `make .venv-phoenix/.installed`"
    ):
        harness.installed_phoenix()


def test_phoenix_installed_from_other_pins_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / ".installed"
    stale.write_text("arize-phoenix==1.0.0\n", "utf-8")
    monkeypatch.setattr(harness, "STAMP", stale)
    with pytest.raises(PhoenixUnavailable, match="installed from other pins"):
        harness.installed_phoenix()


def test_times_are_kept_as_phoenix_keeps_them() -> None:
    # 123456789 ns past the second: the float division lands on 123457 us, rounded up.
    assert as_stored_by_phoenix(1_700_000_000_123_456_789) == 1_700_000_000_123_457_000
    assert as_stored_by_phoenix(1_700_000_000_000_000_000) == 1_700_000_000_000_000_000
