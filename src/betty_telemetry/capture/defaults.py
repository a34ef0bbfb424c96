"""The shared capture that the decorator and the context manager use when given none."""

from __future__ import annotations

from betty_telemetry._config import (
    CAPTURING,
    ENVIRONMENT_EXPORT_CHECKED,
    background_mode,
    capturing_capture,
    export_from_environment,
    resolve_telemetry_path,
    shared_capture,
)
from betty_telemetry._safety import report_failure
from betty_telemetry.capture.telemetry import TelemetryCapture


def default_capture() -> TelemetryCapture:
    """The shared capture for the decorator and context manager.

    The path and ``BETTY_TELEMETRY_MODE`` are read at each call, so a change of either (or of
    the working directory) takes effect at once; one capture, with its open store, is kept per
    path and mode (in ``_config``, with the rest of the process-wide state). While a
    ``betty_telemetry.testing.capture_entries()`` block is active, it is that block's capture,
    in memory: no file is touched.
    """
    if CAPTURING:
        capturing: TelemetryCapture | None = capturing_capture()
        if capturing is not None:
            return capturing
    path = resolve_telemetry_path().path
    background = background_mode()
    return shared_capture(
        (path, background), lambda: TelemetryCapture(telemetry_file=path, background=background)
    )


def start_environment_export() -> None:
    """Once per process, before its first decorated function or context: with
    ``BETTY_TELEMETRY_EXPORT=otlp``, make the default capture (and its live export) now, so
    that the very first run is already a current OpenTelemetry span (see
    ``capture.otel_context``), not only the runs after the first entry was written."""
    if ENVIRONMENT_EXPORT_CHECKED:
        return
    ENVIRONMENT_EXPORT_CHECKED.append(True)
    try:
        if export_from_environment():
            default_capture()
    except Exception as exc:  # a bad variable must not stop the host's module importing
        report_failure(exc)
