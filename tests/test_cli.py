"""The command line: the spec's positional form, options and errors.

The spec's Example 1 runs as a real process in each of the four spellings of the capture
command; the other tests run the CLI's ``main`` (or the skill script's) in this process, as
what they check, output, exit code and file, does not depend on the process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, __version__
from betty_telemetry.cli.main import main as cli_main
from tests.conftest import (
    FIXTURE,
    REPO,
    SKILL_DIR,
    SPEC_FIELDS,
    CliEntry,
    CliHere,
    run_python,
)
from tests.stores import (
    JSON_ARRAY,
    copy_store,
    corrupt_bytes,
    kind_of,
    not_its_format,
    stored_entries,
    write_entries,
)

pytestmark = pytest.mark.every_store

SCRIPT = SKILL_DIR / "telemetry_capture.py"
FIELDS = SPEC_FIELDS
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
STATUS_ERROR = (
    "Error: Invalid status: invalid_status. "
    "Must be one of: success, failure, timeout, error, pending\n"
)
SEED = (
    b'[\n  {"timestamp": "2025-10-24T14:30:45.123456+00:00", "skill": "seed.skill", '
    b'"status": "success", "duration_ms": 1.0, "caller": "CLI", "inputs": {}, '
    b'"error_message": null, "metadata": {}}\n]\n'
)

# The four spellings of the capture command as processes; each is (interpreter arguments,
# working folder). None as working folder means the test's own tmp_path (the autouse fixture
# chdirs there).
FORMS: dict[str, tuple[list[str], Path | None]] = {
    "script-relative": (["skills/telemetry.capture/telemetry_capture.py"], REPO),
    "script-absolute": ([str(SCRIPT)], None),
    "capture-subcommand": (["-m", "betty_telemetry", "capture"], None),
    "bare": (["-m", "betty_telemetry"], None),
}


def load_script() -> ModuleType:
    """The skill script itself, the file in skills/ (not the copy pip installs)."""
    spec = importlib.util.spec_from_file_location("telemetry_capture_under_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The same spellings run in this process: each is (the function its process calls, the
# arguments before the user's, the working folder). Only how Python finds the script is left
# to the Example 1 tests, which start each spelling for real.
SCRIPT_MAIN: CliEntry = load_script().main
HERE: dict[str, tuple[CliEntry, list[str], Path | None]] = {
    "script-relative": (SCRIPT_MAIN, [], REPO),
    "script-absolute": (SCRIPT_MAIN, [], None),
    "capture-subcommand": (cli_main, ["capture"], None),
    "bare": (cli_main, [], None),
}
assert list(HERE) == list(FORMS)


@pytest.fixture(params=list(FORMS))
def process_form(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=list(HERE))
def form(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def run_form(
    form: str, *args: str, target: Path | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one spelling of the capture command as a process; ``target`` goes in
    BETTY_TELEMETRY_FILE."""
    prefix, cwd = FORMS[form]
    environment = dict(env or {})
    if target is not None:
        environment["BETTY_TELEMETRY_FILE"] = str(target)
    return run_python(*prefix, *args, env=environment, cwd=cwd)


def run_here(
    cli: CliHere, form: str, *args: str, target: Path | None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one spelling of the capture command in this process, as ``run_form`` does."""
    entry, prefix, cwd = HERE[form]
    environment = dict(env or {})
    if target is not None:
        environment["BETTY_TELEMETRY_FILE"] = str(target)
    return cli(*prefix, *args, env=environment, cwd=cwd, entry=entry)


def split_output(stdout: str) -> tuple[dict[str, Any], str]:
    """The printed entry and the path of the confirmation line, checking the exact layout."""
    body, separator, path_line = stdout.partition("\n\n✓ Telemetry captured to ")
    assert separator, stdout
    assert path_line.endswith("\n")
    assert path_line.count("\n") == 1
    entry: dict[str, Any] = json.loads(body)
    assert body == json.dumps(entry, indent=2)
    return entry, path_line[:-1]


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The store's entries, oldest first, the whole store checked (see ``stored_entries``)."""
    return stored_entries(path)


def seed(target: Path) -> None:
    """SEED's entry in the store at ``target``: SEED's bytes themselves in a JSON array."""
    if kind_of(target) == JSON_ARRAY:
        target.write_bytes(SEED)
    else:
        write_entries(target, json.loads(SEED))


def normalized(raw: dict[str, Any]) -> dict[str, Any]:
    """A legacy entry as query returns it: spec fields first (missing ones filled), extras after."""
    entry = {f: raw.get(f, {} if f in ("inputs", "metadata") else None) for f in FIELDS}
    entry.update((k, v) for k, v in raw.items() if k not in entry)
    return entry


# --- capture: the spec's Example 1 ---------------------------------------------------------------

EXAMPLE_1_INPUTS = '{"plugin_path": "./plugin.yaml", "output_format": "tar.gz"}'


def test_capture_prints_example_1_entry_then_blank_line_then_confirmation(
    process_form: str, tmp_path: Path, store_suffix: str
) -> None:
    """Each spelling as a real process: it starts, prints the spec's layout, exits 0, and
    leaves the printed entry in the file."""
    target = tmp_path / f"t{store_suffix}"
    result = run_form(
        process_form, "plugin.build", "success", "320", "CLI", EXAMPLE_1_INPUTS, target=target
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    entry, printed_path = split_output(result.stdout)
    assert printed_path == str(target)
    assert list(entry) == FIELDS
    assert TIMESTAMP.match(entry["timestamp"])
    assert {k: v for k, v in entry.items() if k != "timestamp"} == {
        "skill": "plugin.build",
        "status": "success",
        "duration_ms": 320.0,
        "caller": "CLI",
        "inputs": {"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
        "error_message": None,
        "metadata": {},
    }
    assert read_entries(target) == [entry]


def test_the_installed_console_script_starts_and_records_example_1(tmp_path: Path) -> None:
    """``betty-telemetry`` as pip installs it (``[project.scripts]``), started by its own
    file as a shell would: the spelling users type, as a real process."""
    script = Path(sys.executable).parent / "betty-telemetry"
    assert script.is_file(), "the package is not installed in this interpreter's environment"
    target = tmp_path / "t.json"
    result = subprocess.run(
        [str(script), "plugin.build", "success", "320", "CLI", EXAMPLE_1_INPUTS],
        capture_output=True,
        text=True,
        env={**os.environ, "BETTY_TELEMETRY_FILE": str(target)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    entry, printed_path = split_output(result.stdout)
    assert printed_path == str(target)
    assert entry["inputs"] == {"plugin_path": "./plugin.yaml", "output_format": "tar.gz"}
    assert read_entries(target) == [entry]


def test_capture_prints_duration_as_float_like_the_spec(
    cli_here: CliHere, form: str, tmp_path: Path
) -> None:
    result = run_here(
        cli_here, form, "plugin.build", "success", "320", "CLI", target=tmp_path / "t.json"
    )
    assert '\n  "duration_ms": 320.0,\n' in result.stdout
    entry, _ = split_output(result.stdout)
    assert isinstance(entry["duration_ms"], float)


def test_capture_writes_the_printed_entry_to_the_file(
    cli_here: CliHere, form: str, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    result = run_here(
        cli_here, form, "plugin.build", "success", "320", "CLI", EXAMPLE_1_INPUTS, target=target
    )
    entry, _ = split_output(result.stdout)
    stored = read_entries(target)
    assert stored == [entry]
    assert list(stored[0]) == FIELDS


def test_capture_records_error_message_given_as_sixth_positional(
    cli_here: CliHere, form: str, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    result = run_here(
        cli_here,
        form,
        "workflow.compose",
        "failure",
        "2800",
        "CLI",
        '{"workflow": "api_first"}',
        "Validation failed at step 3",
        target=target,
    )
    assert result.returncode == 0, result.stderr
    entry, _ = split_output(result.stdout)
    assert entry["status"] == "failure"
    assert entry["duration_ms"] == 2800.0
    assert entry["inputs"] == {"workflow": "api_first"}
    assert entry["error_message"] == "Validation failed at step 3"
    assert read_entries(target) == [entry]


def test_capture_without_inputs_records_empty_inputs(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    result = cli_here("plugin.build", "success", "320", "CLI", "--file", str(target))
    entry, _ = split_output(result.stdout)
    assert entry["inputs"] == {}
    assert entry["error_message"] is None
    assert entry["metadata"] == {}


def test_capture_keeps_fractional_duration(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    result = cli_here("plugin.build", "success", "320.5", "CLI", "--file", str(target))
    entry, _ = split_output(result.stdout)
    assert entry["duration_ms"] == 320.5
    assert read_entries(target)[0]["duration_ms"] == 320.5


def test_capture_appends_after_existing_entries(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    seed(target)
    result = cli_here("plugin.build", "success", "320", "CLI", "--file", str(target))
    assert result.returncode == 0, result.stderr
    entry, _ = split_output(result.stdout)
    assert [e["skill"] for e in read_entries(target)] == ["seed.skill", "plugin.build"]
    assert read_entries(target)[1] == entry


def test_metadata_option_is_recorded(
    cli_here: CliHere, form: str, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    result = run_here(
        cli_here,
        form,
        "deploy.run",
        "success",
        "90",
        "CI",
        "--metadata",
        '{"env": "prod", "run": 7}',
        target=target,
    )
    assert result.returncode == 0, result.stderr
    entry, _ = split_output(result.stdout)
    assert entry["metadata"] == {"env": "prod", "run": 7}
    assert read_entries(target)[0]["metadata"] == {"env": "prod", "run": 7}


def test_file_option_chooses_the_telemetry_file(
    cli_here: CliHere, form: str, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / "chosen" / f"file{store_suffix}"
    result = run_here(
        cli_here, form, "plugin.build", "success", "1", "CLI", "--file", str(target), target=None
    )
    assert result.returncode == 0, result.stderr
    entry, printed_path = split_output(result.stdout)
    assert printed_path == str(target)
    assert read_entries(target) == [entry]


def test_relative_file_option_is_resolved_against_the_working_folder(
    cli_here: CliHere, tmp_path: Path
) -> None:
    result = cli_here("plugin.build", "success", "1", "CLI", "--file", "rel/t.json", cwd=tmp_path)
    _, printed_path = split_output(result.stdout)
    assert printed_path == str(tmp_path / "rel" / "t.json")
    assert len(read_entries(tmp_path / "rel" / "t.json")) == 1


def test_file_option_wins_over_betty_telemetry_file(cli_here: CliHere, tmp_path: Path) -> None:
    env_file, option_file = tmp_path / "env.json", tmp_path / "option.json"
    result = cli_here(
        "plugin.build",
        "success",
        "1",
        "CLI",
        "--file",
        str(option_file),
        env={"BETTY_TELEMETRY_FILE": str(env_file)},
    )
    assert result.returncode == 0, result.stderr
    assert len(read_entries(option_file)) == 1
    assert not env_file.exists()


def test_capture_uses_betty_telemetry_file_when_file_option_absent(
    cli_here: CliHere, form: str, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / "from-env" / f"telemetry{store_suffix}"
    result = run_here(cli_here, form, "plugin.build", "success", "1", "CLI", target=target)
    assert result.returncode == 0, result.stderr
    entry, printed_path = split_output(result.stdout)
    assert printed_path == str(target)
    assert read_entries(target) == [entry]


def test_capture_uses_betty_home_registry_when_no_file_configured(
    cli_here: CliHere, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    result = cli_here("plugin.build", "success", "1", "CLI", env={"BETTY_HOME": str(home)})
    _, printed_path = split_output(result.stdout)
    assert printed_path == str(home / "registry" / "telemetry.json")
    assert len(read_entries(home / "registry" / "telemetry.json")) == 1


def test_capture_defaults_to_registry_folder_of_working_folder(tmp_path: Path) -> None:
    result = run_python(str(SCRIPT), "plugin.build", "success", "320", "CLI", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entry, printed_path = split_output(result.stdout)
    assert printed_path == str(tmp_path / "registry" / "telemetry.json")
    assert read_entries(tmp_path / "registry" / "telemetry.json") == [entry]


# --- capture: errors (stderr, exit 1, file untouched) --------------------------------------------


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    target = tmp_path / "t.json"
    target.write_bytes(SEED)
    return target


def assert_refused(result: subprocess.CompletedProcess[str], target: Path) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert target.read_bytes() == SEED


def test_invalid_inputs_json_is_refused_with_spec_message(
    cli_here: CliHere, form: str, seeded: Path
) -> None:
    result = run_here(
        cli_here, form, "plugin.build", "success", "320", "CLI", "{invalid json}", target=seeded
    )
    assert_refused(result, seeded)
    assert result.stderr.startswith(
        "Error: Invalid JSON for inputs: Expecting property name enclosed in double quotes"
    )


def test_invalid_inputs_json_does_not_create_the_file(cli_here: CliHere, tmp_path: Path) -> None:
    target = tmp_path / "registry" / "t.json"
    result = cli_here(
        "plugin.build", "success", "320", "CLI", "{invalid json}", "--file", str(target)
    )
    assert result.returncode == 1
    assert not target.exists()
    assert not target.parent.exists()


@pytest.mark.parametrize(("text", "kind"), [("[1,2]", "array"), ('"x"', "string"), ("3", "number")])
def test_inputs_that_are_json_but_not_an_object_are_refused(
    cli_here: CliHere, seeded: Path, text: str, kind: str
) -> None:
    result = cli_here("plugin.build", "success", "320", "CLI", text, "--file", str(seeded))
    assert_refused(result, seeded)
    assert result.stderr.startswith("Error: inputs must be a JSON object")
    assert f"got a JSON {kind}" in result.stderr


def test_invalid_status_is_refused_with_spec_message(
    cli_here: CliHere, form: str, seeded: Path
) -> None:
    result = run_here(cli_here, form, "plugin.build", "invalid_status", "320", "CLI", target=seeded)
    assert_refused(result, seeded)
    assert result.stderr == STATUS_ERROR


@pytest.mark.parametrize("duration", ["abc", "-1", "-0.5", "nan", "inf", "1e999", ""])
def test_invalid_duration_is_refused(cli_here: CliHere, seeded: Path, duration: str) -> None:
    result = cli_here("plugin.build", "success", duration, "CLI", "--file", str(seeded))
    assert_refused(result, seeded)
    assert result.stderr.startswith(f"Error: Invalid duration_ms: {duration!r}.")


def test_invalid_duration_is_refused_by_the_skill_script(seeded: Path) -> None:
    result = run_python(str(SCRIPT), "plugin.build", "success", "abc", "CLI", "--file", str(seeded))
    assert_refused(result, seeded)
    assert result.stderr.startswith("Error: Invalid duration_ms: 'abc'.")


def test_invalid_metadata_json_is_refused(cli_here: CliHere, form: str, seeded: Path) -> None:
    result = run_here(
        cli_here, form, "plugin.build", "success", "1", "CLI", "--metadata", "{x", target=seeded
    )
    assert_refused(result, seeded)
    assert result.stderr.startswith(
        "Error: Invalid JSON for metadata: Expecting property name enclosed in double quotes"
    )


def test_metadata_that_is_not_an_object_is_refused(cli_here: CliHere, seeded: Path) -> None:
    result = cli_here(
        "plugin.build", "success", "1", "CLI", "--metadata", "[1]", "--file", str(seeded)
    )
    assert_refused(result, seeded)
    assert result.stderr.startswith("Error: metadata must be a JSON object")


def test_corrupt_telemetry_file_is_refused_and_left_byte_for_byte(
    cli_here: CliHere, form: str, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"corrupt{store_suffix}"
    original = corrupt_bytes(store_suffix, array=b'{"not": "an array"}\n')
    target.write_bytes(original)
    result = run_here(cli_here, form, "plugin.build", "success", "1", "CLI", target=target)
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert str(target) in result.stderr
    assert not_its_format(target) in result.stderr  # "... is not a JSON array of ..."
    assert "Traceback" not in result.stderr
    assert target.read_bytes() == original


def test_file_whose_parent_is_a_regular_file_is_refused_clearly(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_bytes(b"keep me\n")
    target = blocker / f"t{store_suffix}"
    result = cli_here("plugin.build", "success", "1", "CLI", "--file", str(target))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "Not a directory" in result.stderr
    assert str(target) in result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_bytes() == b"keep me\n"


# --- usage errors: exit 2 with the usage text ----------------------------------------------------


def test_too_few_positional_arguments_is_a_usage_error(
    cli_here: CliHere, form: str, tmp_path: Path
) -> None:
    target = tmp_path / "t.json"
    result = run_here(cli_here, form, "plugin.build", "success", target=target)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: ")
    assert "the following arguments are required: duration_ms, caller" in result.stderr
    assert not target.exists()


def test_unknown_option_is_a_usage_error(cli_here: CliHere, form: str, tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    result = run_here(
        cli_here, form, "plugin.build", "success", "1", "CLI", "--bogus", target=target
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: ")
    assert "unrecognized arguments: --bogus" in result.stderr
    assert not target.exists()


def test_too_many_positional_arguments_is_a_usage_error(cli_here: CliHere, tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    result = cli_here("a", "success", "1", "CLI", "{}", "msg", "extra", "--file", str(target))
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ")
    assert not target.exists()


def test_query_negative_limit_is_a_usage_error(cli_here: CliHere) -> None:
    result = cli_here("query", "--limit", "-1")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: ")
    assert "--limit" in result.stderr


# --- where ---------------------------------------------------------------------------------------


def where_lines(cli: CliHere, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The lines before the settings table: the file, its rule and what export left (the
    lines scripts read, unchanged since settings files came; test_settings_file has the
    table)."""
    result = cli("where", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    head, blank, table = result.stdout.partition("\n\n")
    assert blank
    assert table.startswith("settings file: ")
    return head.splitlines()


def test_where_reports_file_option(cli_here: CliHere, tmp_path: Path) -> None:
    lines = where_lines(
        cli_here, "--file", "x.json", env={"BETTY_TELEMETRY_FILE": str(tmp_path / "e")}
    )
    assert lines == [str(tmp_path / "x.json"), "chosen by: --file option"]


def test_where_reports_betty_telemetry_file(cli_here: CliHere, tmp_path: Path) -> None:
    lines = where_lines(
        cli_here,
        env={"BETTY_TELEMETRY_FILE": str(tmp_path / "e.json"), "BETTY_HOME": str(tmp_path)},
    )
    assert lines == [str(tmp_path / "e.json"), "chosen by: $BETTY_TELEMETRY_FILE"]


def test_where_resolves_relative_betty_telemetry_file_against_working_folder(
    cli_here: CliHere,
    tmp_path: Path,
) -> None:
    lines = where_lines(cli_here, env={"BETTY_TELEMETRY_FILE": "sub/e.json"})
    assert lines[0] == str(tmp_path / "sub" / "e.json")


def test_where_reports_betty_home(cli_here: CliHere, tmp_path: Path) -> None:
    home = tmp_path / "home"
    lines = where_lines(cli_here, env={"BETTY_HOME": str(home)})
    assert lines == [str(home / "registry" / "telemetry.json"), "chosen by: $BETTY_HOME/registry"]


def test_where_reports_default_registry_in_working_folder(
    cli_here: CliHere, tmp_path: Path
) -> None:
    lines = where_lines(cli_here)
    assert lines == [
        str(tmp_path / "registry" / "telemetry.json"),
        "chosen by: default ./registry/telemetry.json",
    ]


def test_where_treats_empty_betty_telemetry_file_as_unset(
    cli_here: CliHere, tmp_path: Path
) -> None:
    lines = where_lines(cli_here, env={"BETTY_TELEMETRY_FILE": ""})
    assert lines == [
        str(tmp_path / "registry" / "telemetry.json"),
        "chosen by: default ./registry/telemetry.json",
    ]


def test_where_creates_nothing(cli_here: CliHere, tmp_path: Path) -> None:
    where_lines(cli_here)
    assert list(tmp_path.iterdir()) == []


# --- query on a copy of the legacy fixture -------------------------------------------------------


@pytest.fixture
def legacy(tmp_path: Path, store_suffix: str) -> Path:
    """The spec's fixture in the store under test (the file itself in a JSON array)."""
    copy = tmp_path / f"legacy{store_suffix}"
    copy_store(FIXTURE, copy)
    return copy


@pytest.fixture
def legacy_newest_first() -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return [normalized(entry) for entry in reversed(raw)]


def query_json(cli: CliHere, legacy: Path, *args: str) -> list[dict[str, Any]]:
    result = cli("query", "--json", "--file", str(legacy), *args)
    assert result.returncode == 0, result.stderr
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def test_query_json_defaults_to_twenty_newest_entries(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    assert query_json(cli_here, legacy) == legacy_newest_first[:20]


def test_query_all_returns_every_entry(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    entries = query_json(cli_here, legacy, "--all")
    assert len(entries) == 225
    assert entries == legacy_newest_first


def test_query_limit_returns_that_many_newest(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    assert query_json(cli_here, legacy, "--limit", "5") == legacy_newest_first[:5]


def test_query_limit_zero_returns_nothing(cli_here: CliHere, legacy: Path) -> None:
    assert query_json(cli_here, legacy, "--limit", "0") == []


def test_query_filters_by_skill(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    entries = query_json(cli_here, legacy, "--skill", "agent.run", "--all")
    assert entries == [e for e in legacy_newest_first if e["skill"] == "agent.run"]
    assert len(entries) == 4


def test_query_filters_by_status(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    entries = query_json(cli_here, legacy, "--status", "failure", "--all")
    assert entries == [e for e in legacy_newest_first if e["status"] == "failure"]
    assert len(entries) == 3


def test_query_filters_by_legacy_failed_status(cli_here: CliHere, legacy: Path) -> None:
    entries = query_json(cli_here, legacy, "--status", "failed", "--all")
    assert len(entries) == 22
    assert {e["status"] for e in entries} == {"failed"}


def test_query_filters_by_caller(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    entries = query_json(cli_here, legacy, "--caller", "workflow.compose", "--all")
    assert entries == [e for e in legacy_newest_first if e["caller"] == "workflow.compose"]
    assert len(entries) == 18


def test_query_combines_filters(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    entries = query_json(
        cli_here, legacy, "--skill", "workflow.compose", "--status", "failed", "--all"
    )
    expected = [
        e
        for e in legacy_newest_first
        if e["skill"] == "workflow.compose" and e["status"] == "failed"
    ]
    assert entries == expected
    assert expected


def test_query_fills_missing_spec_fields_of_legacy_entries(cli_here: CliHere, legacy: Path) -> None:
    oldest = query_json(cli_here, legacy, "--all")[-1]
    assert list(oldest)[:8] == FIELDS
    assert oldest["error_message"] is None
    assert oldest["metadata"] == {}
    assert oldest["skill"] == "test.skill"


def test_query_table_has_header_and_one_row_per_entry(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    result = cli_here("query", "--limit", "3", "--file", str(legacy))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TIMESTAMP", "SKILL", "STATUS", "DURATION", "CALLER", "ERROR"]
    assert len(lines) == 4
    for line, entry in zip(lines[1:], legacy_newest_first[:3], strict=True):
        date, time_of_day, offset, skill, status = line.split()[:5]
        assert f"{date}T{time_of_day}" == entry["timestamp"][:23]
        assert offset == "+00:00"  # the tests' time zone is UTC
        assert (skill, status) == (entry["skill"], entry["status"])
        assert line.split()[7] == entry["caller"]


def test_query_table_rows_parse_back_to_filtered_entries(
    cli_here: CliHere, legacy: Path, legacy_newest_first: list[dict[str, Any]]
) -> None:
    result = cli_here("query", "--skill", "agent.run", "--all", "--file", str(legacy))
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    expected = [e for e in legacy_newest_first if e["skill"] == "agent.run"]
    assert [(r[0] + "T" + r[1], r[3], r[4]) for r in rows] == [
        (e["timestamp"][:23], e["skill"], e["status"]) for e in expected
    ]


def test_query_table_shows_captured_error_and_duration(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"t{store_suffix}"
    cli_here(
        "workflow.compose", "failure", "2800", "CLI", "{}", "Step 3 failed", "--file", str(target)
    )
    result = cli_here("query", "--file", str(target))
    row = result.stdout.splitlines()[1]
    assert row.split()[2:] == [
        "+00:00",
        "workflow.compose",
        "failure",
        "2.80",
        "s",
        "CLI",
        "Step",
        "3",
        "failed",
    ]


def test_query_with_no_match_prints_no_entries(cli_here: CliHere, legacy: Path) -> None:
    result = cli_here("query", "--skill", "no.such.skill", "--file", str(legacy))
    assert result.returncode == 0
    assert result.stdout == "(no entries)\n"


def test_query_json_with_no_match_prints_empty_array(cli_here: CliHere, legacy: Path) -> None:
    assert query_json(cli_here, legacy, "--skill", "no.such.skill") == []


def test_query_of_missing_file_is_an_error_that_names_it_and_creates_nothing(
    cli_here: CliHere,
    tmp_path: Path,
    store_suffix: str,
) -> None:
    missing = tmp_path / f"missing{store_suffix}"
    result = cli_here("query", "--file", str(missing))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: no telemetry file at {missing} (chosen by --file)")
    assert "BETTY_TELEMETRY_FILE" in result.stderr
    assert not missing.exists()


def test_query_leaves_the_file_byte_for_byte(cli_here: CliHere, legacy: Path) -> None:
    before = legacy.read_bytes()  # FIXTURE's bytes, in a JSON array
    cli_here("query", "--all", "--json", "--file", str(legacy))
    assert legacy.read_bytes() == before


def test_query_of_corrupt_file_is_refused(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    target = tmp_path / f"corrupt{store_suffix}"
    original = corrupt_bytes(store_suffix, array=b'{"not": "an array"}')
    target.write_bytes(original)
    result = cli_here("query", "--file", str(target))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ")
    assert str(target) in result.stderr
    assert target.read_bytes() == original


def test_query_reads_betty_telemetry_file(cli_here: CliHere, legacy: Path) -> None:
    result = cli_here("query", "--json", "--limit", "1", env={"BETTY_TELEMETRY_FILE": str(legacy)})
    assert (
        json.loads(result.stdout)[0]["timestamp"]
        == json.loads(FIXTURE.read_text())[-1]["timestamp"]
    )


# --- help and version ----------------------------------------------------------------------------


def test_help_shows_examples(cli_here: CliHere) -> None:
    result = cli_here("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "betty-telemetry plugin.build success 320 CLI" in result.stdout
    assert "betty-telemetry query --status failure --limit 10" in result.stdout


def test_capture_help_shows_examples(cli_here: CliHere) -> None:
    result = cli_here("capture", "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "--metadata" in result.stdout
    assert "betty-telemetry plugin.build success 320 CLI" in result.stdout


def test_skill_script_help_shows_usage_and_examples() -> None:
    result = run_python(str(SCRIPT), "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: telemetry_capture.py")
    assert "examples:" in result.stdout


def test_query_help_shows_examples(cli_here: CliHere) -> None:
    result = cli_here("query", "--help")
    assert result.returncode == 0
    assert "betty-telemetry query --skill agent.run --json" in result.stdout


def test_version_prints_program_and_version(cli_here: CliHere) -> None:
    result = cli_here("--version")
    assert result.returncode == 0
    assert result.stdout == f"betty-telemetry {__version__}\n"
    assert __version__ == "0.1.0"


def test_no_arguments_prints_help_and_writes_nothing(cli_here: CliHere, tmp_path: Path) -> None:
    result = cli_here()
    assert result.returncode == 0
    assert result.stdout.startswith("usage: betty-telemetry")
    assert list(tmp_path.iterdir()) == []


def test_query_limit_that_is_not_a_number_is_a_usage_error(
    cli_here: CliHere, tmp_path: Path
) -> None:
    result = cli_here("query", "--limit", "ten", "--file", str(tmp_path / "t.json"))
    assert result.returncode == 2
    assert "expected a whole number >= 0, got 'ten'" in result.stderr


def test_query_table_shows_durations_in_readable_units(
    cli_here: CliHere, tmp_path: Path, store_suffix: str
) -> None:
    path = tmp_path / f"t{store_suffix}"
    telemetry = TelemetryCapture(path)
    for duration in (12.25, 2500.0, 180_000.0):
        telemetry.capture("s", "success", duration, "c")
    table = cli_here("query", "--file", str(path)).stdout
    assert "12.2 ms" in table
    assert "2.50 s" in table
    assert "3.0 min" in table
