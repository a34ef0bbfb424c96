"""Betty skill ``telemetry.capture``: programmatic API and command line.

Compatibility module for the paths and imports the Betty Framework already uses::

    python skills/telemetry.capture/telemetry_capture.py SKILL STATUS DURATION_MS CALLER \\
        [INPUTS_JSON] [ERROR_MESSAGE]
    from telemetry_capture import TelemetryCapture
    entry = create_telemetry_entry(skill_name=..., inputs=..., status=..., duration_ms=...)
    capture_telemetry(entry)  # betty/telemetry_integration.py, after loading this file by path

It works run as a script, loaded by path, imported as a package or from ``sys.path``, with
nothing installed (see ``_betty_telemetry_locate`` for where it finds the package) and after
``pip install betty-telemetry``, which installs this module at top level. In a Betty checkout,
entries go by default to that checkout's ``registry/telemetry.json``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

# This folder, on sys.path just long enough to import its neighbour that finds the package
# (however this module was loaded), which is then told where the folder sits.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _betty_telemetry_locate

_betty_telemetry_locate.locate(sys.path.pop(0))

if TYPE_CHECKING:
    from betty_telemetry import (
        VALID_STATUSES,
        CorruptStoreError,
        TelemetryCapture,
        TelemetryContext,
    )
    from betty_telemetry.capture.betty_framework import (
        capture_telemetry,
        create_telemetry_entry,
    )

# Each name is loaded on first use, as the package loads its own: the command line (main)
# records an entry without importing the decorator, the context manager or the readers.
_HOMES = {
    "VALID_STATUSES": "betty_telemetry",
    "CorruptStoreError": "betty_telemetry",
    "TelemetryCapture": "betty_telemetry",
    "TelemetryContext": "betty_telemetry",
    "capture_telemetry": "betty_telemetry.capture.betty_framework",
    "create_telemetry_entry": "betty_telemetry.capture.betty_framework",
}

__all__ = [
    "VALID_STATUSES",
    "CorruptStoreError",
    "TelemetryCapture",
    "TelemetryContext",
    "capture_telemetry",
    "create_telemetry_entry",
    "main",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def main(argv: list[str] | None = None) -> int:
    """The skill's command line: record one entry and print it."""
    from betty_telemetry.cli.main import main_capture

    return main_capture(argv, prog="telemetry_capture.py")


if __name__ == "__main__":
    raise SystemExit(main())
