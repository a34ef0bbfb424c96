"""The ORIGINAL design's capture, reimplemented as the benchmark's baseline.

Every capture rewrites the whole file: open it, take an exclusive ``flock``, ``json.load`` the
whole array, append the new entry, ``seek(0)``, ``json.dump(data, f, indent=2)``, truncate,
flush, unlock. Its cost grows with the number of entries already in the file.
"""

from __future__ import annotations

import fcntl
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def build_original_entry(
    skill: str,
    status: str,
    duration_ms: float,
    caller: str,
    inputs: dict[str, Any] | None = None,
    error_message: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "skill": skill,
        "status": status,
        "duration_ms": duration_ms,
        "caller": caller,
        "inputs": inputs or {},
        "error_message": error_message,
        "metadata": metadata or {},
    }


def original_capture(
    path: Path,
    skill: str,
    status: str,
    duration_ms: float,
    caller: str,
    inputs: dict[str, Any] | None = None,
    error_message: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append one entry the original way: load the whole array, rewrite the whole file."""
    entry = build_original_entry(
        skill, status, duration_ms, caller, inputs, error_message, metadata
    )
    with open(path, "r+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            data = json.load(file)
            data.append(entry)
            file.seek(0)
            json.dump(data, file, indent=2)
            file.truncate()
            file.flush()
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
    return entry
