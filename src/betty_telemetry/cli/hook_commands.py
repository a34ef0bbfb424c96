"""``betty-telemetry hook``, ``install-hooks`` and ``uninstall-hooks``: Claude Code capture
without code.

``hook`` runs on every tool call of a Claude Code session, so this module imports nothing
at load time (argparse neither: the plain ``hook`` call skips it, see cli.main), and the
hook's handler only what recording needs. Whatever
happens, ``hook`` exits 0 and prints nothing on stdout: Claude Code reads a hook's stdout
(and, from some events, adds it to the conversation) and blocks a tool call on exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

from betty_telemetry.cli.subcommands import FILE_HELP, subcommand

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

HOOK_EXAMPLES = """\
examples (Claude Code runs it; install-hooks writes the settings):
  echo '{"hook_event_name": "PreToolUse", "session_id": "s1", "tool_name": "Bash",
         "tool_use_id": "toolu_1", "tool_input": {"command": "ls"}}' | betty-telemetry hook
  BETTY_TELEMETRY_HOOK_OUTPUTS=1 betty-telemetry hook < document.json   # keep tool outputs
"""
INSTALL_EXAMPLES = """\
examples:
  betty-telemetry install-hooks --dry-run          # show the change to .claude/settings.json
  betty-telemetry install-hooks                    # this project (.claude/settings.json)
  betty-telemetry install-hooks --user             # every project (~/.claude/settings.json)
  betty-telemetry install-hooks --file ~/telemetry/claude.jsonl   # always record there
"""
UNINSTALL_EXAMPLES = """\
examples:
  betty-telemetry uninstall-hooks --dry-run
  betty-telemetry uninstall-hooks --user
"""


def add_hook_commands(commands: Any) -> None:
    """Add ``hook``, ``install-hooks`` and ``uninstall-hooks`` to the CLI's subcommands."""
    import argparse

    hook = subcommand(
        commands,
        "hook",
        "record one Claude Code hook document read from stdin (Claude Code runs it)",
        HOOK_EXAMPLES,
    )
    hook.add_argument(
        "--file",
        metavar="PATH",
        help=FILE_HELP.replace("./registry", "$CLAUDE_PROJECT_DIR/registry, ./registry"),
    )
    # Claude Code may grow arguments we do not know of: never a usage error (exit 2 blocks).
    hook.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    hook.set_defaults(handler=handle_hook)
    install = subcommand(
        commands,
        "install-hooks",
        "add betty-telemetry's hooks to a Claude Code settings file (merged, with a backup)",
        INSTALL_EXAMPLES,
    )
    _add_settings_options(install)
    install.add_argument(
        "--file",
        metavar="PATH",
        help="have the hook always record to this file (default: chosen when it runs: "
        "$BETTY_TELEMETRY_FILE, $BETTY_HOME/registry, $CLAUDE_PROJECT_DIR/registry)",
    )
    install.set_defaults(handler=_install_command)
    uninstall = subcommand(
        commands,
        "uninstall-hooks",
        "remove betty-telemetry's hooks from a Claude Code settings file (and no other hook)",
        UNINSTALL_EXAMPLES,
    )
    _add_settings_options(uninstall)
    uninstall.set_defaults(handler=_uninstall_command)


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--project",
        dest="scope",
        action="store_const",
        const="project",
        help="this project's .claude/settings.json (the default)",
    )
    where.add_argument(
        "--local",
        dest="scope",
        action="store_const",
        const="local",
        help="this project's .claude/settings.local.json (not committed)",
    )
    where.add_argument(
        "--user",
        dest="scope",
        action="store_const",
        const="user",
        help="your ~/.claude/settings.json (every project)",
    )
    where.add_argument("--settings", metavar="PATH", help="this settings file")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the change as a diff; write nothing"
    )


def handle_hook(options: Any) -> int:
    """Record the hook document on stdin (``options.file``: ``--file``, or None); exit 0."""
    try:
        # Nothing may reach stdout: Claude Code would read it (as context, or a decision).
        with contextlib.redirect_stdout(sys.stderr):
            from betty_telemetry.hooks.recording import run_hook

            run_hook(sys.stdin.buffer, options.file)
    except BaseException as exc:  # a failure of ours must not fail Claude Code
        with contextlib.suppress(BaseException):
            print(_failure(exc), file=sys.stderr)
    return 0


def _failure(exc: BaseException) -> str:
    where = getattr(exc, "filename", None)
    where = f"{os.fsdecode(where)}: " if isinstance(where, (str, bytes)) else ""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"betty-telemetry hook: nothing recorded: {where}{text}"


def settings_path(options: argparse.Namespace) -> Path:
    """The settings file the options name: ``--settings``, else the scope's file."""
    from pathlib import Path

    if options.settings is not None:
        return Path(options.settings).expanduser().absolute()
    if options.scope == "user":
        return Path.home() / ".claude" / "settings.json"
    name = "settings.local.json" if options.scope == "local" else "settings.json"
    return Path.cwd() / ".claude" / name


def hook_command(telemetry_file: str | None) -> str:
    """The command Claude Code runs: this installation's interpreter, by absolute path, so
    the hook works whatever the session's PATH or virtual environment."""
    import shlex

    parts = [sys.executable or "python3", "-m", "betty_telemetry", "hook"]
    if telemetry_file is not None:
        parts += ["--file", os.path.abspath(os.path.expanduser(telemetry_file))]
    return shlex.join(parts)


def _install_command(options: argparse.Namespace) -> int:
    from betty_telemetry.hooks import settings

    path = settings_path(options)
    before = settings.read_text(path)
    current = settings.parse(before, str(path))
    changed = settings.installed(current, hook_command(options.file))
    if changed == current and before is not None:
        print(f"Nothing to change: {path} already has betty-telemetry's hooks.")
        return 0
    return _apply(path, before, changed, options.dry_run, "Added betty-telemetry's hooks to")


def _uninstall_command(options: argparse.Namespace) -> int:
    from betty_telemetry.hooks import settings

    path = settings_path(options)
    before = settings.read_text(path)
    current = settings.parse(before, str(path))
    changed = settings.uninstalled(current)
    if changed == current:
        print(f"Nothing to change: {path} has no betty-telemetry hook.")
        return 0
    return _apply(path, before, changed, options.dry_run, "Removed betty-telemetry's hooks from")


def _apply(
    path: Path, before: str | None, changed: dict[str, Any], dry_run: bool, done: str
) -> int:
    from betty_telemetry.hooks import settings

    text = settings.render(changed)
    if dry_run:
        print(settings.diff(str(path), before, text), end="")
        print(f"(dry run: {path} was not changed)")
        return 0
    backup = settings.write(path, text, before)
    print(f"{done} {path}")
    if backup is not None:
        print(f"Backup of the previous file: {backup}")
    print("Claude Code reads it when a session starts (check with /hooks).")
    return 0
