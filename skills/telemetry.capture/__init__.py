"""Betty skill ``telemetry.capture`` as a package: the framework's ``betty.skills`` finder
imports this folder as ``betty.skills.telemetry.capture``. It offers what its modules do."""

from __future__ import annotations

from . import telemetry_capture as _capture
from .telemetry_capture import *  # noqa: F403

__all__ = list(_capture.__all__)
