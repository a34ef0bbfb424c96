"""A real OTLP/HTTP trace receiver on loopback, for the exporter's faults: it decodes each
``POST /v1/traces`` with the official ``opentelemetry-proto`` messages (binary protobuf or OTLP
JSON, plain, gzip or deflate), keeps the spans it accepted, and can be told to misbehave:
answer the next requests or a stretch of time with an error status, answer slowly, go down
(connections refused) and come back up on the same port.

It speaks HTTP/1.1 with keep-alive, as a Collector does, so an exporter's pooled connection
meets the peer going down the way it would meet a real one: the connection is cut.

    with OtlpPeer() as peer:
        exporter = OTLPSpanExporter(endpoint=peer.endpoint)
        peer.fail_next(2, status=503, retry_after=0)
        ...
        spans = peer.wait_for_spans(3)
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.otlp_json import OtlpJsonError, parse_otlp_json
from tests.otlp_spans import OtlpSpan, count_spans, decode_spans

TRACES_PATH = "/v1/traces"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request the peer answered. ``span_count`` is the number of spans the body
    carried, whether or not they were accepted (``status`` 200 accepts them); ``error`` says
    why a body was refused (status 400) or why another path or method was."""

    method: str
    path: str
    headers: dict[str, str]  # names in lowercase
    status: int
    span_count: int
    error: str | None


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    remaining: int | None = None  # requests left to answer so (None: until ``until``)
    until: float | None = None  # time.monotonic() when the fault ends


class OtlpPeer:
    """The receiver, serving from construction until ``close()`` (or the ``with`` block's end)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified at each request answered
        self._requests: list[ReceivedRequest] = []
        self._accepted: list[ExportTraceServiceRequest] = []
        self._decoded: list[OtlpSpan] = []  # spans of _accepted[:_decoded_upto], decoded lazily
        self._decoded_upto = 0
        self._span_count = 0
        self._faults: list[_Fault] = []
        self._delay = 0.0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._woken = threading.Event()  # cuts short the delays when the peer goes down
        self._start(port)
        assert self._server is not None
        self.port: int = self._server.server_address[1]

    # -- where to send -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``OTEL_EXPORTER_OTLP_ENDPOINT``, to which the exporter adds ``/v1/traces``."""
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """The full traces URL: ``OTLPSpanExporter(endpoint=...)``,
        ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``."""
        return self.base_url + TRACES_PATH

    # -- what arrived ----------------------------------------------------------------------

    @property
    def spans(self) -> list[OtlpSpan]:
        """The spans accepted so far (answered 200), in the order they arrived."""
        with self._lock:
            for request in self._accepted[self._decoded_upto :]:
                self._decoded.extend(decode_spans(request))
            self._decoded_upto = len(self._accepted)
            return list(self._decoded)

    @property
    def span_count(self) -> int:
        with self._lock:
            return self._span_count

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request answered, refused ones included, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def export_requests(self) -> list[ExportTraceServiceRequest]:
        """The accepted requests as the proto messages themselves."""
        with self._lock:
            return list(self._accepted)

    def span_named(self, name: str) -> OtlpSpan:
        """The one accepted span of that name (an AssertionError if none or several)."""
        found = [span for span in self.spans if span.name == name]
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self._summary()}"
        return found[0]

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[OtlpSpan]:
        """All accepted spans, once there are at least ``count``; an AssertionError saying what
        did arrive if there are not within ``timeout`` seconds."""
        self._wait(lambda: self._span_count >= count, f"{count} spans", timeout)
        return self.spans

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """All requests, once at least ``count`` were answered (refused ones count)."""
        self._wait(lambda: len(self._requests) >= count, f"{count} requests", timeout)
        return self.requests

    def clear(self) -> None:
        """Forget what arrived (spans, requests); faults and delay stay."""
        with self._lock:
            self._requests.clear()
            self._accepted.clear()
            self._decoded.clear()
            self._decoded_upto = 0
            self._span_count = 0

    # -- faults ----------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, retry_after: float | None = None) -> None:
        """Answer the next ``count`` trace requests with ``status`` (their spans are not kept).
        ``retry_after`` (seconds) adds a Retry-After header, which the official exporter obeys
        instead of its own backoff (1 s, 2 s, 4 s...): 0 makes retries immediate."""
        with self._lock:
            self._faults.append(_Fault(status, retry_after, remaining=count))

    def fail_for(self, seconds: float, status: int = 503, retry_after: float | None = None) -> None:
        """Answer every trace request with ``status`` for the next ``seconds``."""
        with self._lock:
            self._faults.append(_Fault(status, retry_after, until=time.monotonic() + seconds))

    def delay_answers(self, seconds: float) -> None:
        """Answer every request ``seconds`` late from now on (0: on time again): a slow or
        hanging peer, for an exporter's timeout."""
        with self._lock:
            self._delay = seconds

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delay = 0.0

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def down(self) -> None:
        """Stop listening and cut every open connection: from now on a connection to the port
        is refused, as with a crashed or stopped collector. Requests in progress are cut too
        (their spans are not kept)."""
        server, thread = self._server, self._thread
        assert server is not None, "the peer is already down"
        assert thread is not None
        self._server = self._thread = None
        self._woken.set()
        server.shutdown()  # the accept loop ends
        server.socket.close()  # the port refuses connections from here on
        server.cut_connections()
        thread.join()
        server.server_close()

    def up(self) -> None:
        """Listen again on the same port, with what arrived so far kept."""
        assert self._server is None, "the peer is already up"
        self._woken.clear()
        self._start(self.port)

    def close(self) -> None:
        if self.is_up:
            self.down()

    def __enter__(self) -> OtlpPeer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- serving ---------------------------------------------------------------------------

    def _start(self, port: int) -> None:
        self._server = _bind(self.host, port, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # down() waits for the loop to notice: keep it short
            name=f"otlp-peer-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()

    def _wait(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise AssertionError(
                    f"the OTLP peer did not receive {what} within {timeout} s: "
                    f"{self._summary_locked()}"
                )

    def _summary(self) -> str:
        with self._lock:
            return self._summary_locked()

    def _summary_locked(self) -> str:
        statuses = [request.status for request in self._requests]
        return (
            f"{self._span_count} spans accepted, {len(self._requests)} requests answered "
            f"with statuses {statuses}"
        )

    def _answer_for(self) -> tuple[int, float | None, float]:
        """The status (with its Retry-After) and delay for a trace request arriving now."""
        with self._lock:
            now = time.monotonic()
            self._faults = [fault for fault in self._faults if _active(fault, now)]
            if not self._faults:
                return 200, None, self._delay
            fault = self._faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
            return fault.status, fault.retry_after, self._delay

    def _record(self, request: ReceivedRequest, accepted: ExportTraceServiceRequest | None) -> None:
        with self._changed:
            self._requests.append(request)
            if accepted is not None:
                self._accepted.append(accepted)
                self._span_count += request.span_count
            self._changed.notify_all()


def _active(fault: _Fault, now: float) -> bool:
    if fault.remaining is not None:
        return fault.remaining > 0
    return fault.until is not None and now < fault.until


def _bind(host: str, port: int, peer: OtlpPeer) -> _Server:
    """A server on ``host:port``. Coming back up, the port may take a moment to be free again
    (SO_REUSEADDR covers the closed connections, not a socket still closing)."""
    deadline = time.monotonic() + 5.0
    while True:
        try:
            return _Server((host, port), peer)
        except OSError:
            if port == 0 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _Server(ThreadingHTTPServer):
    """Tracks its open connections, so going down can cut them (an idle keep-alive connection
    would otherwise go on being served after the listening socket closed)."""

    def __init__(self, address: tuple[str, int], peer: OtlpPeer) -> None:
        self.peer = peer
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._no_connection = threading.Condition(self._connections_lock)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._no_connection:
            self._connections.discard(request)
            self._no_connection.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection cut by ``down()`` or by the client is no error of the peer's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        """Shut every open connection and wait until their handlers have ended."""
        with self._no_connection:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # the client closed it meanwhile
                    connection.shutdown(socket.SHUT_RDWR)
            if not self._no_connection.wait_for(lambda: not self._connections, timeout=10.0):
                raise AssertionError(f"{len(self._connections)} peer connections did not end")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's requests session expects
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != TRACES_PATH:
            self._refuse(404, f"no such path {self.path}; traces go to {TRACES_PATH}")
            return
        status, retry_after, delay = self.server.peer._answer_for()
        if delay and self.server.peer._woken.wait(delay):
            self.close_connection = True  # the peer went down meanwhile: no answer
            return
        try:
            request = _decode(body, self.headers.get("Content-Type", ""), self._encoding())
        except ValueError as error:
            self._refuse(400, str(error))
            return
        # Recorded before answering: once the client has its answer, a test sees the request.
        if status != 200:
            self._record(status, count_spans(request), None)
            body = _rpc_status(status, "fault injected by the test")
            self._answer(status, PROTOBUF, body, retry_after)
            return
        self._record(200, count_spans(request), None, request)
        self._answer(200, *_success(self.headers.get("Content-Type", "")))

    def do_GET(self) -> None:
        self._refuse(405, "OTLP/HTTP takes POST")

    def _encoding(self) -> str:
        return self.headers.get("Content-Encoding", "identity").strip().lower()

    def _refuse(self, status: int, reason: str) -> None:
        self._record(status, 0, reason)
        self._answer(status, PROTOBUF, _rpc_status(status, reason))

    def _answer(
        self, status: int, content_type: str, body: bytes, retry_after: float | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", f"{retry_after:g}")
        self.end_headers()
        self.wfile.write(body)

    def _record(
        self,
        status: int,
        span_count: int,
        error: str | None,
        accepted: ExportTraceServiceRequest | None = None,
    ) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        received = ReceivedRequest(self.command, self.path, headers, status, span_count, error)
        self.server.peer._record(received, accepted)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the requests are kept in ``peer.requests``, not printed on stderr."""


def _decode(body: bytes, content_type: str, encoding: str) -> ExportTraceServiceRequest:
    """The request a body carries; a ValueError saying what is wrong with it."""
    raw = _decompress(body, encoding)
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == PROTOBUF:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(raw)
        except DecodeError as error:
            raise ValueError(f"not an ExportTraceServiceRequest: {error}") from error
        return request
    if media_type == JSON:
        try:
            # As a receiver: the spec tells it to ignore unknown fields. Files written by us
            # are checked as a writer's by tests.otlp_json.read_otlp_json.
            return parse_otlp_json(raw, as_receiver=True, where="the JSON body")
        except OtlpJsonError as error:
            raise ValueError(str(error)) from error
    raise ValueError(f"Content-Type {content_type!r}: OTLP/HTTP is {PROTOBUF} or {JSON}")


def _decompress(body: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"body not {encoding}: {error}") from error
    if encoding != "identity":
        raise ValueError(f"Content-Encoding {encoding!r} is not gzip, deflate or identity")
    return body


def _success(content_type: str) -> tuple[str, bytes]:
    """An empty ExportTraceServiceResponse, in the encoding the request came in."""
    if content_type.split(";")[0].strip().lower() == JSON:
        return JSON, b"{}"
    return PROTOBUF, ExportTraceServiceResponse().SerializeToString()


def _rpc_status(status: int, message: str) -> bytes:
    """The body OTLP/HTTP gives a failure: a google.rpc.Status message."""
    return RpcStatus(code=_GRPC_CODES.get(status, 2), message=message).SerializeToString()


# HTTP status -> the gRPC code OTLP pairs it with (2, UNKNOWN, for any other).
_GRPC_CODES = {400: 3, 404: 12, 405: 12, 429: 8, 502: 14, 503: 14, 504: 14}
