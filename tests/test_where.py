"""``betty-telemetry where``: the file and its rule first (as scripts read them), then every
setting, its source and its value, as a table or as JSON; unusable settings exit 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

from betty_telemetry._config import forget_settings_files
from betty_telemetry.settings import SETTINGS
from tests.conftest import CliHere

FILE_TABLE = (
    "[tool.betty-telemetry]\n"
    'file = "var/telemetry.jsonl"\n'
    "lock_timeout = 2.5\n"
    "fsync = true\n"
    'max_bytes = "1MB"\n'
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    forget_settings_files()
    return path


def table(stdout: str) -> dict[str, tuple[str, str]]:
    """The settings table's rows: key -> (FROM, VALUE)."""
    rows = stdout.partition("\n\n")[2].splitlines()[2:]
    cells = {}
    for row in rows:
        key, source, value = re.split(r" {2,}", row, maxsplit=2)
        cells[key] = (source, value)
    return cells


def test_where_prints_the_file_its_rule_then_every_setting_with_its_source(
    cli_here: CliHere, tmp_path: Path
) -> None:
    settings = write(tmp_path / "pyproject.toml", FILE_TABLE)
    (tmp_path / "src").mkdir()
    result = cli_here(
        "where",
        cwd=tmp_path / "src",
        env={"BETTY_TELEMETRY_PENDING": "1", "BETTY_TELEMETRY_MAX_BYTES": "2048"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        str(tmp_path / "var" / "telemetry.jsonl"),
        f"chosen by: file in {settings} [tool.betty-telemetry]",
        "",
        f"settings file: {settings} [tool.betty-telemetry]",
        "SETTING       FROM                        VALUE",
        f"file          settings file               {tmp_path / 'var' / 'telemetry.jsonl'}",
        "home          default                     -",
        "lock_timeout  settings file               2.5",
        "mode          default                     direct",
        "fsync         settings file               true",
        "max_bytes     $BETTY_TELEMETRY_MAX_BYTES  2048",
        "max_entries   default                     -",
        "pending       $BETTY_TELEMETRY_PENDING    true",
        "export        default                     none",
        "hook_outputs  default                     false",
        "hook_prompts  default                     false",
    ]


def test_where_names_the_argument_and_the_default(cli_here: CliHere, tmp_path: Path) -> None:
    result = cli_here("where", "--file", "x.json")
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        str(tmp_path / "x.json"),
        "chosen by: --file option",
        "",
        "settings file: none (from here up to /)",
    ]
    assert lines[5].split() == ["file", "--file", str(tmp_path / "x.json")]
    assert lines[7].split() == ["lock_timeout", "default", "10"]


def test_where_json_gives_each_settings_value_source_and_origin(
    cli_here: CliHere, tmp_path: Path
) -> None:
    settings = write(tmp_path / "betty-telemetry.toml", 'mode = "background"\nmax_entries = 9\n')
    result = cli_here("where", "--json", env={"BETTY_TELEMETRY_LOCK_TIMEOUT": "3"})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["path"] == str(tmp_path / "registry" / "telemetry.json")
    assert shown["chosen_by"] == "default ./registry/telemetry.json"
    assert shown["settings_file"] == str(settings)
    assert shown["ignored"] == {}
    assert list(shown["settings"]) == [setting.key for setting in SETTINGS]
    assert shown["settings"]["mode"] == {
        "value": "background",
        "source": "settings file",
        "origin": f"mode in {settings}",
        "env": "BETTY_TELEMETRY_MODE",
        "error": None,
    }
    assert shown["settings"]["max_entries"]["value"] == 9
    assert shown["settings"]["lock_timeout"] == {
        "value": 3.0,
        "source": "environment",
        "origin": "$BETTY_TELEMETRY_LOCK_TIMEOUT",
        "env": "BETTY_TELEMETRY_LOCK_TIMEOUT",
        "error": None,
    }
    assert shown["settings"]["fsync"]["source"] == "default"


def test_where_shows_a_bad_value_in_its_row_and_exits_1_saying_why(
    cli_here: CliHere, tmp_path: Path
) -> None:
    settings = write(
        tmp_path / "pyproject.toml", '[tool.betty-telemetry]\nlock_timeout = "soon"\nfsync = 1\n'
    )
    result = cli_here("where")
    assert result.returncode == 1
    rows = table(result.stdout)
    assert rows["lock_timeout"] == ("settings file", "soon  (unusable: see below)")
    assert rows["fsync"] == ("settings file", "1  (unusable: see below)")
    assert rows["mode"] == ("default", "direct")
    where = f"{settings} [tool.betty-telemetry]"
    assert result.stderr.splitlines() == [
        f"Error: lock_timeout in {where} must be a number of seconds >= 0, written without "
        "quotes (lock_timeout = 2.5), got the string 'soon'",
        f"Error: fsync in {where} must be true or false, got 1",
    ]
    shown = json.loads(cli_here("where", "--json").stdout)
    assert shown["settings"]["fsync"]["value"] == 1
    assert shown["settings"]["fsync"]["error"].startswith("fsync in ")


def test_where_refuses_a_file_that_is_not_toml_with_exit_1_and_nothing_on_stdout(
    cli_here: CliHere, tmp_path: Path
) -> None:
    settings = write(tmp_path / "betty-telemetry.toml", "file = \n")
    result = cli_here("where")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {settings} is not valid TOML (")
    assert result.stderr.count("\n") == 1  # said once, not once per setting


def test_where_lists_an_unknown_key_as_ignored_and_warns_of_it(
    cli_here: CliHere, tmp_path: Path
) -> None:
    write(tmp_path / "betty-telemetry.toml", "lock-timeout = 3\n")
    result = cli_here("where")
    assert result.returncode == 0
    rows = table(result.stdout)
    assert rows["lock-timeout"] == (
        "settings file",
        "3  (ignored: not a setting, see the warning)",
    )
    assert rows["lock_timeout"] == ("default", "10")
    assert "Did you mean 'lock_timeout'?" in result.stderr
    ignored = json.loads(cli_here("where", "--json").stdout)["ignored"]
    assert list(ignored) == ["lock-timeout"]


def test_where_names_the_variable_that_chose_the_file(cli_here: CliHere, tmp_path: Path) -> None:
    result = cli_here("where", env={"BETTY_TELEMETRY_FILE": "e.json"})
    assert table(result.stdout)["file"] == ("$BETTY_TELEMETRY_FILE", str(tmp_path / "e.json"))
    result = cli_here("where", env={"BETTY_HOME": "betty"})
    assert table(result.stdout)["file"] == (
        "$BETTY_HOME",
        str(tmp_path / "betty" / "registry" / "telemetry.json"),
    )
    assert table(result.stdout)["home"] == ("$BETTY_HOME", str(tmp_path / "betty"))


def test_where_with_file_still_shows_the_settings_a_broken_file_leaves_unusable(
    cli_here: CliHere, tmp_path: Path
) -> None:
    settings = write(tmp_path / "betty-telemetry.toml", "file = \n")
    result = cli_here("where", "--file", "x.json")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [str(tmp_path / "x.json"), "chosen by: --file option"]
    assert lines[2].startswith(f"live export: {settings} is not valid TOML (")
    assert lines[3:5] == ["", "settings file: unusable (see the error below)"]
    assert table(result.stdout)["lock_timeout"] == ("settings file", "-  (unusable: see below)")
    [error] = result.stderr.splitlines()
    assert error.startswith(f"Error: {settings} is not valid TOML (")
    shown = json.loads(cli_here("where", "--file", "x.json", "--json").stdout)
    assert shown["settings_file"] is None
    assert shown["settings"]["file"]["error"] is None
    assert shown["settings"]["mode"]["error"].startswith(f"{settings} is not valid TOML (")


def test_where_says_which_file_turned_live_export_on(cli_here: CliHere, tmp_path: Path) -> None:
    settings = write(tmp_path / "betty-telemetry.toml", 'export = "otlp"\n')
    lines = cli_here("where").stdout.splitlines()
    assert lines[2].startswith(f"live export: on (export in {settings}), sends to ")
    assert table(cli_here("where").stdout)["export"] == ("settings file", "otlp")


def test_where_says_an_unreadable_export_state_and_still_shows_the_rest(
    cli_here: CliHere, tmp_path: Path
) -> None:
    # A folder where the state file belongs: unreadable even to root (EISDIR).
    (tmp_path / "x.json.otlp.json").mkdir()
    result = cli_here("where", "--file", "x.json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        str(tmp_path / "x.json"),
        "chosen by: --file option",
        f"export state: cannot read {tmp_path / 'x.json.otlp.json'} (Is a directory)",
    ]
    assert "settings file: none (from here up to /)" in lines
