"""Where the telemetry file lives, and how it is created."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture, capture_telemetry, resolve_telemetry_path
from betty_telemetry.capture.defaults import default_capture


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def capture_one(capture: TelemetryCapture) -> None:
    capture.capture("plugin.build", "success", 1.0, "CLI")


# -- resolution rules --------------------------------------------------------------------


def test_explicit_argument_wins_over_both_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "env.json"))
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    resolved = resolve_telemetry_path(tmp_path / "explicit.json")
    assert resolved.path == str(tmp_path / "explicit.json")
    assert resolved.rule == "telemetry_file argument"


def test_explicit_string_argument_is_accepted(tmp_path: Path) -> None:
    assert resolve_telemetry_path(str(tmp_path / "t.json")).path == str(tmp_path / "t.json")


def test_explicit_relative_argument_is_made_absolute_against_cwd(tmp_path: Path) -> None:
    resolved = resolve_telemetry_path("data/t.json")
    assert resolved.path == os.path.join(os.getcwd(), "data", "t.json")
    assert os.path.isabs(resolved.path)


def test_explicit_argument_expands_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert resolve_telemetry_path("~/t.json").path == str(tmp_path / "user" / "t.json")


def test_telemetry_file_variable_wins_over_betty_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "env.json"))
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    resolved = resolve_telemetry_path()
    assert resolved.path == str(tmp_path / "env.json")
    assert resolved.rule == "$BETTY_TELEMETRY_FILE"


def test_relative_telemetry_file_variable_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", "logs/t.json")
    assert resolve_telemetry_path().path == os.path.join(os.getcwd(), "logs", "t.json")


def test_betty_home_gives_its_registry_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    resolved = resolve_telemetry_path()
    assert resolved.path == str(tmp_path / "home" / "registry" / "telemetry.json")
    assert resolved.rule == "$BETTY_HOME/registry"


def test_default_is_registry_file_under_cwd() -> None:
    resolved = resolve_telemetry_path()
    assert resolved.path == os.path.join(os.getcwd(), "registry", "telemetry.json")
    assert os.path.isabs(resolved.path)
    assert resolved.rule == "default ./registry/telemetry.json"


def test_default_follows_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    expected = os.path.join(os.getcwd(), "registry", "telemetry.json")
    assert resolve_telemetry_path().path == expected


def test_empty_telemetry_file_variable_counts_as_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", "")
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    resolved = resolve_telemetry_path()
    assert resolved.path == str(tmp_path / "home" / "registry" / "telemetry.json")
    assert resolved.rule == "$BETTY_HOME/registry"


def test_empty_betty_home_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", "")
    monkeypatch.setenv("BETTY_HOME", "")
    resolved = resolve_telemetry_path()
    assert resolved.path == os.path.join(os.getcwd(), "registry", "telemetry.json")
    assert resolved.rule == "default ./registry/telemetry.json"


def test_capture_records_the_path_and_rule_it_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    capture = TelemetryCapture()
    assert capture.telemetry_file == tmp_path / "home" / "registry" / "telemetry.json"
    assert capture.path_rule == "$BETTY_HOME/registry"


def test_capture_keeps_the_path_chosen_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "first.json"))
    capture = TelemetryCapture()
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "second.json"))
    capture_one(capture)
    capture.close()
    assert (tmp_path / "first.json").exists()
    assert not (tmp_path / "second.json").exists()


# -- creating the file -------------------------------------------------------------------


def test_constructing_a_capture_creates_nothing(tmp_path: Path) -> None:
    capture = TelemetryCapture(tmp_path / "a" / "b" / "telemetry.json")
    assert not (tmp_path / "a").exists()
    capture.close()


def test_default_capture_creates_nothing_in_cwd_until_first_capture(tmp_path: Path) -> None:
    capture = TelemetryCapture()
    assert list(tmp_path.iterdir()) == []
    capture.close()


def test_query_before_first_capture_returns_nothing_and_creates_nothing(tmp_path: Path) -> None:
    capture = TelemetryCapture(tmp_path / "registry" / "telemetry.json")
    assert capture.query() == []
    assert not (tmp_path / "registry").exists()


def test_first_capture_creates_missing_folders_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "telemetry.json"
    capture = TelemetryCapture(path)
    capture_one(capture)
    capture.close()
    assert path.is_file()
    assert [entry["skill"] for entry in json.loads(path.read_text())] == ["plugin.build"]


def test_first_capture_in_cwd_creates_the_registry_file(tmp_path: Path) -> None:
    capture = TelemetryCapture()
    capture_one(capture)
    capture.close()
    assert (tmp_path / "registry" / "telemetry.json").is_file()


def test_new_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    capture = TelemetryCapture(path)
    capture_one(capture)
    capture.close()
    assert mode_of(path) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_new_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "new" / "telemetry.json"
    capture = TelemetryCapture(path)
    capture_one(capture)
    capture.close()
    assert mode_of(path) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o666])
def test_existing_file_mode_is_not_changed(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "telemetry.json"
    path.write_text("[]\n")
    path.chmod(mode)
    capture = TelemetryCapture(path)
    capture_one(capture)
    capture_one(capture)
    capture.close()
    assert mode_of(path) == mode
    assert len(json.loads(path.read_text())) == 2


# -- the shared default capture ----------------------------------------------------------


def test_default_capture_follows_changes_of_the_telemetry_file_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "first.json"))
    first = default_capture()
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "second.json"))
    second = default_capture()
    assert first.telemetry_file == tmp_path / "first.json"
    assert second.telemetry_file == tmp_path / "second.json"


def test_default_capture_is_reused_for_the_same_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "t.json"))
    assert default_capture() is default_capture()


def test_default_capture_follows_betty_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_HOME", str(tmp_path / "home"))
    assert default_capture().telemetry_file == tmp_path / "home" / "registry" / "telemetry.json"


def test_decorator_writes_to_the_file_named_at_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @capture_telemetry(skill_name="agent.run")
    def run(n: int) -> int:
        return n

    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "first.json"))
    run(1)
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "second.json"))
    run(2)
    run(3)
    assert len(json.loads((tmp_path / "first.json").read_text())) == 1
    assert len(json.loads((tmp_path / "second.json").read_text())) == 2


def test_the_library_logger_is_made_on_first_use_and_tells_who_waits_for_it() -> None:
    import logging

    from betty_telemetry._config import LOGGER_NAME, _LibraryLogger

    lazy = _LibraryLogger()
    seen: list[logging.Logger] = []
    cancelled: list[logging.Logger] = []
    lazy.when_made(seen.append)
    cancel = lazy.when_made(cancelled.append)
    cancel()
    cancel()  # twice: nothing to cancel any more, no error
    assert seen == []  # nothing logged, nothing made
    assert lazy.name == LOGGER_NAME  # any use makes the real logger
    assert seen == [logging.getLogger(LOGGER_NAME)]
    assert cancelled == []
    made_later: list[logging.Logger] = []
    lazy.when_made(made_later.append)()  # once made: called at once, its cancel a no-op
    assert made_later == [logging.getLogger(LOGGER_NAME)]
    assert lazy.made() is logging.getLogger(LOGGER_NAME)
