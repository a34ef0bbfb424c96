# Types of the top-level module `telemetry_utils` (the spec's import), which a single-file
# module cannot declare with py.typed: PEP 561's stub-only package, shipped in the wheel.
from betty_telemetry import TelemetryCapture as TelemetryCapture
from betty_telemetry import TelemetryContext as TelemetryContext
from betty_telemetry.capture.betty_framework import capture_telemetry as capture_telemetry
from betty_telemetry.capture.betty_framework import (
    create_telemetry_entry as create_telemetry_entry,
)

__all__ = ["TelemetryCapture", "TelemetryContext", "capture_telemetry", "create_telemetry_entry"]
