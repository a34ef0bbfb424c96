"""Betty skill ``telemetry.capture``: the decorator and context manager.

Compatibility module for the spec's imports::

    sys.path.insert(0, str(Path(__file__).parent / "../telemetry.capture"))
    from telemetry_utils import capture_telemetry, TelemetryContext

It works however it is loaded, with nothing installed, and after ``pip install betty-telemetry``
(see ``telemetry_capture``). ``capture_telemetry`` also records a given entry mapping, as the
framework's ``capture_telemetry(entry)``.
"""

from __future__ import annotations

import os
import sys

# This folder, on sys.path just long enough to import its neighbour that finds the package
# (however this module was loaded), which is then told where the folder sits.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _betty_telemetry_locate

_betty_telemetry_locate.locate(sys.path.pop(0))

from betty_telemetry import TelemetryCapture, TelemetryContext  # noqa: E402
from betty_telemetry.capture.betty_framework import (  # noqa: E402
    capture_telemetry,
    create_telemetry_entry,
)

__all__ = ["TelemetryCapture", "TelemetryContext", "capture_telemetry", "create_telemetry_entry"]
