"""Where the telemetry file lives, and the process-wide defaults.

Global state (environment variables, the shared default capture) lives here and only here;
every other module takes its settings as arguments.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from betty_telemetry._capture import TelemetryCapture

ENV_FILE = "BETTY_TELEMETRY_FILE"
ENV_HOME = "BETTY_HOME"
DEFAULT_RELATIVE_PATH = os.path.join("registry", "telemetry.json")


@dataclass(frozen=True)
class ResolvedPath:
    """An absolute telemetry file path and the rule that chose it."""

    path: str
    rule: str


def resolve_telemetry_path(explicit: str | os.PathLike[str] | None = None) -> ResolvedPath:
    """Apply the lookup rules in order: argument, BETTY_TELEMETRY_FILE, BETTY_HOME, ./registry.

    An empty environment variable counts as unset, as shells make it easy to export one by
    accident (``BETTY_HOME= cmd``).
    """
    if explicit is not None:
        return ResolvedPath(_absolute(os.fspath(explicit)), "telemetry_file argument")
    env_file = os.environ.get(ENV_FILE)
    if env_file:
        return ResolvedPath(_absolute(env_file), f"${ENV_FILE}")
    home = os.environ.get(ENV_HOME)
    if home:
        return ResolvedPath(
            _absolute(os.path.join(home, DEFAULT_RELATIVE_PATH)), f"${ENV_HOME}/registry"
        )
    return ResolvedPath(_absolute(DEFAULT_RELATIVE_PATH), "default ./registry/telemetry.json")


def _absolute(path: str) -> str:
    # abspath, not realpath: users should see the path they configured, symlinks and all.
    return os.path.abspath(os.path.expanduser(path))


_default_captures: dict[str, TelemetryCapture] = {}
_default_lock = threading.Lock()


def default_capture() -> TelemetryCapture:
    """The shared capture for the decorator and context manager.

    The path is resolved at each call, so a change of ``BETTY_TELEMETRY_FILE`` (or of the
    working directory) takes effect at once; one capture, with its open file, is kept per path.
    """
    from betty_telemetry._capture import TelemetryCapture

    path = resolve_telemetry_path().path
    capture = _default_captures.get(path)
    if capture is None:
        with _default_lock:
            capture = _default_captures.get(path)
            if capture is None:
                capture = TelemetryCapture(telemetry_file=path)
                _default_captures[path] = capture
    return capture
