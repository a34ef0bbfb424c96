"""The ``betty-telemetry`` command line.

``betty-telemetry SKILL STATUS DURATION_MS CALLER [INPUTS_JSON] [ERROR_MESSAGE]`` (also spelled
``betty-telemetry capture ...`` and ``python skills/telemetry.capture/telemetry_capture.py ...``)
records one entry and prints it as the spec shows. Errors go to stderr with exit code 1; usage
errors exit 2 with the usage text. Ctrl-C ends any command with exit code 130 and a one-line
``Interrupted`` on stderr (``tail -f``, which Ctrl-C is the way to stop, says nothing).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from betty_telemetry import __version__
from betty_telemetry._config import when_logger_made
from betty_telemetry.cli.capture_command import CAPTURE_EXAMPLES, capture_command
from betty_telemetry.cli.subcommands import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)

if TYPE_CHECKING:
    import argparse
    import logging

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_OK", "CliError", "main", "main_capture"]

# Every subcommand: its name -> "module:function", the function that adds it to argparse's
# subparsers (one function may add several commands, listed under each of their names). Only
# the chosen command's module is imported: a capture, which may run on every tool call of an
# agent, starts without the read side, SQLite or the lifecycle. ``--help`` loads them all,
# in this order. A new command is one line here.
COMMANDS: dict[str, str] = {
    "capture": "betty_telemetry.cli.capture_command:add_capture_command",
    "where": "betty_telemetry.cli.where_command:add_where_command",
    "query": "betty_telemetry.cli.read_commands:add_read_commands",
    "stats": "betty_telemetry.cli.read_commands:add_read_commands",
    "trace": "betty_telemetry.cli.read_commands:add_read_commands",
    "tail": "betty_telemetry.cli.read_commands:add_read_commands",
    "rotate": "betty_telemetry.cli.lifecycle_commands:add_lifecycle_commands",
    "prune": "betty_telemetry.cli.lifecycle_commands:add_lifecycle_commands",
    "convert": "betty_telemetry.cli.lifecycle_commands:add_lifecycle_commands",
    "doctor": "betty_telemetry.cli.doctor:add_doctor_command",
    "sql": "betty_telemetry.cli.sql_command:add_sql_command",
    "check": "betty_telemetry.cli.check_commands:add_check_commands",
    "repair": "betty_telemetry.cli.check_commands:add_check_commands",
    "schema": "betty_telemetry.cli.check_commands:add_check_commands",
    "export": "betty_telemetry.cli.export_command:add_export_command",
    "running": "betty_telemetry.cli.running_command:add_running_command",
    "report": "betty_telemetry.cli.report_commands:add_report_commands",
    "ui": "betty_telemetry.cli.report_commands:add_report_commands",
    "install-skill": "betty_telemetry.cli.skill_command:add_install_skill_command",
    "hook": "betty_telemetry.cli.hook_commands:add_hook_commands",
    "install-hooks": "betty_telemetry.cli.hook_commands:add_hook_commands",
    "uninstall-hooks": "betty_telemetry.cli.hook_commands:add_hook_commands",
    "completion": "betty_telemetry.cli.completion_command:add_completion_command",
}

READ_EXAMPLES = """\
  betty-telemetry query --status failure --limit 10
  betty-telemetry query --skill 'agent.*' --since 1h --json
  betty-telemetry stats --since 7d
  betty-telemetry trace --last
  betty-telemetry tail -f
  betty-telemetry running --sweep                # runs still going; time out the stuck
  betty-telemetry where
  betty-telemetry doctor                         # what it holds; was anything lost?
  betty-telemetry rotate --max-bytes 50MB
  betty-telemetry prune --older-than 30d --keep-archives 12
  betty-telemetry convert registry/telemetry.json registry/telemetry.db
  betty-telemetry sql "SELECT skill, count(*) FROM entries GROUP BY 1"
  betty-telemetry check
  betty-telemetry export --otlp http://localhost:4318   # to any OpenTelemetry backend
  betty-telemetry report -o report.html          # one HTML file that opens offline
  betty-telemetry ui                             # the same, live on http://127.0.0.1:8000/
  betty-telemetry completion bash                # shell completion (see completion --help)
"""


ENVIRONMENT = """\
environment:
  BETTY_TELEMETRY_FILE           the telemetry file (:memory: for none); else
                                 $BETTY_HOME/registry/telemetry.json, ./registry/telemetry.json
  BETTY_HOME                     a Betty checkout: its registry holds the file
  BETTY_TELEMETRY_LOCK_TIMEOUT   seconds to wait for a locked file (default 10)
  BETTY_TELEMETRY_MODE           background: decorated runs queue entries for a writer thread
  BETTY_TELEMETRY_FSYNC          1: flush each append to the disk
  BETTY_TELEMETRY_MAX_BYTES      rotate once the store reaches this size (50MB, 512K)
  BETTY_TELEMETRY_MAX_ENTRIES    rotate once the store holds this many entries
  BETTY_TELEMETRY_PENDING        1: runs record a pending entry when they start
  BETTY_TELEMETRY_EXPORT         otlp: also send every entry as a span (needs [otel])
  BETTY_TELEMETRY_HOOK_OUTPUTS   1: Claude Code hooks keep tool outputs (redacted)
  BETTY_TELEMETRY_HOOK_PROMPTS   1: Claude Code hooks keep prompt text (redacted)
  BETTY_TELEMETRY_CALLER         the caller a parent process passes down (child_env)
  TRACEPARENT                    a W3C trace context to continue (child_env sets it)
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
                                 where export sends (default http://localhost:4318)
  OTEL_EXPORTER_OTLP_HEADERS     headers of each export request (key=value,...)
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
                                 service and resource of the exported spans
  NO_COLOR                       set: no colors on a terminal
  BETTY_TELEMETRY_PAGER, PAGER   the pager of tables taller than the terminal (default
                                 less, with LESS=FRX if LESS is unset); empty or cat: none
  TZ                             the time zone tables show times in (--utc: UTC)

settings file (below arguments and the variables above, which win over it):
  [tool.betty-telemetry] in the nearest pyproject.toml, or betty-telemetry.toml (top-level
  keys), from the working directory upwards. Keys: file, home, lock_timeout, mode, fsync,
  max_bytes, max_entries, pending, export, hook_outputs, hook_prompts (a variable's name
  without BETTY_TELEMETRY_, in lower case; BETTY_HOME is home); paths are relative to the
  file's folder. `betty-telemetry where` shows every setting and where it came from.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["hook"]:
        plain = _plain_hook(args[1:])
        if plain is not None:
            from betty_telemetry.cli.hook_commands import handle_hook

            return _run(handle_hook, plain)
        # Claude Code blocks a tool call on exit code 2, argparse's for a usage error: a hook
        # never fails, a bad option included (what was wrong still goes to stderr).
        try:
            return _main(args)
        except SystemExit:
            return EXIT_OK
    return _main(args)


def _main(args: list[str]) -> int:
    mistyped = _mistyped(args)
    if mistyped is not None:
        return mistyped
    if args[:1] == ["capture"]:
        plain = _plain_capture(args[1:])
    else:  # the bare form, when the first argument names no command
        plain = _plain_capture(args) if args and args[0] not in COMMANDS else None
    if plain is not None:
        return _run(capture_command, plain)
    if args and args[0] not in COMMANDS and not args[0].startswith("-"):
        args.insert(0, "capture")  # the spec's bare form: betty-telemetry SKILL STATUS ...
    parser = _build_parser(args[0] if args else None)
    options, unknown = parser.parse_known_args(args)
    if unknown:  # report against the command's own usage, not the top-level one
        getattr(options, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if options.command is None:
        parser.print_help()
        return EXIT_OK
    return _run(options.handler, options)


def _mistyped(args: list[str]) -> int | None:
    """A usage error if the first argument, naming no command, looks like one mistyped:
    never record an entry for a skill called ``stat`` (``capture stat ...`` still does)."""
    if not args or args[0] in COMMANDS or args[0].startswith("-") or "." in args[0]:
        return None  # a dotted word is a skill (Betty's are): the capture imports nothing more
    from betty_telemetry.cli.suggest import mistyped_command

    command = mistyped_command(args[0], COMMANDS)
    if command is None:
        return None
    word = args[0]
    print(
        f"betty-telemetry: '{word}' is not a command. Did you mean '{command}'?\n"
        f"To record an entry for a skill named '{word}', say so: "
        f"betty-telemetry capture {word} STATUS DURATION_MS CALLER",
        file=sys.stderr,
    )
    return EXIT_USAGE


def main_capture(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """The spec's ``telemetry_capture.py`` entry point: the capture command alone."""
    args = list(sys.argv[1:] if argv is None else argv)
    plain = _plain_capture(args)
    if plain is not None:
        return _run(capture_command, plain)
    import argparse

    from betty_telemetry.cli.capture_command import add_capture_arguments

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Record one telemetry entry.",
        epilog=CAPTURE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_capture_arguments(parser)
    options = parser.parse_args(args)
    return _run(capture_command, options)


_CAPTURE_POSITIONALS = ("skill", "status", "duration_ms", "caller", "inputs", "error_message")


def _plain_capture(args: list[str]) -> SimpleNamespace | None:
    """The options argparse would make of a plain capture (4 to 6 positional arguments, none
    of them starting with '-'), or None for anything else, which argparse then parses.

    A capture runs once per tool call of an agent, each a fresh process: argparse (with
    gettext, locale and shutil, which its help formatter loads) would cost it more than the
    append. Anything argparse might read differently (an option, ``--``, a negative number,
    ``--help``, a wrong count) goes to argparse, so its messages and exit codes stay the
    same."""
    if not 4 <= len(args) <= len(_CAPTURE_POSITIONALS) or any(a.startswith("-") for a in args):
        return None
    given = dict(zip(_CAPTURE_POSITIONALS, args, strict=False))
    return SimpleNamespace(
        **{name: given.get(name) for name in _CAPTURE_POSITIONALS}, metadata=None, file=None
    )


def _plain_hook(args: list[str]) -> SimpleNamespace | None:
    """The options argparse would make of ``hook`` or ``hook --file PATH`` (what
    install-hooks writes), or None for anything else: a hook runs on every tool call of a
    Claude Code session, a fresh process each time, and argparse would cost it more than
    its append."""
    if not args:
        return SimpleNamespace(file=None, ignored=[])
    if len(args) == 2 and args[0] == "--file" and not args[1].startswith("-"):
        return SimpleNamespace(file=args[1], ignored=[])
    return None


def _run(handler: Any, options: argparse.Namespace | SimpleNamespace) -> int:
    _make_output_safe()
    added: list[tuple[logging.Logger, logging.Handler]] = []

    def print_warnings(logger: logging.Logger) -> None:
        from betty_telemetry.cli.warning_lines import WarningLines

        lines = WarningLines()
        logger.addHandler(lines)  # an application may: the library itself never does
        added.append((logger, lines))

    # Only once the library logs: a capture that logs nothing never imports logging.
    cancel = when_logger_made(print_warnings)
    try:
        return _run_handler(handler, options)
    finally:
        cancel()
        for logger, lines in added:
            logger.removeHandler(lines)


def _run_handler(handler: Any, options: argparse.Namespace | SimpleNamespace) -> int:
    try:
        code: int = handler(options)
        sys.stdout.flush()  # here, where a closed pipe is caught, rather than at exit
    except (CliError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"Error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        # Ctrl-C: every file was left valid on the way out (the stores' cleanups ran as the
        # exception went through them); say so in one line, no traceback.
        _interrupted()
        return EXIT_INTERRUPTED
    return code


def _interrupted() -> None:
    try:
        sys.stdout.flush()  # what was written stays written: whole lines, nothing half
    except (OSError, KeyboardInterrupt):  # the reader went away, a second Ctrl-C: drop it
        _silence_stdout()
    with contextlib.suppress(OSError, KeyboardInterrupt):
        print("Interrupted", file=sys.stderr)


def _silence_stdout() -> None:
    # Python flushes stdout at exit; to a closed pipe that prints a second error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _make_output_safe() -> None:
    # Entries may hold any text; never let a terminal's encoding turn output into a crash.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def full_parser() -> argparse.ArgumentParser:
    """The parser with every command, as ``--help`` shows it: what the shell completion
    scripts are generated from (``make completions``)."""
    return _build_parser(None)


def _build_parser(chosen: str | None) -> argparse.ArgumentParser:
    """The parser, with the ``chosen`` command alone when it is one (see COMMANDS), else
    with every command (for the help, ``--version`` and usage errors)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="betty-telemetry",
        description="Record and read execution telemetry (skills, agents, workflows).",
        epilog="Run 'betty-telemetry COMMAND --help' for a command's options and examples.\n\n"
        + CAPTURE_EXAMPLES
        + READ_EXAMPLES
        + "\n"
        + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    adders = [COMMANDS[chosen]] if chosen in COMMANDS else COMMANDS.values()
    for adder in dict.fromkeys(adders):  # each once, in order
        module, function = adder.split(":")
        getattr(importlib.import_module(module), function)(commands)
    return parser
