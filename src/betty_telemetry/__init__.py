"""betty-telemetry: local, crash-safe execution telemetry for agent and skill frameworks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from betty_telemetry._lazy import lazy_names

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads each name
    from betty_telemetry._config import (
        ResolvedPath,
        add_redaction_pattern,
        add_secret_keys,
        reset_redaction_rules,
        resolve_telemetry_path,
    )
    from betty_telemetry.capture.context_manager import TelemetryContext
    from betty_telemetry.capture.decorator import capture_telemetry
    from betty_telemetry.capture.spans import Span, bind_context, child_env, current_span
    from betty_telemetry.capture.telemetry import TelemetryCapture
    from betty_telemetry.export.live import LiveExport
    from betty_telemetry.export.replay import Replayed
    from betty_telemetry.export.settings import OtlpExport
    from betty_telemetry.lifecycle.convert import Conversion, convert
    from betty_telemetry.lifecycle.rotation import Rotation
    from betty_telemetry.model.entry import ENTRY_FIELDS, VALID_STATUSES
    from betty_telemetry.model.types import (
        Durability,
        Entry,
        LegacyStatus,
        StatsGrouping,
        StatsRow,
        StatsSort,
        Status,
        StoredStatus,
        TraceNode,
    )
    from betty_telemetry.read.sql import SqlError, SqlResult, SqlRows
    from betty_telemetry.redaction import REDACTED
    from betty_telemetry.report.building import WrittenReport
    from betty_telemetry.stores import (
        CheckReport,
        CorruptStoreError,
        LockTimeoutError,
        NotARegularFileError,
        Pruned,
        RepairReport,
    )

__version__ = "0.1.0"

__all__ = [
    "ENTRY_FIELDS",
    "REDACTED",
    "VALID_STATUSES",
    "CheckReport",
    "Conversion",
    "CorruptStoreError",
    "Durability",
    "Entry",
    "LegacyStatus",
    "LiveExport",
    "LockTimeoutError",
    "NotARegularFileError",
    "OtlpExport",
    "Pruned",
    "RepairReport",
    "Replayed",
    "ResolvedPath",
    "Rotation",
    "Span",
    "SqlError",
    "SqlResult",
    "SqlRows",
    "StatsGrouping",
    "StatsRow",
    "StatsSort",
    "Status",
    "StoredStatus",
    "TelemetryCapture",
    "TelemetryContext",
    "TraceNode",
    "WrittenReport",
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

# Each public name and the module it lives in, imported on first use (PEP 562): a command
# line capture, which starts a fresh process every time, then loads only what it needs (not
# SQLite, the read side or the lifecycle). Keep it in step with the TYPE_CHECKING imports.
_HOMES = {
    "ResolvedPath": "betty_telemetry._config",
    "add_redaction_pattern": "betty_telemetry._config",
    "add_secret_keys": "betty_telemetry._config",
    "reset_redaction_rules": "betty_telemetry._config",
    "resolve_telemetry_path": "betty_telemetry._config",
    "TelemetryContext": "betty_telemetry.capture.context_manager",
    "capture_telemetry": "betty_telemetry.capture.decorator",
    "Span": "betty_telemetry.capture.spans",
    "bind_context": "betty_telemetry.capture.spans",
    "child_env": "betty_telemetry.capture.spans",
    "current_span": "betty_telemetry.capture.spans",
    "TelemetryCapture": "betty_telemetry.capture.telemetry",
    "LiveExport": "betty_telemetry.export.live",
    "Replayed": "betty_telemetry.export.replay",
    "OtlpExport": "betty_telemetry.export.settings",
    "Conversion": "betty_telemetry.lifecycle.convert",
    "convert": "betty_telemetry.lifecycle.convert",
    "Rotation": "betty_telemetry.lifecycle.rotation",
    "ENTRY_FIELDS": "betty_telemetry.model.entry",
    "VALID_STATUSES": "betty_telemetry.model.entry",
    "Durability": "betty_telemetry.model.types",
    "Entry": "betty_telemetry.model.types",
    "LegacyStatus": "betty_telemetry.model.types",
    "StatsGrouping": "betty_telemetry.model.types",
    "StatsRow": "betty_telemetry.model.types",
    "StatsSort": "betty_telemetry.model.types",
    "Status": "betty_telemetry.model.types",
    "StoredStatus": "betty_telemetry.model.types",
    "TraceNode": "betty_telemetry.model.types",
    "SqlError": "betty_telemetry.read.sql",
    "SqlResult": "betty_telemetry.read.sql",
    "SqlRows": "betty_telemetry.read.sql",
    "REDACTED": "betty_telemetry.redaction",
    "WrittenReport": "betty_telemetry.report.building",
    "CheckReport": "betty_telemetry.stores",
    "CorruptStoreError": "betty_telemetry.stores",
    "LockTimeoutError": "betty_telemetry.stores",
    "NotARegularFileError": "betty_telemetry.stores",
    "Pruned": "betty_telemetry.stores",
    "RepairReport": "betty_telemetry.stores",
}


__getattr__ = lazy_names(globals(), _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
