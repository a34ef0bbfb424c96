"""A loopback OTLP/HTTP receiver for the export benchmark, run as a process of its own.

It decodes each request with the official protobuf message (as a backend would), counts the
spans, and answers 200. ``python bench/otlp_sink.py`` prints its port on the first line, then
serves until killed; GET /count answers the spans received so far.
"""

from __future__ import annotations

import gzip
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

received = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        global received
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        received += sum(
            len(scope.spans) for spans in request.resource_spans for scope in spans.scope_spans
        )
        self._answer(b"")

    def do_GET(self) -> None:
        self._answer(str(received).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
