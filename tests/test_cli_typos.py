"""A mistyped command is never recorded as a skill: the CLI says which command was meant, and
records nothing; an explicit ``capture`` (and the spec's script) still records any name."""

from __future__ import annotations

from pathlib import Path

import pytest

from betty_telemetry.cli.main import main_capture
from betty_telemetry.cli.suggest import edit_distance
from tests.conftest import CliHere, run_cli


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (["stat", "failure", "10", "me"], "stats"),
        (["querry", "--status", "failure"], "query"),
        (["tial"], "tail"),
        (["exprot", "--otlp-json", "x.jsonl"], "export"),
        (["Stats"], "stats"),
        (["repot", "-o", "r.html"], "report"),
        (["runing", "success", "1", "me"], "running"),
        (["hooks", "success", "1", "me"], "hook"),
    ],
)
def test_a_mistyped_command_is_refused_with_the_command_meant(
    cli_here: CliHere, tmp_path: Path, args: list[str], meant: str
) -> None:
    target = tmp_path / "t.json"
    done = cli_here(*args, "--file", str(target))
    assert done.returncode == 2
    assert f"'{args[0]}' is not a command. Did you mean '{meant}'?" in done.stderr
    assert f"betty-telemetry capture {args[0]} STATUS DURATION_MS CALLER" in done.stderr
    assert done.stdout == ""
    assert not target.exists()  # nothing recorded


@pytest.mark.parametrize(
    "skill", ["plugin.build", "stat.check", "lint", "deploy", "ab", "workflow.release"]
)
def test_skill_names_far_from_any_command_still_record(
    cli_here: CliHere, tmp_path: Path, skill: str
) -> None:
    target = tmp_path / "t.json"
    done = cli_here(skill, "success", "5", "me", "--file", str(target))
    assert done.returncode == 0, done.stderr
    assert f'"skill": "{skill}"' in done.stdout


def test_an_explicit_capture_records_a_name_like_a_command(
    cli_here: CliHere, tmp_path: Path
) -> None:
    target = tmp_path / "t.json"
    done = cli_here("capture", "stat", "failure", "10", "me", "--file", str(target))
    assert done.returncode == 0, done.stderr
    assert '"skill": "stat"' in done.stdout


def test_the_spec_script_records_any_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "t.json"
    assert main_capture(["stat", "failure", "10", "me", "--file", str(target)]) == 0
    assert '"skill": "stat"' in capsys.readouterr().out


def test_a_real_process_exits_2_and_records_nothing(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    done = run_cli("stat", "failure", "10", "me", "--file", str(target))
    assert done.returncode == 2
    assert "Did you mean 'stats'?" in done.stderr
    assert not target.exists()


@pytest.mark.parametrize(
    ("first", "second", "distance"),
    [
        ("stat", "stats", 1),
        ("tial", "tail", 1),
        ("querry", "query", 1),
        ("abc", "abc", 0),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
    ],
)
def test_edit_distance(first: str, second: str, distance: int) -> None:
    assert edit_distance(first, second, 5) == distance


def test_edit_distance_stops_past_its_limit() -> None:
    assert edit_distance("kitten", "sitting", 1) == 2  # "more than 1", said early
    assert edit_distance("a", "abcdef", 2) == 3
