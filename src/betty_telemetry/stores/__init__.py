"""Storage back-ends for telemetry entries (one module per file format)."""

from __future__ import annotations

from betty_telemetry.stores._errors import CorruptStoreError, NotARegularFileError
from betty_telemetry.stores._lock import LockTimeoutError
from betty_telemetry.stores.json_array import JsonArrayStore

__all__ = ["CorruptStoreError", "JsonArrayStore", "LockTimeoutError", "NotARegularFileError"]
