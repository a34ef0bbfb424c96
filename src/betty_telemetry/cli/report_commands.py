"""``report`` (one offline HTML file) and ``ui`` (the same page served live on localhost)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from betty_telemetry.cli.read_commands import (
    add_archives_option,
    add_filter_options,
    filters_of,
    open_telemetry,
    progress_for,
    store_of,
    told,
)
from betty_telemetry.cli.subcommands import EXIT_INTERRUPTED, EXIT_OK, FILE_HELP, subcommand
from betty_telemetry.model.filters import EntryFilter

REPORT_EXAMPLES = """\
examples:
  betty-telemetry report                         # report.html, every entry
  betty-telemetry report -o week.html --since 7d --title 'Last week'
  betty-telemetry report --skill 'agent.*' --archives
"""
UI_EXAMPLES = """\
examples:
  betty-telemetry ui                             # http://127.0.0.1:8000/, Ctrl-C stops
  betty-telemetry ui --port 0                    # any free port
  betty-telemetry ui --since 1h --interval 2
"""


def add_report_commands(commands: Any) -> None:
    """Add ``report`` and ``ui`` to the CLI's subcommands."""
    report = subcommand(
        commands, "report", "write one HTML report that opens offline", REPORT_EXAMPLES
    )
    report.add_argument(
        "-o", "--output", metavar="PATH", default="report.html", help="default: report.html"
    )
    _add_page_options(report)
    report.set_defaults(handler=_report_command)

    ui = subcommand(commands, "ui", "serve the report on localhost, live", UI_EXAMPLES)
    ui.add_argument("--port", type=_port, default=8000, help="default: 8000; 0: any free port")
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    ui.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often the page looks for new entries (default: 1)",
    )
    _add_page_options(ui)
    ui.set_defaults(handler=_ui_command)


def _add_page_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--title", help="the page's title (default: Telemetry report)")
    add_filter_options(parser)
    add_archives_option(parser)
    parser.add_argument("--file", metavar="PATH", help=FILE_HELP)
    parser.set_defaults(format=None)  # what the progress line asks of every read command


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return port


def _report_command(options: argparse.Namespace) -> int:
    from betty_telemetry.report.building import build_report, write_report

    plotly_js = _plotly()  # before the read (seconds, on a large store): said at once
    folder = Path(options.output).absolute().parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {options.output}: there is no folder {folder}")
    telemetry = open_telemetry(options)
    wanted, described = _wanted(options)
    with progress_for(options, "report") as bar:
        report = build_report(
            store_of(options, telemetry),
            wanted,
            title=options.title,
            filters=described,
            archives=options.archives,
            progress=told(bar),
        )
    written = write_report(report, options.output, plotly_js)
    print(
        f"Wrote {written.path}: {written.runs:,} run{'s' if written.runs != 1 else ''}, "
        f"{written.size / 1_000_000:.1f} MB. Open it in a browser: "
        f"{written.path.resolve().as_uri()}"
    )
    return EXIT_OK


def _ui_command(options: argparse.Namespace) -> int:
    from betty_telemetry.report.building import build_report
    from betty_telemetry.report.live import LOOPBACK_NAMES, LiveReport, serve

    if not 0.1 <= options.interval <= 60:
        raise ValueError(f"--interval must be seconds in [0.1, 60], got {options.interval}")
    plotly_js = _plotly()
    telemetry = open_telemetry(options)
    store = store_of(options, telemetry)
    wanted, described = _wanted(options)

    def build() -> dict[str, Any]:
        return build_report(
            store, wanted, title=options.title, filters=described, archives=options.archives
        )

    live = LiveReport(store, build, plotly_js, options.interval)
    server = serve(live, options.host, options.port)
    if options.host not in LOOPBACK_NAMES:
        print(
            f"Warning: listening on {options.host}: anyone who can reach this machine on port "
            f"{server.server_port} can read this telemetry (inputs, error messages). Use the "
            "default --host 127.0.0.1 unless that is what you want",
            file=sys.stderr,
        )
    keeper = threading.Thread(target=live.keep_current, name="betty-telemetry-ui", daemon=True)
    keeper.start()
    name = f"[{options.host}]" if ":" in options.host else options.host
    print(
        f"Serving the report of {telemetry.telemetry_file} at "
        f"http://{name}:{server.server_port}/ (Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:  # Ctrl-C is how serving ends: quietly, as tail -f does
        return EXIT_INTERRUPTED
    finally:
        live.stop()
        server.server_close()
    return EXIT_OK  # pragma: no cover - serving only ends by interruption


def _plotly() -> str:
    from betty_telemetry.report.page import plotly_script

    try:
        return plotly_script()
    except ImportError as error:
        raise ValueError(str(error)) from None


def _wanted(options: argparse.Namespace) -> tuple[EntryFilter, str]:
    from betty_telemetry.report.building import describe_filters

    filters = filters_of(options)
    return EntryFilter.build(**filters), describe_filters(filters)
