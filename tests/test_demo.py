"""``make demo``'s script, and the next steps it prints: each runs exactly as printed, from
the project's folder."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding the demo script and a .venv (this test run's), as a checkout
    after ``make demo``'s install."""
    folder = tmp_path / "project"
    (folder / "examples").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "demo_workflow.py", folder / "examples")
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent, target_is_directory=True)
    return folder


@pytest.mark.slow
def test_every_command_the_demo_prints_runs_as_printed(project: Path) -> None:
    python = project / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "examples/demo_workflow.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    printed = [line[2:] for line in done.stdout.splitlines() if line.startswith("$ ")]
    assert len(printed) == 5
    assert all(line.startswith(".venv/bin/betty-telemetry ") for line in printed)
    assert (project / "demo" / "report.html").is_file()
    *commands, live = printed
    for command in commands:
        again = subprocess.run(
            command, shell=True, cwd=project, capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, (command, again.stderr)
        assert again.stdout.strip(), command
    assert " ui " in f" {live} "
    serving = subprocess.Popen(
        f"exec {live} --port 0",
        shell=True,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert serving.stdout is not None
    assert "Serving the report of" in serving.stdout.readline()
    serving.send_signal(signal.SIGINT)
    serving.communicate(timeout=30)
    assert serving.returncode == 130
