"""The ``betty-telemetry`` command line.

``betty-telemetry SKILL STATUS DURATION_MS CALLER [INPUTS_JSON] [ERROR_MESSAGE]`` (also spelled
``betty-telemetry capture ...`` and ``python skills/telemetry.capture/telemetry_capture.py ...``)
records one entry and prints it as the spec shows. Errors go to stderr with exit code 1; usage
errors exit 2 with the usage text.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from betty_telemetry import __version__
from betty_telemetry._capture import TelemetryCapture
from betty_telemetry._config import resolve_telemetry_path
from betty_telemetry._entry import VALID_STATUSES

EXIT_OK, EXIT_ERROR = 0, 1
_SUBCOMMANDS = ("capture", "where", "query")

CAPTURE_EXAMPLES = """\
examples:
  betty-telemetry plugin.build success 320 CLI
  betty-telemetry agent.run success 1500 API '{"agent": "api.designer"}'
  betty-telemetry workflow.compose failure 2800 CLI '{"workflow": "api_first"}' \\
      "Validation failed at step 3"
  betty-telemetry capture deploy.run success 90 CI --metadata '{"env": "prod"}' --file t.json
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


def _run(handler: Any, options: argparse.Namespace) -> int:
    _make_output_safe()
    try:
        code: int = handler(options)
    except (CliError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    return code


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
        + "  betty-telemetry query --status failure --limit 10\n  betty-telemetry where\n",
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
    query = commands.add_parser(
        "query",
        help="show entries, newest first",
        epilog="examples:\n  betty-telemetry query --status failure --limit 10\n"
        "  betty-telemetry query --skill agent.run --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    query.add_argument("--skill", help="only this skill (exact name)")
    query.add_argument("--status", help="only this status")
    query.add_argument("--caller", help="only this caller")
    query.add_argument("--limit", type=_non_negative_int, default=20, help="default: 20")
    query.add_argument("--all", action="store_true", help="every matching entry (no limit)")
    query.add_argument("--json", action="store_true", help="print a JSON array")
    _add_file_option(query)
    query.set_defaults(handler=_query_command, parser=query)
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
    parser.add_argument(
        "--file",
        metavar="PATH",
        help="telemetry file (default: $BETTY_TELEMETRY_FILE, $BETTY_HOME/registry/"
        "telemetry.json, ./registry/telemetry.json)",
    )


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


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
    return EXIT_OK


def _query_command(options: argparse.Namespace) -> int:
    telemetry = TelemetryCapture(telemetry_file=options.file)
    entries = telemetry.query(
        skill=options.skill,
        status=options.status,
        caller=options.caller,
        limit=None if options.all else options.limit,
    )
    if options.json:
        print(json.dumps(entries, indent=2))
    else:
        print(_table(entries))
    return EXIT_OK


def _table(entries: list[dict[str, Any]]) -> str:
    header = ("TIMESTAMP", "SKILL", "STATUS", "DURATION", "CALLER", "ERROR")
    rows = [header] + [
        (
            str(entry.get("timestamp", ""))[:23].replace("T", " "),
            str(entry.get("skill", "")),
            str(entry.get("status", "")),
            _human_duration(entry.get("duration_ms")),
            str(entry.get("caller", "")),
            str(entry.get("error_message") or ""),
        )
        for entry in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) if entries else "(no entries)"


def _human_duration(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    if value < 1000:
        return f"{value:.1f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    return f"{value / 60_000:.1f} min"
