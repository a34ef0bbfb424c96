"""Betty skill ``telemetry.capture``: the decorator and context manager.

Compatibility module for the spec's imports::

    sys.path.insert(0, str(Path(__file__).parent / "../telemetry.capture"))
    from telemetry_utils import capture_telemetry, TelemetryContext

It works from a checkout without installing and after ``pip install betty-telemetry``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import betty_telemetry  # noqa: F401
except ImportError:  # a checkout that was not installed: use its src/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry

__all__ = ["TelemetryCapture", "TelemetryContext", "capture_telemetry"]
