"""The commands that look after a store's health: ``check``, ``repair`` and ``schema``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from betty_telemetry._config import IN_MEMORY, resolve_lock_timeout, resolve_telemetry_path
from betty_telemetry.cli.progress import Progress, wanted
from betty_telemetry.cli.subcommands import FILE_HELP, subcommand
from betty_telemetry.lifecycle.checking import check, exit_code, repair
from betty_telemetry.model.schema import schema_text
from betty_telemetry.stores import CheckReport, Finding, RepairReport

CHECK_EXAMPLES = """\
examples:
  betty-telemetry check
  betty-telemetry check --file registry/telemetry.jsonl --json
  betty-telemetry check --file registry/telemetry.json.20261206T201300.123456Z.json.gz

Reads the whole store (writers go on meanwhile) and lists each problem with its line (a row
id for SQLite): a torn tail, a missing ']', damaged lines, separators out of place, entries
the schema rejects. Entries in the original framework's shapes are listed as legacy: notes,
not problems. Exit status: 0 clean, 1 problems.
"""

REPAIR_EXAMPLES = """\
examples:
  betty-telemetry repair
  betty-telemetry repair --file registry/telemetry.json --json

Fixes a torn tail, a missing ']', separators out of place, and moves damaged lines aside
into FILE.damaged-STAMP, after a backup of the file as it was (FILE.bak-STAMP), under the
store's lock, atomically: every complete entry is kept, other processes may go on writing.
Entries the schema rejects are kept as they are. A SQLite database is not repaired in place.
Exit status: 0 nothing left to fix, 1 problems remain.
"""

SCHEMA_EXAMPLES = """\
examples:
  betty-telemetry schema > entry.schema.json
  betty-telemetry query --all --jsonl | check-jsonschema --schemafile entry.schema.json -

The JSON Schema (draft 2020-12) of an entry as the library writes it; $defs/legacy_entry
also accepts the shapes the original framework wrote.
"""


def add_check_commands(commands: Any) -> None:
    """Add ``check``, ``repair`` and ``schema`` to the CLI's subcommands."""
    for name, summary, examples, handler in (
        ("check", "validate a store: damage, torn writes, schema", CHECK_EXAMPLES, _check),
        ("repair", "fix what can be fixed in a store, after a backup", REPAIR_EXAMPLES, _repair),
    ):
        parser = subcommand(commands, name, summary, examples)
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--file", metavar="PATH", help=FILE_HELP)
        parser.set_defaults(handler=handler)
    schema = subcommand(commands, "schema", "print the JSON Schema of an entry", SCHEMA_EXAMPLES)
    schema.set_defaults(handler=_schema)


def _path(options: argparse.Namespace) -> str:
    resolved = resolve_telemetry_path(options.file)
    if resolved.path == IN_MEMORY:
        return resolved.path  # refused by the check, saying why
    try:
        os.stat(resolved.path)
    except FileNotFoundError:
        rule = "--file" if options.file is not None else resolved.rule
        raise ValueError(
            f"no telemetry file at {resolved.path} (chosen by {rule}): nothing was captured "
            "there yet. Pass --file PATH or set BETTY_TELEMETRY_FILE"
        ) from None
    except OSError:
        pass  # a folder on the way that may not be entered: the check's error says so
    return resolved.path


def _check(options: argparse.Namespace) -> int:
    with Progress("check", enabled=wanted(machine_output=options.json)):
        report = check(_path(options), lock_timeout=resolve_lock_timeout(None))
    if options.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_check(report)
    return exit_code(report)


def _repair(options: argparse.Namespace) -> int:
    with Progress("repair", enabled=wanted(machine_output=options.json)):
        report = repair(_path(options), lock_timeout=resolve_lock_timeout(None))
    if options.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_repair(report)
    return exit_code(report)


def _schema(options: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return 0


def _print_check(report: CheckReport) -> None:
    legacy = f" ({report.legacy_entries:,} legacy)" if report.legacy_entries else ""
    if report.clean:
        verdict = "no problem"
    else:
        fixable = sum(problem.repairable for problem in report.problems)
        count = report.problem_count
        verdict = f"{count:,} problem{'s' if count != 1 else ''}"
        if fixable:
            verdict += f", {fixable:,} that `betty-telemetry repair` fixes"
    entries = f"{report.entries:,} entr{'ies' if report.entries != 1 else 'y'}"
    print(f"{report.path}: {report.store}, {entries}{legacy}: {verdict}")
    for problem in report.problems:
        print(f"  {_finding(problem, report.unit)}")
    if report.problem_count > len(report.problems):
        more = report.problem_count - len(report.problems)
        print(f"  ... and {more:,} more (the first {len(report.problems):,} are listed)")
    if report.legacy:
        print(
            "Legacy entries, as the original framework wrote them (read as they are; "
            "notes, not problems):"
        )
        for note in report.legacy:
            where = f", the first at {report.unit} {note.first}" if note.first else ""
            print(f"  {note.entries:,} with {note.deviation}{where}")


def _print_repair(report: RepairReport) -> None:
    print(report.message)
    for problem in report.fixed:
        print(f"  fixed: {_finding(problem, report.unit)}")
    if report.backup is not None:
        print(f"  the file as it was: {report.backup}")
    if report.side_file is not None:
        print(f"  the damaged bytes, as they were: {report.side_file}")
    if report.remaining:
        where = ", at their lines in the repaired file" if report.repaired else ""
        print(f"Not repaired (entries are never changed or dropped{where}):")
        for problem in report.remaining:
            print(f"  {_finding(problem, report.unit)}")


def _finding(problem: Finding, unit: str) -> str:
    where = problem.where(unit)
    return (
        f"{where}: {problem.kind}: {problem.message}"
        if where
        else f"{problem.kind}: {problem.message}"
    )
