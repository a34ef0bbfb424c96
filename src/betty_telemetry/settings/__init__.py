"""The settings file: ``[tool.betty-telemetry]`` in the nearest ``pyproject.toml``, or a
``betty-telemetry.toml``, found from a folder upwards; and the one table of settings that the
file, the environment and ``betty-telemetry where`` share.

Nothing here holds state: ``_config`` keeps what was read, once per process and folder, and
applies the order argument > environment > file > default.
"""

from __future__ import annotations

from betty_telemetry.settings.files import (
    DEDICATED_NAME,
    PYPROJECT_NAME,
    SettingsFile,
    SettingsFileError,
    find_settings_file,
)
from betty_telemetry.settings.keys import BY_KEY, SETTINGS, Setting, unknown_key_message

__all__ = [
    "BY_KEY",
    "DEDICATED_NAME",
    "PYPROJECT_NAME",
    "SETTINGS",
    "Setting",
    "SettingsFile",
    "SettingsFileError",
    "find_settings_file",
    "unknown_key_message",
]
