"""The JSON Lines store (``.jsonl``, ``.ndjson``): one entry per line, appended with one write.

Lines are the whole format, so each part is small: ``lines`` (what a file may hold at its
start and end), ``parse`` (lines to entries, many at a time), ``reader`` (blocks from either
end), ``follow`` (``tail -F``) and ``store`` (the Store: appends, repairs, fork safety).
"""

from __future__ import annotations

from betty_telemetry.stores.json_lines.store import JsonLinesStore

__all__ = ["JsonLinesStore"]
