"""Our hook entries in Claude Code's settings files: added (merged with what is there),
and taken out again, leaving every other hook as it was.

Claude Code reads ``{"hooks": {EVENT: [{"matcher": ..., "hooks": [{"type": "command",
"command": ..., "timeout": ...}]}]}}`` from ``~/.claude/settings.json`` (the user's),
``.claude/settings.json`` (the project's) and ``.claude/settings.local.json`` (the project's,
not committed). A file we cannot read as that is refused, never rewritten: it is the user's
configuration, and Claude Code's.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from betty_telemetry.hooks.documents import EVENTS

HOOK_TIMEOUT_S = 30
"""Claude Code's limit for one call of our hook, in seconds. Far above what a call takes; the
store's lock timeout (10 s by default) makes it give up first, so a stuck lock costs a tool
call seconds, never Claude Code a hung hook."""
TOOL_EVENTS = frozenset({"PreToolUse", "PostToolUse", "PostToolUseFailure"})
"""The events whose matcher selects tools: ours matches every tool."""
_OURS = re.compile(r"(?:betty-telemetry(?:\.exe)?|-m\s+betty_telemetry)['\"]?\s+hook(?:\s|$)")


class SettingsError(ValueError):
    """A settings file we will not change: not JSON, or not shaped as Claude Code reads it."""


def is_ours(handler: object) -> bool:
    """Whether a hook handler is one ``install-hooks`` wrote (for any installation of ours)."""
    if not isinstance(handler, dict):
        return False
    command = handler.get("command")
    return isinstance(command, str) and _OURS.search(command) is not None


def our_handler(command: str) -> dict[str, Any]:
    return {"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}


def parse(text: str | None, path: str) -> dict[str, Any]:
    """The settings in ``text`` (None: no file yet; empty: no settings yet), checked to be of
    the shape we merge into. SettingsError says what is wrong, and that nothing was changed."""
    if text is None or not text.strip():
        return {}
    try:
        settings = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SettingsError(
            f"{path} is not valid JSON ({exc}); nothing was changed. Fix the file (or move it "
            "away) and run the command again"
        ) from None
    if not isinstance(settings, dict):
        raise _shape(path, "the file", "a JSON object", settings)
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        raise _shape(path, '"hooks"', "an object mapping event names to lists", hooks)
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise _shape(path, f'"hooks"."{event}"', "a list of matcher groups", groups)
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks", []), list):
                raise _shape(
                    path, f'a group of "hooks"."{event}"', 'an object with a "hooks" list', group
                )
    return settings


def _shape(path: str, what: str, expected: str, value: object) -> SettingsError:
    got = _JSON_KINDS.get(type(value), "number")
    return SettingsError(
        f"{path}: {what} must be {expected}, as Claude Code reads it; found a {got}. Nothing "
        "was changed: fix the file and run the command again"
    )


_JSON_KINDS = {dict: "JSON object", list: "JSON array", str: "string", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"


def installed(settings: dict[str, Any], command: str) -> dict[str, Any]:
    """``settings`` with our hook on every event we record, and no other hook of ours: one
    handler per event. An event already holding exactly ours is left as it is."""
    result = copy.deepcopy(settings)
    hooks = result.setdefault("hooks", {})
    wanted = our_handler(command)
    for event in EVENTS:
        groups = hooks.get(event, [])
        ours = [
            handler for group in groups for handler in group.get("hooks", []) if is_ours(handler)
        ]
        if ours == [wanted]:
            continue
        groups = _without_ours(groups)
        group: dict[str, Any] = {"hooks": [wanted]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        hooks[event] = [*groups, group]
    return result


def uninstalled(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without any hook of ours; every other hook, group and key as it was. A
    group, event or ``hooks`` object left empty by the removal goes too."""
    result = copy.deepcopy(settings)
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return result
    removed = False
    for event in list(hooks):
        groups = hooks[event]
        if not any(is_ours(handler) for group in groups for handler in group.get("hooks", [])):
            continue
        removed = True
        kept = _without_ours(groups)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if removed and not hooks:
        del result["hooks"]
    return result


def _without_ours(groups: list[Any]) -> list[Any]:
    kept = []
    for group in groups:
        handlers = group.get("hooks", [])
        others = [handler for handler in handlers if not is_ours(handler)]
        if len(others) == len(handlers):
            kept.append(group)
        elif others:
            kept.append({**group, "hooks": others})
    return kept


def render(settings: dict[str, Any]) -> str:
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


def diff(path: str, before: str | None, after: str) -> str:
    """A unified diff from the file as it is to the file as it would be."""
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=path if before is not None else "/dev/null",
        tofile=path,
    )
    return "".join(lines)


def read_text(path: Path) -> str | None:
    """The file's text, or None if there is no file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); nothing was changed"
        ) from None


def write(path: Path, text: str, before: str | None) -> Path | None:
    """Replace the file with ``text`` atomically (a reader sees the old file or the new, never
    part of one), keeping its permissions; the old content is first copied to a backup beside
    it, whose path is returned (None when there was no file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = 0o644
    if before is not None:
        mode = path.stat().st_mode & 0o7777
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        counter = 1
        while backup.exists():
            counter += 1
            backup = path.with_name(f"{path.name}.{stamp}-{counter}.bak")
        _write_new(backup, before, mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return backup


def _write_new(path: Path, text: str, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
