"""Runs that are still going: a pending entry when a run starts, its final entry when it ends,
and every reader showing the two as one run, in every store; ``running`` and ``--sweep``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry.cli.main import main
from betty_telemetry.model.runs import Superseded, one_per_run, pending_at, replaced_span
from tests.stores import stored_entries

pytestmark = pytest.mark.every_store

SECRET = "sk-live-abcdefghijklmnopqrstuvwx12345678"


def pending_job(telemetry: TelemetryCapture, **options: Any) -> Any:
    @capture_telemetry(
        skill_name="job.run", telemetry=telemetry, capture_inputs=True, pending=True, **options
    )
    def job(token: str = SECRET, seen: list[Any] | None = None) -> int:
        if seen is not None:
            seen.extend(telemetry.running())
        return 1

    return job


def test_a_pending_run_writes_two_entries_that_every_reader_shows_as_one(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    pending_job(telemetry)()
    telemetry.capture("other", "success", 5, "me")
    stored = stored_entries(telemetry_path)
    assert [entry["status"] for entry in stored] == ["pending", "success", "success"]
    pending, final = stored[0], stored[1]
    assert (pending["trace_id"], pending["span_id"]) == (final["trace_id"], final["span_id"])
    assert pending["duration_ms"] == 0.0
    assert final["metadata"]["pending_at"] == pending["timestamp"]
    assert [entry["skill"] for entry in telemetry.query()] == ["other", "job.run"]
    assert telemetry.query(status="pending") == []
    assert telemetry.query(status=["pending", "success"], skill="job.run")[0]["status"] == (
        "success"
    )
    rows = {row["key"]: row for row in telemetry.stats()}
    assert rows["job.run"]["count"] == 1
    assert rows["job.run"]["statuses"] == {"success": 1}
    assert [row["key"] for row in telemetry.stats(by="status")] == ["success"]
    assert len(telemetry.trace(final["trace_id"])) == 1
    assert [entry["status"] for entry in telemetry.tail(5)] == ["success", "success"]
    follow = telemetry.follow(backlog=5)
    try:
        assert [next(follow)["skill"], next(follow)["skill"]] == ["job.run", "other"]
    finally:
        follow.close()
    assert telemetry.running() == []


def test_a_run_is_listed_as_running_while_it_runs(telemetry: TelemetryCapture) -> None:
    seen: list[dict[str, Any]] = []
    pending_job(telemetry)(seen=seen)
    assert [(entry["skill"], entry["status"]) for entry in seen] == [("job.run", "pending")]
    assert telemetry.running() == []


def test_the_pending_entry_is_redacted_as_the_final_one(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with TelemetryContext(
        "ctx.run", telemetry=telemetry, pending=True, inputs={"password": "hunter2"}
    ) as run:
        run.set_inputs(api_key=SECRET)
    raw = telemetry_path.read_bytes()
    assert b"hunter2" not in raw
    assert SECRET.encode() not in raw
    pending, final = stored_entries(telemetry_path)
    assert pending["status"] == "pending"
    assert pending["inputs"] == {"password": "***REDACTED***"}
    assert final["inputs"] == {"password": "***REDACTED***", "api_key": "***REDACTED***"}
    assert len(final["metadata"]["redactions"]) == 2  # each noted once, not again for pending


def test_an_error_ends_the_run_and_replaces_its_pending_entry(
    telemetry: TelemetryCapture,
) -> None:
    with pytest.raises(RuntimeError), TelemetryContext("boom", telemetry=telemetry, pending=True):
        raise RuntimeError("no")
    (only,) = telemetry.query()
    assert only["status"] == "error"


def test_the_caller_metadata_keeps_its_own_pending_at(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with TelemetryContext("ctx.run", telemetry=telemetry, pending=True) as run:
        run.set_metadata(pending_at="mine")
    final = stored_entries(telemetry_path)[1]
    assert final["metadata"]["pending_at"] == "mine"
    assert final["metadata"]["betty_telemetry.pending_at"] != "mine"
    assert len(telemetry.query()) == 1


def test_pending_is_off_by_default_and_the_environment_turns_it_on(
    telemetry: TelemetryCapture, telemetry_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture_telemetry(skill_name="plain", telemetry=telemetry)(lambda: None)()
    assert len(stored_entries(telemetry_path)) == 1
    monkeypatch.setenv("BETTY_TELEMETRY_PENDING", "1")
    capture_telemetry(skill_name="from.env", telemetry=telemetry)(lambda: None)()
    with TelemetryContext("ctx.env", telemetry=telemetry):
        pass
    capture_telemetry(skill_name="said.no", telemetry=telemetry, pending=False)(lambda: None)()
    statuses = [(entry["skill"], entry["status"]) for entry in stored_entries(telemetry_path)]
    assert statuses[1:] == [
        ("from.env", "pending"),
        ("from.env", "success"),
        ("ctx.env", "pending"),
        ("ctx.env", "success"),
        ("said.no", "success"),
    ]


def test_a_run_still_going_counts_as_a_run_without_a_duration(
    telemetry: TelemetryCapture,
) -> None:
    telemetry.capture("slow", "success", 100, "me")
    seen: list[Any] = []

    @capture_telemetry(skill_name="slow", telemetry=telemetry, pending=True)
    def slow() -> None:
        seen.extend(telemetry.stats())

    slow()
    (row,) = seen
    assert row["count"] == 2
    assert row["statuses"] == {"pending": 1, "success": 1}
    assert row["p50_ms"] == 100.0  # the pending run has no duration yet


def test_one_run_in_the_archives_and_the_store(telemetry: TelemetryCapture) -> None:
    seen: list[Any] = []
    job = pending_job(telemetry)

    @capture_telemetry(skill_name="outer", telemetry=telemetry, pending=True)
    def outer() -> None:
        telemetry.rotate()  # the pending entries go into an archive; the finals come after
        job(seen=seen)

    outer()
    assert [entry["skill"] for entry in telemetry.query(archives=True)] == ["outer", "job.run"]
    assert telemetry.running(archives=True) == []
    assert [entry["skill"] for entry in telemetry.running()] == []  # finals in the store


# -- killed, then swept ------------------------------------------------------------------------

KILLED_RUN = """
import sys, time
from betty_telemetry import capture_telemetry

@capture_telemetry(skill_name="deploy.run", caller="ci", capture_inputs=True, pending=True)
def deploy(target, password):
    print("started", flush=True)
    time.sleep(120)

deploy("prod", password="hunter2")
"""


def run_killed(telemetry_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "BETTY_TELEMETRY_FILE": str(telemetry_path)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def test_a_killed_run_shows_as_pending_then_as_a_timeout_after_the_sweep(
    telemetry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_killed(telemetry_path)
    telemetry = TelemetryCapture(telemetry_path)
    (running,) = telemetry.running()
    assert (running["skill"], running["caller"]) == ("deploy.run", "ci")
    assert running["inputs"] == {"target": "prod", "password": "***REDACTED***"}

    assert main(["running", "--file", str(telemetry_path)]) == 0
    out = capsys.readouterr().out
    assert "deploy.run" in out
    assert "1 running" in out
    assert "stale" not in out

    assert main(["running", "--sweep", "--file", str(telemetry_path)]) == 0
    assert "nothing swept" in capsys.readouterr().out  # younger than the default hour
    time.sleep(0.01)
    sweep = ["running", "--sweep", "--stale-after", "0.001s", "--file", str(telemetry_path)]
    assert main(sweep) == 0
    assert "Declared 1 run(s) a timeout" in capsys.readouterr().out

    assert telemetry.running() == []
    (final,) = telemetry.query()
    assert final["status"] == "timeout"
    assert final["span_id"] == running["span_id"]
    assert final["inputs"] == running["inputs"]
    assert "still pending after" in final["error_message"]
    assert final["duration_ms"] > 0
    (row,) = telemetry.stats()
    assert (row["count"], row["statuses"]) == (1, {"timeout": 1})
    assert b"hunter2" not in telemetry_path.read_bytes()


def test_sweep_limits_per_skill(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    run_killed(telemetry_path)
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert telemetry.sweep(per_skill={"deploy.*": "3h"}, now=later) == []
    assert telemetry.sweep("3h", per_skill={"deploy.run": "1h"}, now=later)[0]["status"] == (
        "timeout"
    )
    assert telemetry.sweep(now=later + timedelta(days=1)) == []  # nothing pending is left


def test_running_json_and_stale_flags(
    telemetry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_killed(telemetry_path)
    time.sleep(0.01)
    assert main(["running", "--json", "--stale-after", "1h", "--stale-after", "deploy.*=0.001s",
                 "--file", str(telemetry_path)]) == 0  # fmt: skip
    (described,) = json.loads(capsys.readouterr().out)
    assert described["stale"] is True
    assert described["age_ms"] > 0
    assert main(["running", "--stale-after", "0.001s", "--file", str(telemetry_path)]) == 0
    assert "pending past its limit" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--stale-after", "soon"], "must be an age"),
        (["--stale-after", "1h", "--stale-after", "2h"], "give one"),
        (["--stale-after", "=1h"], "write SKILL=AGE"),
        (["--stale-after", "deploy="], "write SKILL=AGE"),
    ],
)
def test_running_refuses_bad_limits(
    telemetry_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(["running", *arguments, "--file", str(telemetry_path)]) == 1
    assert message in capsys.readouterr().err


def test_running_on_a_missing_file_lists_nothing(
    telemetry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["running", "--file", str(telemetry_path)]) == 0
    assert "(no run is pending)" in capsys.readouterr().out


def test_sweep_refuses_bad_arguments(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="stale_after must be an age"):
        telemetry.sweep("-1h")
    with pytest.raises(ValueError, match="non-empty name"):
        telemetry.sweep(per_skill={"": "1h"})


def test_a_pending_entry_written_by_hand_is_never_swept(
    telemetry: TelemetryCapture,
) -> None:
    telemetry.capture("manual", "pending", 0, "me")  # the spec allows it: no span, no run
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert telemetry.sweep(now=later) == []
    assert len(telemetry.running()) == 1


# -- the rule itself ---------------------------------------------------------------------------


def entry(status: str, span: str | None, note: str | None = None) -> dict[str, Any]:
    metadata = {} if note is None else {"pending_at": note}
    return {"status": status, "span_id": span, "metadata": metadata}


@pytest.mark.only_stores("json", reason="pure functions")
def test_only_finals_noting_a_pending_entry_replace_one() -> None:
    newest_first = [
        entry("success", "a", "t0"),
        entry("success", "b"),  # no note: a run that wrote no pending entry
        entry("pending", "b"),
        entry("pending", "a"),
        entry("pending", "c"),  # still going
        entry("pending", "a"),  # a second pending entry of a span: not hidden twice
    ]
    superseded = Superseded()
    kept = [item for item in newest_first if not superseded.hides(item)]
    assert kept == [newest_first[0], newest_first[1], newest_first[2], *newest_first[4:]]
    assert one_per_run(reversed(newest_first)) == list(reversed(kept))  # the same rule


@pytest.mark.only_stores("json", reason="pure functions")
def test_the_rule_reads_only_well_formed_notes() -> None:
    assert pending_at({"metadata": "not a mapping"}) is None
    assert pending_at({"metadata": {"pending_at": 5}}) is None
    assert (
        replaced_span({"status": "pending", "span_id": "a", "metadata": {"pending_at": "t"}})
        is None
    )
    assert (
        replaced_span({"status": "success", "span_id": 7, "metadata": {"pending_at": "t"}}) is None
    )
    assert one_per_run([entry("pending", "a")]) == [entry("pending", "a")]


def test_a_run_is_exported_once_when_it_ends(
    telemetry: TelemetryCapture, telemetry_path: Path, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from betty_telemetry.export import write_otlp_json
    from tests.otlp_json import read_otlp_json_spans

    pending_job(telemetry)()
    run_killed(telemetry_path)  # still pending: no span yet
    out = tmp_path / "spans.jsonl"
    write_otlp_json(out, telemetry_path)
    spans = read_otlp_json_spans(out)
    assert [span.name for span in spans] == ["job.run"]


def test_a_run_swept_that_ends_after_all_is_one_run_with_its_real_end(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    with TelemetryContext("slow.job", telemetry=telemetry, pending=True):
        (swept,) = telemetry.sweep(now=later)  # a sweep that did not wait long enough
        assert swept["status"] == "timeout"
    assert [entry["status"] for entry in stored_entries(telemetry_path)] == [
        "pending",
        "timeout",
        "success",
    ]
    (run,) = telemetry.query()
    assert run["status"] == "success"
    assert telemetry.query(status="timeout") == []
    assert telemetry.query(status=["timeout", "success"])[0]["status"] == "success"
    (row,) = telemetry.stats()
    assert (row["count"], row["statuses"]) == (1, {"success": 1})
    assert [node["entry"]["status"] for node in telemetry.trace(run["trace_id"])] == ["success"]
    assert telemetry.running() == []


@pytest.mark.only_stores("json", reason="pure functions")
def test_a_newer_noted_entry_replaces_every_older_entry_of_its_span() -> None:
    newest_first = [
        entry("success", "a", "t0"),  # the run's real end
        entry("timeout", "a", "t0"),  # a sweep before it
        entry("success", "b"),
        entry("pending", "a"),
        entry("timeout", "a", "t9"),  # older than a's pending: another run's, kept
    ]
    superseded = Superseded()
    assert [item for item in newest_first if not superseded.hides(item)] == [
        newest_first[0],
        newest_first[2],
        newest_first[4],
    ]
    oldest_first = list(reversed(newest_first))
    assert one_per_run(oldest_first) == [newest_first[4], newest_first[2], newest_first[0]]
