"""Storage back-ends for telemetry entries (one module per file format)."""

from __future__ import annotations

from betty_telemetry.stores.json_array import CorruptStoreError, JsonArrayStore

__all__ = ["CorruptStoreError", "JsonArrayStore"]
