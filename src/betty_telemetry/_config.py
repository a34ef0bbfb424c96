"""The one configuration module: where the telemetry file lives, the process-wide defaults,
and every piece of mutable state that outlives a call.

Each setting comes from the first of: an argument, its environment variable, the settings
file (``[tool.betty-telemetry]`` in the nearest ``pyproject.toml``, or a
``betty-telemetry.toml``: see ``betty_telemetry.settings``), the default.

Global state lives here and only here (the environment's settings, the settings files read,
the shared default captures, the redaction rules, the open stores and writer threads that
fork and exit must know of, the once-per-cause warnings, the id generator). Every other
module takes its settings as arguments. This module imports nothing above the model, the
redaction rules and the settings file's reader: no import cycle runs through it.
"""

from __future__ import annotations

import atexit
import math
import os
import re

# The C parts of threading, weakref and random (threading.Lock is _thread.allocate_lock,
# weakref.WeakSet is _weakrefset.WeakSet, random.Random's generator is _random.Random's): the
# Python modules around them would cost a command line capture, a fresh process per call,
# about 2 ms, and this module needs nothing else of them.
from _random import Random
from _thread import allocate_lock
from _weakrefset import WeakSet
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from betty_telemetry.model.checks import byte_size, is_finite_at_least, whole_number
from betty_telemetry.redaction import RedactionRules, default_rules, redaction_keys
from betty_telemetry.settings import (
    BY_KEY,
    SETTINGS,
    SettingsFile,
    SettingsFileError,
    find_settings_file,
    unknown_key_message,
)

if TYPE_CHECKING:
    import logging

ENV_FILE = "BETTY_TELEMETRY_FILE"
ENV_HOME = "BETTY_HOME"
ENV_LOCK_TIMEOUT = "BETTY_TELEMETRY_LOCK_TIMEOUT"
ENV_FSYNC = "BETTY_TELEMETRY_FSYNC"
ENV_MODE = "BETTY_TELEMETRY_MODE"
ENV_MAX_BYTES = "BETTY_TELEMETRY_MAX_BYTES"
ENV_MAX_ENTRIES = "BETTY_TELEMETRY_MAX_ENTRIES"
ENV_EXPORT = "BETTY_TELEMETRY_EXPORT"
ENV_PENDING = "BETTY_TELEMETRY_PENDING"
ENV_HOOK_OUTPUTS = "BETTY_TELEMETRY_HOOK_OUTPUTS"
ENV_HOOK_PROMPTS = "BETTY_TELEMETRY_HOOK_PROMPTS"
ENV_CLAUDE_PROJECT_DIR = "CLAUDE_PROJECT_DIR"
ENV_PAGER = "BETTY_TELEMETRY_PAGER"
DURABILITIES = ("write", "fsync")
MODES = ("direct", "background")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
DEFAULT_RELATIVE_PATH = os.path.join("registry", "telemetry.json")
IN_MEMORY = ":memory:"
"""The location that names an in-memory store rather than a file (as SQLite's ``:memory:``):
kept as it is, never made an absolute path. Spell a file of that name ``./:memory:``."""
DEFAULT_QUEUE_SIZE = 10_000
"""Entries that may wait for a background capture's writer thread; more are dropped."""
EXIT_FLUSH_TIMEOUT = 5.0
"""Seconds a closing capture waits for its writer thread to write what is queued."""
RETRY_LONGEST_PAUSE = 1.0
"""The longest pause of a writer thread between two tries at a locked file."""
DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds to wait for the lock. Long enough for the original framework, which rewrites the
whole file under it (2 s for 100,000 entries here), short enough to notice a stuck writer."""


class ResolvedPath(NamedTuple):
    """An absolute telemetry file path and the rule that chose it. (A NamedTuple: every
    capture resolves one, and a command line one must not import dataclasses.)"""

    path: str
    rule: str


def resolve_telemetry_path(explicit: str | os.PathLike[str] | None = None) -> ResolvedPath:
    """Apply the lookup rules in order: argument, BETTY_TELEMETRY_FILE, BETTY_HOME, the
    settings file's ``file``, then its ``home``, the Betty checkout of the skill folder (only
    once its modules registered it, see ``use_skill_folder``), ./registry.

    An empty environment variable counts as unset, as shells make it easy to export one by
    accident (``BETTY_HOME= cmd``). Raises ValueError for a settings file that cannot be
    used, or whose ``file`` or ``home`` is not a path.
    """
    if explicit is not None:
        return ResolvedPath(_absolute(os.fspath(explicit)), "telemetry_file argument")
    found = _path_from_environment()
    if found is not None:
        return found
    cwd = os.getcwd()
    found = _path_from_settings_file(cwd)
    if found is not None:
        return found
    if _skill_checkout:
        return _skill_checkout[0]
    # join, not abspath: the working directory is already absolute and normal.
    return ResolvedPath(os.path.join(cwd, DEFAULT_RELATIVE_PATH), _DEFAULT_RULE)


_DEFAULT_RULE = "default ./registry/telemetry.json"


def resolve_hook_path(explicit: str | os.PathLike[str] | None = None) -> ResolvedPath:
    """Where ``betty-telemetry hook`` records: as ``resolve_telemetry_path``, except that the
    project Claude Code names (``$CLAUDE_PROJECT_DIR``, set for every hook it runs), not the
    hook's working directory, is where the settings file is looked for and the last rule's
    folder: a ``cd`` in the session must not scatter one session's runs over several files."""
    if explicit is not None:
        return resolve_telemetry_path(explicit)
    found = _path_from_environment()
    if found is not None:
        return found
    project = _env_text(ENV_CLAUDE_PROJECT_DIR)
    found = _path_from_settings_file(_absolute(project) if project else os.getcwd())
    if found is not None:
        return found
    if _skill_checkout or not project:
        return resolve_telemetry_path()
    return ResolvedPath(
        _absolute(os.path.join(project, DEFAULT_RELATIVE_PATH)),
        f"${ENV_CLAUDE_PROJECT_DIR}/registry",
    )


def _path_from_environment() -> ResolvedPath | None:
    env_file = _env_text(ENV_FILE)
    if env_file:
        return ResolvedPath(_absolute(env_file), f"${ENV_FILE}")
    home = _env_text(ENV_HOME)
    if home:
        return ResolvedPath(
            _absolute(os.path.join(home, DEFAULT_RELATIVE_PATH)), f"${ENV_HOME}/registry"
        )
    return None


def _path_from_settings_file(start: str) -> ResolvedPath | None:
    settings = settings_file(start)
    if settings is None:
        return None
    path = _settings_path(settings, "file")
    if path is not None:
        return ResolvedPath(path, f"file in {settings.where}")
    home = _settings_path(settings, "home")
    if home is not None:
        return ResolvedPath(
            os.path.join(home, DEFAULT_RELATIVE_PATH), f"home in {settings.where} (its registry)"
        )
    return None


_PATH_EXAMPLES = {"file": "var/telemetry.jsonl", "home": "../betty"}


def _settings_path(settings: SettingsFile, key: str) -> str | None:
    """The path the settings file gives under ``key`` (``file`` or ``home``), absolute:
    relative to the file's folder. None when it gives none; ValueError when it is no path."""
    value = settings.values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{key} in {settings.where} must be a path, as a string such as "
            f'"{_PATH_EXAMPLES[key]}" (relative to that folder), got {value!r}'
        )
    if value == IN_MEMORY:
        return value
    return os.path.abspath(os.path.join(settings.folder, os.path.expanduser(value)))


def hook_flags() -> tuple[bool, bool]:
    """Whether the Claude Code hook keeps what it leaves out by default: tool outputs and
    file contents (``BETTY_TELEMETRY_HOOK_OUTPUTS``, ``hook_outputs``), the text of prompts
    (``BETTY_TELEMETRY_HOOK_PROMPTS``, ``hook_prompts``). A value it cannot read, or a
    settings file it cannot read, keeps them out: the hook never fails, and leaving out is
    the safe side."""
    project = _env_text(ENV_CLAUDE_PROJECT_DIR)
    flags = []
    for key in ("hook_outputs", "hook_prompts"):
        try:
            flags.append(_flag(_pick(key, _absolute(project) if project else None)))
        except ValueError:
            flags.append(False)
    return flags[0], flags[1]


# -- the Betty checkout a skill folder sits in -----------------------------------------------

_skill_checkout: list[ResolvedPath] = []
"""The default the skill folder's modules registered (one item), or none: changed in place."""


def looks_like_betty_checkout(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` is the top of a Betty Framework checkout: it holds ``betty/config.py``
    (the framework's own code) or a ``registry/`` folder (where its files live)."""
    return os.path.isfile(os.path.join(root, "betty", "config.py")) or os.path.isdir(
        os.path.join(root, "registry")
    )


def use_skill_folder(folder: str | os.PathLike[str]) -> ResolvedPath | None:
    """Make the registry of the Betty checkout that ``folder`` sits in the default file.

    The Betty skill folder's modules call this when they load, with their own folder (as
    found, symlinks kept: where it sits, not where it points). If it is
    ``<root>/skills/<name>/`` and ``<root>`` looks like a Betty checkout, the default (when
    neither an argument nor ``$BETTY_TELEMETRY_FILE`` nor ``$BETTY_HOME`` nor a settings
    file names a file) becomes ``<root>/registry/telemetry.json``, as the original skill
    wrote to the framework's registry wherever it was started from. The last folder
    registered wins. Returns that rule, or None (the folder is elsewhere, e.g. the wheel's
    top-level copy: nothing changes).
    """
    folder = os.path.abspath(os.fspath(folder))
    skills = os.path.dirname(folder)
    root = os.path.dirname(skills)
    if os.path.basename(skills) != "skills" or not looks_like_betty_checkout(root):
        return None
    resolved = ResolvedPath(
        os.path.join(root, DEFAULT_RELATIVE_PATH),
        f"the Betty checkout of the skill folder {folder}",
    )
    _skill_checkout[:] = [resolved]
    return resolved


def forget_skill_folder() -> None:
    """Back to the package's own default (for tests and hosts reconfiguring)."""
    _skill_checkout.clear()


# -- the settings file -------------------------------------------------------------------------

_settings_files: dict[str, SettingsFile | str | None] = {}
"""The settings file found from each folder asked about (an absolute path), or None, or why
it cannot be used: read once per process and folder, as a capture is made per call."""


def settings_file(start: str | None = None) -> SettingsFile | None:
    """The settings file for the folder ``start`` (default: the working directory): the
    nearest ``betty-telemetry.toml``, or ``pyproject.toml`` with ``[tool.betty-telemetry]``,
    from there upwards; None if there is none. Read once per process and folder (see
    ``forget_settings_files``). Raises SettingsFileError (a ValueError) for a file that
    cannot be used, each time it is asked for."""
    folder = os.getcwd() if start is None else start
    try:
        found = _settings_files[folder]
    except KeyError:
        try:
            found = find_settings_file(folder)
        except SettingsFileError as exc:
            found = str(exc)
        else:
            if found is not None:
                _warn_unknown_keys(found)
        _settings_files[folder] = found
    if isinstance(found, str):
        raise SettingsFileError(found)
    return found


def _warn_unknown_keys(found: SettingsFile) -> None:
    for key in found.values:
        if key not in BY_KEY:
            message = unknown_key_message(key, found.where)
            if first_report(("unknown setting", message)):
                logger.warning(message)


def forget_settings_files() -> None:
    """Read the settings files again when next asked (for tests, and hosts that changed one)."""
    _settings_files.clear()


class Picked:
    """A setting's value as its source gave it: the environment's text, or the file's TOML
    value (then ``settings`` is that file), named in messages as ``origin``."""

    __slots__ = ("origin", "settings", "value")

    def __init__(self, value: object, origin: str, settings: SettingsFile | None = None) -> None:
        self.value, self.origin, self.settings = value, origin, settings


def _pick(key: str, start: str | None = None) -> Picked | None:
    """The value of the setting ``key`` from its environment variable, else from the
    settings file for ``start``; None if neither sets it."""
    env = BY_KEY[key].env
    text = _env_text(env)
    if text:
        return Picked(text, f"${env}")
    settings = settings_file(start)
    if settings is None or key not in settings.values:
        return None
    return Picked(settings.values[key], f"{key} in {settings.where}", settings)


def setting_origin(key: str) -> str:
    """Where the setting ``key`` comes from, as messages name it: ``$VARIABLE``, ``KEY in
    FILE``, or ``default``."""
    picked = _pick(key)
    return "default" if picked is None else picked.origin


def _env_text(name: str) -> str | None:
    """The variable's value; None when unset or blank (shells export those by accident)."""
    text = os.environ.get(name)
    return text if text and not text.isspace() else None


def resolve_lock_timeout(explicit: float | None = None) -> float:
    """Seconds to wait for the file's lock: the argument, else BETTY_TELEMETRY_LOCK_TIMEOUT,
    else the settings file's ``lock_timeout``, else DEFAULT_LOCK_TIMEOUT. Raises ValueError
    for a value that is not seconds >= 0."""
    if explicit is not None:
        return _seconds("lock_timeout", explicit)
    picked = _pick("lock_timeout")
    if picked is None:
        return DEFAULT_LOCK_TIMEOUT
    if picked.settings is not None:
        return _seconds(picked.origin, _unquoted(picked, "a number of seconds >= 0", "2.5"))
    text = str(picked.value)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    return _seconds(picked.origin, value if math.isfinite(value) else text)


def resolve_durability(explicit: str | None = None) -> str:
    """``"write"`` or ``"fsync"``: the argument, else BETTY_TELEMETRY_FSYNC (1/0), else the
    settings file's ``fsync`` (true/false), else write."""
    if explicit is not None:
        if explicit not in DURABILITIES:
            raise ValueError(
                f"durability must be 'write' (survives the process crashing) or 'fsync' "
                f"(survives a power loss too), got {explicit!r}"
            )
        return explicit
    return "fsync" if _flag(_pick("fsync")) else "write"


def resolve_rotation_limits(
    max_bytes: int | str | None = None, max_entries: int | None = None
) -> tuple[int | None, int | None]:
    """The thresholds of automatic rotation: each argument, else its variable
    (BETTY_TELEMETRY_MAX_BYTES, BETTY_TELEMETRY_MAX_ENTRIES), else the settings file's
    ``max_bytes``, ``max_entries``, else None (never). ValueError for a value that is not a
    size (``10MB``) or a whole number of entries >= 1."""
    size = None if max_bytes is None else byte_size("max_bytes", max_bytes)
    if max_bytes is None:
        picked = _pick("max_bytes")
        if picked is not None:
            value = picked.value
            size = byte_size(picked.origin, value.strip() if isinstance(value, str) else value)
    if max_entries is not None:
        return size, whole_number("max_entries", max_entries, minimum=1)
    picked = _pick("max_entries")
    if picked is None:
        return size, None
    value = picked.value
    if picked.settings is None:
        text = str(value).strip().replace("_", "").replace(",", "")
        if not text.isdigit():
            raise ValueError(f"{picked.origin} must be a whole number >= 1, got {text!r}")
        value = int(text)
    else:
        value = _unquoted(picked, "a whole number >= 1", "100_000")
    return size, whole_number(picked.origin, value, minimum=1)


def background_mode() -> bool:
    """Whether BETTY_TELEMETRY_MODE (else the settings file's ``mode``) asks the decorator
    and context manager to write in the background (``background``) or not (``direct``,
    the default)."""
    return _choice(_pick("mode"), MODES, "direct") == "background"


def pending_by_default() -> bool:
    """Whether runs record a pending entry when they start (``BETTY_TELEMETRY_PENDING``,
    else the settings file's ``pending``), where a decorator or context does not say: read
    when it is made."""
    return _flag(_pick("pending"))


def export_from_environment() -> bool:
    """Whether BETTY_TELEMETRY_EXPORT (else the settings file's ``export``) asks for live
    export to OTLP (``otlp``) or not (``none``, the default)."""
    picked = _pick("export")
    from_environment = picked is not None and picked.settings is None
    spelled = str(picked.value).strip().lower() if picked and from_environment else ""
    if spelled in _FALSE:
        return False  # the environment's 0, false, off... (a file says "none")
    return _choice(picked, ("otlp", "none"), "none") == "otlp"


class Effective:
    """A setting as it applies here: its value (None: unset), its ``source`` (``argument``,
    ``environment``, ``settings file``, ``Betty checkout`` or ``default``), its ``origin``
    (``--file``, ``$VARIABLE``, ``KEY in FILE``, the rule that chose the path, ``default``),
    and why it cannot be used, if so (then ``value`` is what was given)."""

    __slots__ = ("error", "key", "origin", "source", "value")

    def __init__(
        self, key: str, value: object, source: str, origin: str, error: str | None = None
    ) -> None:
        self.key, self.value, self.source, self.origin = key, value, source, origin
        self.error = error


def effective_settings(file_option: str | None = None) -> list[Effective]:
    """Every setting of ``betty_telemetry.settings.SETTINGS``, in its order, as it applies
    in the working directory (the telemetry file as ``--file file_option`` would choose
    it): what ``betty-telemetry where`` shows."""
    values: dict[str, Callable[[], object]] = {
        "file": lambda: resolve_telemetry_path(file_option).path,
        "home": lambda: _home_value(_pick("home")),
        "lock_timeout": resolve_lock_timeout,
        "mode": lambda: "background" if background_mode() else "direct",
        "fsync": lambda: resolve_durability() == "fsync",
        "max_bytes": lambda: resolve_rotation_limits(max_entries=1)[0],
        "max_entries": lambda: resolve_rotation_limits(max_bytes=1)[1],
        "pending": pending_by_default,
        "export": lambda: "otlp" if export_from_environment() else "none",
        "hook_outputs": lambda: _flag(_pick("hook_outputs")),
        "hook_prompts": lambda: _flag(_pick("hook_prompts")),
    }
    return [_effective(setting.key, values[setting.key], file_option) for setting in SETTINGS]


def _effective(key: str, value: Callable[[], object], file_option: str | None) -> Effective:
    try:
        origin = _file_rule(file_option) if key == "file" else setting_origin(key)
    except ValueError as exc:
        return Effective(key, None, "settings file", "settings file", str(exc))
    source = _source_of(origin)
    try:
        return Effective(key, value(), source, origin)
    except ValueError as exc:
        picked = _pick(key) if key != "file" else None
        return Effective(key, None if picked is None else picked.value, source, origin, str(exc))


def _file_rule(file_option: str | None) -> str:
    return "--file" if file_option is not None else resolve_telemetry_path().rule


def _source_of(origin: str) -> str:
    if origin == "--file":
        return "argument"
    if origin.startswith("$"):
        return "environment"
    if origin.partition(" in ")[0] in BY_KEY:  # "KEY in FILE"
        return "settings file"
    if origin.startswith("the Betty checkout"):
        return "Betty checkout"
    return "default"


def _home_value(picked: Picked | None) -> str | None:
    if picked is None:
        return None
    if picked.settings is None:
        return _absolute(str(picked.value))
    return _settings_path(picked.settings, "home")


def pager_setting() -> tuple[str, str]:
    """The pager of long tables on a terminal, as git chooses its own: the command text and
    the variable it came from (``BETTY_TELEMETRY_PAGER``, else ``PAGER``, else ``less`` by
    default). Set but empty, a variable means no pager (as does ``cat``)."""
    for name in (ENV_PAGER, "PAGER"):
        value = os.environ.get(name)
        if value is not None:
            return value, f"${name}"
    return "less", "the default"


ENVIRONMENT_EXPORT_CHECKED: list[bool] = []
"""Whether this process looked at BETTY_TELEMETRY_EXPORT before its first run (once)."""
LIVE_EXPORTS: list[Any] = []
"""The live OTLP exports open in this process. While there is one, every run is also the
current OpenTelemetry span, so the application's spans started inside it nest under it.
Changed in place, never rebound (the capture path reads it on every run)."""


def _flag(picked: Picked | None) -> bool:
    """A yes/no setting: 1 or 0 (true/false, yes/no, on/off) in the environment, a TOML
    boolean in the settings file; False when unset."""
    if picked is None:
        return False
    if picked.settings is not None:
        value = _unquoted(picked, "true or false", "true")
        if not isinstance(value, bool):
            raise ValueError(f"{picked.origin} must be true or false, got {value!r}")
        return value
    text = str(picked.value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(
        f"{picked.origin} must be 1 or 0 (or true/false, yes/no, on/off), got {text!r}"
    )


def _unquoted(picked: Picked, kind: str, example: str) -> object:
    """The file's value, unless it is a string where TOML wants a number or a boolean: then
    a ValueError that shows the spelling (the quotes are the usual slip)."""
    if isinstance(picked.value, str):
        key = picked.origin.partition(" in ")[0]
        raise ValueError(
            f"{picked.origin} must be {kind}, written without quotes ({key} = {example}), "
            f"got the string {picked.value!r}"
        )
    return picked.value


def _choice(picked: Picked | None, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (``default`` when unset), any case, blanks around ignored."""
    if picked is None:
        return default
    value = picked.value
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in choices:
        spelled = " or ".join(repr(choice) for choice in choices)
        raise ValueError(f"{picked.origin} must be {spelled}, got {text!r}")
    return str(text)


def _seconds(name: str, value: object) -> float:
    if not is_finite_at_least(value, 0):
        raise ValueError(
            f"{name} must be a number of seconds >= 0 (how long to wait for a locked telemetry "
            f"file), got {value!r}"
        )
    return float(value)


def _absolute(path: str) -> str:
    if path == IN_MEMORY:
        return path
    # abspath, not realpath: users should see the path they configured, symlinks and all.
    return os.path.abspath(os.path.expanduser(path))


_T = TypeVar("_T")
_shared: dict[tuple[str, bool], Any] = {}
_shared_lock = allocate_lock()


def shared_capture(key: tuple[str, bool], make: Callable[[], _T]) -> _T:
    """The one capture kept for ``key`` (a path and a mode), made by ``make`` the first time:
    the decorator and context manager share it (see ``capture.defaults``)."""
    capture = _shared.get(key)
    if capture is None:
        with _shared_lock:
            capture = _shared.get(key)
            if capture is None:
                capture = _shared[key] = make()
    return capture


def forget_shared_captures() -> list[Any]:
    """Drop the shared captures (for tests and hosts reconfiguring); returns them to close."""
    with _shared_lock:
        captures = list(_shared.values())
        _shared.clear()
    return captures


# -- redaction rules -------------------------------------------------------------------------

_rules: RedactionRules | None = None
_rules_lock = allocate_lock()


def redaction_rules() -> RedactionRules:
    """The process-wide rules: the defaults plus what ``add_secret_keys`` and
    ``add_redaction_pattern`` added."""
    global _rules
    if _rules is None:
        with _rules_lock:
            if _rules is None:
                _rules = default_rules()
    return _rules


def add_secret_keys(*names: str) -> None:
    """Redact the values of keys with these names (case-insensitive) everywhere."""
    global _rules
    with _rules_lock:
        _rules = (_rules or default_rules()).with_keys(names)


def add_redaction_pattern(name: str, pattern: str | re.Pattern[str] | Callable[[str], str]) -> None:
    """Redact text matching ``pattern`` in every value, everywhere.

    ``pattern`` is a regex (its group named ``secret``, else the whole match, is replaced by
    ``***REDACTED***``) or a function returning the redacted text. Entries report the rule as
    ``name``. If the function raises, the value it was given is not written at all.
    """
    global _rules
    if not name:
        raise ValueError("a redaction pattern needs a non-empty name, used in entries' reports")
    if isinstance(pattern, str):
        re.compile(pattern)  # a bad regex fails here, at configuration time
    elif not isinstance(pattern, re.Pattern) and not callable(pattern):
        raise ValueError(
            f"pattern must be a regex string, a compiled regex or a function, "
            f"got {type(pattern).__name__}"
        )
    with _rules_lock:
        _rules = (_rules or default_rules()).with_pattern(name, pattern)


def reset_redaction_rules() -> None:
    """Back to the default rules (for tests and long-lived hosts reconfiguring)."""
    global _rules
    with _rules_lock:
        _rules = None


class DerivedRules:
    """The global rules adjusted for one decorator or context (its keys, defaults on or off),
    rebuilt only when the global rules change."""

    __slots__ = ("_base", "_defaults", "_keys", "_rules")

    def __init__(self, keys: Iterable[str] = (), *, defaults: bool = True) -> None:
        self._keys = redaction_keys(keys)
        self._defaults = defaults
        self._base: RedactionRules | None = None
        self._rules: RedactionRules | None = None

    def get(self) -> RedactionRules:
        # Runs at the start of every decorated call: the module's rules read directly, and
        # redaction_rules() called only before the first rules are made.
        base = _rules if _rules is not None else redaction_rules()
        if base is not self._base or self._rules is None:
            rules = base if self._defaults else base.without_defaults()
            self._rules = rules.with_keys(self._keys) if self._keys else rules
            self._base = base
        return self._rules


# -- process-wide resources: what fork and exit must know of ---------------------------------


class ProcessResource(Protocol):
    """An open store or a writer thread: it must let go of its parent's descriptors, locks
    and queues in a forked child, and may have work to finish at interpreter exit."""

    def after_fork_in_child(self) -> None: ...

    def at_exit(self) -> None: ...


_resources: WeakSet[Any] = WeakSet()


def track(resource: ProcessResource) -> None:
    """Have ``resource`` told about forks and exit for as long as it lives."""
    _resources.add(resource)


def tracked() -> list[Any]:
    """The resources alive now (open stores, writer threads)."""
    while True:
        try:
            return list(_resources)
        except RuntimeError:  # another thread tracked one meanwhile ("changed size"): again
            continue


def _after_fork_in_child() -> None:
    _ids.seed()  # parent and child must never draw the same trace ids
    # The parent's capture_entries() lists are copies here that nobody reads: a child
    # records to its file as usual.
    CAPTURING.clear()
    for resource in tracked():
        resource.after_fork_in_child()


def _at_exit() -> None:
    for resource in tracked():
        resource.at_exit()


atexit.register(_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)


# -- capture_entries(): entries copied into lists, for tests -----------------------------------


class EntryTap(Protocol):
    """An active ``betty_telemetry.testing.capture_entries()`` block: the capture that records
    in memory what would have gone to the default file, and the list it fills."""

    @property
    def telemetry(self) -> Any: ...

    def take(self, batch: Sequence[Any]) -> None:
        """Copy entries just stored (``Encoded`` items) into the block's list."""


CAPTURING: list[EntryTap] = []
"""The active capture_entries() blocks, oldest first. Empty in a normal run, and that is all
the pipeline looks at per entry (one global lookup): it is changed in place, never rebound,
so the modules that imported it see every change."""
_capturing_lock = allocate_lock()


def start_capturing(tap: EntryTap) -> None:
    """From now on, default captures record into ``tap.telemetry`` and every stored entry is
    copied to ``tap`` (until ``stop_capturing``)."""
    with _capturing_lock:
        CAPTURING.append(tap)


def stop_capturing(tap: EntryTap) -> None:
    """End ``tap``: blocks may end in any order (on several threads), so it is removed where
    it is, and the ones still active keep capturing."""
    with _capturing_lock:
        CAPTURING.remove(tap)


def capturing_capture() -> Any:
    """The capture of the innermost active capture_entries() block, or None."""
    innermost = CAPTURING[-1:]  # a slice: no IndexError if another thread just ended it
    return innermost[0].telemetry if innermost else None


def tap(batch: Sequence[Any]) -> None:
    """Copy entries just stored to every active capture_entries() list."""
    for capturing in CAPTURING[:]:  # a copy: blocks may start or end on other threads
        capturing.take(batch)


# -- once-per-cause warnings -------------------------------------------------------------------

_MAX_REMEMBERED_CAUSES = 1024
_reported_causes: set[tuple[str, str]] = set()
_reported_lock = allocate_lock()


def first_report(cause: tuple[str, str]) -> bool:
    """Whether ``cause`` (an exception's type and message) is reported for the first time."""
    with _reported_lock:
        if cause in _reported_causes:
            return False
        if len(_reported_causes) < _MAX_REMEMBERED_CAUSES:
            _reported_causes.add(cause)
    return True


def forget_reports() -> None:
    """Report every cause again (for tests)."""
    with _reported_lock:
        _reported_causes.clear()


# -- trace and span ids ------------------------------------------------------------------------

# A generator of our own, seeded from os.urandom: a host that calls random.seed() (for
# reproducible runs) must not make every run reuse the same trace ids. Reseeded after a fork.
_ids = Random()
random_bits = _ids.getrandbits

TRACEPARENT_SEEN: dict[str, Any] = {}
"""The last ``TRACEPARENT`` value parsed, and its parent (one item): parsed once, not per run."""


# -- the library's logger ----------------------------------------------------------------------

LOGGER_NAME = "betty_telemetry"


class _LibraryLogger:
    """``logging.getLogger("betty_telemetry")``, made on first use: every module logs through
    this one object. A command line capture, a fresh process per call, logs nothing when all
    goes well, and importing ``logging`` (with traceback, linecache, tokenize, string...) would
    cost it more than its append."""

    __slots__ = ("_logger", "_when_made")

    def __init__(self) -> None:
        self._logger: logging.Logger | None = None
        self._when_made: list[Callable[[logging.Logger], None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    def made(self) -> logging.Logger:
        """The real logger (importing logging the first time)."""
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(LOGGER_NAME)
            for callback in self._when_made[:]:
                callback(self._logger)
        return self._logger

    def when_made(self, callback: Callable[[logging.Logger], None]) -> Callable[[], None]:
        """Call ``callback`` with the real logger once it is made (now, if it is): a handler
        added that way costs nothing to a process that never logs. Returns the function that
        cancels the call (it does not undo one already made)."""
        if self._logger is not None:
            callback(self._logger)
            return lambda: None
        self._when_made.append(callback)
        return lambda: self._when_made.remove(callback) if callback in self._when_made else None


_library_logger = _LibraryLogger()
logger: logging.Logger = _library_logger  # type: ignore[assignment]
"""The library's logger, as every module uses it (``logger.warning(...)``): the real one is
made when the first message is logged."""
when_logger_made = _library_logger.when_made
