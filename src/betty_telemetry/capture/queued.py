"""``TelemetryCapture.capture`` in background mode: check, stamp, link and queue.

The calling thread pays only for what must happen at once (a bad argument raises now; the
timestamp and the trace are the caller's), and the writer thread redacts, encodes and writes.
"""

from __future__ import annotations

from typing import Any

from betty_telemetry.capture.build import build_entry
from betty_telemetry.capture.pipeline import Pipeline
from betty_telemetry.capture.spans import Span, linked_span
from betty_telemetry.model.entry import check_arguments, copy_mapping, utc_timestamp


def queue_capture(
    pipeline: Pipeline,
    skill: str,
    status: str,
    duration_ms: float,
    caller: str,
    inputs: dict[str, Any] | None,
    error_message: str | None,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """``TelemetryCapture.capture`` in background mode: check, stamp, link and queue; the
    writer thread redacts, encodes and writes. Returns the entry as queued."""
    duration = check_arguments(skill, status, duration_ms, caller, error_message)
    # Copied now: the caller may reuse its dicts at once. Nested values are read when written.
    given_inputs = copy_mapping("inputs", inputs)
    given_metadata = copy_mapping("metadata", metadata)
    timestamp = utc_timestamp()
    span = linked_span(skill)
    arguments = (skill, status, duration, caller, given_inputs, error_message, given_metadata)
    pipeline.submit((_build_queued, (*arguments, span, timestamp)))
    queued = {
        "timestamp": timestamp,
        "skill": skill,
        "status": status,
        "duration_ms": duration,
        "caller": caller,
        "inputs": given_inputs,
        "error_message": error_message,
        "metadata": given_metadata,
    }
    if span is not None:
        queued.update(trace_id=span.trace_id, span_id=span.span_id, parent_id=span.parent_id)
    return queued


def _build_queued(
    skill: str,
    status: str,
    duration_ms: float,
    caller: str,
    inputs: dict[str, Any],
    error_message: str | None,
    metadata: dict[str, Any],
    span: Span | None,
    timestamp: str,
) -> dict[str, Any]:
    arguments = (skill, status, duration_ms, caller, inputs, error_message, metadata)
    return build_entry(*arguments, span=span, timestamp=timestamp)
