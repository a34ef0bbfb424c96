"""``betty-telemetry doctor``: where the telemetry goes, what it holds, and whether anything
was lost, at a glance (or as JSON, for a monitoring script)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from betty_telemetry._config import resolve_rotation_limits
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.cli.progress import Progress, wanted
from betty_telemetry.cli.subcommands import subcommand
from betty_telemetry.read.health import Health, health
from betty_telemetry.stores import RotatingStore, describe_store, with_archives

DOCTOR_EXAMPLES = """\
examples:
  betty-telemetry doctor
  betty-telemetry doctor --archives              # count the archives' entries too
  betty-telemetry doctor --archives --json | jq .self

Reads every entry once (and, with --archives, every archive): a few seconds for a
million entries.
"""


def add_doctor_command(commands: Any) -> None:
    summary = "where the telemetry goes, what it holds, and whether anything was lost"
    doctor = subcommand(commands, "doctor", summary, DOCTOR_EXAMPLES)
    doctor.add_argument("--archives", action="store_true", help="count the archives' entries too")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--file", metavar="PATH", help="telemetry file (default: as `where`)")
    doctor.set_defaults(handler=_doctor_command, parser=doctor)


def _doctor_command(options: argparse.Namespace) -> int:
    telemetry = TelemetryCapture(telemetry_file=options.file)
    try:
        with Progress("doctor", enabled=wanted(machine_output=options.json)):
            report = doctor_report(telemetry, archives=options.archives, explicit=options.file)
    finally:
        telemetry.close()
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 0


def doctor_report(
    telemetry: TelemetryCapture, *, archives: bool, explicit: str | None = None
) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints)."""
    store = telemetry.store
    path = str(telemetry.telemetry_file)
    exists = os.path.lexists(path)
    found = health(with_archives(store) if archives else store) if exists else Health()
    max_bytes, max_entries = resolve_rotation_limits()
    return {
        "file": path,
        "chosen_by": "--file option" if explicit is not None else telemetry.path_rule,
        "store": describe_store(store),
        "exists": exists,
        "size_bytes": store.size() if exists and isinstance(store, RotatingStore) else None,
        "entries": found.entries,
        "counted_archives": archives,
        "legacy_entries": found.legacy,
        "statuses": dict(found.statuses.most_common()),
        "oldest": found.oldest,
        "newest": found.newest,
        "archives": _archives(store),
        "settings": {
            "max_bytes": max_bytes,
            "max_entries": max_entries,
            "lock_timeout_s": telemetry.lock_timeout,
            "durability": telemetry.durability,
        },
        "self": {
            "dropped_entries": found.dropped,
            "drop_reports": found.drop_reports,
            "redacted_values": found.redacted_values,
            "redacted_entries": found.redacted_entries,
            "truncated_entries": found.truncated_entries,
        },
    }


def _archives(store: object) -> dict[str, Any]:
    listed = store.archives() if isinstance(store, RotatingStore) else []
    sizes = []
    for archive in listed:
        try:
            sizes.append(os.stat(archive.path).st_size)
        except FileNotFoundError:  # removed since it was listed
            sizes.append(0)
    return {
        "count": len(listed),
        "bytes": sum(sizes),
        "newest_rotation": listed[0].rotated_at.isoformat() if listed else None,
        "oldest_rotation": listed[-1].rotated_at.isoformat() if listed else None,
        "unfinished": sum(not archive.compressed for archive in listed),
    }


def render(report: dict[str, Any]) -> str:
    """The report for people: one fact per line, the verdict last."""
    archives, settings, own = report["archives"], report["settings"], report["self"]
    lines = [
        f"file          {report['file']}",
        f"chosen by     {report['chosen_by']}",
        f"store         {report['store']}"
        + ("" if report["exists"] else " (not created yet: nothing captured there)"),
    ]
    if report["size_bytes"] is not None:
        lines.append(f"data size     {_size(report['size_bytes'])}")
    scope = " (with the archives)" if report["counted_archives"] else ""
    lines.append(
        f"entries       {report['entries']:,}{scope}"
        + (f", {report['legacy_entries']:,} in a legacy shape" if report["legacy_entries"] else "")
    )
    if report["statuses"]:
        lines.append(
            "statuses      " + ", ".join(f"{k} {v:,}" for k, v in report["statuses"].items())
        )
    if report["oldest"] is not None:
        lines.append(f"time span     {report['oldest']} to {report['newest']} (UTC)")
    lines.append(_archives_line(archives))
    lines.append(
        "rotation      "
        + (
            f"max_bytes {_size(settings['max_bytes']) if settings['max_bytes'] else 'off'}, "
            f"max_entries {settings['max_entries'] or 'off'}"
        )
    )
    durability = settings["durability"] or "the store's own"
    lines.append(
        f"writes        lock timeout {settings['lock_timeout_s']:g} s, durability {durability}"
    )
    lines.append(
        f"redactions    {own['redacted_values']:,} values in {own['redacted_entries']:,} entries"
    )
    lines.append(f"truncations   {own['truncated_entries']:,} entries with values cut")
    lines.append(_verdict(own))
    return "\n".join(lines)


def _archives_line(archives: dict[str, Any]) -> str:
    if not archives["count"]:
        return "archives      none"
    line = (
        f"archives      {archives['count']:,}, {_size(archives['bytes'])}, rotated "
        f"{archives['oldest_rotation']} to {archives['newest_rotation']}"
    )
    if archives["unfinished"]:
        line += f"; {archives['unfinished']} not compressed yet (the next rotation finishes them)"
    return line


def _verdict(own: dict[str, Any]) -> str:
    if not own["dropped_entries"]:
        return "lost          nothing: no entry was dropped"
    return (
        f"lost          {own['dropped_entries']:,} entries dropped by background writers "
        f"({own['drop_reports']:,} reports): betty-telemetry query --skill betty_telemetry.dropped"
    )


def _size(value: int) -> str:
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{value:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
