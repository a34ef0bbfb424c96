"""Shared fixtures: every test runs in its own folder with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture, _config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Written out, not imported from the package: the tests hold the library to the spec's order.
SPEC_FIELDS = [
    "timestamp",
    "skill",
    "status",
    "duration_ms",
    "caller",
    "inputs",
    "error_message",
    "metadata",
]
DATA = REPO / "tests" / "data"


def shared_or_copy(relative: str) -> Path:
    """The project's shared file (spec, fixture) when the checkout sits beside shared/,
    else the copy kept in tests/data (test_shared_copies checks they are identical)."""
    shared = SHARED / relative
    return shared if shared.exists() else DATA / Path(relative).name


FIXTURE = shared_or_copy("fixtures/betty-registry-telemetry.json")
SPEC = shared_or_copy("spec/telemetry.capture.SKILL.md")
SKILL_DIR = REPO / "skills" / "telemetry.capture"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's telemetry settings, or another test's warnings."""
    for name in list(os.environ):
        if name.startswith("BETTY_") or name == "TRACEPARENT":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    _config.forget_reports()
    _config.forget_shared_captures()
    yield
    for capture in _config.forget_shared_captures():
        capture.close()


@pytest.fixture
def telemetry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry" / "telemetry.json"


@pytest.fixture
def telemetry(telemetry_path: Path) -> Iterator[TelemetryCapture]:
    capture = TelemetryCapture(telemetry_file=telemetry_path)
    yield capture
    capture.close()


def run_python(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter in a child process (coverage follows it)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=check,
        timeout=120,
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``betty-telemetry ARGS`` as a real process."""
    return run_python("-m", "betty_telemetry", *args, env=env, cwd=cwd)
