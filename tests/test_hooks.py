"""``betty-telemetry hook``, the real command in a child process, fed the documents Claude
Code sends: the runs it records, their nesting and durations, what it keeps out, and exit
code 0 with nothing on stdout for every input, good or bad."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.hooks import ids
from tests.hook_documents import (
    SESSION,
    document,
    failed_tool,
    post_tool,
    pre_tool,
    run_hook,
)
from tests.stores import stored_entries

pytestmark = pytest.mark.every_store

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
TRACE = ids.trace_id(SESSION)


def runs(path: Path) -> dict[str, dict[str, Any]]:
    """Each run as readers show it: the newest entry of its span (a final replaces its
    pending entry)."""
    return {entry["span_id"]: entry for entry in stored_entries(path)}


def stored_bytes(path: Path) -> bytes:
    return b"".join(file.read_bytes() for file in path.parent.iterdir() if file.is_file())


PROMPT = f"deploy with password=hunter2 and {GITHUB_TOKEN}"
WRITTEN = f"token {GITHUB_TOKEN} — café 日本 🚀"


def session_calls() -> list[dict[str, Any]]:
    """A session as Claude Code reports it: a prompt, a shell command holding secrets, a
    Task whose subagent reads a file that is not there, a file written, the end."""
    bash = {"command": f"AWS_ACCESS_KEY_ID={AWS_KEY} aws s3 ls", "description": "List buckets"}
    task = {
        "description": "Find the config",
        "prompt": "Look for app.toml",
        "subagent_type": "Explore",
    }
    read = {"file_path": "/work/app/app.toml"}
    in_agent = {"agent_id": "agent-7", "agent_type": "Explore"}
    write = {"file_path": "/work/app/notes.md", "content": WRITTEN}
    return [
        document("SessionStart", source="startup", model="claude-sonnet-4-5"),
        document("UserPromptSubmit", prompt=PROMPT),
        pre_tool("Bash", "toolu_bash", bash),
        post_tool("Bash", "toolu_bash", bash, {"stdout": "bucket-a", "stderr": ""}),
        pre_tool("Task", "toolu_task", task),
        document("SubagentStart", agent_id="agent-7", agent_type="Explore"),
        pre_tool("Read", "toolu_read", read, **in_agent),
        failed_tool("Read", "toolu_read", read, "File does not exist.", **in_agent),
        document("SubagentStop", agent_id="agent-7", agent_type="Explore", stop_hook_active=False),
        post_tool("Task", "toolu_task", task, {"content": "No app.toml here"}),
        pre_tool("Write", "toolu_write", write),
        post_tool("Write", "toolu_write", write, {"filePath": "/work/app/notes.md"}),
        document("Stop", stop_hook_active=False),
        document("SessionEnd", reason="prompt_input_exit"),
    ]


def test_a_session_becomes_one_trace_of_nested_runs(telemetry_path: Path) -> None:
    for call in session_calls():
        run_hook(call, telemetry_path)
    found = runs(telemetry_path)
    session = found[ids.session_span(SESSION)]
    turn = next(run for run in found.values() if run["skill"] == "claude-code.turn")
    bash = found[ids.tool_span(SESSION, "toolu_bash")]
    task = found[ids.tool_span(SESSION, "toolu_task")]
    agent = found[ids.agent_span(SESSION, "agent-7")]
    read = found[ids.tool_span(SESSION, "toolu_read")]
    write = found[ids.tool_span(SESSION, "toolu_write")]
    assert len(found) == 7
    assert {run["trace_id"] for run in found.values()} == {TRACE}
    assert (session["skill"], session["status"], session["parent_id"]) == (
        "claude-code",
        "success",
        None,
    )
    for child in (turn, bash, task, write):
        assert child["parent_id"] == session["span_id"]
    assert agent["parent_id"] == task["span_id"]  # the subagent under the Task that started it
    assert read["parent_id"] == agent["span_id"]  # its tool calls under the subagent
    assert (bash["skill"], bash["caller"], bash["status"]) == ("Bash", "claude-code", "success")
    assert (task["skill"], task["metadata"]["tool_name"]) == ("Explore", "Task")
    assert (agent["skill"], agent["metadata"]["kind"], agent["status"]) == (
        "Explore",
        "agent",
        "success",
    )
    assert (read["caller"], read["status"]) == ("Explore", "failure")
    assert read["error_message"] == "File does not exist."
    assert (turn["status"], turn["inputs"]) == ("success", {"prompt_chars": len(PROMPT)})
    assert bash["metadata"]["tool_use_id"] == "toolu_bash"
    assert bash["metadata"]["kind"] == "tool"
    assert bash["metadata"]["session_id"] == SESSION
    assert bash["metadata"]["cwd"] == "/work/app"


def test_runs_nest_and_last_as_long_as_their_parts(telemetry_path: Path) -> None:
    for call in session_calls():
        run_hook(call, telemetry_path)
        time.sleep(0.02)
    found = runs(telemetry_path)
    session = found[ids.session_span(SESSION)]
    task = found[ids.tool_span(SESSION, "toolu_task")]
    agent = found[ids.agent_span(SESSION, "agent-7")]
    read = found[ids.tool_span(SESSION, "toolu_read")]
    assert session["duration_ms"] >= task["duration_ms"] >= agent["duration_ms"]
    assert agent["duration_ms"] >= read["duration_ms"] > 0
    # A run's final entry is stamped at its end: its start is that less its duration.
    tree = TelemetryCapture(telemetry_file=telemetry_path).trace(TRACE)
    assert {node["entry"]["skill"] for node in tree} == {"claude-code"}
    children = [child["entry"]["skill"] for node in tree for child in node["children"]]
    # In start order (a reader showing a pending entry beside its final lists a run twice).
    assert list(dict.fromkeys(children)) == ["claude-code.turn", "Bash", "Explore", "Write"]


def test_a_tool_run_lasts_from_its_pre_to_its_post(telemetry_path: Path) -> None:
    bash = {"command": "sleep 1"}
    run_hook(pre_tool("Bash", "toolu_1", bash), telemetry_path)
    [pending] = stored_entries(telemetry_path)
    time.sleep(0.4)
    run_hook(post_tool("Bash", "toolu_1", bash), telemetry_path)
    pending_then, final = stored_entries(telemetry_path)
    assert pending_then == pending
    assert (pending["status"], pending["duration_ms"]) == ("pending", 0.0)
    assert final["status"] == "success"
    assert [final[name] for name in ("trace_id", "span_id", "parent_id")] == [
        pending[name] for name in ("trace_id", "span_id", "parent_id")
    ]
    assert 400 <= final["duration_ms"] < 30_000


def test_secrets_in_tool_inputs_never_reach_the_disk(telemetry_path: Path) -> None:
    for call in session_calls():
        run_hook(call, telemetry_path)
    on_disk = stored_bytes(telemetry_path)
    for secret in (AWS_KEY, GITHUB_TOKEN, "hunter2"):
        assert secret.encode() not in on_disk
    bash = runs(telemetry_path)[ids.tool_span(SESSION, "toolu_bash")]
    assert "aws s3 ls" in bash["inputs"]["command"]
    assert bash["metadata"]["redactions"]


def test_file_contents_and_tool_outputs_are_left_out(telemetry_path: Path) -> None:
    for call in session_calls():
        run_hook(call, telemetry_path)
    found = runs(telemetry_path)
    write = found[ids.tool_span(SESSION, "toolu_write")]
    assert write["inputs"] == {
        "file_path": "/work/app/notes.md",
        "content": f"<not stored: {len(WRITTEN)} characters>",
    }
    assert all("output" not in run["metadata"] for run in found.values())
    assert b"bucket-a" not in stored_bytes(telemetry_path)
    assert "café".encode() not in stored_bytes(telemetry_path)


def test_outputs_and_prompts_are_kept_when_asked_and_redacted_still(telemetry_path: Path) -> None:
    env = {"BETTY_TELEMETRY_HOOK_OUTPUTS": "1", "BETTY_TELEMETRY_HOOK_PROMPTS": "1"}
    for call in session_calls():
        run_hook(call, telemetry_path, env)
    found = runs(telemetry_path)
    bash = found[ids.tool_span(SESSION, "toolu_bash")]
    write = found[ids.tool_span(SESSION, "toolu_write")]
    turn = next(run for run in found.values() if run["skill"] == "claude-code.turn")
    assert bash["metadata"]["output"] == {"stdout": "bucket-a", "stderr": ""}
    assert write["inputs"]["content"].endswith("— café 日本 🚀")
    assert turn["inputs"]["prompt"].startswith("deploy with password")
    on_disk = stored_bytes(telemetry_path)
    assert GITHUB_TOKEN.encode() not in on_disk
    assert b"hunter2" not in on_disk


def test_a_post_whose_pre_never_came_is_a_run_of_no_duration(telemetry_path: Path) -> None:
    run_hook(post_tool("Grep", "toolu_lost", {"pattern": "TODO"}), telemetry_path)
    [entry] = stored_entries(telemetry_path)
    assert (entry["skill"], entry["status"], entry["duration_ms"]) == ("Grep", "success", 0.0)
    assert entry["metadata"]["paired"] is False
    assert entry["span_id"] == ids.tool_span(SESSION, "toolu_lost")
    assert entry["parent_id"] == ids.session_span(SESSION)


def test_a_pre_never_followed_stays_pending(telemetry_path: Path) -> None:
    run_hook(pre_tool("Bash", "toolu_hung", {"command": "sleep 9999"}), telemetry_path)
    run_hook(pre_tool("Bash", "toolu_next", {"command": "ls"}), telemetry_path)
    run_hook(post_tool("Bash", "toolu_next", {"command": "ls"}), telemetry_path)
    found = runs(telemetry_path)
    assert found[ids.tool_span(SESSION, "toolu_hung")]["status"] == "pending"
    assert found[ids.tool_span(SESSION, "toolu_next")]["status"] == "success"


@pytest.mark.json_only(reason="what reaches the store is the pipeline's; one store shows it")
def test_a_huge_input_is_cut_to_the_entry_limit(telemetry_path: Path) -> None:
    huge = {"command": "echo " + "x" * 5_000_000, "description": "big"}
    run_hook(pre_tool("Bash", "toolu_big", huge), telemetry_path)
    [entry] = stored_entries(telemetry_path)
    assert telemetry_path.stat().st_size < 70_000
    assert entry["metadata"]["truncated"]
    assert entry["inputs"]["description"] == "big"


@pytest.mark.json_only(reason="the mapping of names, not the store, is under test")
def test_skill_runs_are_named_by_the_skill_they_ran(telemetry_path: Path) -> None:
    skill = {"skill": "telemetry.capture"}
    run_hook(pre_tool("Skill", "toolu_skill", skill), telemetry_path)
    run_hook(post_tool("Skill", "toolu_skill", skill), telemetry_path)
    entry = stored_entries(telemetry_path)[-1]
    assert (entry["skill"], entry["metadata"]["tool_name"]) == ("telemetry.capture", "Skill")


@pytest.mark.json_only(reason="every input is refused before any store is opened")
@pytest.mark.parametrize(
    "stdin",
    [
        b"",
        b"   \n",
        b"garbage",
        b"[1, 2, 3]",
        b'"PreToolUse"',
        b"\xff\xfe\x00not utf-8",
        b"[" * 200_000,
        b'{"hook_event_name": 42}',
        json.dumps(document("Notification", message="Claude needs your permission")).encode(),
        json.dumps(document("SomethingNew", anything={"at": "all"})).encode(),
        json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Bash"}).encode(),
        json.dumps(document("SubagentStart", agent_type="Explore")).encode(),
    ],
    ids=[
        "empty",
        "blank",
        "garbage",
        "array",
        "string",
        "not-utf8",
        "deep",
        "event-not-text",
        "notification",
        "unknown-event",
        "pre-without-call-id",
        "subagent-without-id",
    ],
)
def test_what_is_not_a_run_records_nothing(telemetry_path: Path, stdin: bytes) -> None:
    run_hook(stdin, telemetry_path)
    assert not telemetry_path.exists()


@pytest.mark.json_only(reason="the failure is the file system's, not a store's")
def test_an_unwritable_store_fails_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    result = run_hook(pre_tool("Bash", "toolu_1", {"command": "ls"}), blocker / "telemetry.json")
    assert b"nothing recorded" in result.stderr


@pytest.mark.json_only(reason="a corrupt JSON array is the case the original framework leaves")
def test_a_corrupt_store_fails_nothing_and_stays_as_it_was(telemetry_path: Path) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(b"this is not telemetry")
    result = run_hook(post_tool("Bash", "toolu_1", {"command": "ls"}), telemetry_path)
    assert b"nothing recorded" in result.stderr
    assert telemetry_path.read_bytes() == b"this is not telemetry"


@pytest.mark.json_only(reason="text the JSON reader accepts but UTF-8 cannot hold")
def test_unicode_of_every_kind_is_recorded_or_skipped_never_fatal(telemetry_path: Path) -> None:
    text = '{"hook_event_name": "PreToolUse", "session_id": "s", "tool_use_id": "t", '
    text += '"tool_name": "B\\u00e4sh \\ud83d\\ude80", "tool_input": {"q": "\\ud800 lone, 日本"}}'
    run_hook(text.encode(), telemetry_path)
    [entry] = stored_entries(telemetry_path)
    assert entry["skill"] == "Bäsh 🚀"
    assert "日本" in entry["inputs"]["q"]
