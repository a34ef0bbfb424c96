"""How a subcommand of the CLI is declared, the same way for every one of them: its one-line
summary as help and (capitalized) description, its examples kept as written; ``--file``'s
help, which most of them take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_ERROR = 0, 1
EXIT_USAGE = 2  # as argparse exits on a usage error
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C


class CliError(Exception):
    """A bad value on the command line: printed as ``Error: ...``, exit code 1."""


FILE_HELP = (
    "telemetry file (default: $BETTY_TELEMETRY_FILE, $BETTY_HOME/registry/telemetry.json, "
    "the settings file's file, ./registry/telemetry.json: see `betty-telemetry where`)"
)


def subcommand(commands: Any, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` to ``commands`` (argparse's subparsers); its parser knows
    itself as ``options.parser``, so usage errors are reported against it."""
    import argparse  # here: a plain capture never builds a parser (see cli.main)

    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(parser=parser)
    return parser
