"""Replay: ``betty-telemetry export --otlp`` / ``export_otlp`` to a real OTLP peer, resuming
after an interruption without sending anything twice; and OTLP JSON files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.export import OtlpExport, export_otlp, write_otlp_json
from betty_telemetry.export.replay import BATCH, ExportFailed
from betty_telemetry.export.settings import shown_endpoint
from betty_telemetry.export.state import read_state, state_path
from tests.conftest import FIXTURE
from tests.otlp_json import read_otlp_json_spans
from tests.otlp_peer import OtlpPeer
from tests.terminal import Terminal, drawn_lines, screen


def filled(path: Path, count: int, *, start: int = 0) -> Path:
    telemetry = TelemetryCapture(path, export=False)
    for index in range(start, start + count):
        status = "failure" if index % 10 == 3 else "success"
        telemetry.capture(f"skill.{index % 4}", status, float(index), "CLI", {"n": index})
    telemetry.close()
    return path


@pytest.fixture(params=["json", "jsonl", "db"])
def store_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / f"telemetry.{request.param}"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "betty_telemetry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def duplicates(peer: OtlpPeer) -> list[str]:
    counts = Counter(span.span_id for span in peer.spans)
    return [span_id for span_id, count in counts.items() if count > 1]


def test_every_entry_of_any_store_arrives_once(store_path: Path, otlp_peer: OtlpPeer) -> None:
    filled(store_path, 1100)
    done = export_otlp(store_path, otlp_peer.base_url)
    assert (done.sent, done.skipped, done.unexportable) == (1100, 0, 0)
    spans = otlp_peer.wait_for_spans(1100)
    assert sorted(span.attributes["betty.inputs.n"] for span in spans) == list(range(1100))
    assert not duplicates(otlp_peer)
    assert len(otlp_peer.requests) == 3  # batches of 512


def test_a_second_run_sends_only_what_is_new(store_path: Path, otlp_peer: OtlpPeer) -> None:
    filled(store_path, 600)
    assert export_otlp(store_path, otlp_peer.base_url).sent == 600
    filled(store_path, 50, start=600)
    again = export_otlp(store_path, otlp_peer.base_url)
    assert (again.sent, again.skipped) == (50, 600)
    assert export_otlp(store_path, otlp_peer.base_url).sent == 0
    assert len(otlp_peer.spans) == 650
    assert not duplicates(otlp_peer)


def test_restart_sends_everything_again(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = filled(tmp_path / "t.json", 20)
    export_otlp(path, otlp_peer.base_url)
    assert export_otlp(path, otlp_peer.base_url, restart=True).sent == 20
    assert len(otlp_peer.spans) == 40
    assert len(duplicates(otlp_peer)) == 20  # the same ids: a backend can fold them


def test_replay_and_live_export_give_the_same_ids(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = tmp_path / "t.json"
    telemetry = TelemetryCapture(path, export=OtlpExport(otlp_peer.endpoint))
    telemetry.capture("outside.any.trace", "success", 3.0, "CLI")
    telemetry.close()
    live = otlp_peer.wait_for_spans(1)[0]
    otlp_peer.clear()
    export_otlp(path, otlp_peer.base_url)
    replayed = otlp_peer.wait_for_spans(1)[0]
    assert (replayed.trace_id, replayed.span_id) == (live.trace_id, live.span_id)
    assert replayed.attributes == live.attributes


def test_filters_and_their_checkpoints_are_separate(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = filled(tmp_path / "t.json", 100)
    failures = export_otlp(path, otlp_peer.base_url, status="failure")
    assert failures.sent == 10
    assert {span.status_code for span in otlp_peer.spans} == {"ERROR"}
    everything = export_otlp(path, otlp_peer.base_url)
    assert (everything.sent, everything.skipped) == (100, 0)
    assert len(read_state(state_path(path))["replays"]) == 2


def test_a_backend_refusing_stops_the_replay_and_the_next_run_resumes(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.jsonl", 3 * BATCH)
    otlp_peer.fail_for(60, status=400)  # not retried by the exporter: refused at once
    with pytest.raises(ExportFailed, match="0 spans were sent before them"):
        export_otlp(path, otlp_peer.base_url, retry_for=0.5)
    otlp_peer.clear_faults()
    done = export_otlp(path, otlp_peer.base_url)
    assert (done.sent, done.skipped) == (3 * BATCH, 0)
    assert not duplicates(otlp_peer)


def test_a_replay_killed_mid_way_resumes_without_duplicates(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    """kill -9 while the backend refuses a batch (so that batch was not taken): the re-run
    sends the rest, and no span arrives twice."""
    path = filled(tmp_path / "t.jsonl", 6 * BATCH)
    replay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "betty_telemetry",
            "export",
            "--otlp",
            otlp_peer.base_url,
            "--file",
            str(path),
            "--retry-for",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        otlp_peer.wait_for_spans(2 * BATCH, timeout=60)
        otlp_peer.fail_for(600, status=503, retry_after=0.05)
        taken = wait_until_checkpointed(path, otlp_peer)
        assert taken >= 2 * BATCH
    finally:
        replay.send_signal(signal.SIGKILL)
        replay.wait(timeout=60)
    otlp_peer.clear_faults()
    resumed = cli("export", "--otlp", otlp_peer.base_url, "--file", str(path), "--json")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["skipped"] == taken
    assert outcome["sent"] == 6 * BATCH - taken
    assert len(otlp_peer.spans) == 6 * BATCH
    assert not duplicates(otlp_peer)


def wait_until_checkpointed(path: Path, peer: OtlpPeer) -> int:
    """Once the peer refuses, the replay retries; wait until its checkpoint holds every span
    the peer took, and a refused request came after: the replay is then retrying."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replays = read_state(state_path(path)).get("replays", {})
        sent = max((item["sent"] for item in replays.values()), default=0)
        refused = [request for request in peer.requests if request.status == 503]
        if refused and sent == len(peer.spans):
            return sent
        time.sleep(0.05)
    raise AssertionError(f"the checkpoint never caught up with the peer ({peer.span_count})")


def test_after_a_rotation_the_replay_finds_its_place(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = filled(tmp_path / "t.json", 30)
    export_otlp(path, otlp_peer.base_url, archives=True)
    TelemetryCapture(path).rotate()
    filled(path, 5, start=30)
    done = export_otlp(path, otlp_peer.base_url, archives=True)
    assert (done.sent, done.skipped) == (5, 30)
    assert len(otlp_peer.spans) == 35
    assert not duplicates(otlp_peer)


def test_a_checkpoint_whose_entry_is_gone_is_refused_with_the_way_out(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.json", 10)
    export_otlp(path, otlp_peer.base_url)
    TelemetryCapture(path).rotate()  # without --archives, those entries are gone
    filled(path, 3, start=10)
    with pytest.raises(ValueError, match="Pass --restart"):
        export_otlp(path, otlp_peer.base_url)
    assert export_otlp(path, otlp_peer.base_url, restart=True).sent == 3


def test_the_original_framework_file_replays(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = tmp_path / "legacy.json"
    path.write_bytes(FIXTURE.read_bytes())
    before = path.read_bytes()
    entries = json.loads(before)
    done = export_otlp(path, otlp_peer.base_url)
    assert done.sent == len(entries)
    assert path.read_bytes() == before  # read, never rewritten
    spans = otlp_peer.wait_for_spans(len(entries))
    failed = [span for span in spans if span.attributes.get("betty.status") == "failed"]
    assert failed
    assert all(span.status_code == "ERROR" for span in failed)


def test_an_entry_without_a_time_is_counted_not_sent(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = tmp_path / "t.json"
    good = {"timestamp": "2026-01-01T00:00:00+00:00", "skill": "a", "status": "success"}
    path.write_text(json.dumps([good, {"skill": "no.time", "status": "success"}]))
    done = export_otlp(path, otlp_peer.base_url)
    assert (done.sent, done.unexportable) == (1, 1)


# -- the command -----------------------------------------------------------------------------


def test_the_command_prints_what_it_sent(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = filled(tmp_path / "t.json", 14)  # failures: entries 3 and 13
    result = cli("export", "--otlp", otlp_peer.base_url, "--file", str(path), "--status", "failure")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Exported 2 spans to {otlp_peer.endpoint}\n"
    again = cli("export", "--otlp", otlp_peer.base_url, "--file", str(path), "--status", "failure")
    assert again.stdout == (
        f"Exported 0 spans to {otlp_peer.endpoint} (resumed after 2 sent before)\n"
    )
    where = cli("where", "--file", str(path)).stdout
    assert f"replay checkpoint: 2 entries sent to {otlp_peer.endpoint}" in where


def test_the_command_takes_the_url_and_headers_from_the_environment(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.json", 3)
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_peer.base_url,
        "OTEL_EXPORTER_OTLP_HEADERS": "x-team=skills",
        "OTEL_SERVICE_NAME": "from-env",
    }
    result = cli("export", "--otlp", "--file", str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert all(request.headers["x-team"] == "skills" for request in otlp_peer.requests)
    assert {span.resource["service.name"] for span in otlp_peer.spans} == {"from-env"}


def test_header_and_service_name_options(tmp_path: Path, otlp_peer: OtlpPeer) -> None:
    path = filled(tmp_path / "t.json", 2)
    args = ["--header", "authorization=Bearer abc", "--service-name", "skills"]
    result = cli("export", "--otlp", otlp_peer.base_url, *args, "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert otlp_peer.requests[0].headers["authorization"] == "Bearer abc"
    assert otlp_peer.spans[0].resource["service.name"] == "skills"


def test_a_peer_that_is_down_ends_the_command_with_a_clear_error(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.json", 3)
    otlp_peer.down()
    args = ["--timeout", "0.5", "--retry-for", "0.5", "--file", str(path)]
    result = cli("export", "--otlp", otlp_peer.base_url, *args)
    assert result.returncode == 1
    assert "refused 3 spans for 0.5 s; 0 spans were sent before them" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--otlp", "localhost:4318"], "an OTLP endpoint must be an http:// or https:// URL"),
        (["--otlp", "http://x", "--header", "novalue"], "--header takes NAME=VALUE"),
        (["--otlp", "http://x", "--since", "last tuesday"], "since"),
        ([], "one of the arguments --otlp --otlp-json is required"),
    ],
)
def test_bad_arguments_say_what_is_wrong(tmp_path: Path, args: list[str], message: str) -> None:
    path = filled(tmp_path / "t.json", 1)
    result = cli("export", *args, "--file", str(path))
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_an_error_not_an_empty_export(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = cli("export", "--otlp-json", str(out), "--file", str(tmp_path / "x.json"))
    assert result.returncode == 1
    assert "No telemetry file to export" in result.stderr
    assert not out.exists()


# -- OTLP JSON --------------------------------------------------------------------------------


def test_otlp_json_is_what_the_receiver_reads_and_equals_what_the_peer_got(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.db", 700)
    out = tmp_path / "out" / "spans.jsonl"
    written = write_otlp_json(out, path)
    assert written.sent == 700
    assert len(out.read_text().splitlines()) == 2  # one request per batch
    from_file = read_otlp_json_spans(out, as_receiver=True)
    export_otlp(path, otlp_peer.base_url)
    from_peer = otlp_peer.wait_for_spans(700)

    def comparable(span: object) -> tuple[object, ...]:
        return tuple(
            getattr(span, name)
            for name in (
                "trace_id",
                "span_id",
                "name",
                "start_ns",
                "end_ns",
                "status_code",
                "status_message",
                "attributes",
                "kind",
            )
        )

    assert sorted(map(comparable, from_file)) == sorted(map(comparable, from_peer))


def test_otlp_json_of_the_command_with_archives(tmp_path: Path) -> None:
    path = filled(tmp_path / "t.jsonl", 4)
    TelemetryCapture(path).rotate()
    filled(path, 2, start=4)
    out = tmp_path / "spans.jsonl"
    result = cli("export", "--otlp-json", str(out), "--archives", "--file", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == 6
    spans = read_otlp_json_spans(out, as_receiver=True)
    assert sorted(span.attributes["betty.inputs.n"] for span in spans) == list(range(6))


# -- on a terminal ----------------------------------------------------------------------------


def test_a_slow_replay_shows_progress_on_a_terminal_then_only_its_result(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.jsonl", 3 * BATCH)
    otlp_peer.delay_answers(0.4)
    terminal = Terminal("export", "--otlp", otlp_peer.base_url, "--file", str(path))
    try:
        terminal.wait_for(lambda t: bool(drawn_lines(t.output)), "a progress line")
        assert terminal.finish() == 0
    finally:
        terminal.kill()
    assert "export" in drawn_lines(terminal.output)[0]
    assert screen(terminal.output) == [f"Exported {3 * BATCH:,} spans to {otlp_peer.endpoint}"]


def test_credentials_in_the_url_are_neither_printed_nor_kept(
    tmp_path: Path, otlp_peer: OtlpPeer
) -> None:
    path = filled(tmp_path / "t.json", 3)
    password = "pw-0123456789secret"
    url = f"http://user:{password}@127.0.0.1:{otlp_peer.port}/v1/traces"
    result = cli("export", "--otlp", url, "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert len(otlp_peer.spans) == 3  # sent where the URL says
    where = cli("where", "--file", str(path)).stdout
    for text in (result.stdout, result.stderr, where, Path(state_path(path)).read_text()):
        assert password not in text
    assert "user:***REDACTED***@127.0.0.1" in result.stdout


def test_a_token_in_the_url_query_is_redacted_where_it_is_shown() -> None:
    token = "tok0123456789abcdef"
    shown = shown_endpoint(f"https://collector.example/v1/traces?api_key={token}&region=eu")
    assert shown == "https://collector.example/v1/traces?api_key=***REDACTED***&region=eu"
