"""The read commands of the CLI: ``query``, ``stats``, ``trace`` and ``tail``.

Each prints a table (or a tree) for people, or with ``--json``/``--jsonl``/``--csv`` output
for programs. Errors (a bad filter value, a missing or corrupt file) are raised as ValueError
or OSError and reported by ``_cli._run`` as ``Error: ...`` with exit code 1.

``query`` writes its rows as they are read, in every format; the others gather a small result
first. While they read, a progress line may show on the terminal (see ``cli.progress``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO, cast

from betty_telemetry._config import resolve_telemetry_path
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.cli import pager
from betty_telemetry.cli.cells import is_terminal
from betty_telemetry.cli.completion_hints import completes_statuses
from betty_telemetry.cli.formats import (
    FIRST_ROWS,
    FORMATS,
    csv_row,
    csv_writer,
    write_csv,
    write_json_array,
    write_jsonl,
)
from betty_telemetry.cli.progress import Progress, wanted
from betty_telemetry.cli.render import (
    ENTRY_HEADER,
    ENTRY_STEPS,
    TYPICAL_ENTRY,
    Style,
    entry_cells,
    entry_header,
    entry_table_lines,
    fitted,
    render_row,
    stats_table,
    trace_tree,
    use_color,
    widen,
)
from betty_telemetry.cli.subcommands import EXIT_INTERRUPTED, FILE_HELP, subcommand
from betty_telemetry.model.entry import ENTRY_FIELDS
from betty_telemetry.model.filters import EntryFilter, check_trace_id
from betty_telemetry.model.times import TIME_HELP, parse_duration_ms
from betty_telemetry.read import reading
from betty_telemetry.read.stats import GROUPINGS, SORTS, STATS_KEYS
from betty_telemetry.read.trace import walk
from betty_telemetry.stores import Store, with_archives

EXIT_OK = 0
TRACE_FIELDS = ("trace_id", "span_id", "parent_id")

QUERY_EXAMPLES = """\
examples:
  betty-telemetry query --status failure --limit 10
  betty-telemetry query --skill agent.run --json
  betty-telemetry query --skill 'agent.*' --since 1h --status failure,error,timeout
  betty-telemetry query --since 2025-10-24 --until 2025-10-25T12:00Z --all --csv > day.csv
  betty-telemetry query --min-duration 2s --text timeout --jsonl | jq .skill
"""
STATS_EXAMPLES = """\
examples:
  betty-telemetry stats                          # per skill, largest first
  betty-telemetry stats --since 7d --skill 'agent.*'
  betty-telemetry stats --by day --sort key      # a daily time line
  betty-telemetry stats --by caller --json
  betty-telemetry stats --since 30d --archives   # the rotated archives too
"""
TRACE_EXAMPLES = """\
examples:
  betty-telemetry trace --last
  betty-telemetry trace 4bf92f3577b34da6a3ce929d0e0e4736
  betty-telemetry trace --last --json | jq '.[0].entry.skill'
"""
TAIL_EXAMPLES = """\
examples:
  betty-telemetry tail                           # the last 10 entries
  betty-telemetry tail -n 50 --status failure
  betty-telemetry tail -f                        # keep printing new entries (Ctrl-C stops)
  betty-telemetry tail -f --skill 'agent.*' --jsonl
"""


def add_read_commands(commands: Any) -> None:
    """Add ``query``, ``stats``, ``trace`` and ``tail`` to the CLI's subcommands."""
    query = subcommand(commands, "query", "show entries, newest first", QUERY_EXAMPLES)
    add_filter_options(query)
    amount = query.add_mutually_exclusive_group()
    amount.add_argument("--limit", type=non_negative_int, default=20, help="default: 20")
    amount.add_argument("--all", action="store_true", help="every matching entry (no limit)")
    query.add_argument("--offset", type=non_negative_int, default=0, help="skip N matches")
    add_archives_option(query)
    add_output_options(query)
    query.set_defaults(handler=_query_command)

    stats = subcommand(commands, "stats", "counts, failure rates and durations", STATS_EXAMPLES)
    stats.add_argument("--by", choices=GROUPINGS, default="skill", help="group by (default: skill)")
    stats.add_argument("--sort", choices=SORTS, default="count", help="order (default: count)")
    add_filter_options(stats)
    add_archives_option(stats)
    add_output_options(stats)
    stats.set_defaults(handler=_stats_command)

    trace = subcommand(commands, "trace", "show one trace as a tree of runs", TRACE_EXAMPLES)
    which = trace.add_mutually_exclusive_group(required=True)
    which.add_argument("trace_id", nargs="?", help="32 hex digits, as in entries' trace_id")
    which.add_argument("--last", action="store_true", help="the newest entry's trace")
    add_archives_option(trace)
    add_output_options(trace)
    trace.set_defaults(handler=_trace_command)

    tail = subcommand(commands, "tail", "show the last entries; -f follows new ones", TAIL_EXAMPLES)
    tail.add_argument(
        "-n",
        "--lines",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="how many (default: 10)",
    )
    tail.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing entries as they are appended, across rotation",
    )
    tail.add_argument(
        "--interval",
        type=float,
        default=0.25,
        metavar="SECONDS",
        help="how often -f looks for new entries (default: 0.25)",
    )
    add_filter_options(tail)
    add_archives_option(tail)
    add_output_options(tail)
    tail.set_defaults(handler=_tail_command)


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    filters = parser.add_argument_group("filters")
    filters.add_argument("--skill", metavar="NAME", help="a skill name or glob: 'agent.*'")
    status = filters.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help="success, failure, timeout, error, pending or failed; repeat or use commas",
    )
    completes_statuses(status)
    filters.add_argument("--caller", metavar="NAME", help="a caller name or glob")
    filters.add_argument("--since", metavar="WHEN", help="entries at or after WHEN: " + TIME_HELP)
    filters.add_argument("--until", metavar="WHEN", help="entries at or before WHEN")
    filters.add_argument("--trace-id", metavar="ID", help="entries of one trace")
    filters.add_argument(
        "--min-duration", metavar="DURATION", help="at least this long: 500 (ms), 1.5s, 2m"
    )
    filters.add_argument("--text", help="text in the error message (any case)")


def add_archives_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--archives",
        action="store_true",
        help="read the rotated archives beside the file too (after it, newest first)",
    )


def add_output_options(parser: argparse.ArgumentParser, *, tables: bool = True) -> None:
    """The output options; with ``tables``, those of tables of entries too (``--utc``,
    ``--no-pager``)."""
    output = parser.add_argument_group("output")
    formats = output.add_mutually_exclusive_group()
    formats.add_argument(
        "--json", dest="format", action="store_const", const="json", help="one JSON array"
    )
    formats.add_argument(
        "--jsonl",
        dest="format",
        action="store_const",
        const="jsonl",
        help="one JSON value per line",
    )
    formats.add_argument(
        "--csv",
        dest="format",
        action="store_const",
        const="csv",
        help="CSV, one column per field, nested values as JSON",
    )
    output.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="color statuses: auto = on a terminal, unless NO_COLOR is set",
    )
    if tables:
        add_table_options(output)
    output.add_argument("--file", metavar="PATH", help=FILE_HELP)


def add_table_options(parser: argparse.ArgumentParser | Any) -> None:
    """``--utc``: tables show times in UTC rather than local time (JSON and CSV always keep
    the stored UTC times); ``--no-pager``: a long table is never paged."""
    parser.add_argument(
        "--utc",
        action="store_true",
        help="show times in UTC (default: local time, with its offset, as TZ says)",
    )
    parser.add_argument(
        "--no-pager",
        dest="pager",
        action="store_false",
        help="never page a long table (default: through $BETTY_TELEMETRY_PAGER, $PAGER "
        "or less, on a terminal)",
    )


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


# -- commands ----------------------------------------------------------------------------------


def _query_command(options: argparse.Namespace) -> int:
    telemetry = open_telemetry(options)
    wanted_entries = EntryFilter.build(**filters_of(options))
    limit = None if options.all else options.limit
    # Every format goes out as it is read: a full scan never holds every entry in memory.
    with progress_for(options, "query") as bar:
        stream = reading.select(store_of(options, telemetry), wanted_entries, progress=told(bar))
        with closing(stream):
            entries = reading.window(stream, limit, options.offset)
            left_out = _stream_entries(entries, options, bar)
    if left_out:
        print(
            f"Warning: entries after the first {FIRST_ROWS:,} have fields the CSV header, "
            f"taken from those, has no column for: {', '.join(left_out)}; their values are "
            "not in the CSV. Use --jsonl or --json for every field",
            file=sys.stderr,
        )
    return EXIT_OK


def _stats_command(options: argparse.Namespace) -> int:
    telemetry = open_telemetry(options)
    wanted_entries = EntryFilter.build(**filters_of(options))
    with progress_for(options, "stats") as bar:
        rows = reading.stats(
            store_of(options, telemetry), wanted_entries, options.by, options.sort, told(bar)
        )
    if options.format is None:
        table = stats_table(rows, options.by, output_style(options))
        pager.show(table.splitlines(), allowed=options.pager)
    else:
        _write_items(rows, options.format, sys.stdout, STATS_KEYS)
    return EXIT_OK


def _trace_command(options: argparse.Namespace) -> int:
    telemetry = open_telemetry(options)
    with progress_for(options, "trace") as bar:
        if options.last:
            trace_id = reading.last_trace_id(store_of(options, telemetry), told(bar))
            if trace_id is None:
                raise ValueError(
                    f"no entry in {telemetry.telemetry_file} belongs to a trace (entries "
                    "written by @capture_telemetry and TelemetryContext do)"
                )
        else:
            trace_id = _trace_id(options.trace_id)
        roots = reading.trace(store_of(options, telemetry), trace_id, told(bar))
    if not roots:
        raise ValueError(f"no entry of trace {trace_id} in {telemetry.telemetry_file}")
    if options.format is None:
        tree = trace_tree(roots[0]["entry"]["trace_id"], roots, output_style(options))
        pager.show(tree.splitlines(), allowed=options.pager)
    elif options.format == "json":
        write_json_array(roots, sys.stdout)
    else:  # one row per run, depth first: parent_id says who called whom
        entries = [node["entry"] for _, node in walk(roots)]
        _write_items(entries, options.format, sys.stdout, ENTRY_FIELDS)
    return EXIT_OK


def _tail_command(options: argparse.Namespace) -> int:
    if options.follow and options.format == "json":
        options.parser.error("--json prints one array and cannot follow; use --jsonl with -f")
    if not 0 < options.interval <= 60:
        raise ValueError(f"--interval must be seconds in (0, 60], got {options.interval}")
    telemetry = open_telemetry(options, must_exist=not options.follow)
    filters = filters_of(options)
    if not options.follow:
        wanted_entries = EntryFilter.build(**filters)
        with progress_for(options, "tail") as bar:
            entries = reading.tail(
                store_of(options, telemetry), wanted_entries, options.lines, told(bar)
            )
        _print_entries(entries, options)
        return EXIT_OK
    if not telemetry.telemetry_file.exists():
        print(f"(waiting for {telemetry.telemetry_file} to be created)", file=sys.stderr)
    stream = telemetry.follow(
        backlog=options.lines,
        poll_interval=options.interval,
        archives=options.archives,
        **filters,
    )
    try:
        with closing(stream):
            _follow_out(cast("Iterator[dict[str, Any]]", stream), options)
    except KeyboardInterrupt:  # Ctrl-C is how following ends: quietly, as tail -f does
        return EXIT_INTERRUPTED
    return EXIT_OK  # pragma: no cover - following only ends by interruption


# -- helpers -----------------------------------------------------------------------------------


def open_telemetry(options: argparse.Namespace, *, must_exist: bool = True) -> TelemetryCapture:
    telemetry = TelemetryCapture(telemetry_file=options.file)
    if must_exist and _missing(telemetry.telemetry_file):
        rule = "--file" if options.file is not None else resolve_telemetry_path().rule
        raise ValueError(
            f"no telemetry file at {telemetry.telemetry_file} (chosen by {rule}): nothing was "
            "captured there yet. Pass --file PATH or set BETTY_TELEMETRY_FILE"
        )
    return telemetry


def _missing(path: Path) -> bool:
    # Only a path that is not there is "missing": a part of it that is a file, or a folder we
    # may not enter, is left to the read, whose error says so.
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def filters_of(options: argparse.Namespace) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "skill": options.skill,
        "caller": options.caller,
        "since": options.since,
        "until": options.until,
        "trace_id": options.trace_id,
        "text": options.text,
    }
    if options.status:
        filters["status"] = [s.strip() for item in options.status for s in item.split(",")]
    if options.min_duration is not None:
        filters["min_duration_ms"] = parse_duration_ms("--min-duration", options.min_duration)
    return {name: value for name, value in filters.items() if value is not None}


def _trace_id(text: str) -> str:
    checked = check_trace_id(text)
    assert checked is not None  # argparse requires the id without --last
    return checked


def progress_for(options: argparse.Namespace, label: str) -> Progress:
    """The progress line of a read command: on a terminal's stderr, unless the command prints
    JSON or CSV on that terminal (see ``cli.progress.wanted``)."""
    return Progress(label, enabled=wanted(machine_output=options.format is not None))


def told(bar: Progress) -> reading.ReadProgress | None:
    """What a read tells ``bar`` (nothing when it is not drawn: no call is cheaper)."""
    return bar.read if bar.enabled else None


def store_of(options: argparse.Namespace, telemetry: TelemetryCapture) -> Store:
    """The store to read: with its archives after it, given ``--archives``."""
    return with_archives(telemetry.store) if options.archives else telemetry.store


def output_style(options: argparse.Namespace) -> Style:
    color = use_color(options.color, sys.stdout)
    columns = shutil.get_terminal_size().columns if is_terminal(sys.stdout) else None
    return Style(color=color, width=columns, utc=getattr(options, "utc", False))


def _print_entries(entries: list[dict[str, Any]], options: argparse.Namespace) -> None:
    if options.format is None:
        table = entry_table_lines(entries, output_style(options), first_rows=len(entries))
        pager.show(table, allowed=options.pager)
    else:
        _write_items(entries, options.format, sys.stdout, ENTRY_FIELDS)


def _stream_entries(
    entries: Iterator[dict[str, Any]], options: argparse.Namespace, bar: Progress
) -> list[str]:
    """Entries written as they come, in the chosen format; for a CSV, the fields left out."""
    out = sys.stdout
    if options.format == "csv":
        return write_csv(entries, out, ENTRY_FIELDS, later_columns=TRACE_FIELDS)
    if options.format is not None:
        _write_items(entries, options.format, out, ())
        return []
    # A table goes to the terminal the progress line is on, if any: its lines go above it,
    # until a pager takes the terminal: the line is then gone for good.
    write = bar.above(out.write) if is_terminal(out) else out.write
    table = entry_table_lines(entries, output_style(options))
    pager.show(table, allowed=options.pager, write=write, before_paging=bar.close)
    return []


def _write_items(
    items: Iterable[Any], output_format: str, out: TextIO, columns: Sequence[str]
) -> None:
    """Items as JSON, JSON Lines or CSV; ``columns`` head a CSV that has no rows."""
    assert output_format in FORMATS
    if output_format == "json":
        write_json_array(items, out)
    elif output_format == "jsonl":
        write_jsonl(items, out)
    else:
        rows = list(items)  # a CSV of a result in memory: its header has every key
        write_csv(rows, out, columns, first_rows=len(rows))


def _follow_out(stream: Iterator[dict[str, Any]], options: argparse.Namespace) -> None:
    """Print each entry as it comes, flushed at once: the reader may be a pipe."""
    write = _follow_writer(options)
    for entry in stream:
        write(entry)
        sys.stdout.flush()


def _follow_writer(options: argparse.Namespace) -> Callable[[dict[str, Any]], None]:
    if options.format == "jsonl":
        return lambda entry: write_jsonl([entry], sys.stdout)
    if options.format == "csv":
        # Columns cannot grow once rows are out: the spec's fields and the trace ids.
        columns = [*ENTRY_FIELDS, *TRACE_FIELDS]
        writer = csv_writer(sys.stdout, columns)
        return lambda entry: writer.writerow(csv_row(entry, columns))
    style = output_style(options)
    # Rows come one at a time: the columns start as wide as most of their values are (a
    # time always, a status and a duration at most), and are fitted to the terminal as such,
    # so rows line up from the first; a longer skill or caller widens its column from there.
    typical = [entry_header(), entry_cells(TYPICAL_ENTRY, style)]
    layout, shown, widths = fitted(ENTRY_HEADER, typical, ENTRY_STEPS, style)
    print(render_row(shown[0], widths, style))

    def write_row(entry: dict[str, Any]) -> None:
        cells = layout.cells(entry_cells(entry, style))
        widen(widths, cells, style.width)  # widen, never narrow, as entries come
        print(render_row(cells, widths, style))

    return write_row
