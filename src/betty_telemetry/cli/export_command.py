"""``betty-telemetry export``: entries as OpenTelemetry spans, to a backend or an OTLP JSON file.

The OpenTelemetry modules are imported when the command runs, not when the CLI starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from betty_telemetry._config import IN_MEMORY, export_from_environment, setting_origin
from betty_telemetry.cli.progress import Progress, wanted
from betty_telemetry.cli.read_commands import add_filter_options, filters_of
from betty_telemetry.cli.subcommands import FILE_HELP, subcommand

EXAMPLES = """\
examples:
  betty-telemetry export --otlp http://localhost:4318              # a Collector, Jaeger, Phoenix
  betty-telemetry export --otlp http://localhost:4318 --since 7d --archives
  betty-telemetry export --otlp https://api.honeycomb.io --header x-honeycomb-team=KEY
  betty-telemetry export --otlp-json spans.jsonl --status failure  # for otlpjsonfile

Entries become spans as the mapping table of docs/opentelemetry.md says; ids are the
entries' own (or derived from the entry, the same on every run). --otlp resumes where the
last run with the same URL, filters and --archives stopped (a checkpoint in NAME.otlp.json
beside the file): a re-run sends only what is new. --restart sends everything again.
Without --otlp URL, the OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT
variables are used.
Needs the [otel] extra: pip install 'betty-telemetry[otel]'.
"""


def add_export_command(commands: Any) -> None:
    parser = subcommand(
        commands,
        "export",
        "send entries as OpenTelemetry spans or write OTLP JSON",
        EXAMPLES,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--otlp",
        metavar="URL",
        nargs="?",
        const="",
        help="an OTLP/HTTP endpoint (http://host:4318 gets /v1/traces); no URL: the "
        "OTEL_EXPORTER_OTLP_* variables",
    )
    where.add_argument("--otlp-json", metavar="FILE", help="write OTLP JSON lines to FILE")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an HTTP header for every request (repeat; else OTEL_EXPORTER_OTLP_HEADERS)",
    )
    parser.add_argument("--service-name", metavar="NAME", help="resource service.name (betty)")
    parser.add_argument("--restart", action="store_true", help="ignore the checkpoint")
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds per request (10)"
    )
    parser.add_argument(
        "--retry-for",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds to keep retrying a batch the backend refuses (60)",
    )
    parser.add_argument(
        "--archives", action="store_true", help="send the rotated archives' entries first"
    )
    add_filter_options(parser)
    parser.add_argument("--file", metavar="PATH", help=FILE_HELP)
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(handler=_export_command)


def _export_command(options: argparse.Namespace) -> int:
    from betty_telemetry.export import export_otlp, write_otlp_json

    filters = filters_of(options)
    with Progress("export", enabled=wanted(machine_output=options.json)) as bar:
        if options.otlp_json is not None:
            done = write_otlp_json(
                options.otlp_json,
                options.file,
                service_name=options.service_name,
                archives=options.archives,
                progress=bar.reached,
                **filters,
            )
        else:
            done = export_otlp(
                options.file,
                options.otlp or None,
                headers=_headers(options),
                service_name=options.service_name,
                archives=options.archives,
                restart=options.restart,
                timeout=options.timeout,
                retry_for=options.retry_for,
                progress=bar.reached,
                **filters,
            )
    if options.json:
        print(json.dumps(dataclasses.asdict(done)))
        return 0
    resumed = f" (resumed after {done.skipped:,} sent before)" if done.skipped else ""
    print(f"Exported {done.sent:,} spans to {done.destination}{resumed}")
    if done.unexportable:
        print(f"  {done.unexportable:,} entries have no usable timestamp and were not sent")
    return 0


def _headers(options: argparse.Namespace) -> dict[str, str] | None:
    if not options.header:
        return None
    headers = {}
    for text in options.header:
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            options.parser.error(f"--header takes NAME=VALUE, got {text!r}")
        headers[name.strip()] = value.strip()
    return headers


def export_status(location: str) -> list[str]:
    """What ``where`` says about export, when there is something to say: that live export is
    on and where it sends; what could not be delivered and how far replays got (from the
    state file beside ``location``)."""
    from betty_telemetry.export.state import read_state, state_path

    lines = []
    try:
        if export_from_environment():
            origin = setting_origin("export")
            lines.append(f"live export: on ({origin}), sends to {_endpoint_text()}")
    except ValueError as exc:
        lines.append(f"live export: {exc}")
    try:
        state = {} if location == IN_MEMORY else read_state(state_path(location))
    except OSError as exc:  # where still says where the file is, and why
        state = {}
        lines.append(f"export state: cannot read {exc.filename} ({exc.strerror})")
    dropped = state.get("dropped")
    if isinstance(dropped, dict):
        lines.append(f"export dropped: {dropped.get('total', 0):,} spans")
        lines.append(f"  last: {dropped.get('last_at')} ({dropped.get('last_reason')})")
    replays = state.get("replays")
    for key, checkpoint in sorted(replays.items() if isinstance(replays, dict) else []):
        sent = checkpoint.get("sent", 0) if isinstance(checkpoint, dict) else 0
        lines.append(f"replay checkpoint: {sent:,} entries sent to {key}")
    return lines


def _endpoint_text() -> str:
    try:
        from betty_telemetry.export import sdk
        from betty_telemetry.export.settings import shown_endpoint

        shown = shown_endpoint(sdk.traces_endpoint(None))
        return shown + " (unless the application set a TracerProvider)"
    except (ImportError, ValueError) as exc:
        return str(exc)
