"""What the decorator and the context manager use when given none: the shared capture, and
whether runs record a pending entry."""

from __future__ import annotations

from betty_telemetry._config import (
    CAPTURING,
    ENVIRONMENT_EXPORT_CHECKED,
    background_mode,
    capturing_capture,
    export_from_environment,
    pending_by_default,
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


def pending_default() -> bool:
    """Whether a decorated function or context that did not say records a pending entry
    when it starts (``BETTY_TELEMETRY_PENDING``, the settings file's ``pending``).

    Asked when a function is decorated, often while the host's module imports: a bad value
    (or a settings file that cannot be read) is reported once and counts as off, so the
    module still imports and its functions still run; their captures report the cause too.
    """
    try:
        return pending_by_default()
    except ValueError as exc:
        # Apart: captures failing on the same file must still say that their runs were not
        # recorded, which this warning does not.
        report_failure(exc, "Pending entries are off", apart=True)
        return False
