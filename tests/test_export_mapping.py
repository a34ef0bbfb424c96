"""The mapping from entries to spans (docs/opentelemetry.md's table), with no backend in the way."""

from __future__ import annotations

import json
from typing import Any

import pytest

from betty_telemetry.export.mapping import (
    MAX_ATTRIBUTES,
    NotASpan,
    SpanData,
    attribute_value,
    ids_of,
    span_of,
)
from tests.conftest import FIXTURE


def entry(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "timestamp": "2026-03-01T10:00:01.500000+00:00",
        "skill": "api.validate",
        "status": "success",
        "duration_ms": 250.0,
        "caller": "workflow.compose",
        "inputs": {},
        "error_message": None,
        "metadata": {},
    }
    base.update(fields)
    return base


def test_name_and_times_come_from_skill_timestamp_and_duration() -> None:
    span = span_of(entry())
    assert span.name == "api.validate"
    end = 1772359201_500000_000  # 2026-03-01T10:00:01.5Z in ns
    assert span.end_ns == end
    assert span.start_ns == end - 250_000_000


def test_a_fractional_duration_keeps_its_nanoseconds() -> None:
    span = span_of(entry(duration_ms=0.015276))
    assert span.end_ns - span.start_ns == 15_276


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("success", "OK"),
        ("failure", "ERROR"),
        ("error", "ERROR"),
        ("timeout", "ERROR"),
        ("failed", "ERROR"),
        ("pending", "UNSET"),
        ("weird", "UNSET"),
    ],
)
def test_status_codes(status: str, code: str) -> None:
    assert span_of(entry(status=status)).status == code


def test_an_error_carries_its_message_and_type() -> None:
    span = span_of(entry(status="error", error_message="ValueError: bad input"))
    assert span.description == "ValueError: bad input"
    assert span.attributes["error.type"] == "ValueError"


def test_a_failure_without_a_message_is_described_by_its_status() -> None:
    span = span_of(entry(status="timeout"))
    assert span.description == "timeout"
    assert span.attributes["error.type"] == "timeout"
    failure = span_of(entry(status="failure", error_message="Validation failed at step 3"))
    assert failure.attributes["error.type"] == "failure"


def test_success_has_no_description_nor_error_type() -> None:
    span = span_of(entry(error_message="ignored"))
    assert span.description is None
    assert "error.type" not in span.attributes


def test_ids_come_from_the_entry() -> None:
    span = span_of(
        entry(
            trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331", parent_id=None
        )
    )
    assert span.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.span_id == 0xB7AD6B7169203331
    assert span.parent_id is None
    child = span_of(
        entry(
            trace_id="0af7651916cd43dd8448eb211c80319c",
            span_id="00f067aa0ba902b7",
            parent_id="b7ad6b7169203331",
        )
    )
    assert child.parent_id == 0xB7AD6B7169203331


def test_entries_without_ids_get_stable_ids_of_their_own() -> None:
    first, again = ids_of(entry()), ids_of(entry())
    assert first == again
    assert first[0] != 0
    assert first[1] != 0
    assert first[2] is None
    assert ids_of(entry(duration_ms=251.0))[:2] != first[:2]


@pytest.mark.parametrize("bad", ["", "xyz", "0" * 32, "0AF7651916CD43DD8448EB211C80319C", 12, None])
def test_invalid_ids_are_replaced_by_derived_ones(bad: object) -> None:
    odd = entry(trace_id=bad, span_id=bad, parent_id=bad)
    trace_id, span_id, parent = ids_of(odd)
    assert (trace_id, span_id, parent) == ids_of(dict(odd))  # stable
    assert trace_id != 0
    assert span_id != 0
    assert parent is None


def test_attributes_are_namespaced_and_flattened() -> None:
    span = span_of(
        entry(
            inputs={"spec": {"path": "api.yaml", "strict": True}, "retries": 3, "tags": ["a", "b"]},
            metadata={"env": "prod", "nothing": None},
        )
    )
    attributes = span.attributes
    assert attributes["betty.caller"] == "workflow.compose"
    assert attributes["betty.status"] == "success"
    assert attributes["betty.duration_ms"] == 250.0
    assert attributes["betty.inputs.spec.path"] == "api.yaml"
    assert attributes["betty.inputs.spec.strict"] is True
    assert attributes["betty.inputs.retries"] == 3
    assert attributes["betty.inputs.tags"] == '["a","b"]'
    assert attributes["betty.metadata.env"] == "prod"
    assert attributes["betty.metadata.nothing"] == "null"
    assert "betty.error_message" not in attributes  # None is left out


def test_extra_top_level_keys_of_legacy_entries_are_kept() -> None:
    span = span_of(entry(version="0.1", extra={"k": 1}))
    assert span.attributes["betty.version"] == "0.1"
    assert span.attributes["betty.extra"] == '{"k":1}'


def test_attribute_count_is_capped_and_the_rest_counted() -> None:
    span = span_of(entry(inputs={f"k{i}": i for i in range(300)}))
    betty = [key for key in span.attributes if key.startswith("betty.inputs.")]
    assert len(span.attributes) <= MAX_ATTRIBUTES + 3
    assert span.attributes["betty.attributes_dropped"] == 300 - len(betty)


def test_deep_nesting_is_encoded_below_the_depth_limit() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for level in range(20):
        deep = {f"l{level}": deep}
    attributes = span_of(entry(inputs=deep)).attributes
    (key,) = [key for key in attributes if key.startswith("betty.inputs.")]
    assert key.count(".") == 2 + 7
    assert json.loads(str(attributes[key]))  # the rest, as JSON


def test_code_function_name_only_for_dotted_python_names() -> None:
    assert span_of(entry(skill="myapp.jobs.build")).attributes["code.function.name"] == (
        "myapp.jobs.build"
    )
    assert "code.function.name" not in span_of(entry(skill="deploy run")).attributes
    assert "code.function.name" not in span_of(entry(skill="plugin-build")).attributes


def test_agent_runs_follow_the_genai_and_openinference_conventions() -> None:
    attributes = span_of(
        entry(skill="api.designer", metadata={"kind": "agent"}, inputs={"goal": "x"})
    ).attributes
    assert attributes["openinference.span.kind"] == "AGENT"
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.name"] == "api.designer"
    assert json.loads(str(attributes["input.value"])) == {"goal": "x"}
    assert attributes["input.mime_type"] == "application/json"


def test_tool_runs_name_the_tool_and_its_call() -> None:
    attributes = span_of(
        entry(
            skill="Bash",
            metadata={"kind": "tool", "tool_use_id": "toolu_01", "output": {"exit": 0}},
        )
    ).attributes
    assert attributes["openinference.span.kind"] == "TOOL"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == attributes["tool.name"] == "Bash"
    assert attributes["gen_ai.tool.call.id"] == "toolu_01"
    assert attributes["output.value"] == '{"exit":0}'


@pytest.mark.parametrize(("kind", "expected"), [("workflow", "CHAIN"), ("LLM", "LLM")])
def test_other_kinds(kind: str, expected: str) -> None:
    assert span_of(entry(metadata={"kind": kind})).attributes["openinference.span.kind"] == expected


def test_an_unknown_kind_adds_no_convention() -> None:
    attributes = span_of(entry(metadata={"kind": "spaceship"})).attributes
    assert "openinference.span.kind" not in attributes
    assert attributes["betty.metadata.kind"] == "spaceship"


@pytest.mark.parametrize("timestamp", [None, "", "yesterday", 12])
def test_an_entry_without_a_usable_time_is_not_a_span(timestamp: object) -> None:
    with pytest.raises(NotASpan, match="timestamp"):
        span_of(entry(timestamp=timestamp))


@pytest.mark.parametrize("duration", [None, -5, float("nan"), float("inf"), "12", True])
def test_odd_durations_make_a_zero_length_span(duration: object) -> None:
    span = span_of(entry(duration_ms=duration))
    assert span.start_ns == span.end_ns


def test_a_timestamp_with_an_offset_is_placed_in_utc() -> None:
    span = span_of(entry(timestamp="2026-03-01T12:00:01.5+02:00", duration_ms=0))
    assert span.end_ns == 1772359201_500000_000


def test_every_entry_of_the_original_framework_maps() -> None:
    entries = json.loads(FIXTURE.read_text())
    spans = [span_of(item) for item in entries]
    assert len({(span.trace_id, span.span_id) for span in spans}) == len(entries)
    assert all(isinstance(span, SpanData) and span.end_ns >= span.start_ns for span in spans)
    failed = [
        span for item, span in zip(entries, spans, strict=True) if item.get("status") == "failed"
    ]
    assert failed
    assert all(span.status == "ERROR" for span in failed)


def test_attribute_values_are_scalars_or_json_text() -> None:
    assert attribute_value("x") == "x"
    assert attribute_value(1.5) == 1.5
    assert attribute_value({"é": [1, None]}) == '{"é":[1,null]}'
    assert attribute_value(object()).startswith('"<object object')
