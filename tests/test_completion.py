"""Shell completion: the committed scripts are what shtab makes of the parser now, a real bash
completes commands and ``--status`` values with them, the zsh and fish scripts parse, and
``betty-telemetry completion SHELL`` prints them.

bash runs as a real process (``bash --norc``) with the script sourced (after bash-completion's
framework where the machine has it), and the function the script registered with ``complete``
called with ``COMP_WORDS``/``COMP_CWORD`` set as bash sets them on Tab.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from betty_telemetry.cli import completion_command, main
from betty_telemetry.cli.completion_command import SHELLS, script_path
from betty_telemetry.cli.main import main as cli_main
from betty_telemetry.model.entry import VALID_STATUSES
from tests.conftest import REPO

BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")
ALL_STATUSES = [*VALID_STATUSES, "failed"]
# Sources the script, finds the function it registered for betty-telemetry, and calls it on
# the words of $LINE (a trailing space: a new, empty word), printing COMPREPLY one per line.
BASH_DRIVER = """\
[[ -f "$FRAMEWORK" ]] && source "$FRAMEWORK"
source "$SCRIPT" || exit 3
spec=$(complete -p betty-telemetry) || exit 4
function=${spec#*-F }; function=${function%% *}
read -ra COMP_WORDS <<<"$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$LINE; COMP_POINT=${#LINE}
"$function" betty-telemetry "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def tool() -> ModuleType:
    """tools/completions.py, the generator (a development script, not in the package)."""
    spec = importlib.util.spec_from_file_location(
        "completions_tool", REPO / "tools" / "completions.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def complete_in_bash(line: str, script: Path | None = None) -> list[str]:
    """What a real bash offers on Tab at the end of ``line``."""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", BASH_DRIVER],
        env={
            "PATH": "/usr/bin:/bin",
            "FRAMEWORK": str(BASH_COMPLETION),
            "SCRIPT": str(script or script_path("bash")),
            "LINE": line,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


def commands_with_status() -> list[str]:
    parser = main.full_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    return [
        name
        for name, sub in commands.choices.items()  # type: ignore[union-attr]
        if any("--status" in action.option_strings for action in sub._actions)
    ]


# -- the committed scripts are the generator's output ---------------------------------------


def test_the_committed_scripts_are_what_the_parser_gives_now() -> None:
    stale = tool().stale()
    assert stale == [], f"{stale}: the parser changed; run `make completions` and commit them"


def test_a_new_command_changes_the_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = tool()
    before = {shell: generator.generate(shell) for shell in SHELLS}
    monkeypatch.setitem(main.COMMANDS, "frobnicate", "tests.test_completion:add_frobnicate")
    for shell in SHELLS:
        after = generator.generate(shell)
        assert after != before[shell]
        assert "frobnicate" in after
    assert generator.stale() == [str(script_path(shell)) for shell in SHELLS]


def add_frobnicate(commands: Any) -> None:
    """A command the committed scripts do not know."""
    commands.add_parser("frobnicate", help="a command added without regenerating")


def test_the_check_names_the_stale_script_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generator = tool()
    monkeypatch.setattr(completion_command, "SCRIPTS", tmp_path)
    assert generator.main([]) == 0  # writes the three scripts into tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "betty-telemetry.bash",
        "betty-telemetry.fish",
        "betty-telemetry.zsh",
    ]
    assert generator.main(["--check"]) == 0
    fish = tmp_path / "betty-telemetry.fish"
    fish.write_text(fish.read_text() + "# edited by hand\n")
    (tmp_path / "betty-telemetry.zsh").unlink()
    capsys.readouterr()
    assert generator.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{fish} is not what the parser gives now: run `make completions`" in err
    assert "betty-telemetry.zsh is not what" in err
    assert "betty-telemetry.bash" not in err
    assert generator.main(["--bogus"]) == 2


def test_the_scripts_say_they_are_generated_and_zsh_keeps_its_compdef_line() -> None:
    for shell in SHELLS:
        lines = script_path(shell).read_text().splitlines()
        assert "do not edit" in lines[1]
    assert script_path("zsh").read_text().startswith("#compdef betty-telemetry\n")


# -- a real bash completes with the script --------------------------------------------------


def test_bash_completes_a_command() -> None:
    assert complete_in_bash("betty-telemetry sta") == ["stats"]
    assert complete_in_bash("betty-telemetry comp") == ["completion"]


def test_bash_completes_an_option() -> None:
    assert complete_in_bash("betty-telemetry query --sta") == ["--status"]


@pytest.mark.parametrize("command", commands_with_status())
def test_bash_completes_status_values(command: str) -> None:
    assert complete_in_bash(f"betty-telemetry {command} --status f") == ["failure", "failed"]


def test_bash_offers_every_status_for_an_empty_value() -> None:
    assert complete_in_bash("betty-telemetry query --status ") == ALL_STATUSES


def test_bash_completes_after_the_last_comma_of_a_status_list() -> None:
    assert complete_in_bash("betty-telemetry stats --status failure,ti") == ["failure,timeout"]
    assert complete_in_bash("betty-telemetry tail --status success,error,p") == [
        "success,error,pending"
    ]


def test_bash_offers_nothing_for_a_status_no_status_starts_with() -> None:
    assert complete_in_bash("betty-telemetry query --status zz") == []


def test_bash_completes_the_values_argparse_knows_as_choices() -> None:
    assert complete_in_bash("betty-telemetry stats --by d") == ["day"]
    assert complete_in_bash("betty-telemetry query --color a") == ["auto", "always"]


def test_bash_completes_the_shell_of_the_completion_command() -> None:
    assert complete_in_bash("betty-telemetry completion ") == list(SHELLS)


def test_the_bash_driver_sees_a_broken_script_fail(tmp_path: Path) -> None:
    """The harness itself: a script that registers nothing is an error, not silence."""
    empty = tmp_path / "empty.bash"
    empty.write_text("true\n")
    with pytest.raises(AssertionError, match="no completion specification"):
        complete_in_bash("betty-telemetry sta", empty)


# -- zsh and fish: the scripts parse --------------------------------------------------------


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_the_script_parses(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed: its script's syntax is not checked here")
    done = subprocess.run(
        [shell, "-n", str(script_path(shell))], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# -- betty-telemetry completion SHELL -------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_the_command_prints_the_script(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["completion", shell]) == 0
    assert capsys.readouterr().out == script_path(shell).read_text()


def test_the_command_as_a_real_process_prints_the_bash_script() -> None:
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "betty-telemetry"), "completion", "bash"],
        capture_output=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == script_path("bash").read_bytes()


@pytest.mark.parametrize("args", [["completion", "tcsh"], ["completion"], ["completion", "BASH"]])
def test_a_bad_or_missing_shell_is_a_usage_error_listing_the_shells(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: betty-telemetry completion [-h] {bash,zsh,fish}\n")
    if len(args) == 2:
        assert f"invalid choice: '{args[1]}'" in err
        assert all(shell in err.split("choose from", 1)[1] for shell in SHELLS)


def test_the_help_says_how_to_install_each_script(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["completion", "--help"])
    out = capsys.readouterr().out
    assert "~/.local/share/bash-completion/completions/betty-telemetry" in out
    assert "~/.zfunc/_betty-telemetry" in out
    assert "~/.config/fish/completions/betty-telemetry.fish" in out


def test_the_top_help_lists_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    assert "completion" in capsys.readouterr().out


def test_status_completion_leaves_comma_lists_to_argparse() -> None:
    """The hint is shtab's attribute, not argparse choices: `--status failure,error` parses."""
    options = main.full_parser().parse_args(["query", "--status", "failure,error"])
    assert options.status == ["failure,error"]
