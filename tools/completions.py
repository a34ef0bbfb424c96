"""Generate betty-telemetry's shell completion scripts from its parser, with shtab.

    python tools/completions.py           # write src/betty_telemetry/cli/completions/*
    python tools/completions.py --check   # exit 1 if they are not what the parser gives

``make completions`` runs the first. The scripts are committed and ship in the package:
shtab is a development tool (the ``dev`` extra), never needed where betty-telemetry runs.
"""

from __future__ import annotations

import sys

import shtab

from betty_telemetry.cli.completion_command import SHELLS, script_path
from betty_telemetry.cli.main import full_parser

NOTE = "# Generated from betty-telemetry's parser by `make completions` (shtab): do not edit.\n"


def generate(shell: str) -> str:
    """The completion script for ``shell``, as the parser gives it now."""
    first, rest = shtab.complete(full_parser(), shell=shell).split("\n", 1)
    # After the first line: zsh reads a completion function's first line (#compdef).
    return f"{first}\n{NOTE}{rest.rstrip()}\n"


def stale() -> list[str]:
    """The committed scripts that differ from what the parser gives now."""
    return [
        str(script_path(shell))
        for shell in SHELLS
        if not script_path(shell).is_file()
        or script_path(shell).read_text(encoding="utf-8") != generate(shell)
    ]


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        wrong = stale()
        for path in wrong:
            print(
                f"{path} is not what the parser gives now: run `make completions`", file=sys.stderr
            )
        return 1 if wrong else 0
    if argv:
        print("usage: python tools/completions.py [--check]", file=sys.stderr)
        return 2
    for shell in SHELLS:
        script_path(shell).write_text(generate(shell), encoding="utf-8")
        print(f"wrote {script_path(shell)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
