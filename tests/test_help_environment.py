"""``betty-telemetry --help`` names every environment variable the package reads, so a new
one cannot be added without saying so there."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import CliHere

SRC = Path(__file__).resolve().parent.parent / "src" / "betty_telemetry"
# A variable's name as the code spells it: a string literal of its own.
VARIABLE = re.compile(
    r'"((?:BETTY_TELEMETRY|OTEL_EXPORTER_OTLP|OTEL)_[A-Z_]+|BETTY_HOME|NO_COLOR|TRACEPARENT)"'
)


def _read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        names.update(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return names


def test_help_lists_every_variable_the_code_reads(cli_here: CliHere) -> None:
    names = _read_by_the_code()
    assert {"BETTY_TELEMETRY_FILE", "BETTY_HOME", "NO_COLOR", "OTEL_SERVICE_NAME"} <= names
    done = cli_here("--help")
    assert done.returncode == 0
    environment = done.stdout.split("\nenvironment:\n", 1)[1]
    missing = sorted(name for name in names if name not in environment)
    assert missing == []
