"""The settings file: ``[tool.betty-telemetry]`` in the nearest ``pyproject.toml``, or a
``betty-telemetry.toml``, found from a folder upwards (``files``); and here, the one table of
settings (its key, the environment variable that overrides it, its default and what it
means) that the file's checks, the environment, ``betty-telemetry where`` and the tests that
keep ``--help`` and the docs complete all share.

Nothing here holds state: ``_config`` keeps what was read, once per process and folder, and
applies the order argument > environment > file > default. (Two modules, not one per
concept: a command line capture is a fresh process per call, and imports them every time.)
"""

from __future__ import annotations

from betty_telemetry.settings.files import (
    DEDICATED_NAME,
    PYPROJECT_NAME,
    SettingsFile,
    SettingsFileError,
    find_settings_file,
)

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


class Setting:
    """One setting: ``key`` in the file, ``env`` in the environment (which wins). (A plain
    class: a NamedTuple costs a command line capture, a fresh process per call, 0.3 ms.)"""

    __slots__ = ("default", "env", "key", "meaning")

    def __init__(self, key: str, env: str, default: str, meaning: str) -> None:
        self.key, self.env, self.default, self.meaning = key, env, default, meaning


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "file",
        "BETTY_TELEMETRY_FILE",
        "./registry/telemetry.json",
        "the telemetry file (:memory: for none); in a settings file, relative to its folder",
    ),
    Setting(
        "home",
        "BETTY_HOME",
        "unset",
        "a Betty checkout: its registry/telemetry.json is the file (when `file` is not set)",
    ),
    Setting("lock_timeout", "BETTY_TELEMETRY_LOCK_TIMEOUT", "10", "seconds to wait for a lock"),
    Setting(
        "mode",
        "BETTY_TELEMETRY_MODE",
        "direct",
        '"background": decorated runs queue entries for a writer thread',
    ),
    Setting("fsync", "BETTY_TELEMETRY_FSYNC", "false", "true: flush each append to the disk"),
    Setting(
        "max_bytes",
        "BETTY_TELEMETRY_MAX_BYTES",
        "unset",
        'rotate once the store reaches this size ("50MB", "512K", or bytes)',
    ),
    Setting(
        "max_entries",
        "BETTY_TELEMETRY_MAX_ENTRIES",
        "unset",
        "rotate once the store holds this many entries",
    ),
    Setting(
        "pending",
        "BETTY_TELEMETRY_PENDING",
        "false",
        "true: runs record a pending entry when they start",
    ),
    Setting(
        "export",
        "BETTY_TELEMETRY_EXPORT",
        "none",
        '"otlp": also send every entry as a span (needs [otel])',
    ),
    Setting(
        "hook_outputs",
        "BETTY_TELEMETRY_HOOK_OUTPUTS",
        "false",
        "true: Claude Code hooks keep tool outputs (redacted)",
    ),
    Setting(
        "hook_prompts",
        "BETTY_TELEMETRY_HOOK_PROMPTS",
        "false",
        "true: Claude Code hooks keep prompt text (redacted)",
    ),
)
BY_KEY = {setting.key: setting for setting in SETTINGS}
_BY_ENV = {setting.env.lower(): setting.key for setting in SETTINGS}
# TelemetryCapture's argument names, which a Python user may write in the file.
_BY_ARGUMENT = {"telemetry_file": "file", "durability": "fsync", "background": "mode"}


def unknown_key_message(key: str, where: str) -> str:
    """What to say of ``key``, which names no setting, found in ``where`` (a file and table):
    the setting it most likely means, if any, and where the valid keys are listed."""
    close = _likely_meant(key)
    hint = f"Did you mean {close!r}? " if close else ""
    return (
        f"{where}: {key!r} is not a betty-telemetry setting, so it is ignored. {hint}"
        f"The settings are: {', '.join(BY_KEY)} (betty-telemetry where lists them)"
    )


def _likely_meant(key: str) -> str | None:
    spelled = key.strip().lower().replace("-", "_")
    if spelled in BY_KEY:  # lock-timeout, LOCK_TIMEOUT
        return spelled
    if spelled in _BY_ENV:  # the environment variable's name as a key
        return _BY_ENV[spelled]
    if spelled in _BY_ARGUMENT:
        return _BY_ARGUMENT[spelled]
    import difflib  # only for a mistake: the file's checks run in every capture

    close = difflib.get_close_matches(spelled, BY_KEY, n=1, cutoff=0.7)
    return close[0] if close else None
