# Types of the top-level module `telemetry_capture` (the spec's import), which a single-file
# module cannot declare with py.typed: PEP 561's stub-only package, shipped in the wheel.
from betty_telemetry import VALID_STATUSES as VALID_STATUSES
from betty_telemetry import CorruptStoreError as CorruptStoreError
from betty_telemetry import TelemetryCapture as TelemetryCapture
from betty_telemetry import TelemetryContext as TelemetryContext
from betty_telemetry.capture.betty_framework import capture_telemetry as capture_telemetry
from betty_telemetry.capture.betty_framework import (
    create_telemetry_entry as create_telemetry_entry,
)

__all__ = [
    "VALID_STATUSES",
    "CorruptStoreError",
    "TelemetryCapture",
    "TelemetryContext",
    "capture_telemetry",
    "create_telemetry_entry",
    "main",
]

def main(argv: list[str] | None = None) -> int: ...
