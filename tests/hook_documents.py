"""Realistic Claude Code hook documents (the fields its hooks reference gives each event),
and a way to feed one to the real ``betty-telemetry hook`` in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SESSION = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
TRANSCRIPT = "/home/dev/.claude/projects/-work-app/0f1e2d3c.jsonl"
CWD = "/work/app"


def document(event: str, session: str = SESSION, **fields: Any) -> dict[str, Any]:
    """A hook document: the fields every event has, then the event's own."""
    return {
        "session_id": session,
        "transcript_path": TRANSCRIPT,
        "cwd": CWD,
        "permission_mode": "default",
        "hook_event_name": event,
        **fields,
    }


def pre_tool(tool: str, call_id: str, tool_input: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return document(
        "PreToolUse", tool_name=tool, tool_input=tool_input, tool_use_id=call_id, **fields
    )


def post_tool(
    tool: str,
    call_id: str,
    tool_input: dict[str, Any],
    response: object = None,
    **fields: Any,
) -> dict[str, Any]:
    return document(
        "PostToolUse",
        tool_name=tool,
        tool_input=tool_input,
        tool_response=response if response is not None else {"success": True},
        tool_use_id=call_id,
        **fields,
    )


def failed_tool(
    tool: str, call_id: str, tool_input: dict[str, Any], error: str, **fields: Any
) -> dict[str, Any]:
    return document(
        "PostToolUseFailure",
        tool_name=tool,
        tool_input=tool_input,
        tool_use_id=call_id,
        error=error,
        is_interrupt=False,
        **fields,
    )


def run_hook(
    stdin: object, telemetry_file: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``betty-telemetry hook`` in a child process, fed ``stdin`` (a document, or bytes as
    they are), recording to ``telemetry_file``. Checks what Claude Code needs of every call:
    exit code 0 and nothing on stdout."""
    data = stdin if isinstance(stdin, bytes) else json.dumps(stdin).encode()
    result = subprocess.run(
        [sys.executable, "-m", "betty_telemetry", "hook"],
        input=data,
        capture_output=True,
        env={**os.environ, "BETTY_TELEMETRY_FILE": str(telemetry_file), **(env or {})},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout == b""
    return result
