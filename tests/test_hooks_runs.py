"""How hook documents pair and nest in less common sessions: parallel subagents, a session
resumed, a turn interrupted, documents from older Claude Code versions. Run by the CLI in this
process (the child-process tests are in test_hooks.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry._config import hook_flags, resolve_hook_path
from betty_telemetry.hooks import ids
from tests.conftest import CliHere
from tests.hook_documents import SESSION, document, failed_tool, post_tool, pre_tool
from tests.stores import stored_entries


@pytest.fixture
def hook(cli_here: CliHere, monkeypatch: pytest.MonkeyPatch, telemetry_env: Path) -> Any:
    def feed(document: object) -> None:
        data = json.dumps(document).encode()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        result = cli_here("hook")
        assert (result.returncode, result.stdout) == (0, "")

    return feed


def runs(path: Path) -> dict[str, dict[str, Any]]:
    return {entry["span_id"]: entry for entry in stored_entries(path)}


def test_parallel_subagents_nest_under_their_own_task_calls(hook: Any, telemetry_env: Path) -> None:
    explore = {"prompt": "find it", "subagent_type": "Explore"}
    plan = {"prompt": "plan it", "subagent_type": "Plan"}
    hook(pre_tool("Task", "toolu_a", explore))
    hook(pre_tool("Task", "toolu_b", plan))
    hook(pre_tool("Task", "toolu_c", explore))
    hook(document("SubagentStart", agent_id="p1", agent_type="Plan"))
    hook(document("SubagentStart", agent_id="e1", agent_type="Explore"))
    hook(document("SubagentStart", agent_id="e2", agent_type="Explore"))
    found = runs(telemetry_env)
    assert found[ids.agent_span(SESSION, "p1")]["parent_id"] == ids.tool_span(SESSION, "toolu_b")
    assert found[ids.agent_span(SESSION, "e1")]["parent_id"] == ids.tool_span(SESSION, "toolu_a")
    assert found[ids.agent_span(SESSION, "e2")]["parent_id"] == ids.tool_span(SESSION, "toolu_c")


def test_a_subagent_with_no_task_call_running_nests_under_the_session(
    hook: Any, telemetry_env: Path
) -> None:
    task = {"prompt": "x", "subagent_type": "Explore"}
    hook(pre_tool("Task", "toolu_done", task))
    hook(post_tool("Task", "toolu_done", task))
    hook(document("SubagentStart", agent_id="late", agent_type="Explore"))
    agent = runs(telemetry_env)[ids.agent_span(SESSION, "late")]
    assert agent["parent_id"] == ids.session_span(SESSION)
    assert agent["metadata"]["nested_under"] == "session"


def test_a_subagent_of_another_type_takes_a_task_call_left_unclaimed(
    hook: Any, telemetry_env: Path
) -> None:
    hook(pre_tool("Agent", "toolu_any", {"prompt": "x"}))
    hook(document("SubagentStart", agent_id="g1", agent_type="general-purpose"))
    agent = runs(telemetry_env)[ids.agent_span(SESSION, "g1")]
    assert agent["parent_id"] == ids.tool_span(SESSION, "toolu_any")


def test_a_resumed_session_keeps_one_root_run(hook: Any, telemetry_env: Path) -> None:
    hook(document("SessionStart", source="startup"))
    hook(document("SessionStart", source="compact"))
    hook(document("SessionStart", source="resume"))
    [root] = stored_entries(telemetry_env)
    assert root["span_id"] == ids.session_span(SESSION)


def test_a_session_first_seen_on_resume_gets_its_root_run(hook: Any, telemetry_env: Path) -> None:
    hook(document("SessionStart", source="resume"))
    [root] = stored_entries(telemetry_env)
    assert (root["skill"], root["status"], root["metadata"]["source"]) == (
        "claude-code",
        "pending",
        "resume",
    )


def test_stop_ends_the_newest_turn_still_going(hook: Any, telemetry_env: Path) -> None:
    hook(document("UserPromptSubmit", prompt="first"))
    hook(document("Stop"))
    hook(document("UserPromptSubmit", prompt="second, longer"))
    hook(document("Stop", stop_hook_active=True))
    turns = [run for run in runs(telemetry_env).values() if run["skill"] == "claude-code.turn"]
    assert [(turn["status"], turn["inputs"]) for turn in turns] == [
        ("success", {"prompt_chars": 5}),
        ("success", {"prompt_chars": 14}),
    ]
    assert turns[1]["metadata"]["stop_hook_active"] is True


def test_a_stop_with_no_turn_going_is_recorded_unpaired(hook: Any, telemetry_env: Path) -> None:
    hook(document("Stop"))
    [entry] = stored_entries(telemetry_env)
    assert (entry["skill"], entry["status"], entry["duration_ms"]) == (
        "claude-code.turn",
        "success",
        0.0,
    )
    assert entry["metadata"]["paired"] is False


def test_an_interrupted_tool_is_a_failure_marked_interrupted(
    hook: Any, telemetry_env: Path
) -> None:
    failure = failed_tool("Bash", "toolu_1", {"command": "sleep 60"}, "Interrupted by user")
    failure["is_interrupt"] = True
    hook(failure)
    [entry] = stored_entries(telemetry_env)
    assert (entry["status"], entry["error_message"]) == ("failure", "Interrupted by user")
    assert entry["metadata"]["interrupted"] is True


def test_a_failure_without_a_message_still_says_it_failed(hook: Any, telemetry_env: Path) -> None:
    failure = failed_tool("Bash", "toolu_1", {"command": "false"}, "")
    hook(failure)
    [entry] = stored_entries(telemetry_env)
    assert entry["error_message"] == "tool failed"


def test_a_post_without_a_call_id_is_a_run_of_its_own(hook: Any, telemetry_env: Path) -> None:
    post = post_tool("Bash", "", {"command": "ls"})
    del post["tool_use_id"]
    hook(post)
    [entry] = stored_entries(telemetry_env)
    assert (entry["status"], entry["metadata"]["paired"]) == ("success", False)


def test_a_subagent_stop_without_an_agent_id_is_a_run_of_its_own(
    hook: Any, telemetry_env: Path
) -> None:
    hook(document("SubagentStop", stop_hook_active=False))
    [entry] = stored_entries(telemetry_env)
    assert (entry["skill"], entry["metadata"]["kind"], entry["metadata"]["paired"]) == (
        "subagent",
        "agent",
        False,
    )


def test_tool_input_that_is_not_an_object_is_kept_under_a_name(
    hook: Any, telemetry_env: Path
) -> None:
    hook(document("PreToolUse", tool_name="mcp__db__query", tool_use_id="t", tool_input="SELECT 1"))
    hook(document("PreToolUse", tool_name="", tool_use_id="u"))
    first, second = stored_entries(telemetry_env)
    assert (first["skill"], first["inputs"]) == ("mcp__db__query", {"tool_input": "SELECT 1"})
    assert (second["skill"], second["inputs"]) == ("unknown-tool", {})


def test_multi_edit_and_notebook_contents_are_left_out(hook: Any, telemetry_env: Path) -> None:
    edits = [{"old_string": "a", "new_string": "b"}] * 3
    hook(pre_tool("MultiEdit", "t1", {"file_path": "f.py", "edits": edits}))
    hook(pre_tool("NotebookEdit", "t2", {"notebook_path": "n.ipynb", "new_source": 7}))
    first, second = stored_entries(telemetry_env)
    assert first["inputs"]["edits"] == "<not stored: 3 items>"
    assert second["inputs"]["new_source"] == "<not stored>"


def test_the_hook_records_in_the_project_claude_code_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path / "app"))
    resolved = resolve_hook_path()
    assert resolved.path == str(tmp_path / "app" / "registry" / "telemetry.json")
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "mine.json"))
    assert resolve_hook_path().path == str(tmp_path / "mine.json")
    assert resolve_hook_path("x.db").rule == "telemetry_file argument"


@pytest.mark.parametrize(
    ("outputs", "prompts", "flags"),
    [("1", "0", (True, False)), ("no", "yes", (False, True)), ("maybe", "1", (False, True))],
)
def test_hook_flags_read_the_environment_and_a_bad_value_keeps_things_out(
    monkeypatch: pytest.MonkeyPatch, outputs: str, prompts: str, flags: tuple[bool, bool]
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_HOOK_OUTPUTS", outputs)
    monkeypatch.setenv("BETTY_TELEMETRY_HOOK_PROMPTS", prompts)
    assert hook_flags() == flags


def test_readers_show_a_tool_call_once_its_end_replaced_its_start(
    hook: Any, telemetry_env: Path
) -> None:
    from betty_telemetry import TelemetryCapture

    hook(pre_tool("Bash", "toolu_1", {"command": "ls"}))
    hook(pre_tool("Read", "toolu_2", {"file_path": "a.py"}))
    hook(post_tool("Bash", "toolu_1", {"command": "ls"}))
    telemetry = TelemetryCapture(telemetry_env)
    statuses = [(entry["skill"], entry["status"]) for entry in telemetry.query()]
    assert statuses == [("Bash", "success"), ("Read", "pending")]
    assert [entry["skill"] for entry in telemetry.running()] == ["Read"]
    final = telemetry.query(skill="Bash")[0]
    assert final["metadata"]["pending_at"] == stored_entries(telemetry_env)[0]["timestamp"]
    (row,) = [row for row in telemetry.stats() if row["key"] == "Bash"]
    assert row["count"] == 1


def test_a_bad_option_never_blocks_claude_code(cli_here: CliHere) -> None:
    result = cli_here("hook", "--no-such-option")
    assert (result.returncode, result.stdout) == (0, "")
    assert "unrecognized arguments" in result.stderr


def test_a_session_ended_resumed_and_ended_again_is_one_run(hook: Any, telemetry_env: Path) -> None:
    from betty_telemetry import TelemetryCapture

    hook(document("SessionStart", source="startup"))
    hook(document("SessionEnd", reason="exit"))
    hook(document("SessionStart", source="resume"))
    hook(document("SessionEnd", reason="exit"))
    assert len(stored_entries(telemetry_env)) == 3  # its start, and two ends
    telemetry = TelemetryCapture(telemetry_env)
    (session,) = telemetry.query(skill="claude-code")
    assert session["status"] == "success"
    assert session["timestamp"] == stored_entries(telemetry_env)[-1]["timestamp"]  # the last end
    assert len(telemetry.trace(ids.trace_id(SESSION))) == 1
