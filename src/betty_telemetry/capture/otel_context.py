"""The application's OpenTelemetry context, read and joined without importing OpenTelemetry.

An application that uses OpenTelemetry has imported ``opentelemetry.trace``; one that does not
never pays for it here: every function looks the module up in ``sys.modules`` first.

- ``otel_parent``: the application's current span, which a run started inside it takes as its
  parent (and its trace id), so both kinds of spans form one trace in the backend.
- ``attach``/``detach``: with live export on, a run is made the current OpenTelemetry span
  (a non-recording one, with the run's own ids: the span itself is exported from the entry),
  so the application's spans started inside the run nest under it.
"""

from __future__ import annotations

import sys
from typing import Any

_modules = sys.modules
_TRACE = "opentelemetry.trace"


def otel_parent() -> tuple[str, str] | None:
    """The trace id and span id (hex) of the current OpenTelemetry span, if there is a valid
    one; None when OpenTelemetry is not in use."""
    trace = _modules.get(_TRACE)
    if trace is None:
        return None
    try:
        span_context = trace.get_current_span().get_span_context()
        if not span_context.is_valid:
            return None
        return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
    except Exception:  # an odd OpenTelemetry install must not break the host's run
        return None


def attach(trace_id: str, span_id: str) -> Any:
    """Make the span with these ids the current OpenTelemetry span; the token to detach."""
    from opentelemetry import context, trace

    span_context = trace.SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span_context)))


def detach(token: Any) -> None:
    from opentelemetry import context

    context.detach(token)
