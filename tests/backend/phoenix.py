"""Arize Phoenix as the real tracing backend of the ``backend`` tests: ``phoenix serve`` run from
its own venv (.venv-phoenix, made by ``make .venv-phoenix/.installed`` from the pins in
requirements-phoenix.txt) on free loopback ports, in a fresh working folder, and the spans it
stored read back through its REST API.

    with running_phoenix(tmp_path) as phoenix:
        exporter = OTLPSpanExporter(endpoint=phoenix.endpoint, headers=phoenix.headers("p1"))
        ...
        spans = phoenix.wait_for_spans(2, project="p1")

What Phoenix keeps of a span, as this version stores it: ids, parent, name, times (to the
microsecond, through a float: ``as_stored_by_phoenix`` gives the exact value it keeps), status
code and message, attributes, events. Not the OpenTelemetry span kind (every span reads back as
INTERNAL): its ``span_kind`` is OpenInference's, taken from the ``openinference.span.kind``
attribute (which then no longer appears among the attributes; ``UNKNOWN`` without it). Not the
resource either, except to choose the project."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-phoenix"
STAMP = VENV / ".installed"  # a copy of the pins it was installed from (see the Makefile)
REQUIREMENTS = Path(__file__).with_name("requirements-phoenix.txt")
INSTALL = "make .venv-phoenix/.installed"
# Measured here: 22 to 25 s from start to ready, the imports alone 11 to 13 s.
READY_WITHIN = 90.0
PROJECT_HEADER = "x-project-name"  # Phoenix's; it wins over the resource attribute
DEFAULT_PROJECT = "default"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class PhoenixUnavailable(RuntimeError):
    """Phoenix is not installed as pinned, or did not start; the message says what to do."""


@dataclass(frozen=True)
class PhoenixEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class PhoenixSpan:
    """A span as Phoenix returns it (``GET /v1/projects/{project}/spans``)."""

    trace_id: str  # 32 lowercase hex digits
    span_id: str  # 16 lowercase hex digits
    parent_span_id: str | None
    name: str
    span_kind: str  # OpenInference's: LLM, TOOL, AGENT, CHAIN... or UNKNOWN
    start_ns: int  # whole microseconds: see as_stored_by_phoenix
    end_ns: int
    status_code: str  # UNSET, OK or ERROR
    status_message: str
    attributes: dict[str, Any]
    events: list[PhoenixEvent]
    phoenix_id: str  # Phoenix's own id of the span (a GlobalID)


def as_stored_by_phoenix(time_ns: int) -> int:
    """The time Phoenix keeps for ``time_ns``: it divides by 1e9 as a float and keeps a
    datetime (microseconds), so the value can be off the nearest microsecond by one."""
    return _ns(datetime.fromtimestamp(time_ns / 1e9, tz=timezone.utc))


@dataclass(frozen=True)
class Phoenix:
    """A running Phoenix server."""

    base_url: str  # http://127.0.0.1:PORT
    port: int
    grpc_port: int
    work_dir: Path
    log_path: Path

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP traces URL (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return self.base_url + "/v1/traces"

    def headers(self, project: str) -> dict[str, str]:
        """Export headers that put the spans in ``project`` (created on the first span)."""
        return {PROJECT_HEADER: project}

    def exporter_env(self, project: str) -> dict[str, str]:
        """The standard variables that send a process's spans to ``project`` of this server."""
        return {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": f"{PROJECT_HEADER}={urllib.parse.quote(project)}",
        }

    def projects(self) -> list[str]:
        return [project["name"] for project in self._paged("/v1/projects", {})]

    def spans(
        self, project: str = DEFAULT_PROJECT, trace_id: str | None = None
    ) -> list[PhoenixSpan]:
        """What Phoenix stored in ``project`` (none if it does not exist yet), by start time."""
        query = {"trace_id": trace_id} if trace_id is not None else {}
        path = f"/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
        try:
            records = self._paged(path, query)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise
        spans = [_span(record) for record in records]
        return sorted(spans, key=lambda span: (span.start_ns, span.span_id))

    def wait_for_spans(
        self, count: int, project: str = DEFAULT_PROJECT, timeout: float = 30.0
    ) -> list[PhoenixSpan]:
        """The spans of ``project`` once there are at least ``count``; an AssertionError saying
        what it has if not in time. Phoenix stores what it receives in the background, slowly:
        about 60 spans a second here (2,000 spans took 36 s), so keep what a test sends to it
        small, or raise ``timeout``. The polls space out (0.1 s to 1 s): each reads every span
        of the project, and frequent reads slow the storing down."""
        deadline = time.monotonic() + timeout
        pause = 0.1
        while len(spans := self.spans(project)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Phoenix holds {len(spans)} spans in project {project!r}, not the {count} "
                    f"awaited, after {timeout} s: {[span.name for span in spans]}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(pause)
            pause = min(pause * 1.5, 1.0)
        return spans

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def _paged(self, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        cursor = None
        while True:
            page_query = {**query, "limit": "1000", **({"cursor": cursor} if cursor else {})}
            page = self._get(f"{path}?{urllib.parse.urlencode(page_query)}")
            records.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return records

    def _get(self, path_and_query: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + path_and_query, timeout=30) as answer:
            document: dict[str, Any] = json.load(answer)
            return document


@contextmanager
def running_phoenix(work_dir: Path, ready_within: float = READY_WITHIN) -> Iterator[Phoenix]:
    """``phoenix serve`` with its database and log in ``work_dir``, ready; stopped after."""
    command = installed_phoenix()
    for attempt in range(3):
        phoenix = _start(command, work_dir / f"run-{attempt}", ready_within)
        if phoenix is not None:
            break
    else:
        raise PhoenixUnavailable("Phoenix found no free port three times")
    server, process = phoenix
    try:
        yield server
    finally:
        _stop(process)


def installed_phoenix() -> Path:
    """The ``phoenix`` command of .venv-phoenix, once sure it holds exactly the pinned set."""
    if not STAMP.exists():
        raise PhoenixUnavailable(
            f"Arize Phoenix is not installed in {VENV}: run `{INSTALL}` "
            "(the `backend` tests export to it; `make test` installs it)"
        )
    if STAMP.read_bytes() != REQUIREMENTS.read_bytes():
        raise PhoenixUnavailable(
            f"{VENV} was installed from other pins than {REQUIREMENTS}: run `{INSTALL}`"
        )
    return VENV / "bin" / "phoenix"


def _start(
    command: Path, work_dir: Path, ready_within: float
) -> tuple[Phoenix, subprocess.Popen[bytes]] | None:
    """Phoenix ready on two free ports; None if a port was taken meanwhile (try again)."""
    work_dir.mkdir(parents=True)
    port, grpc_port = _free_port(), _free_port()
    log_path = work_dir / "phoenix.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(command), "serve"],
            cwd=work_dir,
            env=_environment(work_dir, port, grpc_port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: Ctrl-C on pytest does not reach it first
        )
    server = Phoenix(f"http://127.0.0.1:{port}", port, grpc_port, work_dir, log_path)
    try:
        ready = _wait_ready(server, process, ready_within)
    except BaseException:
        _stop(process)
        raise
    if ready:
        return server, process
    _stop(process)
    if "address already in use" in log_path.read_text(errors="replace").lower():
        return None
    raise PhoenixUnavailable(
        f"Phoenix exited with status {process.returncode} before it was ready:\n"
        f"{_tail(log_path, 60)}"
    )


def _environment(work_dir: Path, port: int, grpc_port: int) -> dict[str, str]:
    """Not the tests' environment: their OTEL_* variables would point Phoenix's own tracing at
    whatever the test exports to."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work_dir),  # any cache a library keeps under ~ stays in the temporary folder
        "LANG": "C.UTF-8",
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(work_dir),
        "PHOENIX_TELEMETRY_ENABLED": "false",  # no reporting home: the tests are offline
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_LOG_MIGRATIONS": "false",  # thousands of SQL lines would bury a failure
    }


def _wait_ready(server: Phoenix, process: subprocess.Popen[bytes], within: float) -> bool:
    """True once /healthz answers; False if Phoenix exited; PhoenixUnavailable after
    ``within`` seconds."""
    deadline = time.monotonic() + within
    while process.poll() is None:
        try:
            with urllib.request.urlopen(server.base_url + "/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return True
        except OSError:  # refused until it listens; URLError and timeouts are OSErrors too
            pass
        if time.monotonic() > deadline:
            raise PhoenixUnavailable(
                f"Phoenix was not ready within {within} s:\n{_tail(server.log_path, 60)}"
            )
        time.sleep(0.25)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def _span(record: dict[str, Any]) -> PhoenixSpan:
    return PhoenixSpan(
        trace_id=record["context"]["trace_id"],
        span_id=record["context"]["span_id"],
        parent_span_id=record.get("parent_id"),
        name=record["name"],
        span_kind=record["span_kind"],
        start_ns=_time(record["start_time"]),
        end_ns=_time(record["end_time"]),
        status_code=record["status_code"],
        status_message=record.get("status_message", ""),
        attributes=record.get("attributes", {}),
        events=[
            PhoenixEvent(event["name"], _time(event["timestamp"]), event.get("attributes", {}))
            for event in record.get("events", [])
        ],
        phoenix_id=record["id"],
    )


def _time(text: str) -> int:
    # Python 3.10's fromisoformat does not read the "Z" some serializers write for UTC.
    return _ns(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _ns(moment: datetime) -> int:
    """Exact: integer microseconds since the epoch, times 1000 (no float on the way)."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000
