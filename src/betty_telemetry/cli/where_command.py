"""``where``: the telemetry file a command would use and the rule that chose it, then every
setting as it applies here, with where it came from (argument, environment, settings file,
default), as a table or as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from betty_telemetry._config import Effective, effective_settings, settings_file
from betty_telemetry.cli.render import Cell, Style, column_widths, render_row
from betty_telemetry.cli.subcommands import EXIT_ERROR, EXIT_OK, FILE_HELP, subcommand
from betty_telemetry.settings import BY_KEY, SettingsFile, unknown_key_message

if TYPE_CHECKING:
    import argparse

WHERE_EXAMPLES = """\
examples:
  betty-telemetry where                       # the file, then every setting and its source
  betty-telemetry where | head -1             # the file's path alone
  betty-telemetry where --json | jq .settings.lock_timeout

Settings come from the first of: an argument (--file), the environment (BETTY_*), the
settings file ([tool.betty-telemetry] in the nearest pyproject.toml, or betty-telemetry.toml,
from the working directory upwards), the default.
"""


def add_where_command(commands: Any) -> None:
    """Add ``where`` to the CLI's subcommands."""
    where = subcommand(
        commands, "where", "print the telemetry file, every setting and its source", WHERE_EXAMPLES
    )
    where.add_argument("--file", metavar="PATH", help=FILE_HELP)
    where.add_argument("--json", action="store_true", help="print it all as one JSON object")
    where.set_defaults(handler=where_command)


def where_command(options: argparse.Namespace) -> int:
    """Print the file and its rule (the first two lines, as before settings files existed),
    what ``export`` left behind, then the settings table. Exit 1 if a setting is unusable."""
    from betty_telemetry.cli.export_command import export_status

    settings = effective_settings(options.file)
    path = settings[0]
    if path.error is not None:  # no file to name: the error says why
        _print_errors(settings)
        return EXIT_ERROR
    found = _found()
    if options.json:
        print(json.dumps(_as_json(settings, found), indent=2))
    else:
        print(path.value)
        print(f"chosen by: {'--file option' if options.file is not None else path.origin}")
        for line in export_status(str(path.value)):
            print(line)
        print()
        print(f"settings file: {_found_text(found)}")
        _print_table(settings, found)
    return _print_errors(settings)


def _found() -> SettingsFile | str | None:
    """The settings file here, None, or "unusable" (its error is every setting's error)."""
    try:
        return settings_file()
    except ValueError:
        return "unusable"


def _found_text(found: SettingsFile | str | None) -> str:
    if isinstance(found, SettingsFile):
        return found.where
    return "unusable (see the error below)" if found else "none (from here up to /)"


def _ignored(found: SettingsFile | str | None) -> dict[str, Any]:
    """The keys of the settings file that name no setting, and their values."""
    if not isinstance(found, SettingsFile):
        return {}
    return {key: value for key, value in found.values.items() if key not in BY_KEY}


def _print_table(settings: list[Effective], found: SettingsFile | str | None) -> None:
    texts = [("SETTING", "FROM", "VALUE")]
    texts += [(item.key, _from(item), _shown(item)) for item in settings]
    texts += [
        (key, "settings file", f"{_text(value)}  (ignored: not a setting, see the warning)")
        for key, value in _ignored(found).items()
    ]
    rows = [[Cell(text) for text in row] for row in texts]
    widths = column_widths(rows)
    for row in rows:
        # The value last, and no width: a long path runs on whole, the columns before it
        # stay aligned.
        print(render_row(row, widths, Style()))


def _from(item: Effective) -> str:
    """The source, short: the variable's name, ``settings file`` (named above the table),
    ``--file``, ``Betty checkout`` or ``default``."""
    if item.source == "environment":
        return item.origin.removesuffix("/registry")  # $BETTY_HOME/registry: the variable
    return "--file" if item.source == "argument" else item.source


def _shown(item: Effective) -> str:
    if item.error is not None:
        return f"{_text(item.value)}  (unusable: see below)"
    return _text(item.value)


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _as_json(settings: list[Effective], found: SettingsFile | str | None) -> dict[str, Any]:
    where = found.where if isinstance(found, SettingsFile) else None
    return {
        "path": settings[0].value,
        "chosen_by": settings[0].origin,
        "settings_file": found.path if isinstance(found, SettingsFile) else None,
        "ignored": {key: unknown_key_message(key, str(where)) for key in _ignored(found)},
        "settings": {
            item.key: {
                "value": item.value,
                "source": item.source,
                "origin": item.origin,
                "env": BY_KEY[item.key].env,
                "error": item.error,
            }
            for item in settings
        },
    }


def _print_errors(settings: list[Effective]) -> int:
    errors = list(dict.fromkeys(item.error for item in settings if item.error is not None))
    for error in errors:
        print(f"Error: {error}", file=sys.stderr)
    return EXIT_ERROR if errors else EXIT_OK
