"""The ``betty-telemetry`` command line.

``betty-telemetry SKILL STATUS DURATION_MS CALLER [INPUTS_JSON] [ERROR_MESSAGE]`` (also spelled
``betty-telemetry capture ...`` and ``python skills/telemetry.capture/telemetry_capture.py ...``)
records one entry and prints it as the spec shows. Errors go to stderr with exit code 1; usage
errors exit 2 with the usage text. Ctrl-C ends any command with exit code 130 and a one-line
``Interrupted`` on stderr (``tail -f``, which Ctrl-C is the way to stop, says nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from betty_telemetry import __version__
from betty_telemetry._config import resolve_telemetry_path
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.cli.check_commands import add_check_commands
from betty_telemetry.cli.doctor import add_doctor_command
from betty_telemetry.cli.export_command import add_export_command, export_status
from betty_telemetry.cli.hook_commands import add_hook_commands
from betty_telemetry.cli.lifecycle_commands import add_lifecycle_commands
from betty_telemetry.cli.read_commands import EXIT_INTERRUPTED, add_read_commands
from betty_telemetry.cli.sql_command import add_sql_command
from betty_telemetry.cli.subcommands import FILE_HELP
from betty_telemetry.model.entry import VALID_STATUSES

EXIT_OK, EXIT_ERROR = 0, 1
logger = logging.getLogger("betty_telemetry")
_SUBCOMMANDS = (
    "capture",
    "where",
    "query",
    "stats",
    "trace",
    "tail",
    "rotate",
    "prune",
    "convert",
    "doctor",
    "sql",
    "check",
    "repair",
    "schema",
    "export",
    "hook",
    "install-hooks",
    "uninstall-hooks",
)

CAPTURE_EXAMPLES = """\
examples:
  betty-telemetry plugin.build success 320 CLI
  betty-telemetry agent.run success 1500 API '{"agent": "api.designer"}'
  betty-telemetry workflow.compose failure 2800 CLI '{"workflow": "api_first"}' \\
      "Validation failed at step 3"
  betty-telemetry capture deploy.run success 90 CI --metadata '{"env": "prod"}' --file t.json
"""


READ_EXAMPLES = """\
  betty-telemetry query --status failure --limit 10
  betty-telemetry query --skill 'agent.*' --since 1h --json
  betty-telemetry stats --since 7d
  betty-telemetry trace --last
  betty-telemetry tail -f
  betty-telemetry where
  betty-telemetry doctor                         # what it holds; was anything lost?
  betty-telemetry rotate --max-bytes 50MB
  betty-telemetry prune --older-than 30d --keep-archives 12
  betty-telemetry convert registry/telemetry.json registry/telemetry.db
  betty-telemetry sql "SELECT skill, count(*) FROM entries GROUP BY 1"
  betty-telemetry check
  betty-telemetry export --otlp http://localhost:4318   # to any OpenTelemetry backend
"""


class CliError(Exception):
    """A bad value on the command line: printed as ``Error: ...``, exit code 1."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in _SUBCOMMANDS and not args[0].startswith("-"):
        args.insert(0, "capture")  # the spec's bare form: betty-telemetry SKILL STATUS ...
    parser = _build_parser()
    options, unknown = parser.parse_known_args(args)
    if unknown:  # report against the command's own usage, not the top-level one
        getattr(options, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if options.command is None:
        parser.print_help()
        return EXIT_OK
    return _run(options.handler, options)


def main_capture(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """The spec's ``telemetry_capture.py`` entry point: the capture command alone."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Record one telemetry entry.",
        epilog=CAPTURE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_capture_arguments(parser)
    options = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return _run(_capture_command, options)


class _Warnings(logging.Handler):
    """The library's warnings (a damaged line skipped, a torn tail repaired), on stderr as
    ``Warning: ...``, each once: ``trace --last`` reads the file twice."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._printed: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self._printed:
            self._printed.add(message)
            print(f"Warning: {message}", file=sys.stderr, flush=True)


def _run(handler: Any, options: argparse.Namespace) -> int:
    _make_output_safe()
    warnings = _Warnings()
    logger.addHandler(warnings)  # an application may: the library itself never does
    try:
        return _run_handler(handler, options)
    finally:
        logger.removeHandler(warnings)


def _run_handler(handler: Any, options: argparse.Namespace) -> int:
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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="betty-telemetry",
        description="Record and read execution telemetry (skills, agents, workflows).",
        epilog="Run 'betty-telemetry COMMAND --help' for a command's options and examples.\n\n"
        + CAPTURE_EXAMPLES
        + READ_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    capture = commands.add_parser(
        "capture",
        help="record one entry (also the default: betty-telemetry SKILL STATUS ...)",
        epilog=CAPTURE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_capture_arguments(capture)
    capture.set_defaults(handler=_capture_command, parser=capture)
    where = commands.add_parser("where", help="print the telemetry file path and why")
    _add_file_option(where)
    where.set_defaults(handler=_where_command, parser=where)
    add_read_commands(commands)
    add_lifecycle_commands(commands)
    add_doctor_command(commands)
    add_sql_command(commands)
    add_check_commands(commands)
    add_export_command(commands)
    add_hook_commands(commands)
    return parser


def _add_capture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("skill", help="skill, agent or workflow name, e.g. plugin.build")
    parser.add_argument("status", help="one of: " + ", ".join(VALID_STATUSES))
    parser.add_argument("duration_ms", help="duration in milliseconds (a number >= 0)")
    parser.add_argument("caller", help="who called it, e.g. CLI, API, workflow.compose")
    parser.add_argument("inputs", nargs="?", help="inputs as a JSON object")
    parser.add_argument("error_message", nargs="?", help="error message, for failures")
    parser.add_argument("--metadata", help="extra context as a JSON object")
    _add_file_option(parser)


def _add_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", metavar="PATH", help=FILE_HELP)


def _capture_command(options: argparse.Namespace) -> int:
    inputs = _json_object("inputs", options.inputs)
    metadata = _json_object("metadata", options.metadata)
    duration_ms = _duration(options.duration_ms)
    telemetry = TelemetryCapture(telemetry_file=options.file)
    entry = telemetry.capture(
        skill=options.skill,
        status=options.status,
        duration_ms=duration_ms,
        caller=options.caller,
        inputs=inputs,
        error_message=options.error_message,
        metadata=metadata,
    )
    print(json.dumps(entry, indent=2))
    print()
    print(f"✓ Telemetry captured to {telemetry.telemetry_file}")
    return EXIT_OK


def _json_object(name: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"Invalid JSON for {name}: {exc}") from None
    except RecursionError:  # the C decoder recurses once per level
        raise CliError(
            f"Invalid JSON for {name}: it is nested deeper than Python's JSON reader can read "
            "(about 1,000 levels, Python's recursion limit). Pass an object nested less deeply, "
            "or the deep part as a string"
        ) from None
    if not isinstance(value, dict):
        raise CliError(
            f'{name} must be a JSON object such as \'{{"key": "value"}}\', '
            f"got a JSON {_json_kind(value)}"
        )
    return value


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise CliError(
            f"Invalid duration_ms: {text!r}. Must be a finite number of milliseconds >= 0"
        )
    return value


def _where_command(options: argparse.Namespace) -> int:
    resolved = resolve_telemetry_path(options.file)
    rule = "--file option" if options.file is not None else resolved.rule
    print(resolved.path)
    print(f"chosen by: {rule}")
    for line in export_status(resolved.path):
        print(line)
    return EXIT_OK
