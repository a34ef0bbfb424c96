"""Betty skill ``telemetry.capture`` as a package: the framework's ``betty.skills`` finder
imports this folder as ``betty.skills.telemetry.capture``. It offers what its two modules do."""

from __future__ import annotations

from .telemetry_capture import (
    VALID_STATUSES,
    CorruptStoreError,
    TelemetryCapture,
    TelemetryContext,
    capture_telemetry,
    create_telemetry_entry,
    main,
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
