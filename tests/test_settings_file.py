"""Settings from a file (issue 15): ``[tool.betty-telemetry]`` in the nearest pyproject.toml,
or a betty-telemetry.toml; found from the working directory upwards; below arguments and the
environment; bad files refused with messages that name the file and the key."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry._config import (
    effective_settings,
    forget_settings_files,
    hook_flags,
    pending_by_default,
    resolve_hook_path,
    resolve_lock_timeout,
    resolve_rotation_limits,
    resolve_telemetry_path,
    settings_file,
    use_skill_folder,
)
from betty_telemetry.capture.defaults import default_capture
from betty_telemetry.settings import BY_KEY, SETTINGS, SettingsFileError
from betty_telemetry.settings.files import toml_reader
from tests.betty_checkout import make_betty_checkout
from tests.conftest import SKILL_DIR, CliHere, run_cli

TABLE = "[tool.betty-telemetry]\n"


def pyproject(folder: Path, body: str, *, table: bool = True) -> Path:
    """A pyproject.toml in ``folder`` (made if missing) with ``body`` in our table."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text('[project]\nname = "demo"\n\n' + (TABLE if table else "") + body)
    forget_settings_files()
    return path


def dedicated(folder: Path, body: str) -> Path:
    """A betty-telemetry.toml in ``folder`` holding ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "betty-telemetry.toml"
    path.write_text(body)
    forget_settings_files()
    return path


def effective(key: str) -> Any:
    """The value ``key`` has here, as ``where`` shows it (the resolvers' own answer)."""
    [item] = [item for item in effective_settings() if item.key == key]
    assert item.error is None, item.error
    return item.value


def source(key: str) -> str:
    [item] = [item for item in effective_settings() if item.key == key]
    return item.source


# -- finding the file --------------------------------------------------------------------------


def test_the_table_of_the_working_directorys_pyproject_applies(tmp_path: Path) -> None:
    pyproject(tmp_path, 'file = "var/telemetry.jsonl"\n')
    resolved = resolve_telemetry_path()
    assert resolved.path == str(tmp_path / "var" / "telemetry.jsonl")
    assert resolved.rule == f"file in {tmp_path / 'pyproject.toml'} [tool.betty-telemetry]"


def test_a_relative_path_is_relative_to_the_files_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path / "project", 'file = "var/telemetry.jsonl"\n')
    deep = tmp_path / "project" / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)

    @capture_telemetry(skill_name="decorated", caller="test")
    def job() -> int:
        return 7

    assert job() == 7
    written = tmp_path / "project" / "var" / "telemetry.jsonl"
    assert [entry["skill"] for entry in TelemetryCapture(written).query()] == ["decorated"]
    assert not (deep / "var").exists()
    assert not (deep / "registry").exists()


def test_a_pyproject_without_the_table_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path, "lock_timeout = 3\n")
    # This one names the package (a dependency), so it is parsed, and has no table.
    inner = tmp_path / "inner"
    pyproject(inner, '[project.optional-dependencies]\nt = ["betty-telemetry>=1"]\n', table=False)
    (inner / "sub").mkdir()
    monkeypatch.chdir(inner / "sub")
    assert resolve_lock_timeout() == 3.0


@pytest.mark.parametrize(
    "text",
    [
        "[ tool . 'betty-telemetry' ]\nlock_timeout = 3\n",
        '[tool."betty-telemetry"]\nlock_timeout = 3\n',
        "[tool]\nbetty-telemetry = { lock_timeout = 3 }\n",
        "[tool]\nbetty-telemetry.lock_timeout = 3\n",
        "tool.betty-telemetry.lock_timeout = 3\n",
        'tool = { "betty-telemetry" = { lock_timeout = 3 } }\n',
        "[tool] # ours below\n'betty-telemetry' . lock_timeout = 3\n",
    ],
)
def test_every_toml_spelling_of_the_table_is_read(text: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    assert resolve_lock_timeout() == 3.0


def test_a_table_whose_lines_are_cut_short_is_read_from_the_whole_file(tmp_path: Path) -> None:
    pyproject(tmp_path, "max_entries = [\n[1],\n]\n")  # a nested array: refused whole
    with pytest.raises(ValueError, match=r"max_entries in .* must be a whole number >= 1"):
        resolve_rotation_limits()
    pyproject(tmp_path, 'lock_timeout = 3\n[tool.other]\nx = "betty-telemetry"\n')
    assert resolve_lock_timeout() == 3.0


def test_a_dedicated_file_wins_over_a_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    pyproject(tmp_path, "lock_timeout = 3\n")
    dedicated(tmp_path, "lock_timeout = 4\n")
    assert resolve_lock_timeout() == 4.0
    found = settings_file()
    assert found is not None
    assert found.path == str(tmp_path / "betty-telemetry.toml")


def test_the_nearest_file_wins_whole_and_is_not_merged_with_the_ones_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path, 'file = "outer.json"\nlock_timeout = 3\n')
    dedicated(tmp_path / "nested", "fsync = true\n")
    monkeypatch.chdir(tmp_path / "nested")
    assert effective("fsync") is True
    assert resolve_lock_timeout() == 10.0  # the outer file's value is not inherited
    assert resolve_telemetry_path().path == str(tmp_path / "nested" / "registry/telemetry.json")


def test_an_empty_table_stops_the_search_and_means_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject(tmp_path, "lock_timeout = 3\n")
    pyproject(tmp_path / "nested", "")
    monkeypatch.chdir(tmp_path / "nested")
    assert resolve_lock_timeout() == 10.0
    found = settings_file()
    assert found is not None
    assert found.values == {}


def test_no_file_anywhere_up_to_the_root_means_the_defaults(tmp_path: Path) -> None:
    assert settings_file() is None
    assert [(item.key, item.source) for item in effective_settings()] == [
        (setting.key, "default") for setting in SETTINGS
    ]


def test_the_file_is_read_once_per_process_and_folder(tmp_path: Path) -> None:
    path = pyproject(tmp_path, "lock_timeout = 3\n")
    assert resolve_lock_timeout() == 3.0
    path.write_text(TABLE + "lock_timeout = 4\n")
    assert resolve_lock_timeout() == 3.0  # a capture per call must not reread it
    forget_settings_files()
    assert resolve_lock_timeout() == 4.0


def test_memory_home_folder_and_absolute_paths_are_kept_as_they_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dedicated(tmp_path, 'file = ":memory:"\n')
    assert resolve_telemetry_path().path == ":memory:"
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    dedicated(tmp_path, 'file = "~/t.json"\n')
    assert resolve_telemetry_path().path == str(tmp_path / "me" / "t.json")
    dedicated(tmp_path, f'file = "{tmp_path / "abs.json"}"\n')
    assert resolve_telemetry_path().path == str(tmp_path / "abs.json")


def test_home_names_a_betty_checkout_relative_to_the_files_folder(tmp_path: Path) -> None:
    dedicated(tmp_path, 'home = "../betty"\n')
    resolved = resolve_telemetry_path()
    assert resolved.path == str(tmp_path.parent / "betty" / "registry" / "telemetry.json")
    assert resolved.rule.startswith("home in ")
    dedicated(tmp_path, 'home = "../betty"\nfile = "t.json"\n')
    assert resolve_telemetry_path().path == str(tmp_path / "t.json")  # file before home


# -- the order: argument > environment > file > default, for every setting ---------------------

# key: (the file's TOML, what it gives, the variable's text, what it gives, the default)
LEVELS: dict[str, tuple[str, Any, str, Any, Any]] = {
    "file": ('"var/t.jsonl"', "{dir}/var/t.jsonl", "env.json", "{dir}/env.json", None),
    "home": ('"betty"', "{dir}/betty", "h", "{dir}/h", None),
    "lock_timeout": ("2.5", 2.5, "4", 4.0, 10.0),
    "mode": ('"background"', "background", "direct", "direct", "direct"),
    "fsync": ("true", True, "0", False, False),
    "max_bytes": ('"1MB"', 1 << 20, "2048", 2048, None),
    "max_entries": ("500", 500, "7", 7, None),
    "pending": ("true", True, "no", False, False),
    "export": ('"otlp"', "otlp", "none", "none", "none"),
    "hook_outputs": ("true", True, "0", False, False),
    "hook_prompts": ("true", True, "off", False, False),
}


def _expected(value: Any, folder: Path) -> Any:
    return value.format(dir=folder) if isinstance(value, str) else value


def test_every_setting_has_its_levels_tested() -> None:
    assert list(LEVELS) == [setting.key for setting in SETTINGS]


@pytest.mark.parametrize("key", list(LEVELS))
def test_the_file_sets_what_the_environment_leaves_unset(key: str, tmp_path: Path) -> None:
    file_text, from_file, _, _, _ = LEVELS[key]
    dedicated(tmp_path, f"{key} = {file_text}\n")
    assert effective(key) == _expected(from_file, tmp_path)
    assert source(key) == "settings file"


@pytest.mark.parametrize("key", list(LEVELS))
def test_the_environment_wins_over_the_file(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_text, _, env_text, from_env, _ = LEVELS[key]
    dedicated(tmp_path / "project", f"{key} = {file_text}\n")
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setenv(BY_KEY[key].env, env_text)
    assert effective(key) == _expected(from_env, tmp_path / "project")
    assert source(key) == "environment"


@pytest.mark.parametrize("key", list(LEVELS))
def test_a_blank_variable_leaves_the_file_in_charge(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_text, from_file, _, _, _ = LEVELS[key]
    dedicated(tmp_path, f"{key} = {file_text}\n")
    monkeypatch.setenv(BY_KEY[key].env, " ")
    assert effective(key) == _expected(from_file, tmp_path)


@pytest.mark.parametrize("key", [key for key in LEVELS if key != "file"])
def test_without_file_or_variable_the_default_applies(key: str, tmp_path: Path) -> None:
    dedicated(tmp_path, "")
    assert effective(key) == LEVELS[key][4]
    assert source(key) == "default"


def test_arguments_win_over_the_environment_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dedicated(
        tmp_path,
        'file = "f.json"\nlock_timeout = 2.5\nfsync = true\nmax_bytes = "1MB"\n'
        'max_entries = 500\nexport = "otlp"\npending = true\n',
    )
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", "e.json")
    monkeypatch.setenv("BETTY_TELEMETRY_LOCK_TIMEOUT", "4")
    telemetry = TelemetryCapture(
        tmp_path / "a.json",
        lock_timeout=1.5,
        durability="write",
        max_bytes=4096,
        max_entries=9,
        export=False,
    )
    assert telemetry.path_rule == "telemetry_file argument"
    assert (telemetry.lock_timeout, telemetry.durability, telemetry.export) == (1.5, "write", None)
    assert resolve_rotation_limits(4096, 9) == (4096, 9)
    telemetry.close()
    # (A capture of its own without export: the default one would export, as the file says,
    # and wait at exit for a collector that is not there.)
    with (
        TelemetryCapture(tmp_path / "b.json", export=False) as own,
        TelemetryContext("block", caller="test", pending=False, telemetry=own) as context,
    ):
        assert context.entry is None  # no pending entry, whatever the file says


def test_the_settings_file_applies_to_every_interface(tmp_path: Path) -> None:
    dedicated(tmp_path, 'file = "t.jsonl"\nlock_timeout = 0.5\nfsync = true\nmode = "direct"\n')
    telemetry = TelemetryCapture()
    assert (telemetry.lock_timeout, telemetry.durability) == (0.5, "fsync")
    telemetry.capture("api", "success", 1.0, "test")
    telemetry.close()
    with TelemetryContext("context", caller="test"):
        pass
    result = run_cli("cli.skill", "success", "2", "CLI", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"captured to {tmp_path / 't.jsonl'}" in result.stdout
    skills = [entry["skill"] for entry in TelemetryCapture(tmp_path / "t.jsonl").query()]
    assert sorted(skills) == ["api", "cli.skill", "context"]


def test_mode_background_makes_the_default_capture_write_in_the_background(
    tmp_path: Path,
) -> None:
    dedicated(tmp_path, 'mode = "background"\n')
    assert default_capture().background is True


def test_the_file_comes_before_the_betty_checkout_of_the_skill_folder(tmp_path: Path) -> None:
    root = make_betty_checkout(tmp_path / "betty")
    shutil.copytree(SKILL_DIR, root / "skills" / "telemetry.capture")
    assert use_skill_folder(root / "skills" / "telemetry.capture") is not None
    assert resolve_telemetry_path().path == str(root / "registry" / "telemetry.json")
    assert source("file") == "Betty checkout"
    dedicated(tmp_path, 'file = "mine.json"\n')
    assert resolve_telemetry_path().path == str(tmp_path / "mine.json")


def test_the_hook_reads_the_settings_of_the_claude_code_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    dedicated(project, 'file = "var/hook.json"\nhook_outputs = true\nhook_prompts = true\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a cd in the session
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    assert resolve_hook_path().path == str(project / "var" / "hook.json")
    assert hook_flags() == (True, True)
    monkeypatch.delenv("CLAUDE_PROJECT_DIR")
    assert hook_flags() == (False, False)


def test_the_hook_without_settings_file_keeps_its_own_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_hook_path(tmp_path / "a.json").path == str(tmp_path / "a.json")
    assert resolve_hook_path().path == str(tmp_path / "registry" / "telemetry.json")
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path / "project"))
    resolved = resolve_hook_path()
    assert resolved.path == str(tmp_path / "project" / "registry" / "telemetry.json")
    assert resolved.rule == "$CLAUDE_PROJECT_DIR/registry"
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    assert resolve_hook_path().rule == "$BETTY_HOME/registry"


def test_a_false_word_in_the_environment_turns_off_the_files_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dedicated(tmp_path, 'export = "otlp"\n')
    assert effective("export") == "otlp"
    monkeypatch.setenv("BETTY_TELEMETRY_EXPORT", " Off ")
    assert effective("export") == "none"


def test_a_table_whose_name_only_starts_like_ours_is_passed_over(tmp_path: Path) -> None:
    pyproject(tmp_path, "[tool.betty-telemetry-extras]\nx = 1\n", table=False)
    assert settings_file() is None


def test_a_bad_hook_flag_in_the_file_keeps_outputs_out(tmp_path: Path) -> None:
    dedicated(tmp_path, 'hook_outputs = "yes"\nhook_prompts = true\n')
    assert hook_flags() == (False, True)


# -- bad files and bad values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'lock_timeout = "soon"\n',
            "lock_timeout in {where} must be a number of seconds >= 0, written without quotes "
            "(lock_timeout = 2.5), got the string 'soon'",
        ),
        ("lock_timeout = -1\n", "lock_timeout in {where} must be a number of seconds >= 0"),
        (
            'fsync = "true"\n',
            "fsync in {where} must be true or false, written without quotes (fsync = true)",
        ),
        ("fsync = 1\n", "fsync in {where} must be true or false, got 1"),
        ('mode = "turbo"\n', "mode in {where} must be 'direct' or 'background', got 'turbo'"),
        ('export = "jaeger"\n', "export in {where} must be 'otlp' or 'none', got 'jaeger'"),
        ('max_bytes = "lots"\n', "max_bytes in {where} must be a number of bytes"),
        ("max_entries = 0\n", "max_entries in {where} must be a whole number >= 1, got 0"),
        ("max_entries = 1.5\n", "max_entries in {where} must be a whole number >= 1, got 1.5"),
        ("file = 3\n", "file in {where} must be a path, as a string"),
        ('file = ""\n', "file in {where} must be a path, as a string"),
        ("pending = []\n", "pending in {where} must be true or false, got []"),
        ("home = 3\n", "home in {where} must be a path, as a string"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key_and_the_file(
    body: str, message: str, tmp_path: Path
) -> None:
    path = pyproject(tmp_path, body)
    expected = message.format(where=f"{path} [tool.betty-telemetry]")
    key = body.partition(" ")[0]
    # (The pending default's resolver: the decorator and the context manager only warn, as
    # they run while the host's module imports; see test_a_bad_pending_value_turns_...)
    readers = {"mode": default_capture, "pending": pending_by_default}
    with pytest.raises(ValueError, match=re.escape(expected)):
        readers.get(key, TelemetryCapture)()
    [item] = [item for item in effective_settings() if item.key == key]
    assert item.error is not None
    assert expected in item.error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"[tool.betty-telemetry\nfile = 3\n", "is not valid TOML (Expected ']'"),
        (b'[tool.betty-telemetry]\nfile = "a"\nfile = "b"\n', "is not valid TOML"),
        (b"[tool]\nbetty-telemetry = 3\n", "[tool.betty-telemetry] must be a table of settings"),
        (b'[tool.betty-telemetry]\nfile = "caf\xe9"\n', "is not UTF-8 text (byte 34)"),
    ],
)
def test_a_file_that_cannot_be_read_as_settings_is_refused_naming_it(
    text: bytes, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(text)
    with pytest.raises(SettingsFileError) as raised:
        resolve_telemetry_path()
    assert str(raised.value).startswith(str(path))
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)  # caught where a bad variable is


def test_a_settings_file_that_is_a_symlink_loop_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.symlink_to(path)
    with pytest.raises(SettingsFileError) as raised:
        resolve_telemetry_path()
    assert str(raised.value) == (
        f"{path}: cannot read it (Too many levels of symbolic links), so betty-telemetry "
        "cannot tell whether it holds settings: make it readable, or move it"
    )


def test_a_folder_named_like_a_settings_file_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "betty-telemetry.toml").mkdir()
    (tmp_path / "pyproject.toml").mkdir()
    assert settings_file() is None


def test_a_broken_file_is_refused_each_time_not_only_the_first(tmp_path: Path) -> None:
    (tmp_path / "betty-telemetry.toml").write_text("lock_timeout = \n")
    for _ in range(2):
        with pytest.raises(SettingsFileError, match="is not valid TOML"):
            TelemetryCapture()


def test_arguments_and_variables_need_no_readable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "betty-telemetry.toml").write_text("this is not toml\n")
    assert resolve_telemetry_path(tmp_path / "a.json").path == str(tmp_path / "a.json")
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", "e.json")
    assert resolve_telemetry_path().path == str(tmp_path / "e.json")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "betty_telemetry"]


def test_a_decorated_function_still_runs_under_a_broken_file_and_one_warning_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = pyproject(tmp_path, 'lock_timeout = "soon"\n')

    @capture_telemetry(skill_name="decorated", caller="test")
    def double(value: int) -> int:
        return value * 2

    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        assert [double(value) for value in range(3)] == [0, 2, 4]
        with TelemetryContext("block", caller="test"):
            pass
    [warning] = warnings_of(caplog)
    assert f"lock_timeout in {path} [tool.betty-telemetry]" in warning
    assert not (tmp_path / "registry").exists()  # nothing written where it was not meant to


def test_decorating_under_a_file_that_is_not_toml_neither_raises_nor_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Decorators run while the host's module imports: a settings file that cannot be read
    # must not stop that import (the pending default is asked for there).
    path = pyproject(tmp_path, "file = \n")
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):

        @capture_telemetry(skill_name="decorated", caller="test")
        def double(value: int) -> int:
            return value * 2

        with TelemetryContext("block", caller="test") as block:
            block.set_status("success")
        assert double(2) == 4
    pending, not_recorded = warnings_of(caplog)
    assert pending.startswith("Pending entries are off: SettingsFileError: ")
    assert not_recorded.startswith("Telemetry was not recorded: SettingsFileError: ")
    assert all(f"{path} is not valid TOML" in w for w in (pending, not_recorded))
    assert not (tmp_path / "registry").exists()


@pytest.mark.parametrize("where", ["file", "environment"])
def test_a_bad_pending_value_turns_pending_off_and_the_runs_are_recorded(
    where: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "file":
        dedicated(tmp_path, 'pending = "maybe"\n')
    else:
        monkeypatch.setenv("BETTY_TELEMETRY_PENDING", "maybe")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):

        @capture_telemetry(skill_name="decorated", caller="test")
        def double(value: int) -> int:
            return value * 2

        assert double(2) == 4
        with TelemetryContext("block", caller="test") as block:
            assert block.entry is None  # no pending entry was written when it started
    [warning] = warnings_of(caplog)
    assert warning.startswith("Pending entries are off: ValueError: ")
    assert "maybe" in warning
    entries = TelemetryCapture(tmp_path / "registry" / "telemetry.json").query(limit=None)
    assert sorted(entry["skill"] for entry in entries) == ["block", "decorated"]
    assert {entry["status"] for entry in entries} == {"success"}


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("lock-timeout", "lock_timeout"),
        ("BETTY_TELEMETRY_FSYNC", "fsync"),
        ("telemetry_file", "file"),  # TelemetryCapture's argument names
        ("durability", "fsync"),
        ("max_byte", "max_bytes"),
        ("colour", None),
    ],
)
def test_an_unknown_key_is_ignored_with_one_warning_that_suggests_the_setting(
    key: str, meant: str | None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = pyproject(tmp_path, f'"{key}" = 3\nlock_timeout = 2\n')
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        assert resolve_lock_timeout() == 2.0  # the rest of the file applies
        forget_settings_files()
        assert resolve_lock_timeout() == 2.0
    [warning] = warnings_of(caplog)
    assert warning.startswith(
        f"{path} [tool.betty-telemetry]: {key!r} is not a betty-telemetry setting, "
        "so it is ignored. "
    )
    assert (f"Did you mean {meant!r}?" in warning) == (meant is not None)
    assert "The settings are: file, home, lock_timeout" in warning


def test_the_cli_refuses_a_broken_file_with_exit_1_naming_it(tmp_path: Path) -> None:
    (tmp_path / "betty-telemetry.toml").write_text("mode = turbo\n")
    result = run_cli("plugin.build", "success", "320", "CLI", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {tmp_path / 'betty-telemetry.toml'} is not valid TOML")
    assert not (tmp_path / "registry").exists()


def test_the_cli_warns_of_an_unknown_key_and_records(cli_here: CliHere, tmp_path: Path) -> None:
    dedicated(tmp_path, 'file = "t.json"\nlock_timout = 3\n')
    result = cli_here("plugin.build", "success", "320", "CLI")
    assert result.returncode == 0
    assert "Did you mean 'lock_timeout'?" in result.stderr
    assert result.stderr.startswith("Warning: ")
    assert (tmp_path / "t.json").exists()


SETPRIV = shutil.which("setpriv")
# Root, without the capabilities that let root ignore permission bits (as test_faults does):
# its own files and folders with their bits cleared are then closed to it.
WITHOUT_CAPABILITIES = [
    SETPRIV or "setpriv",
    "--bounding-set=-all",
    "--inh-caps=-all",
    "--ambient-caps=-all",
]


@pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_an_unreadable_file_is_refused_naming_it_and_an_unsearchable_folder_passed_over(
    tmp_path: Path,
) -> None:
    path = pyproject(tmp_path / "project", 'file = "t.json"\n')
    path.chmod(0)
    where = [*WITHOUT_CAPABILITIES, sys.executable, "-m", "betty_telemetry", "where"]

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*where, *args]
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)

    result = run(tmp_path / "project")
    assert result.returncode == 1, result
    assert result.stderr.startswith(
        f"Error: {path}: cannot read it (permission denied), so betty-telemetry cannot "
        "tell whether it holds settings: make it readable, or move it\n"
    )
    path.chmod(0o644)
    (tmp_path / "project").chmod(0o311)  # searchable, not listable: the file is still read
    try:
        result = run(tmp_path / "project")
    finally:
        (tmp_path / "project").chmod(0o755)
    assert result.stdout.startswith(f"{tmp_path / 'project' / 't.json'}\n"), result
    # Started in a folder under one it may not search: it cannot see any file there, so it
    # looks further up (and finds none).
    inner = tmp_path / "locked" / "inner"
    inner.mkdir(parents=True)
    (tmp_path / "locked").chmod(0)
    try:
        result = run(inner, "--json")
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert result.returncode == 0, result
    assert json.loads(result.stdout)["settings_file"] is None


# -- Python 3.10, which has no tomllib -----------------------------------------------------------


def test_without_a_toml_reader_a_file_with_settings_says_to_install_tomli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10 without tomli
    monkeypatch.setitem(sys.modules, "tomli", None)
    pyproject(tmp_path, "lock_timeout = 3\n")
    with pytest.raises(SettingsFileError) as raised:
        resolve_lock_timeout()
    assert "has no TOML reader (tomllib is new in 3.11): pip install tomli" in str(raised.value)
    assert "betty-telemetry[toml]" in str(raised.value)


@pytest.mark.parametrize(
    "body",
    [
        "[tool.ruff]\nline-length = 100\n",
        # Projects that use us: our name, but never as a key of our table.
        '[project.optional-dependencies]\ntelemetry = ["betty-telemetry[otel]>=1", "x"]\n'
        '[tool.uv.sources]\nother = { path = "../betty-telemetry-fork" }\n',
        '[tool.poetry.dependencies]\nbetty-telemetry = "^1.0"\n',
        '[project.scripts]\nbetty-telemetry = "betty_telemetry.cli.main:main"\n',
    ],
)
def test_a_pyproject_without_settings_is_passed_over_without_a_toml_reader(
    body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No reader at all: had the file been parsed, this would raise. (Python 3.10 without
    # tomli reads such projects; every capture elsewhere is spared the reader's import.)
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", None)
    pyproject(tmp_path, body, table=False)
    assert settings_file() is None
    assert resolve_lock_timeout() == 10.0


def test_tomli_is_used_where_tomllib_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = toml_reader()  # tomllib here; tomli is its origin, with the same API
    monkeypatch.setitem(sys.modules, "tomllib", None)
    monkeypatch.setitem(sys.modules, "tomli", reader)
    pyproject(tmp_path, "lock_timeout = 3\n")
    assert resolve_lock_timeout() == 3.0
