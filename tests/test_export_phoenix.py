"""End to end against a real tracing backend, Arize Phoenix (tests/backend/phoenix.py): a
nested workflow (decorator, context manager, a CLI child process joined with child_env())
exported live, and the same file replayed; read back from Phoenix's own API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry, child_env
from betty_telemetry.export import OtlpExport, export_otlp
from betty_telemetry.export.mapping import span_of
from tests.backend.phoenix import Phoenix, PhoenixSpan, as_stored_by_phoenix

pytestmark = pytest.mark.backend

SECRET = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"


def run_workflow(path: Path, phoenix: Phoenix, project: str, *, live: bool) -> None:
    """The workflow, its runs exported live to ``project``, or only stored (``live=False``)."""
    export = OtlpExport(phoenix.endpoint, headers=phoenix.headers(project)) if live else False
    telemetry = TelemetryCapture(path, export=export)

    @capture_telemetry("workflow.release", capture_inputs=True, telemetry=telemetry)
    def release(version: str, token: str) -> None:
        with TelemetryContext("api.designer", telemetry=telemetry) as agent:
            agent.set_metadata(kind="agent")
            agent.set_inputs(goal="design the API", password=SECRET)
            env = {**child_env(), "BETTY_TELEMETRY_EXPORT": "otlp" if live else "none"}
            env.update(phoenix.exporter_env(project))
            tool = ["Bash", "failure", "42", "agent", '{"command": "make test"}', "exit status 2"]
            metadata = ["--metadata", '{"kind": "tool", "tool_use_id": "toolu_01"}']
            subprocess.run(
                [sys.executable, "-m", "betty_telemetry", *tool, *metadata, "--file", str(path)],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )

    try:
        release("1.2.0", token=SECRET)
        assert telemetry.flush(30)
    finally:
        telemetry.close()


def check_stored(path: Path, stored: list[PhoenixSpan]) -> None:
    entries = {entry["skill"]: entry for entry in TelemetryCapture(path).query()}
    spans = {span.name: span for span in stored}
    assert set(spans) == {"workflow.release", "api.designer", "Bash"}
    for name, span in spans.items():
        entry, expected = entries[name], span_of(entries[name])
        assert (span.trace_id, span.span_id) == (entry["trace_id"], entry["span_id"])
        assert span.parent_span_id == entry["parent_id"]
        assert span.start_ns == as_stored_by_phoenix(expected.start_ns)
        assert span.end_ns == as_stored_by_phoenix(expected.end_ns)
    root, agent, tool = spans["workflow.release"], spans["api.designer"], spans["Bash"]
    assert root.parent_span_id is None
    assert agent.parent_span_id == root.span_id
    assert tool.parent_span_id == agent.span_id
    assert (root.status_code, agent.status_code) == ("OK", "OK")
    assert (tool.status_code, tool.status_message) == ("ERROR", "exit status 2")
    assert (agent.span_kind, tool.span_kind) == ("AGENT", "TOOL")
    assert agent.attributes["gen_ai.agent.name"] == "api.designer"
    assert tool.attributes["gen_ai.tool.name"] == "Bash"
    assert tool.attributes["gen_ai.tool.call.id"] == "toolu_01"
    assert tool.attributes["betty.inputs.command"] == "make test"
    assert tool.attributes["error.type"] == "failure"
    assert root.attributes["betty.inputs.version"] == "1.2.0"
    everything = json.dumps([span.attributes for span in stored])
    assert SECRET not in everything
    # the token (root), the password (agent: its attribute, and its input.value), as stored
    assert everything.count("***REDACTED***") == 3


def test_a_workflow_exported_live_reads_back_from_phoenix(
    tmp_path: Path, phoenix: Phoenix, phoenix_project: str
) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    run_workflow(path, phoenix, phoenix_project, live=True)
    check_stored(path, phoenix.wait_for_spans(3, phoenix_project, timeout=60))
    assert SECRET not in path.read_text()
    # Replayed after it went live: the same span ids, which Phoenix keeps once.
    assert export_otlp(path, phoenix.endpoint, headers=phoenix.headers(phoenix_project)).sent == 3
    time.sleep(3)
    assert len(phoenix.spans(phoenix_project)) == 3


def test_a_workflow_replayed_reads_back_from_phoenix(
    tmp_path: Path, phoenix: Phoenix, phoenix_project: str
) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    run_workflow(path, phoenix, phoenix_project, live=False)
    assert phoenix.spans(phoenix_project) == []
    done = export_otlp(path, phoenix.endpoint, headers=phoenix.headers(phoenix_project))
    assert done.sent == 3
    check_stored(path, phoenix.wait_for_spans(3, phoenix_project, timeout=60))


def test_the_command_replays_the_original_framework_file(
    tmp_path: Path, phoenix: Phoenix, phoenix_project: str
) -> None:
    from tests.conftest import FIXTURE

    path = tmp_path / "legacy.json"
    path.write_bytes(FIXTURE.read_bytes())
    entries = json.loads(path.read_text())[:40]
    path.write_text(json.dumps(entries))
    env = {**os.environ, **phoenix.exporter_env(phoenix_project)}
    result = subprocess.run(
        [sys.executable, "-m", "betty_telemetry", "export", "--otlp", "--file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    stored = phoenix.wait_for_spans(len(entries), phoenix_project, timeout=90)
    assert sorted(span.name for span in stored) == sorted(entry["skill"] for entry in entries)
    failed = [span for span in stored if span.attributes.get("betty.status") == "failed"]
    assert failed
    assert {span.status_code for span in failed} == {"ERROR"}
