"""Where exported spans go: an OTLP exporter of ours, or the application's TracerProvider.

A target takes mapped spans (``SpanData``) and says whether they were delivered. The official
SDK does the rest: the OTLP/HTTP exporter encodes, compresses, posts and retries 429 and 5xx
answers with backoff; an application's provider hands the spans to its own processors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from betty_telemetry.export import sdk
from betty_telemetry.export.mapping import SpanData
from betty_telemetry.export.settings import OtlpExport, shown_endpoint

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0


class Target(Protocol):
    description: str
    """Where the spans go, for ``where`` and warnings."""

    def send(self, spans: Sequence[SpanData]) -> bool: ...

    def shutdown(self) -> None: ...


class ExporterTarget:
    """Spans posted by the SDK's OTLP/HTTP exporter (or any SDK ``SpanExporter``)."""

    def __init__(
        self, exporter: sdk.SpanExporter, resource: sdk.Resource, description: str
    ) -> None:
        self._exporter = exporter
        self._resource = resource
        self.description = description

    def send(self, spans: Sequence[SpanData]) -> bool:
        resource = self._resource
        return sdk.exported(self._exporter, [sdk.readable_span(span, resource) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()  # also ends a retry pause the exporter is in


class ProviderTarget:
    """Spans handed, finished, to an SDK ``TracerProvider``'s processors: the application's
    exporters send them with its own spans, under its resource."""

    def __init__(self, provider: Any) -> None:
        # The provider's composite processor: what its tracers call when a span ends. There is
        # no public way to hand it a span made elsewhere, with the ids the entry already has.
        self._processor = provider._active_span_processor
        self._resource = provider.resource
        self.description = f"the application's TracerProvider ({type(provider).__name__})"

    def send(self, spans: Sequence[SpanData]) -> bool:
        for span in spans:
            self._processor.on_end(sdk.readable_span(span, self._resource))
        return True

    def shutdown(self) -> None:
        pass  # the provider is the application's: it flushes and shuts it down


def sent_with_retries(
    target: Target,
    spans: Sequence[SpanData],
    retry_for: float,
    pause: Callable[[float], bool],
) -> bool:
    """Send ``spans`` until ``target`` takes them, pausing between tries (1 s, doubling up to
    30 s: on top of the exporter's own retries, for an outage longer than its timeout) for
    ``retry_for`` seconds at most. ``pause(seconds)`` waits, and says True to give up now.
    Whether the spans went."""
    give_up = time.monotonic() + retry_for
    seconds = FIRST_PAUSE
    while not target.send(spans):
        if time.monotonic() + seconds > give_up or pause(seconds):
            return False
        seconds = min(seconds * 2, LONGEST_PAUSE)
    return True


def make_target(settings: OtlpExport) -> Target:
    """The target ``settings`` ask for (see OtlpExport for the rules)."""
    provider = settings.provider
    if provider is None and settings.endpoint is None:
        provider = configured_provider()
    if provider is not None:
        if not hasattr(provider, "_active_span_processor"):
            raise TypeError(
                f"OtlpExport provider must be an OpenTelemetry SDK TracerProvider, got "
                f"{type(provider).__name__}"
            )
        return ProviderTarget(provider)
    endpoint = sdk.traces_endpoint(settings.endpoint)
    exporter = sdk.otlp_exporter(endpoint, settings.headers, settings.timeout)
    resource = sdk.make_resource(settings.service_name)
    return ExporterTarget(exporter, resource, shown_endpoint(endpoint))


def configured_provider() -> Any:
    """The SDK TracerProvider the application set as global, if it set one."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None
