"""``capture``: the spec's ``betty-telemetry SKILL STATUS DURATION_MS CALLER ...``.

A capture starts a fresh process on every call, often once per tool call of an agent: this
module imports only what recording one entry needs (no read side, no SQLite, no lifecycle).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from betty_telemetry.cli.subcommands import EXIT_OK, FILE_HELP, CliError
from betty_telemetry.model.entry import VALID_STATUSES

if TYPE_CHECKING:
    import argparse

CAPTURE_EXAMPLES = """\
examples:
  betty-telemetry plugin.build success 320 CLI
  betty-telemetry agent.run success 1500 API '{"agent": "api.designer"}'
  betty-telemetry workflow.compose failure 2800 CLI '{"workflow": "api_first"}' \\
      "Validation failed at step 3"
  betty-telemetry capture deploy.run success 90 CI --metadata '{"env": "prod"}' --file t.json
"""


def add_capture_command(commands: Any) -> None:
    """Add ``capture`` to the CLI's subcommands."""
    import argparse

    capture = commands.add_parser(
        "capture",
        help="record one entry (also the default: betty-telemetry SKILL STATUS ...)",
        epilog=CAPTURE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_capture_arguments(capture)
    capture.set_defaults(handler=capture_command, parser=capture)


def add_capture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("skill", help="skill, agent or workflow name, e.g. plugin.build")
    parser.add_argument("status", help="one of: " + ", ".join(VALID_STATUSES))
    parser.add_argument("duration_ms", help="duration in milliseconds (a number >= 0)")
    parser.add_argument("caller", help="who called it, e.g. CLI, API, workflow.compose")
    parser.add_argument("inputs", nargs="?", help="inputs as a JSON object")
    parser.add_argument("error_message", nargs="?", help="error message, for failures")
    parser.add_argument("--metadata", help="extra context as a JSON object")
    add_file_option(parser)


def add_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", metavar="PATH", help=FILE_HELP)


def capture_command(options: Any) -> int:
    """Record one entry and print it. ``options`` is argparse's namespace, or the one the
    plain capture's fast path makes (cli.main): the same attributes."""
    # Imported here, when a capture runs, not when the parser is built for --help.
    from betty_telemetry.capture.telemetry import TelemetryCapture

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
    # The store's location, as str(telemetry.telemetry_file) spells it (an absolute path,
    # normalized by abspath, or ":memory:"), without importing pathlib for one line.
    print(f"✓ Telemetry captured to {telemetry.store.location}")
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
