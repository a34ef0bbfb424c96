"""``install-hooks`` and ``uninstall-hooks`` on the settings files Claude Code reads: absent,
empty, holding others' settings and hooks, malformed (refused, never overwritten)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry.hooks.documents import EVENTS
from tests.conftest import CliHere
from tests.hook_documents import pre_tool
from tests.stores import stored_entries

OTHERS = {
    "permissions": {"allow": ["Bash(npm run test:*)"]},
    "env": {"FOO": "bar"},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/guard.sh"}]}
        ],
        "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}],
    },
}


def settings_file(tmp_path: Path, content: object | None) -> Path:
    path = tmp_path / "project" / ".claude" / "settings.json"
    path.parent.mkdir(parents=True)
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=4))
    return path


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.bak"))


def ours(settings: dict[str, Any]) -> dict[str, list[str]]:
    return {
        event: [
            handler["command"]
            for group in groups
            for handler in group["hooks"]
            if "betty_telemetry hook" in handler["command"]
        ]
        for event, groups in settings["hooks"].items()
    }


def test_an_absent_file_is_created_with_a_hook_on_every_event(
    tmp_path: Path, cli_here: CliHere
) -> None:
    path = settings_file(tmp_path, None)
    result = cli_here("install-hooks", "--settings", str(path))
    assert result.returncode == 0, result.stderr
    settings = json.loads(path.read_text())
    command = shlex.join([sys.executable, "-m", "betty_telemetry", "hook"])
    assert ours(settings) == {event: [command] for event in EVENTS}
    assert settings["hooks"]["PreToolUse"] == [
        {"matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": 30}]}
    ]
    assert "matcher" not in settings["hooks"]["Stop"][0]
    assert backups(path) == []
    assert f"Added betty-telemetry's hooks to {path}" in result.stdout


def test_an_empty_file_counts_as_no_settings_and_is_backed_up(
    tmp_path: Path, cli_here: CliHere
) -> None:
    path = settings_file(tmp_path, "")
    assert cli_here("install-hooks", "--settings", str(path)).returncode == 0
    assert set(json.loads(path.read_text())["hooks"]) == set(EVENTS)
    [backup] = backups(path)
    assert backup.read_text() == ""


def test_others_settings_and_hooks_are_kept_and_the_old_file_backed_up(
    tmp_path: Path, cli_here: CliHere
) -> None:
    path = settings_file(tmp_path, OTHERS)
    before = path.read_text()
    assert cli_here("install-hooks", "--settings", str(path)).returncode == 0
    settings = json.loads(path.read_text())
    assert settings["permissions"] == OTHERS["permissions"]
    assert settings["env"] == OTHERS["env"]
    assert settings["hooks"]["PreToolUse"][0] == OTHERS["hooks"]["PreToolUse"][0]
    assert settings["hooks"]["Notification"] == OTHERS["hooks"]["Notification"]
    assert len(settings["hooks"]["PreToolUse"]) == 2
    [backup] = backups(path)
    assert backup.read_text() == before


def test_installing_twice_changes_nothing(tmp_path: Path, cli_here: CliHere) -> None:
    path = settings_file(tmp_path, OTHERS)
    cli_here("install-hooks", "--settings", str(path))
    once = path.read_bytes()
    result = cli_here("install-hooks", "--settings", str(path))
    assert result.returncode == 0
    assert "Nothing to change" in result.stdout
    assert path.read_bytes() == once
    assert len(backups(path)) == 1


def test_another_installation_of_ours_is_replaced_not_doubled(
    tmp_path: Path, cli_here: CliHere
) -> None:
    old = {"type": "command", "command": "/old/venv/bin/betty-telemetry hook", "timeout": 5}
    path = settings_file(tmp_path, {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [old]}]}})
    cli_here("install-hooks", "--settings", str(path))
    settings = json.loads(path.read_text())
    assert [len(commands) for commands in ours(settings).values()] == [1] * len(EVENTS)
    assert "/old/venv" not in path.read_text()


def test_a_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path, cli_here: CliHere) -> None:
    path = settings_file(tmp_path, OTHERS)
    before = path.read_bytes()
    result = cli_here("install-hooks", "--settings", str(path), "--dry-run")
    assert result.returncode == 0
    assert f"+++ {path}" in result.stdout
    assert '+          "command": ' in result.stdout or "betty_telemetry hook" in result.stdout
    assert "was not changed" in result.stdout
    assert path.read_bytes() == before
    assert backups(path) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hooks": {', "is not valid JSON"),
        ("[1, 2]", "the file must be a JSON object"),
        ('{"hooks": []}', '"hooks" must be an object'),
        ('{"hooks": {"PreToolUse": {"matcher": "*"}}}', '"hooks"."PreToolUse" must be a list'),
        ('{"hooks": {"Stop": ["echo hi"]}}', 'a group of "hooks"."Stop" must be an object'),
        ('{"hooks": {"Stop": [{"hooks": "echo"}]}}', 'with a "hooks" list'),
    ],
    ids=["not-json", "array", "hooks-array", "event-object", "group-string", "handlers-string"],
)
@pytest.mark.parametrize("command", ["install-hooks", "uninstall-hooks"])
def test_a_malformed_file_is_refused_and_left_as_it_was(
    tmp_path: Path, cli_here: CliHere, content: str, message: str, command: str
) -> None:
    path = settings_file(tmp_path, content)
    result = cli_here(command, "--settings", str(path))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Nothing was changed" in result.stderr or "nothing was changed" in result.stderr
    assert path.read_text() == content
    assert sorted(file.name for file in path.parent.iterdir()) == ["settings.json"]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path, cli_here: CliHere) -> None:
    path = settings_file(tmp_path, None)
    path.write_bytes(b'{"env": "\xff"}')
    result = cli_here("install-hooks", "--settings", str(path))
    assert result.returncode == 1
    assert "is not UTF-8" in result.stderr
    assert path.read_bytes() == b'{"env": "\xff"}'


def test_uninstall_removes_ours_and_leaves_the_rest(tmp_path: Path, cli_here: CliHere) -> None:
    path = settings_file(tmp_path, OTHERS)
    cli_here("install-hooks", "--settings", str(path))
    result = cli_here("uninstall-hooks", "--settings", str(path))
    assert result.returncode == 0
    assert "Removed betty-telemetry's hooks" in result.stdout
    assert json.loads(path.read_text()) == OTHERS
    again = cli_here("uninstall-hooks", "--settings", str(path))
    assert "has no betty-telemetry hook" in again.stdout


def test_uninstall_of_a_file_holding_only_ours_leaves_no_hooks_key(
    tmp_path: Path, cli_here: CliHere
) -> None:
    path = settings_file(tmp_path, {"model": "opus"})
    cli_here("install-hooks", "--settings", str(path))
    cli_here("uninstall-hooks", "--settings", str(path))
    assert json.loads(path.read_text()) == {"model": "opus"}


def test_uninstall_keeps_others_sharing_a_group_with_ours(
    tmp_path: Path, cli_here: CliHere
) -> None:
    mine = {"type": "command", "command": "python3 -m betty_telemetry hook"}
    theirs = {"type": "command", "command": "./audit.sh"}
    shared = {"hooks": {"Stop": [{"hooks": [theirs, mine]}]}}
    path = settings_file(tmp_path, shared)
    cli_here("uninstall-hooks", "--settings", str(path))
    assert json.loads(path.read_text()) == {"hooks": {"Stop": [{"hooks": [theirs]}]}}


def test_uninstall_of_an_absent_file_creates_nothing(tmp_path: Path, cli_here: CliHere) -> None:
    path = settings_file(tmp_path, None)
    result = cli_here("uninstall-hooks", "--settings", str(path))
    assert result.returncode == 0
    assert not path.exists()


def test_scopes_name_claude_codes_files(tmp_path: Path, cli_here: CliHere) -> None:
    home, project = tmp_path / "home", tmp_path / "app"
    home.mkdir()
    project.mkdir()
    env = {"HOME": str(home)}
    cli_here("install-hooks", env=env, cwd=project)
    cli_here("install-hooks", "--local", env=env, cwd=project)
    cli_here("install-hooks", "--user", env=env, cwd=project)
    for path in (
        project / ".claude" / "settings.json",
        project / ".claude" / "settings.local.json",
        home / ".claude" / "settings.json",
    ):
        assert set(json.loads(path.read_text())["hooks"]) == set(EVENTS)


def test_the_files_permissions_are_kept(tmp_path: Path, cli_here: CliHere) -> None:
    path = settings_file(tmp_path, OTHERS)
    path.chmod(0o600)
    cli_here("install-hooks", "--settings", str(path))
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_installed_command_records_when_claude_code_runs_it(
    tmp_path: Path, cli_here: CliHere
) -> None:
    telemetry = tmp_path / "data" / "claude.jsonl"
    path = settings_file(tmp_path, None)
    cli_here("install-hooks", "--settings", str(path), "--file", str(telemetry))
    [group] = json.loads(path.read_text())["hooks"]["PreToolUse"]
    command = group["hooks"][0]["command"]
    document = pre_tool("Bash", "toolu_1", {"command": "ls"})
    # As Claude Code runs it: through a shell, in the project, with another PATH.
    env = {**os.environ, "PATH": "/usr/bin:/bin", "CLAUDE_PROJECT_DIR": str(path.parents[1])}
    result = subprocess.run(
        command,
        shell=True,
        input=json.dumps(document).encode(),
        capture_output=True,
        env=env,
        cwd=path.parents[1],
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, b"")
    [entry] = stored_entries(telemetry)
    assert (entry["skill"], entry["status"]) == ("Bash", "pending")
