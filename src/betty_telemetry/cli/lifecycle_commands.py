"""The commands of a store's life beyond appends and reads: ``rotate``, ``prune`` and
``convert``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.cli.progress import Progress, wanted
from betty_telemetry.cli.subcommands import FILE_HELP, subcommand
from betty_telemetry.lifecycle.convert import convert
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
lost, none is duplicated. --keep-archives N then deletes all but the N newest archives.
"""

PRUNE_EXAMPLES = """\
examples:
  betty-telemetry prune --older-than 30d             # entries over 30 days old, archived
  betty-telemetry prune --before 2026-01-01
  betty-telemetry prune --older-than 30d --keep-archives 12
  betty-telemetry prune --archives-older-than 365d   # delete archives, keep the store

Pruning moves the entries older than the cut into a new compressed archive beside the
file (as rotate does) and keeps the rest, while other processes write: nothing is
deleted. Only --keep-archives and --archives-older-than delete anything, and only
archives.
"""

CONVERT_EXAMPLES = """\
examples:
  betty-telemetry convert registry/telemetry.json registry/telemetry.db
  betty-telemetry convert telemetry.json.20261206T201300.123456Z.json.gz old.jsonl
  betty-telemetry convert day.jsonl registry/telemetry.db --append

Every entry is copied oldest first, exactly as stored (legacy entries too), in bounded
memory; the count is checked at the end. A DST that does not exist appears only once
whole; one that holds entries is refused unless --append. The store is chosen by the
extension: .json (JSON array), .jsonl/.ndjson (JSON Lines), .db/.sqlite (SQLite).
"""


def add_lifecycle_commands(commands: Any) -> None:
    summary = "move the entries into a compressed archive beside the file, now or past a threshold"
    rotate = subcommand(commands, "rotate", summary, ROTATE_EXAMPLES)
    rotate.add_argument("--max-bytes", metavar="SIZE", help=f"rotate at this size: {SIZE_HELP}")
    rotate.add_argument(
        "--max-entries", type=_entries, metavar="N", help="rotate at this many entries"
    )
    rotate.add_argument(
        "--max-age", metavar="AGE", help="rotate once the oldest entry is this old: 30d, 12h, 1w"
    )
    _add_archive_retention(rotate)
    rotate.add_argument("--json", action="store_true", help="print the outcome as JSON")
    rotate.add_argument("--file", metavar="PATH", help=FILE_HELP)
    rotate.set_defaults(handler=_rotate_command, parser=rotate)

    summary = "move old entries into a compressed archive; delete old archives"
    prune = subcommand(commands, "prune", summary, PRUNE_EXAMPLES)
    cut = prune.add_mutually_exclusive_group()
    cut.add_argument("--older-than", metavar="AGE", help="entries older than this: 30d, 12h, 1w")
    cut.add_argument("--before", metavar="WHEN", help="entries before this date or time (UTC)")
    _add_archive_retention(prune)
    prune.add_argument("--json", action="store_true", help="print the outcome as JSON")
    prune.add_argument("--file", metavar="PATH", help=FILE_HELP)
    prune.set_defaults(handler=_prune_command, parser=prune)

    summary = "copy every entry of a store or an archive into another store"
    convert = subcommand(commands, "convert", summary, CONVERT_EXAMPLES)
    convert.add_argument("source", metavar="SRC", help="a store (.json, .jsonl, .db) or archive")
    convert.add_argument(
        "destination", metavar="DST", help="the store to write (.json, .jsonl, .db)"
    )
    convert.add_argument(
        "--append", action="store_true", help="add to a DST that already holds entries"
    )
    convert.add_argument("--json", action="store_true", help="print the outcome as JSON")
    convert.set_defaults(handler=_convert_command, parser=convert)


def _add_archive_retention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-archives",
        type=_entries,
        metavar="N",
        help="then delete all archives but the N newest",
    )
    parser.add_argument(
        "--archives-older-than",
        metavar="AGE",
        help="then delete archives rotated more than AGE ago: 90d, 1w",
    )


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
        removed = _remove_archives(telemetry, options)
    finally:
        telemetry.close()
    if options.json:
        outcome: dict[str, Any] = {"archive": rotation.archive, "reason": rotation.reason}
        if _retains(options):
            outcome["removed_archives"] = removed
        print(json.dumps(outcome))
        return 0
    if rotation.archive is None:
        print(f"Not rotated: {rotation.reason} ({telemetry.telemetry_file})")
    else:
        print(f"Rotated {telemetry.telemetry_file} ({rotation.reason})")
        print(f"  into {rotation.archive}")
    _print_removed(removed, _retains(options))
    return 0


def _prune_command(options: argparse.Namespace) -> int:
    if options.older_than is None and options.before is None and not _retains(options):
        options.parser.error(
            "say what to prune: --older-than AGE or --before WHEN (entries), "
            "--keep-archives N or --archives-older-than AGE (archives)"
        )
    telemetry = TelemetryCapture(telemetry_file=options.file)
    try:
        pruned = None
        if options.older_than is not None or options.before is not None:
            # Nothing measures a rewrite under the lock: the line shows the time it takes.
            with Progress("prune", enabled=wanted(machine_output=options.json)):
                pruned = telemetry.prune(options.older_than, before=options.before)
        removed = _remove_archives(telemetry, options)
    finally:
        telemetry.close()
    if options.json:
        outcome = {} if pruned is None else dataclasses.asdict(pruned)
        print(json.dumps({**outcome, "removed_archives": removed}))
        return 0
    file = telemetry.telemetry_file
    if pruned is not None and pruned.archive is None:
        print(f"Nothing to prune: no entry old enough ({pruned.kept:,} kept in {file})")
    elif pruned is not None:
        print(f"Pruned {pruned.moved:,} entries from {file} ({pruned.kept:,} kept)")
        print(f"  into {pruned.archive}")
    _print_removed(removed, _retains(options))
    return 0


def _convert_command(options: argparse.Namespace) -> int:
    with Progress("convert", enabled=wanted(machine_output=options.json)) as bar:
        done = convert(
            options.source, options.destination, append=options.append, progress=bar.reached
        )
    if options.json:
        print(json.dumps(dataclasses.asdict(done)))
    else:
        verb = "Appended" if done.appended else "Converted"
        print(f"{verb} {done.entries:,} entries: {done.source} -> {done.destination}")
    return 0


def _retains(options: argparse.Namespace) -> bool:
    """Whether the command was asked to delete old archives."""
    return options.keep_archives is not None or options.archives_older_than is not None


def _remove_archives(telemetry: TelemetryCapture, options: argparse.Namespace) -> list[str]:
    if not _retains(options):
        return []
    return telemetry.remove_archives(
        keep=options.keep_archives, older_than=options.archives_older_than
    )


def _print_removed(removed: list[str], asked: bool) -> None:
    if asked and not removed:
        print("No archive to remove: none is beyond --keep-archives or --archives-older-than")
    if removed:
        print(f"Removed {len(removed)} archive(s):")
        for path in removed:
            print(f"  {path}")
