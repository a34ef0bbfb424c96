"""betty-telemetry: local, crash-safe execution telemetry for agent and skill frameworks."""

from __future__ import annotations

from betty_telemetry._config import (
    add_redaction_pattern,
    add_secret_keys,
    reset_redaction_rules,
    resolve_telemetry_path,
)
from betty_telemetry.capture.context_manager import TelemetryContext
from betty_telemetry.capture.decorator import capture_telemetry
from betty_telemetry.capture.spans import bind_context, child_env, current_span
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.lifecycle.convert import Conversion, convert
from betty_telemetry.model.entry import ENTRY_FIELDS, VALID_STATUSES
from betty_telemetry.read.sql import SqlError, SqlResult, SqlRows
from betty_telemetry.redaction import REDACTED
from betty_telemetry.stores import CorruptStoreError, LockTimeoutError, NotARegularFileError

__version__ = "0.1.0"

__all__ = [
    "ENTRY_FIELDS",
    "REDACTED",
    "VALID_STATUSES",
    "Conversion",
    "CorruptStoreError",
    "LockTimeoutError",
    "NotARegularFileError",
    "SqlError",
    "SqlResult",
    "SqlRows",
    "TelemetryCapture",
    "TelemetryContext",
    "__version__",
    "add_redaction_pattern",
    "add_secret_keys",
    "bind_context",
    "capture_telemetry",
    "child_env",
    "convert",
    "current_span",
    "reset_redaction_rules",
    "resolve_telemetry_path",
]
