"""The loopback OTLP peer (tests/otlp_peer.py) works: spans sent by the official SDK and its
OTLP/HTTP exporter arrive decoded, losslessly, and each fault it offers is met by the real
exporter as from a real collector (retried statuses, refused ones, a peer down then up)."""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.otlp_json import to_otlp_json
from tests.otlp_peer import OtlpPeer
from tests.otlp_spans import OtlpEvent, OtlpSpan, decode_spans

SUCCESS = SpanExportResult.SUCCESS
FAILURE = SpanExportResult.FAILURE


def finished_spans(*names: str) -> Sequence[ReadableSpan]:
    """Spans made by the SDK, one root span per name, kept in memory (not sent)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "peer-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.peer")
    for name in names:
        with tracer.start_as_current_span(name):
            pass
    return memory.get_finished_spans()


def test_spans_sent_by_the_sdk_arrive_decoded_as_sent(otlp_peer: OtlpPeer) -> None:
    memory = InMemorySpanExporter()
    resource = Resource.create({"service.name": "checkout", "host.name": "box"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp_peer.endpoint)))
    tracer = provider.get_tracer("tests.peer", "1.2.3")
    attributes = {"text": "é", "flag": True, "count": 7, "ratio": 0.5, "tags": ["a", "b"]}
    with (
        tracer.start_as_current_span("parent", kind=SpanKind.SERVER, attributes=attributes),
        tracer.start_as_current_span("child") as child,
    ):
        child.add_event("retrying", {"attempt": 2}, timestamp=1_700_000_000_000_000_001)
        child.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()

    sent = {span.name: span for span in memory.get_finished_spans()}
    parent, child_sent = sent["parent"], sent["child"]
    received = otlp_peer.wait_for_spans(2)
    assert otlp_peer.request_count == 2  # SimpleSpanProcessor: one request per span
    expected = [
        OtlpSpan(
            trace_id=f"{child_sent.context.trace_id:032x}",
            span_id=f"{child_sent.context.span_id:016x}",
            parent_span_id=f"{parent.context.span_id:016x}",
            name="child",
            kind="INTERNAL",
            start_ns=child_sent.start_time,
            end_ns=child_sent.end_time,
            status_code="ERROR",
            status_message="boom",
            attributes={},
            events=[OtlpEvent("retrying", 1_700_000_000_000_000_001, {"attempt": 2})],
            flags=0x100,  # whether the parent is remote is known (bit 8): it is not (bit 9)
            resource=dict(resource.attributes),
            scope_name="tests.peer",
            scope_version="1.2.3",
        ),
        OtlpSpan(
            trace_id=f"{parent.context.trace_id:032x}",
            span_id=f"{parent.context.span_id:016x}",
            parent_span_id=None,
            name="parent",
            kind="SERVER",
            start_ns=parent.start_time,
            end_ns=parent.end_time,
            status_code="UNSET",
            status_message="",
            attributes=attributes,
            events=[],
            flags=0x100,
            resource=dict(resource.attributes),
            scope_name="tests.peer",
            scope_version="1.2.3",
        ),
    ]
    assert received == expected
    assert otlp_peer.span_named("parent").resource["service.name"] == "checkout"


def test_the_proto_messages_kept_are_the_ones_the_sdk_encoded(otlp_peer: OtlpPeer) -> None:
    spans = finished_spans("a", "b", "c")
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(spans) is SUCCESS
    assert otlp_peer.export_requests == [encode_spans(spans)]
    assert [span.name for span in otlp_peer.spans] == ["a", "b", "c"]
    [request] = otlp_peer.requests
    assert (request.method, request.path, request.status, request.span_count) == (
        "POST",
        "/v1/traces",
        200,
        3,
    )
    assert request.headers["content-type"] == "application/x-protobuf"


@pytest.mark.parametrize("compression", [Compression.Gzip, Compression.Deflate])
def test_compressed_bodies_are_decoded(otlp_peer: OtlpPeer, compression: Compression) -> None:
    exporter = OTLPSpanExporter(endpoint=otlp_peer.endpoint, compression=compression)
    assert exporter.export(finished_spans("zipped")) is SUCCESS
    assert otlp_peer.span_named("zipped").resource["service.name"] == "peer-test"
    assert otlp_peer.requests[0].headers["content-encoding"] == compression.value


def test_the_headers_sent_are_kept(otlp_peer: OtlpPeer) -> None:
    exporter = OTLPSpanExporter(endpoint=otlp_peer.endpoint, headers={"X-Tenant": "team-a"})
    assert exporter.export(finished_spans("x")) is SUCCESS
    assert otlp_peer.requests[0].headers["x-tenant"] == "team-a"


def test_503_answers_are_retried_and_the_spans_kept_once(otlp_peer: OtlpPeer) -> None:
    otlp_peer.fail_next(2, status=503, retry_after=0)
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("x")) is SUCCESS
    assert [request.status for request in otlp_peer.requests] == [503, 503, 200]
    assert [request.span_count for request in otlp_peer.requests] == [1, 1, 1]
    assert [span.name for span in otlp_peer.spans] == ["x"]


def test_503_for_a_while_then_the_export_lands(otlp_peer: OtlpPeer) -> None:
    otlp_peer.fail_for(0.6, status=503, retry_after=0.25)
    started = time.monotonic()
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("x")) is SUCCESS
    assert time.monotonic() - started >= 0.6
    statuses = [request.status for request in otlp_peer.requests]
    assert statuses[-1] == 200
    assert set(statuses[:-1]) == {503}
    assert len(statuses) >= 3  # at 0, 0.25, 0.5 s: 503; at 0.75 s: 200 (6 tries at most)
    assert otlp_peer.span_count == 1


def test_a_400_is_not_retried_and_nothing_is_kept(otlp_peer: OtlpPeer) -> None:
    otlp_peer.fail_next(1, status=400)
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("x")) is FAILURE
    assert [request.status for request in otlp_peer.requests] == [400]
    assert otlp_peer.spans == []
    # The fault is spent: the next export is accepted.
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("y")) is SUCCESS
    assert [span.name for span in otlp_peer.spans] == ["y"]


def test_a_failure_answer_carries_retry_after_and_an_rpc_status(otlp_peer: OtlpPeer) -> None:
    otlp_peer.fail_next(1, status=429, retry_after=7)
    body = encode_spans(finished_spans("x")).SerializeToString()
    with pytest.raises(urllib.error.HTTPError) as answer:
        post(otlp_peer.endpoint, body, "application/x-protobuf")
    assert answer.value.code == 429
    assert answer.value.headers["Retry-After"] == "7"
    status = RpcStatus.FromString(answer.value.read())
    assert (status.code, status.message) == (8, "fault injected by the test")  # RESOURCE_EXHAUSTED


def test_a_peer_down_refuses_connections_then_comes_back_on_its_port(
    otlp_peer: OtlpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = OTLPSpanExporter(endpoint=otlp_peer.endpoint, timeout=15)
    # A first export leaves a keep-alive connection in the exporter's pool: going down cuts it.
    assert exporter.export(finished_spans("before")) is SUCCESS
    port = otlp_peer.port
    otlp_peer.down()
    assert not otlp_peer.is_up
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((otlp_peer.host, port), timeout=5).close()

    caplog.set_level(logging.WARNING, logger="opentelemetry.exporter.otlp")
    results: list[SpanExportResult] = []
    during = finished_spans("during")
    sender = threading.Thread(target=lambda: results.append(exporter.export(during)))
    sender.start()
    wait_until(lambda: "retrying" in caplog.text, "the exporter to back off after a refusal")
    otlp_peer.up()
    sender.join(timeout=20)
    assert results == [SUCCESS]
    assert otlp_peer.port == port
    assert [span.name for span in otlp_peer.spans] == ["before", "during"]


def test_an_export_to_a_peer_that_stays_down_fails_within_its_timeout(otlp_peer: OtlpPeer) -> None:
    otlp_peer.down()
    started = time.monotonic()
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint, timeout=1).export(finished_spans("x")) is (
        FAILURE
    )
    assert time.monotonic() - started < 5
    otlp_peer.up()
    assert otlp_peer.requests == []


def test_late_answers_and_a_hanging_peer(otlp_peer: OtlpPeer) -> None:
    otlp_peer.delay_answers(0.3)
    started = time.monotonic()
    assert OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("late")) is SUCCESS
    assert time.monotonic() - started >= 0.3

    otlp_peer.delay_answers(60)
    exporter = OTLPSpanExporter(endpoint=otlp_peer.endpoint, timeout=0.5)
    assert exporter.export(finished_spans("hung")) is FAILURE
    started = time.monotonic()
    otlp_peer.down()  # wakes the handler still waiting: no 60 s wait
    assert time.monotonic() - started < 5
    assert [span.name for span in otlp_peer.spans] == ["late"]


def test_another_path_is_refused_with_404(otlp_peer: OtlpPeer) -> None:
    exporter = OTLPSpanExporter(endpoint=otlp_peer.base_url + "/v1/trace")
    assert exporter.export(finished_spans("x")) is FAILURE
    [request] = otlp_peer.requests
    assert (request.path, request.status, request.error) == (
        "/v1/trace",
        404,
        "no such path /v1/trace; traces go to /v1/traces",
    )


def test_otlp_json_bodies_are_accepted_and_bad_bodies_refused(otlp_peer: OtlpPeer) -> None:
    request = encode_spans(finished_spans("in-json"))
    with post(otlp_peer.endpoint, to_otlp_json(request).encode(), "application/json") as answer:
        assert (answer.status, answer.headers["Content-Type"], answer.read()) == (
            200,
            "application/json",
            b"{}",
        )
    assert otlp_peer.spans == decode_spans(request)

    for body, content_type in [
        (b"\x0a\xff", "application/x-protobuf"),  # a length past the end
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            "application/json",
        ),
        (b"{}", "text/plain"),
    ]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(otlp_peer.endpoint, body, content_type)
        assert refused.value.code == 400
    assert [request.status for request in otlp_peer.requests] == [200, 400, 400, 400]
    assert otlp_peer.span_count == 1


def test_waiting_for_spans_that_never_come_fails_saying_what_came(otlp_peer: OtlpPeer) -> None:
    otlp_peer.fail_next(1, status=400)
    OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("x"))
    with pytest.raises(
        AssertionError, match=r"did not receive 1 spans within 0.2 s: 0 spans .* \[400\]"
    ):
        otlp_peer.wait_for_spans(1, timeout=0.2)


def test_clear_forgets_what_arrived(otlp_peer: OtlpPeer) -> None:
    OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("x"))
    assert otlp_peer.spans != []
    otlp_peer.clear()
    assert (otlp_peer.spans, otlp_peer.requests, otlp_peer.span_count) == ([], [], 0)
    OTLPSpanExporter(endpoint=otlp_peer.endpoint).export(finished_spans("y"))
    assert [span.name for span in otlp_peer.wait_for_spans(1)] == ["y"]


def test_a_peer_closed_by_its_with_block_refuses_connections() -> None:
    with OtlpPeer() as peer:
        address = (peer.host, peer.port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def post(url: str, body: bytes, content_type: str) -> urllib.request._UrlopenRet:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    return urllib.request.urlopen(request, timeout=10)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.01)
