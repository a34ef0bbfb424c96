"""Live export to a real OTLP/HTTP peer on loopback (tests/otlp_peer.py): what arrives, and
what happens when the peer refuses, slows down or goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry, child_env
from betty_telemetry.export import OtlpExport
from betty_telemetry.export.state import read_state, state_path
from tests.otlp_peer import OtlpPeer
from tests.otlp_spans import OtlpSpan

SECRET = "sk-live-0123456789abcdefghijklmnop"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "registry" / "telemetry.json"


def exporting(path: Path, peer: OtlpPeer, **settings: Any) -> TelemetryCapture:
    return TelemetryCapture(path, export=OtlpExport(peer.endpoint, **settings))


@pytest.fixture
def telemetry(path: Path, otlp_peer: OtlpPeer) -> Iterator[TelemetryCapture]:
    capture = exporting(path, otlp_peer, interval=0.05)
    yield capture
    capture.close()


def by_name(spans: list[OtlpSpan]) -> dict[str, OtlpSpan]:
    return {span.name: span for span in spans}


def test_a_capture_arrives_as_its_span(telemetry: TelemetryCapture, otlp_peer: OtlpPeer) -> None:
    entry = telemetry.capture(
        "api.validate",
        "failure",
        250.0,
        "workflow.compose",
        {"spec": {"path": "api.yaml"}},
        "Validation failed at step 3",
        {"env": "prod"},
    )
    assert telemetry.flush(10)
    (span,) = otlp_peer.wait_for_spans(1)
    assert span.name == "api.validate"
    assert span.kind == "INTERNAL"
    assert (span.status_code, span.status_message) == ("ERROR", "Validation failed at step 3")
    assert span.end_ns - span.start_ns == 250_000_000
    assert span.attributes["betty.caller"] == "workflow.compose"
    assert span.attributes["betty.inputs.spec.path"] == "api.yaml"
    assert span.attributes["betty.metadata.env"] == "prod"
    assert span.attributes["error.type"] == "failure"
    assert span.resource["service.name"] == "betty"
    assert span.resource["host.name"]
    assert span.scope_name == "betty_telemetry"
    assert telemetry.export is not None
    assert (telemetry.export.exported, telemetry.export.dropped) == (1, 0)
    # The store had it first, and still has it
    assert telemetry.query() == [entry]


def test_a_run_with_a_pending_entry_arrives_once_as_it_ends(
    telemetry: TelemetryCapture, otlp_peer: OtlpPeer
) -> None:
    with TelemetryContext("deploy.run", telemetry=telemetry, pending=True):
        pass
    telemetry.capture("after", "success", 1, "me")
    assert telemetry.flush(10)
    spans = otlp_peer.wait_for_spans(2)
    assert sorted(span.name for span in spans) == ["after", "deploy.run"]
    assert by_name(spans)["deploy.run"].status_code == "OK"
    assert telemetry.export is not None
    assert telemetry.export.dropped == 0


def test_a_nested_workflow_arrives_as_one_trace_without_its_secrets(
    path: Path, otlp_peer: OtlpPeer
) -> None:
    """Decorator, context manager and a CLI child process (joined through child_env()), all
    exported live: one trace, each parent link right, and the secret nowhere."""
    telemetry = exporting(path, otlp_peer)

    @capture_telemetry("workflow.release", capture_inputs=True, telemetry=telemetry)
    def release(version: str, api_key: str) -> None:
        with TelemetryContext("agent.builder", telemetry=telemetry) as step:
            step.set_inputs(token=SECRET)
            env = child_env()
            env.update(
                BETTY_TELEMETRY_EXPORT="otlp",
                OTEL_EXPORTER_OTLP_ENDPOINT=otlp_peer.base_url,
                OTEL_SERVICE_NAME="betty-cli",
            )
            arguments = ["plugin.build", "success", "12", "CLI", json.dumps({"password": SECRET})]
            subprocess.run(
                [sys.executable, "-m", "betty_telemetry", *arguments, "--file", str(path)],
                env=env,
                check=True,
                capture_output=True,
                timeout=60,
            )

    try:
        release("1.2.0", api_key=SECRET)
        assert telemetry.flush(10)
    finally:
        telemetry.close()
    spans = by_name(otlp_peer.wait_for_spans(3))
    assert set(spans) == {"workflow.release", "agent.builder", "plugin.build"}
    root, agent, child = spans["workflow.release"], spans["agent.builder"], spans["plugin.build"]
    assert {root.trace_id, agent.trace_id, child.trace_id} == {root.trace_id}
    assert root.parent_span_id is None
    assert agent.parent_span_id == root.span_id
    assert child.parent_span_id == agent.span_id
    assert child.attributes["betty.caller"] == "CLI"  # given on its command line
    assert child.resource["service.name"] == "betty-cli"
    assert root.start_ns <= agent.start_ns <= child.start_ns <= child.end_ns <= root.end_ns
    entries = {entry["skill"]: entry for entry in TelemetryCapture(path).query()}
    for name, span in spans.items():
        assert (span.trace_id, span.span_id) == (
            entries[name]["trace_id"],
            entries[name]["span_id"],
        )
    received = json.dumps([span.attributes for span in spans.values()])
    assert SECRET not in received
    assert SECRET not in path.read_text()


def test_entries_are_sent_in_batches(telemetry: TelemetryCapture, otlp_peer: OtlpPeer) -> None:
    for index in range(1200):
        telemetry.capture(f"skill.{index % 3}", "success", 1.0, "CLI")
    assert telemetry.flush(30)
    assert len(otlp_peer.wait_for_spans(1200)) == 1200
    assert len(otlp_peer.requests) <= 6  # 512 spans a request at most, not one each


def test_a_peer_refusing_for_a_while_loses_nothing(
    telemetry: TelemetryCapture, otlp_peer: OtlpPeer
) -> None:
    otlp_peer.fail_for(2.0, status=503)
    for index in range(50):
        telemetry.capture("skill", "success", float(index), "CLI")
    assert telemetry.flush(60)
    assert len(otlp_peer.wait_for_spans(50)) == 50
    assert any(request.status == 503 for request in otlp_peer.requests)
    assert telemetry.export is not None
    assert telemetry.export.dropped == 0


def test_a_peer_that_is_down_costs_the_host_nothing_and_where_counts_the_drops(
    path: Path, otlp_peer: OtlpPeer
) -> None:
    otlp_peer.down()
    telemetry = exporting(path, otlp_peer, timeout=0.5, retry_for=0.5, interval=0.05)
    started = time.monotonic()
    for index in range(20):
        telemetry.capture("skill", "success", float(index), "CLI")
    assert time.monotonic() - started < 2.0  # the captures never waited for the network
    telemetry.flush(30)
    telemetry.close()
    assert telemetry.export is not None
    assert telemetry.export.dropped == 20
    assert len(telemetry.query(limit=None)) == 20  # every entry is in the file
    where = subprocess.run(
        [sys.executable, "-m", "betty_telemetry", "where", "--file", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "export dropped: 20 spans" in where
    assert f"refused by {otlp_peer.endpoint}" in where


def test_a_peer_back_before_the_retries_end_gets_everything(
    path: Path, otlp_peer: OtlpPeer
) -> None:
    otlp_peer.down()
    telemetry = exporting(path, otlp_peer, timeout=1.0, retry_for=30.0, interval=0.05)
    try:
        for index in range(10):
            telemetry.capture("skill", "success", float(index), "CLI")
        time.sleep(1.5)  # a batch failed at least once meanwhile
        otlp_peer.up()
        assert telemetry.flush(60)
    finally:
        telemetry.close()
    assert len(otlp_peer.wait_for_spans(10)) == 10
    assert telemetry.export is not None
    assert telemetry.export.dropped == 0


def test_a_full_queue_drops_spans_not_entries(path: Path, otlp_peer: OtlpPeer) -> None:
    otlp_peer.delay_answers(1.0)
    telemetry = exporting(path, otlp_peer, queue_size=5, interval=0.05)
    try:
        for index in range(40):
            telemetry.capture("skill", "success", float(index), "CLI")
        assert telemetry.flush(60)
    finally:
        telemetry.close()
    export = telemetry.export
    assert export is not None
    assert export.dropped > 0
    assert export.exported + export.dropped == 40
    assert len(otlp_peer.spans) == export.exported
    assert len(telemetry.query(limit=None)) == 40
    dropped = read_state(state_path(path))["dropped"]
    assert dropped["total"] == export.dropped
    assert "the export queue was full (5 waiting)" in dropped["reasons"]


def test_drops_of_several_processes_add_up(path: Path, otlp_peer: OtlpPeer) -> None:
    otlp_peer.down()
    env = {
        **os.environ,
        "BETTY_TELEMETRY_EXPORT": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_peer.base_url,
    }
    code = (
        "from betty_telemetry import TelemetryCapture\n"
        "from betty_telemetry.export import OtlpExport\n"
        "import sys\n"
        "t = TelemetryCapture(sys.argv[1], export=OtlpExport(sys.argv[2], timeout=0.2, "
        "retry_for=0.2))\n"
        "for i in range(7): t.capture('s', 'success', 1.0, 'CLI')\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(path), otlp_peer.base_url], env=env)
        for _ in range(4)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0] * 4
    assert read_state(state_path(path))["dropped"]["total"] == 28


def test_what_is_queued_is_sent_at_exit(path: Path, otlp_peer: OtlpPeer) -> None:
    code = (
        "import sys\n"
        "from betty_telemetry import TelemetryCapture\n"
        "from betty_telemetry.export import OtlpExport\n"
        "t = TelemetryCapture(sys.argv[1], export=OtlpExport(sys.argv[2], interval=60))\n"
        "for i in range(30): t.capture('at.exit', 'success', 1.0, 'CLI')\n"
    )  # no flush, no close: the interpreter's exit sends them
    subprocess.run(
        [sys.executable, "-c", code, str(path), otlp_peer.endpoint], check=True, timeout=60
    )
    assert len(otlp_peer.wait_for_spans(30)) == 30


def test_background_mode_exports_what_its_thread_stored(path: Path, otlp_peer: OtlpPeer) -> None:
    telemetry = TelemetryCapture(
        path, background=True, export=OtlpExport(otlp_peer.endpoint, interval=0.05)
    )
    try:
        for index in range(25):
            telemetry.capture("queued", "success", float(index), "CLI")
        assert telemetry.flush(30)
    finally:
        telemetry.close()
    spans = otlp_peer.wait_for_spans(25)
    stored = {(entry["duration_ms"]) for entry in telemetry.query(limit=None)}
    assert {span.attributes["betty.duration_ms"] for span in spans} == stored


def test_a_forked_child_sends_its_own_spans_only(path: Path, otlp_peer: OtlpPeer) -> None:
    telemetry = exporting(path, otlp_peer, interval=60)
    try:
        telemetry.capture("parent.before", "success", 1.0, "CLI")  # queued, not yet sent
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            telemetry.capture("child", "success", 1.0, "CLI")
            code = 0 if telemetry.flush(30) else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert telemetry.flush(30)
    finally:
        telemetry.close()
    names = sorted(span.name for span in otlp_peer.wait_for_spans(2))
    assert names == ["child", "parent.before"]


def test_closing_sends_what_is_queued_and_a_later_capture_starts_again(
    path: Path, otlp_peer: OtlpPeer
) -> None:
    telemetry = exporting(path, otlp_peer, interval=60)
    telemetry.capture("first", "success", 1.0, "CLI")
    telemetry.close()
    assert [span.name for span in otlp_peer.spans] == ["first"]
    telemetry.capture("second", "success", 1.0, "CLI")
    telemetry.close()
    assert [span.name for span in otlp_peer.wait_for_spans(2)] == ["first", "second"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timeout": 0}, "timeout must be seconds > 0"),
        ({"interval": -1}, "interval must be seconds > 0"),
        ({"retry_for": float("nan")}, "retry_for must be seconds"),
        ({"queue_size": 0}, "queue_size"),
        ({"headers": {"x": 1}}, "headers must map header names to text"),
    ],
)
def test_bad_settings_say_what_is_wrong(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OtlpExport(**settings)


@pytest.mark.parametrize("url", ["localhost:4318", "ftp://x", "http://", "http://:4318"])
def test_a_bad_endpoint_is_refused_at_once(url: str) -> None:
    with pytest.raises(ValueError, match="an OTLP endpoint must be an http:// or https:// URL"):
        OtlpExport(url)


def test_a_bad_endpoint_from_the_environment_drops_spans_not_entries(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")
    telemetry = TelemetryCapture(path, export="otlp")
    try:
        telemetry.capture("x", "success", 1.0, "CLI")  # stored; the export reports it
        telemetry.flush(10)
        assert telemetry.export is not None
        assert telemetry.export.dropped == 1
    finally:
        telemetry.close()
    assert len(telemetry.query()) == 1


def test_a_store_in_memory_exports_and_counts_in_memory(otlp_peer: OtlpPeer) -> None:
    telemetry = TelemetryCapture(":memory:", export=OtlpExport(otlp_peer.endpoint))
    try:
        telemetry.capture("in.memory", "success", 1.0, "CLI")
        assert telemetry.flush(10)
    finally:
        telemetry.close()
    assert [span.name for span in otlp_peer.wait_for_spans(1)] == ["in.memory"]


def test_what_is_exported_is_what_was_stored_whatever_the_caller_does_after(
    path: Path, otlp_peer: OtlpPeer
) -> None:
    telemetry = exporting(path, otlp_peer, interval=60)
    try:
        entry = telemetry.capture("x", "success", 1.0, "CLI", {"safe": "value"})
        entry["inputs"]["api_key"] = SECRET  # the caller's dict, changed after the capture
        assert telemetry.flush(10)
    finally:
        telemetry.close()
    (span,) = otlp_peer.wait_for_spans(1)
    assert span.attributes["betty.inputs.safe"] == "value"
    assert "betty.inputs.api_key" not in span.attributes
