"""Test your code's telemetry: record it in memory and assert on the entries.

- ``capture_entries()``: a context manager yielding the list of entries recorded in this
  process while it is active; the decorator's and context manager's default file is not
  touched meanwhile. Also a pytest fixture of the same name, installed with the package (no
  conftest needed).
- ``MemoryStore``: a ``Store`` in memory, for ``TelemetryCapture(store=MemoryStore())``.
- ``find`` and ``one``: entries matching ``TelemetryCapture.query``'s filters.
"""

from __future__ import annotations

from betty_telemetry.stores import MemoryStore
from betty_telemetry.testing.capturing import capture_entries
from betty_telemetry.testing.finding import find, one

__all__ = ["MemoryStore", "capture_entries", "find", "one"]
