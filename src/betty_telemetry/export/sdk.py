"""The one module that imports the OpenTelemetry SDK: spans, the resource, the exporter.

Everything else in ``export`` works on ``SpanData``. Without the ``[otel]`` extra the import
fails here, with an ImportError that says how to install it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from betty_telemetry.export.mapping import SpanData
from betty_telemetry.export.settings import check_endpoint

INSTALL_HINT = "pip install 'betty-telemetry[otel]'"

try:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
except ImportError as error:  # pragma: no cover - the tests run with the extra installed
    raise ImportError(
        f"OpenTelemetry export needs the OpenTelemetry SDK, an optional extra: {INSTALL_HINT}"
    ) from error

__all__ = [
    "Resource",
    "SpanExporter",
    "exported",
    "make_resource",
    "otlp_exporter",
    "readable_span",
    "traces_endpoint",
]

DEFAULT_SERVICE_NAME = "betty"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
ENV_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
ENV_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENV_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
TRACES_PATH = "v1/traces"

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_STATUS_CODES = {"ERROR": StatusCode.ERROR, "OK": StatusCode.OK, "UNSET": StatusCode.UNSET}


def _version() -> str:
    from betty_telemetry import __version__  # here: the package imports export lazily

    return __version__


SCOPE = InstrumentationScope("betty_telemetry", _version())


def make_resource(service_name: str | None = None) -> Resource:
    """The resource of our spans: ``service.name`` (the argument, else ``OTEL_SERVICE_NAME`` or
    ``OTEL_RESOURCE_ATTRIBUTES``, else ``betty``), ``host.name``, and the SDK's own."""
    attributes: dict[str, Any] = {"host.name": socket.gethostname()}
    if service_name is not None:
        attributes["service.name"] = service_name
    elif not _service_name_in_environment():
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    return Resource.create(attributes)


def _service_name_in_environment() -> bool:
    if os.environ.get(ENV_SERVICE_NAME, "").strip():
        return True
    pairs = os.environ.get(ENV_RESOURCE_ATTRIBUTES, "").split(",")
    return any(pair.split("=", 1)[0].strip() == "service.name" for pair in pairs)


def readable_span(data: SpanData, resource: Resource) -> ReadableSpan:
    """``data`` as the SDK's finished span, which every exporter and processor takes."""
    parent = (
        None
        if data.parent_id is None
        else SpanContext(data.trace_id, data.parent_id, is_remote=False, trace_flags=_SAMPLED)
    )
    return ReadableSpan(
        name=data.name,
        context=SpanContext(data.trace_id, data.span_id, is_remote=False, trace_flags=_SAMPLED),
        parent=parent,
        resource=resource,
        attributes=data.attributes,
        kind=SpanKind.INTERNAL,
        status=Status(_STATUS_CODES[data.status], data.description),
        start_time=data.start_ns,
        end_time=data.end_ns,
        instrumentation_scope=SCOPE,
    )


def traces_endpoint(url: str | None) -> str:
    """Where spans are posted: ``url`` (a base URL gets ``/v1/traces``, a URL with a path is
    used as it is), else the standard OTLP variables, else ``localhost:4318``."""
    if url is not None:
        return _with_traces_path(url)
    signal = os.environ.get(ENV_TRACES_ENDPOINT, "").strip()
    if signal:
        return signal
    base = os.environ.get(ENV_ENDPOINT, "").strip()
    return _with_traces_path(base) if base else DEFAULT_ENDPOINT


def _with_traces_path(url: str) -> str:
    if urlsplit(check_endpoint(url)).path in ("", "/"):
        return url.rstrip("/") + "/" + TRACES_PATH
    return url


def otlp_exporter(endpoint: str, headers: Mapping[str, str] | None, timeout: float) -> SpanExporter:
    """The official OTLP/HTTP exporter posting to ``endpoint`` (as ``traces_endpoint`` gives
    it; it retries 429 and 5xx answers with backoff, within ``timeout`` seconds). Headers not
    given come from ``OTEL_EXPORTER_OTLP_*HEADERS``."""
    return OTLPSpanExporter(
        endpoint=endpoint,
        headers=dict(headers) if headers is not None else None,
        timeout=timeout,
    )


def exported(exporter: SpanExporter, spans: Sequence[ReadableSpan]) -> bool:
    """Export ``spans``; whether the backend took them."""
    return exporter.export(spans) is SpanExportResult.SUCCESS
