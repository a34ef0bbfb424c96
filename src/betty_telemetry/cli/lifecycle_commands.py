"""The commands of a store's life beyond appends and reads: ``rotate``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.cli.progress import Progress, wanted
from betty_telemetry.cli.read_commands import FILE_HELP
from betty_telemetry.lifecycle.rotation import RotationPolicy, rotate
from betty_telemetry.model.checks import SIZE_HELP

ROTATE_EXAMPLES = """\
examples:
  betty-telemetry rotate --max-bytes 50MB     # once the file holds 50 MiB
  betty-telemetry rotate --max-age 7d --max-entries 100000
  betty-telemetry rotate                      # now

Past any one threshold (the oldest entry a week old, or 100,000 entries), the store is
rotated; with none, it is rotated now. Archives sit beside the file, named after it and
the moment of the rotation (telemetry.json.20261206T201300.123456Z.json.gz); gzip -dc
gives the old file back. Rotating is safe while other processes write: no entry is
lost, none is duplicated.
"""


def add_lifecycle_commands(commands: Any) -> None:
    summary = "move the entries into a compressed archive beside the file, now or past a threshold"
    rotate = commands.add_parser(
        "rotate",
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=ROTATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rotate.add_argument("--max-bytes", metavar="SIZE", help=f"rotate at this size: {SIZE_HELP}")
    rotate.add_argument(
        "--max-entries", type=_entries, metavar="N", help="rotate at this many entries"
    )
    rotate.add_argument(
        "--max-age", metavar="AGE", help="rotate once the oldest entry is this old: 30d, 12h, 1w"
    )
    rotate.add_argument("--json", action="store_true", help="print the outcome as JSON")
    rotate.add_argument("--file", metavar="PATH", help=FILE_HELP)
    rotate.set_defaults(handler=_rotate_command, parser=rotate)


def _entries(text: str) -> int:
    try:
        return int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of entries, got {text!r}") from None


def _rotate_command(options: argparse.Namespace) -> int:
    policy = RotationPolicy.of(options.max_bytes, options.max_entries, options.max_age)
    telemetry = TelemetryCapture(telemetry_file=options.file)
    # The bar measures the copy and compression of the entries; checking the thresholds
    # before (counting entries for --max-entries) shows as time spent.
    bar = Progress("rotate", enabled=wanted(machine_output=options.json))
    try:
        with bar:
            rotation = rotate(telemetry.store, policy, progress=bar.measure)
    finally:
        telemetry.close()
    if options.json:
        print(json.dumps({"archive": rotation.archive, "reason": rotation.reason}))
    elif rotation.archive is None:
        print(f"Not rotated: {rotation.reason} ({telemetry.telemetry_file})")
    else:
        print(f"Rotated {telemetry.telemetry_file} ({rotation.reason})")
        print(f"  into {rotation.archive}")
    return 0
