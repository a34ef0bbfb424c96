"""``betty-telemetry ui``: the report served on localhost, rebuilt as entries arrive.

A thread follows the store (the store's own ``follow``, which survives rotation) and rebuilds
the report when entries were appended, at most once per ``interval`` and never more often
than building takes (a million entries take seconds). Pages ask ``/api/report?after=N`` every
``interval`` and get the newer report, or 204 when there is none.

The server answers only requests addressed to the name it was started on or to a loopback
name: a web page elsewhere cannot read the telemetry through a DNS name that resolves to
127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.report.page import render_page, report_json
from betty_telemetry.stores.base import Store

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class LiveReport:
    """The newest report of a store, its version, and the page that shows it."""

    def __init__(
        self, store: Store, build: Callable[[], dict[str, Any]], plotly_js: str, interval: float
    ) -> None:
        self._build = build
        self._plotly_js = plotly_js
        self.interval = interval
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        # Versions start at the clock, so a page left open across a restart of the server
        # still sees the new server's reports as newer.
        self.version = int(time.time())
        self._error: str | None = None
        self._report: dict[str, Any] = {}
        self._page: str | None = None
        self._data: bytes = b""
        _, self._follower = store.follow(EntryFilter(), 0)
        self._publish(build(), error=None)  # a store that cannot be read fails here, at once

    def _publish(self, report: dict[str, Any], error: str | None) -> None:
        with self._lock:
            self._error = error
            self.version += 1
            report["live"] = {
                "version": self.version,
                "poll_ms": round(self.interval * 1000),
                "error": error,
            }
            self._report = report
            self._page = None  # rendered on the next request for it
            self._data = report_json(report).encode()

    def page(self) -> str:
        with self._lock:
            if self._page is None:
                self._page = render_page(self._report, self._plotly_js)
            return self._page

    def data_after(self, version: int) -> bytes | None:
        """The report's JSON if it is newer than ``version``, else None."""
        with self._lock:
            return self._data if self.version > version else None

    def keep_current(self) -> None:
        """Rebuild the report whenever entries arrive, until ``stop``: a thread's work."""
        while not self._stopped.wait(self.interval):
            try:
                if not self._follower.poll():
                    continue
                started = time.monotonic()
                report = self._build()
            except Exception as error:  # a damaged store: keep the last report, say why
                said = f"{type(error).__name__}: {error}"
                if said != self._error:  # once, not at every look
                    self._publish(dict(self._report), error=said)
                continue
            self._publish(report, error=None)
            # Building a large store takes a while: leave as long again to the machine.
            self._stopped.wait(time.monotonic() - started)

    def stop(self) -> None:
        self._stopped.set()
        self._follower.close()


def serve(live: LiveReport, host: str, port: int) -> ThreadingHTTPServer:
    """A server of ``live`` on ``host``:``port`` (0: any free port), not yet serving."""

    class Handler(_ReportHandler):
        report = live
        names = LOOPBACK_NAMES | {host}

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    return Server((host, port), Handler)


class _ReportHandler(BaseHTTPRequestHandler):
    report: LiveReport
    names: frozenset[str]
    server_version = "betty-telemetry"

    def do_GET(self) -> None:
        if not self._addressed_to_us():
            self._send(HTTPStatus.FORBIDDEN, b"Forbidden: unknown Host\n", "text/plain")
            return
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.report.page().encode(), "text/html; charset=utf-8")
        elif url.path == "/api/report":
            self._send_report(parse_qs(url.query).get("after", ["0"])[0])
        else:
            self._send(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain")

    def _send_report(self, after: str) -> None:
        try:
            version = int(after)
        except ValueError:
            self._send(HTTPStatus.BAD_REQUEST, b"after must be a whole number\n", "text/plain")
            return
        data = self.report.data_after(version)
        if data is None:
            self._send(HTTPStatus.NO_CONTENT, b"", "application/json")
        else:
            self._send(HTTPStatus.OK, data, "application/json")

    def _addressed_to_us(self) -> bool:
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in self.names

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page asking every second would fill the terminal."""
