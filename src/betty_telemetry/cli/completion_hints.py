"""What shell completion offers for an option's values, where argparse's ``choices`` cannot
say it: ``--status failure,error`` takes a comma list, which ``choices`` would refuse.

shtab (the generator of the committed completion scripts, a development tool only) reads an
action's ``complete`` attribute: the shell code that lists the values, one entry per shell.
Setting the attribute changes nothing in parsing, messages or help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from betty_telemetry.model.entry import VALID_STATUSES
from betty_telemetry.model.filters import LEGACY_STATUSES

if TYPE_CHECKING:
    import argparse

_STATUSES = " ".join(VALID_STATUSES + LEGACY_STATUSES)
_BASH_FUNCTION = "_shtab_betty_telemetry_statuses"
# bash completes after the last comma (failure,e -> failure,error), as the option takes a
# comma list; COMP_WORDBREAKS has no comma, so the whole list is the word being completed.
_BASH_PREAMBLE = f"""
# $1: the word being completed, a comma list of statuses
{_BASH_FUNCTION}() {{
  local head=""
  [[ "$1" == *,* ]] && head="${{1%,*}},"
  compgen -W "{_STATUSES}" -P "$head" -- "${{1##*,}}"
}}
"""
STATUS_COMPLETION = {
    "bash": _BASH_FUNCTION,
    "zsh": f"({_STATUSES})",
    "fish": _STATUSES,
    "preamble": {"bash": _BASH_PREAMBLE},
}


def completes_statuses(action: argparse.Action) -> None:
    """Have shell completion offer the statuses (and the original framework's ``failed``)
    as values of ``action``."""
    action.complete = STATUS_COMPLETION  # type: ignore[attr-defined]
