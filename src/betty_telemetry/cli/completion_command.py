"""``betty-telemetry completion SHELL``: print the completion script for bash, zsh or fish.

The scripts are generated from this command line's own parser by shtab (``make
completions``, a development step) and ship in the package as they are: the command only
prints one, so completion needs nothing installed beyond betty-telemetry, and a test fails
when the parser changes and the scripts were not generated again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from betty_telemetry.cli.subcommands import EXIT_OK, subcommand

SHELLS = ("bash", "zsh", "fish")
SCRIPTS = Path(__file__).with_name("completions")
"""The folder of the generated scripts: ``betty-telemetry.bash``, ``.zsh``, ``.fish``."""

COMPLETION_EXAMPLES = """\
install (new shells then complete commands, options and --status values):
  bash (with the bash-completion package, which loads it when first needed):
    mkdir -p ~/.local/share/bash-completion/completions
    betty-telemetry completion bash > ~/.local/share/bash-completion/completions/betty-telemetry
  bash, without it: in ~/.bashrc
    source <(betty-telemetry completion bash)
  zsh (a folder of your fpath; before compinit in ~/.zshrc: fpath=(~/.zfunc $fpath)):
    mkdir -p ~/.zfunc
    betty-telemetry completion zsh > ~/.zfunc/_betty-telemetry
  fish:
    betty-telemetry completion fish > ~/.config/fish/completions/betty-telemetry.fish
"""


def script_path(shell: str) -> Path:
    """Where the package keeps the completion script for ``shell``."""
    return SCRIPTS / f"betty-telemetry.{shell}"


def add_completion_command(commands: Any) -> None:
    summary = "print the shell completion script for bash, zsh or fish"
    completion = subcommand(commands, "completion", summary, COMPLETION_EXAMPLES)
    completion.add_argument("shell", choices=SHELLS, help="the shell: bash, zsh or fish")
    completion.set_defaults(handler=_completion_command)


def _completion_command(options: Any) -> int:
    sys.stdout.write(script_path(options.shell).read_text(encoding="utf-8"))
    return EXIT_OK
