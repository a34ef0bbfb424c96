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

import functools
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


@functools.cache
def _api() -> tuple[Any, Any, Any, Any, Any, Any]:
    """What ``attach`` and ``detach`` call, looked up once: an import statement on every run
    would cost more than the rest of their work."""
    from opentelemetry import context, trace

    sampled = trace.TraceFlags(trace.TraceFlags.SAMPLED)
    return (
        trace.SpanContext,
        trace.NonRecordingSpan,
        trace.set_span_in_context,
        context.attach,
        context.detach,
        sampled,
    )


def attach(trace_id: str, span_id: str) -> Any:
    """Make the span with these ids the current OpenTelemetry span; the token to detach."""
    span_context, non_recording, in_context, attach_context, _, sampled = _api()
    ids = span_context(int(trace_id, 16), int(span_id, 16), False, sampled)
    return attach_context(in_context(non_recording(ids)))


def detach(token: Any) -> None:
    _api()[4](token)
