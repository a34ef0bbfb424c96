"""What a live OTLP export was asked for: plain settings, no OpenTelemetry import.

``TelemetryCapture(export=OtlpExport(...))`` in code, or ``BETTY_TELEMETRY_EXPORT=otlp`` in the
environment (read by ``_config.resolve_export``), with the standard ``OTEL_EXPORTER_OTLP_*``
and ``OTEL_SERVICE_NAME`` variables for whatever is not given here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from betty_telemetry._config import redaction_rules
from betty_telemetry.model.checks import is_finite_at_least, whole_number


@dataclass(frozen=True)
class OtlpExport:
    """Send every captured entry, once stored, as a span to an OTLP/HTTP backend.

    - ``endpoint``: the backend's URL (``http://localhost:4318`` gets ``/v1/traces``); None:
      the application's own ``TracerProvider`` if it configured one, else
      ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
      ``http://localhost:4318``.
    - ``headers``: sent with every request (else ``OTEL_EXPORTER_OTLP_HEADERS``).
    - ``service_name``: the resource's ``service.name`` (else ``OTEL_SERVICE_NAME``, else
      ``betty``).
    - ``provider``: send through this SDK ``TracerProvider`` (its processors and exporters)
      instead of an exporter of ours.
    - ``timeout``: seconds one request may take, the exporter's own retries included.
    - ``queue_size``: entries that may wait; more are dropped and counted.
    - ``retry_for``: seconds a batch the backend refuses is retried (with growing pauses)
      before it is counted as dropped.
    - ``interval``: seconds between batches when fewer than a batch are waiting.
    """

    endpoint: str | None = None
    headers: Mapping[str, str] | None = None
    service_name: str | None = None
    provider: Any = field(default=None, compare=False)
    timeout: float = 10.0
    queue_size: int = 10_000
    retry_for: float = 60.0
    interval: float = 0.5

    def __post_init__(self) -> None:
        for name in ("timeout", "retry_for", "interval"):
            value = getattr(self, name)
            if not is_finite_at_least(value, 0) or (name != "retry_for" and value == 0):
                raise ValueError(f"OtlpExport {name} must be seconds > 0, got {value!r}")
        whole_number("queue_size", self.queue_size, minimum=1)
        if self.endpoint is not None:
            check_endpoint(self.endpoint)
        if self.headers is not None and not all(
            isinstance(key, str) and isinstance(value, str) for key, value in self.headers.items()
        ):
            raise ValueError("OtlpExport headers must map header names to text values")


def check_endpoint(url: str) -> str:
    """``url`` if it is an http(s) URL with a host; else ValueError saying what is expected."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"an OTLP endpoint must be an http:// or https:// URL such as "
            f"http://localhost:4318, got {url!r}"
        )
    return url


def shown_endpoint(url: str) -> str:
    """``url`` as it may be printed, logged or kept in the state file: a password or a token
    in it (``https://user:PASSWORD@host``, ``?api_key=...``) redacted, by the same rules as
    the entries."""
    return redaction_rules().redact_text(url)[0]
