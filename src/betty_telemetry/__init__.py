"""betty-telemetry: local, crash-safe execution telemetry for agent and skill frameworks."""

from __future__ import annotations

from betty_telemetry._capture import TelemetryCapture
from betty_telemetry._config import resolve_telemetry_path
from betty_telemetry._entry import ENTRY_FIELDS, VALID_STATUSES
from betty_telemetry._instrument import TelemetryContext, capture_telemetry
from betty_telemetry._redact import REDACTED
from betty_telemetry.stores import CorruptStoreError

__version__ = "0.1.0"

__all__ = [
    "ENTRY_FIELDS",
    "REDACTED",
    "VALID_STATUSES",
    "CorruptStoreError",
    "TelemetryCapture",
    "TelemetryContext",
    "__version__",
    "capture_telemetry",
    "resolve_telemetry_path",
]
