"""Spans as an OTLP receiver holds them: the official ``opentelemetry-proto`` messages turned
into plain values (hex ids, the names of kinds and status codes, attributes as a dict), so a
test compares them with ``==``. The loopback peer (tests/otlp_peer.py) and the OTLP JSON reader
(tests/otlp_json.py) both hand spans back in this form."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


@dataclass(frozen=True)
class OtlpEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class OtlpSpan:
    """One span as received. ``kind`` is ``"INTERNAL"``, ``"SERVER"``, ``"CLIENT"``,
    ``"PRODUCER"``, ``"CONSUMER"`` or ``"UNSPECIFIED"`` (the names of the API's
    ``SpanKind``); ``status_code`` is ``"UNSET"``, ``"OK"`` or ``"ERROR"`` (``StatusCode``'s).
    Attribute values are decoded from AnyValue: str, bool, int, float, bytes, list (array),
    dict (kvlist) or None (an empty AnyValue)."""

    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    parent_span_id: str | None  # None for a root span
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status_code: str
    status_message: str
    attributes: dict[str, Any]
    events: list[OtlpEvent]
    flags: int  # W3C trace flags in bits 0-7; bits 8-9 tell whether the parent was remote
    resource: dict[str, Any]
    scope_name: str
    scope_version: str

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def decode_spans(request: ExportTraceServiceRequest) -> list[OtlpSpan]:
    """Every span of the request, in the order they were sent."""
    return [
        _span(span, resource_spans.resource.attributes, scope_spans.scope)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def count_spans(request: ExportTraceServiceRequest) -> int:
    return sum(
        len(scope_spans.spans)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
    )


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, which)


def _span(span: Span, resource: Iterable[KeyValue], scope: InstrumentationScope) -> OtlpSpan:
    return OtlpSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        name=span.name,
        kind=_enum_name(Span.SpanKind, span.kind, "SPAN_KIND_"),
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        status_code=_enum_name(Status.StatusCode, span.status.code, "STATUS_CODE_"),
        status_message=span.status.message,
        attributes=attributes(span.attributes),
        events=[
            OtlpEvent(event.name, event.time_unix_nano, attributes(event.attributes))
            for event in span.events
        ],
        flags=span.flags,
        # Decoded per span, not shared: a test that edits one span's dict edits only it.
        resource=attributes(resource),
        scope_name=scope.name,
        scope_version=scope.version,
    )


def _enum_name(enum: Any, number: int, prefix: str) -> str:
    """``SERVER`` for SPAN_KIND_SERVER; the number itself, as text, for a value the proto does
    not define (a sender's bug the test then sees instead of a decoding error)."""
    try:
        name: str = enum.Name(number)
    except ValueError:
        return str(number)
    return name.removeprefix(prefix)
