"""Betty skill ``telemetry.capture``: programmatic API and command line.

Compatibility module for the paths and imports the Betty Framework already uses::

    python skills/telemetry.capture/telemetry_capture.py SKILL STATUS DURATION_MS CALLER \\
        [INPUTS_JSON] [ERROR_MESSAGE]
    from telemetry_capture import TelemetryCapture

It works from a checkout without installing (it then finds the package in ``../../src``) and
after ``pip install betty-telemetry``, which installs this module at top level.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import betty_telemetry
except ImportError:  # a checkout that was not installed: use its src/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    import betty_telemetry

if TYPE_CHECKING:
    from betty_telemetry import (
        VALID_STATUSES,
        CorruptStoreError,
        TelemetryCapture,
        TelemetryContext,
        capture_telemetry,
    )

__all__ = [
    "VALID_STATUSES",
    "CorruptStoreError",
    "TelemetryCapture",
    "TelemetryContext",
    "capture_telemetry",
    "main",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use, as the package loads its own names: the command line (main)
    # records an entry without importing the decorator, the context manager or the readers.
    if name in __all__ and name != "main":
        return getattr(betty_telemetry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """The skill's command line: record one entry and print it."""
    from betty_telemetry.cli.main import main_capture

    return main_capture(argv, prog="telemetry_capture.py")


if __name__ == "__main__":
    raise SystemExit(main())
