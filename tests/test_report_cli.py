"""``betty-telemetry report`` and ``ui`` on the command line: what they write and serve, and
every bad input refused with a clear message (the browser tests look at the page itself)."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from tests.conftest import CliHere, run_python
from tests.report_data import report_entries
from tests.report_serving import Served, serving
from tests.stores import write_entries


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    path = tmp_path / "telemetry.json"
    write_entries(path, report_entries())
    return path


def _data_block(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_report_writes_one_page_holding_plotly_and_the_data(
    cli_here: CliHere, seeded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    done = cli_here("report", "--file", str(seeded), "-o", str(out), "--title", "Nightly <1>")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Wrote {out}: ")
    assert out.as_uri() in done.stdout
    page = out.read_text()
    assert "<title>Nightly &lt;1&gt;</title>" in page
    assert "plotly.js" in page.lower()
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", page)  # nothing fetched
    data = _data_block(page)
    assert data["title"] == "Nightly <1>"
    runs = len(TelemetryCapture(telemetry_file=seeded).query(limit=None))
    assert f"{runs:,} runs" in done.stdout
    assert not list(out.parent.glob(".*partial*"))


def test_report_filters_are_named_on_the_page(
    cli_here: CliHere, seeded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    done = cli_here(
        "report", "--file", str(seeded), "-o", str(out), "--skill", "api.*", "--status", "error"
    )
    assert done.returncode == 0, done.stderr
    data = _data_block(out.read_text())
    assert data["filters"] == "skill=api.*, status=error"


def test_the_programmatic_report(seeded: Path, tmp_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_file=seeded)
    written = telemetry.report(tmp_path / "api.html", title="API", since="2026-11-01")
    assert written.path == tmp_path / "api.html"
    assert written.size == (tmp_path / "api.html").stat().st_size
    assert written.runs == len(telemetry.query(limit=None))
    assert _data_block(written.path.read_text())["filters"] == "since=2026-11-01"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday-ish"], "since"),
        (["--status", "broken"], "Unknown status 'broken'"),
        (["-o", "/nonexistent/folder/r.html"], "there is no folder /nonexistent/folder"),
    ],
)
def test_report_refuses_bad_input_and_writes_nothing(
    cli_here: CliHere, seeded: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    before = seeded.read_bytes()
    done = cli_here("report", "--file", str(seeded), "-o", str(tmp_path / "r.html"), *args)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert message in done.stderr
    assert seeded.read_bytes() == before
    if "-o" not in args:
        assert not (tmp_path / "r.html").exists()


def test_report_onto_a_folder_names_the_report_not_its_staging_file(
    cli_here: CliHere, seeded: Path, tmp_path: Path
) -> None:
    (tmp_path / "taken").mkdir()
    done = cli_here("report", "--file", str(seeded), "-o", str(tmp_path / "taken"))
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: {tmp_path / 'taken'}: ")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_report_of_a_missing_file_says_where_it_looked(cli_here: CliHere, tmp_path: Path) -> None:
    done = cli_here("report", "--file", str(tmp_path / "none.json"), "-o", str(tmp_path / "r.html"))
    assert done.returncode == 1
    assert "no telemetry file at" in done.stderr
    assert not (tmp_path / "r.html").exists()


def test_without_plotly_the_error_names_the_extra(seeded: Path, tmp_path: Path) -> None:
    # plotly made unimportable in a real process, as in an install without the extra.
    code = (
        "import sys; sys.modules['plotly'] = None; "
        "from betty_telemetry.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    out = tmp_path / "r.html"
    done = run_python("-c", code, "report", "--file", str(seeded), "-o", str(out))
    assert done.returncode == 1
    assert "pip install 'betty-telemetry[report]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
    telemetry = TelemetryCapture(telemetry_file=seeded)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "plotly", None)
        with pytest.raises(ImportError, match=r"betty-telemetry\[report\]"):
            telemetry.report(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "expected a port number 0-65535, got '70000'"),
        (["--port", "http"], "expected a port number 0-65535"),
    ],
)
def test_ui_refuses_a_bad_port(cli_here: CliHere, seeded: Path, args: list, message: str) -> None:
    done = cli_here("ui", "--file", str(seeded), *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_ui_refuses_a_bad_interval(cli_here: CliHere, seeded: Path) -> None:
    done = cli_here("ui", "--file", str(seeded), "--interval", "0")
    assert done.returncode == 1
    assert "--interval must be seconds in [0.1, 60], got 0.0" in done.stderr


# -- the live view, served by a real process -------------------------------------------------


@pytest.fixture
def served(seeded: Path) -> Iterator[Served]:
    with serving(seeded) as live:
        yield live


def test_ui_serves_the_page_and_newer_reports_as_entries_arrive(
    served: Served, seeded: Path
) -> None:
    status, page = served.get("/")
    assert status == 200
    data = _data_block(page.decode())
    live = data["live"]
    assert isinstance(live, dict)
    version = live["version"]
    assert served.get(f"/api/report?after={version}")[0] == 204
    runs = data["entries"]

    TelemetryCapture(telemetry_file=seeded).capture("late.skill", "failure", 5.0, "test")
    newer = served.newer_report(version)
    assert newer["entries"] == runs + 1
    assert newer["digest"]["failures"][0]["skill"] == "late.skill"


def test_ui_answers_only_its_own_names_and_paths(served: Served) -> None:
    assert served.get("/", host_header="evil.example:80")[0] == 403
    assert served.get("/", host_header=f"localhost:{served.port}")[0] == 200
    assert served.get("/nothing-here")[0] == 404
    assert served.get("/api/report?after=soon")[0] == 400


def test_ui_stops_quietly_on_ctrl_c(served: Served) -> None:
    served.process.send_signal(signal.SIGINT)
    _, err = served.process.communicate(timeout=30)
    assert served.process.returncode == 130
    assert "Traceback" not in err


def test_ui_on_another_address_warns(seeded: Path) -> None:
    with serving(seeded, "--host", "0.0.0.0") as live:
        assert live.get("/", host_header=f"0.0.0.0:{live.port}")[0] == 200
        live.process.send_signal(signal.SIGINT)
        _, err = live.process.communicate(timeout=30)
    assert "Warning: listening on 0.0.0.0: anyone who can reach this machine" in err


def test_ui_of_a_corrupt_store_fails_at_once(tmp_path: Path) -> None:
    broken = tmp_path / "t.json"
    broken.write_text('{"not": "an array"}')
    done = run_python("-m", "betty_telemetry", "ui", "--port", "0", "--file", str(broken))
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert os.path.basename(broken) in done.stderr


def test_ui_keeps_the_last_report_when_the_store_breaks_and_says_why(
    served: Served, seeded: Path
) -> None:
    _, page = served.get("/")
    data = _data_block(page.decode())
    version = data["live"]["version"]
    seeded.write_text('{"not": "an array"}')  # replaced by something that is no store
    newer = served.newer_report(version)
    assert newer["live"]["error"]
    assert newer["entries"] == data["entries"]
    assert served.process.poll() is None  # still serving
