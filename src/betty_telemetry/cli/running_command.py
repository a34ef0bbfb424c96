"""``betty-telemetry running``: the runs still going, their age, and ``--sweep`` for those that
never will end (see ``capture.sweep``)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any, cast

from betty_telemetry.capture.sweep import StaleLimits, age_of
from betty_telemetry.cli import pager
from betty_telemetry.cli.cells import printable
from betty_telemetry.cli.fitting import Cut, Drop, Shorten, Step
from betty_telemetry.cli.local_time import month_day_minute, shown_time, without_milliseconds
from betty_telemetry.cli.read_commands import add_table_options, open_telemetry, output_style
from betty_telemetry.cli.render import (
    Cell,
    Style,
    fitted,
    header_cells,
    human_duration,
    render_row,
)
from betty_telemetry.cli.subcommands import FILE_HELP, subcommand

EXAMPLES = """\
examples:
  betty-telemetry running                          # runs pending now, oldest first, with age
  betty-telemetry running --stale-after 30m        # flag those pending for longer
  betty-telemetry running --sweep                  # declare a timeout every run pending > 1h
  betty-telemetry running --sweep --stale-after 2h --stale-after 'deploy.*=12h'
  betty-telemetry running --json
"""
_HEADER = ("STARTED", "AGE", "SKILL", "CALLER", "SPAN", "")
RUNNING_STEPS: tuple[Step, ...] = (
    Drop("SPAN"),
    Shorten("STARTED", without_milliseconds),
    Cut("CALLER", 12),
    Shorten("STARTED", month_day_minute),
    Cut("SKILL", 24),
    Drop("CALLER"),
    Drop("STARTED"),
    Cut("SKILL", 10),
)
"""How the table of runs narrows to fit the terminal, first step first: the span id goes
first (``--json`` has it), then as for entries; AGE, SKILL and the stale flag stay longest."""


def add_running_command(commands: Any) -> None:
    parser = subcommand(
        commands,
        "running",
        "list the runs still going (pending entries no final entry replaced), or sweep those "
        "pending too long",
        EXAMPLES,
    )
    parser.add_argument(
        "--stale-after",
        action="append",
        default=[],
        metavar="[SKILL=]AGE",
        help="how long a run may stay pending (default 1h); SKILL=AGE sets a skill's or a "
        "glob's own limit (repeat; the first match wins)",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="append a final 'timeout' entry for every run pending longer than its limit",
    )
    parser.add_argument("--skill", help="only these skills: a name or a glob such as 'agent.*'")
    parser.add_argument("--caller", help="only these callers: a name or a glob")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="color statuses"
    )
    add_table_options(parser)
    parser.add_argument("--file", metavar="PATH", help=FILE_HELP)
    parser.set_defaults(handler=_running_command)


def _running_command(options: argparse.Namespace) -> int:
    default, per_skill = _stale_after(options.stale_after)
    telemetry = open_telemetry(options, must_exist=False)
    now = datetime.now(timezone.utc)
    if options.sweep:
        swept = telemetry.sweep(default, per_skill=per_skill, now=now)
        _print_swept(cast("list[dict[str, Any]]", swept), options)
        return 0
    limits = StaleLimits.build(default, per_skill)
    filters = {name: getattr(options, name) for name in ("skill", "caller")}
    found = telemetry.running(**{name: value for name, value in filters.items() if value})
    running = cast("list[dict[str, Any]]", found)
    running.reverse()  # oldest first: the one most likely stuck on top
    _print_running([_Running(entry, limits, now) for entry in running], options)
    return 0


def _stale_after(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """The default limit (None: StaleLimits' own) and the per-skill ones ``--stale-after``
    gives, as text: StaleLimits.build (or the sweep) checks the ages."""
    defaults = [value for value in values if "=" not in value]
    if len(defaults) > 1:
        raise ValueError(
            f"--stale-after is given {len(defaults)} default ages ({', '.join(defaults)}): give "
            "one, and SKILL=AGE for a skill's own"
        )
    per_skill = {}
    for value in values:
        if "=" in value:
            skill, _, age = value.partition("=")
            if not skill or not age:
                raise ValueError(f"--stale-after {value!r}: write SKILL=AGE, e.g. 'deploy.*=6h'")
            per_skill[skill] = age
    return (defaults[0] if defaults else None), per_skill


class _Running:
    """A pending entry, its age now and whether that is past its limit: measured once."""

    __slots__ = ("age", "entry", "stale")

    def __init__(self, entry: dict[str, Any], limits: StaleLimits, now: datetime) -> None:
        self.entry = entry
        self.age = age_of(entry, now)
        self.stale = limits.exceeded_by(entry, self.age)

    def age_ms(self) -> float | None:
        return None if self.age is None else self.age.total_seconds() * 1000


def _print_running(running: list[_Running], options: argparse.Namespace) -> None:
    if options.json:
        described = [{**run.entry, "age_ms": run.age_ms(), "stale": run.stale} for run in running]
        print(json.dumps(described, indent=2, ensure_ascii=False))
        return
    if not running:
        print("(no run is pending)")
        return
    style = output_style(options)
    rows = [header_cells(_HEADER, right=("AGE",)), *(_cells(run, style) for run in running)]
    _, shown, widths = fitted(_HEADER, rows, RUNNING_STEPS, style)
    lines = [render_row(row, widths, style) for row in shown]
    stale = sum(run.stale for run in running)
    summary = [f"{len(running)} running" + (f", {stale} pending past its limit" if stale else "")]
    if stale:
        summary.append("(betty-telemetry running --sweep ends them as timeouts)")
    # Cut at the terminal's edge, as every line of a table is.
    lines += ["", *(render_row([Cell(line)], [0], style) for line in summary)]
    pager.show(lines, allowed=options.pager)


def _cells(run: _Running, style: Style) -> list[Cell]:
    entry = run.entry
    return [
        Cell(shown_time(entry.get("timestamp"), utc=style.utc)),
        Cell(human_duration(run.age_ms()), right=True),
        Cell(printable(str(entry.get("skill", "")))),
        Cell(printable(str(entry.get("caller", "")))),
        Cell(printable(str(entry.get("span_id") or "")), "dim"),
        Cell("stale" if run.stale else "", "timeout" if run.stale else None),
    ]


def _print_swept(swept: list[dict[str, Any]], options: argparse.Namespace) -> None:
    if options.json:
        print(json.dumps(swept, indent=2, ensure_ascii=False))
        return
    if not swept:
        print("No run is pending past its limit: nothing swept.")
        return
    print(f"Declared {len(swept)} run(s) a timeout (pending past their limit):", file=sys.stdout)
    for entry in swept:
        skill = printable(str(entry.get("skill")))
        lasted = human_duration(entry.get("duration_ms"))
        print(f"  {skill}  pending {lasted}  span {entry.get('span_id')}")
