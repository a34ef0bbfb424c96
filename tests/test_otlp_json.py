"""The OTLP JSON reader (tests/otlp_json.py) accepts what the OTLP spec calls OTLP JSON and
refuses, naming the line and the field, what the spec forbids a writer: base64 or malformed
ids, enum names, snake_case keys, 64-bit numbers, unknown fields, lines that are not JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.otlp_json import (
    OtlpJsonError,
    parse_otlp_json,
    read_otlp_json,
    read_otlp_json_spans,
    to_otlp_json,
)
from tests.otlp_spans import decode_spans


def sdk_spans() -> Sequence[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "json-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.json")
    with (
        tracer.start_as_current_span("parent", kind=SpanKind.CLIENT, attributes={"n": 2**62}),
        tracer.start_as_current_span("child") as child,
    ):
        child.set_status(Status(StatusCode.ERROR, "boom"))
    return memory.get_finished_spans()


def request_document() -> dict[str, Any]:
    """A valid OTLP JSON request, as a dict to spoil."""
    document: dict[str, Any] = json.loads(to_otlp_json(encode_spans(sdk_spans())))
    return document


def first_span(document: dict[str, Any]) -> dict[str, Any]:
    span: dict[str, Any] = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    return span


def test_a_file_of_requests_parses_into_the_requests_written(tmp_path: Path) -> None:
    requests = [encode_spans(sdk_spans()), encode_spans(sdk_spans())]
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(to_otlp_json(request) + "\n" for request in requests), "utf-8")

    assert read_otlp_json(path) == requests
    spans = read_otlp_json_spans(path)
    assert spans == decode_spans(requests[0]) + decode_spans(requests[1])
    assert [(span.name, span.kind, span.status_code) for span in spans[:2]] == [
        ("child", "INTERNAL", "ERROR"),
        ("parent", "CLIENT", "UNSET"),
    ]
    assert spans[1].attributes == {"n": 2**62}  # a 64-bit value, exact through its string


def test_ids_are_hex_in_any_case_and_a_last_line_needs_no_newline(tmp_path: Path) -> None:
    document = request_document()
    span = first_span(document)
    expected = (span["traceId"], span["spanId"], span["parentSpanId"])
    for key in ("traceId", "spanId", "parentSpanId"):
        span[key] = span[key].upper()
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps(document), "utf-8")
    [read] = read_otlp_json_spans(path)[:1]
    assert (read.trace_id, read.span_id, read.parent_span_id) == expected


@pytest.mark.parametrize(
    ("spoil", "complaint"),
    [
        (
            lambda span: span.update(traceId="AAECAwQFBgcICQoLDA0ODw=="),
            r"\.traceId: an id is 32 hex",
        ),
        (lambda span: span.update(spanId="0102"), r"\.spanId: an id is 16 hex"),
        (lambda span: span.update(parentSpanId="01020304050607zz"), r"\.parentSpanId: an id"),
        (lambda span: span.update(kind="SPAN_KIND_CLIENT"), r"\.kind: an enum is an integer"),
        (lambda span: span["status"].update(code="STATUS_CODE_ERROR"), r"\.code: an enum"),
        (
            lambda span: span.update(start_time_unix_nano=span.pop("startTimeUnixNano")),
            "lowerCamel",
        ),
        (lambda span: span.update(endTimeUnixNano=int(span["endTimeUnixNano"])), "decimal string"),
        (lambda span: span.update(nmae="typo"), r'no field named "nmae"'),
    ],
)
def test_what_the_spec_forbids_a_writer_is_refused_naming_it(spoil: Any, complaint: str) -> None:
    document = request_document()
    spoil(first_span(document))
    with pytest.raises(OtlpJsonError, match=complaint):
        parse_otlp_json(json.dumps(document))


def test_as_a_receiver_unknown_fields_are_ignored_as_the_spec_says() -> None:
    document = request_document()
    expected = parse_otlp_json(json.dumps(document))
    first_span(document)["addedInAFutureVersion"] = {"x": 1}
    assert parse_otlp_json(json.dumps(document), as_receiver=True) == expected
    with pytest.raises(OtlpJsonError, match="addedInAFutureVersion"):
        parse_otlp_json(json.dumps(document))


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("\n", r"traces.jsonl:1: not JSON"),  # a blank line is no JSON value
        ('{"resourceSpans": []}\n\n', r"traces.jsonl:2: not JSON"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": NaN}]}]}]}', "NaN"),
        ("[]", r"traces.jsonl:1: a request is a JSON object, not list"),
        ('{"resourceSpans": [{"scopeSpans": {}}]}', r"traces.jsonl:1: .*scopeSpans"),
    ],
)
def test_lines_that_are_no_request_are_refused_with_their_number(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text(text, "utf-8")
    with pytest.raises(OtlpJsonError, match=complaint):
        read_otlp_json(path)


def test_an_empty_file_holds_no_request(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text("", "utf-8")
    assert read_otlp_json(path) == []
