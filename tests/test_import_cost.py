"""A command line capture imports what a capture needs, and no more (issue 13, item 4).

Every capture from a shell or a hook is a fresh process: what it imports is most of what it
costs. Timing would be noise here (bench/cli_capture.py measures it against the original
script); what is checked is the structure: the modules a real capture process loaded, read
from ``python -X importtime``. A control run (``query``) shows the check sees the read side
when it is there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKILL_SCRIPT = REPO / "skills" / "telemetry.capture" / "telemetry_capture.py"
CAPTURE_ARGS = ["plugin.build", "success", "320", "CLI", '{"plugin": "core", "version": "1.2.0"}']
FORMS = {
    "skill script": [str(SKILL_SCRIPT), *CAPTURE_ARGS],
    "bare form": ["-m", "betty_telemetry", *CAPTURE_ARGS],
    "capture subcommand": ["-m", "betty_telemetry", "capture", *CAPTURE_ARGS],
}
# What a capture of plain values never needs: the read side, the lifecycle, export, the
# other stores and the checks, the other commands, the text rules and their catalogue, and
# the standard library modules only they use.
NOT_FOR_A_CAPTURE = (
    "sqlite3",
    "decimal",
    "uuid",
    "gzip",
    "betty_telemetry.read",
    "betty_telemetry.lifecycle",
    "betty_telemetry.export",
    "betty_telemetry.report",
    "betty_telemetry.testing",
    "betty_telemetry.stores.sqlite",
    "betty_telemetry.stores.json_lines",
    "betty_telemetry.stores.memory",
    "betty_telemetry.stores.checking",
    "betty_telemetry.stores.archived",
    "betty_telemetry.cli.read_commands",
    "betty_telemetry.cli.lifecycle_commands",
    "betty_telemetry.cli.check_commands",
    "betty_telemetry.cli.export_command",
    "betty_telemetry.cli.sql_command",
    "betty_telemetry.cli.doctor",
    "betty_telemetry.capture.decorator",
    "betty_telemetry.capture.context_manager",
    "betty_telemetry.redaction.formats",
    "betty_telemetry.redaction.scanner",
)


def imported(args: list[str], telemetry_file: Path) -> list[str]:
    """The modules a process running ``python args`` imported, in order."""
    # Without the variables that make a child start coverage (pytest-cov's, and coverage's
    # own ``patch = subprocess``, which `make test` uses): coverage imports sqlite3 and much
    # else, which would be counted as the capture's.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("COV_CORE_", "COVERAGE_PROCESS_"))
    }
    env["BETTY_TELEMETRY_FILE"] = str(telemetry_file)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        cwd=telemetry_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]


def loaded_of(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(f"{p}.") for p in prefixes)]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_capture_does_not_import_what_only_reads_and_admin_need(
    form: str, tmp_path: Path
) -> None:
    telemetry_file = tmp_path / "telemetry.json"
    modules = imported(FORMS[form], telemetry_file)
    assert "betty_telemetry.stores.json_array.store" in modules  # it did capture
    assert loaded_of(modules, NOT_FOR_A_CAPTURE) == []
    assert '"plugin.build"' in telemetry_file.read_text()


def test_a_capture_loads_the_package_in_few_modules(tmp_path: Path) -> None:
    # 56 when written; the whole package is over 130. A bound, not the figure: room for a
    # module or two, none for the read side coming back.
    modules = imported(FORMS["bare form"], tmp_path / "telemetry.json")
    own = [m for m in modules if m.startswith("betty_telemetry")]
    assert len(own) <= 65, own


def test_the_check_sees_the_read_side_when_a_command_needs_it(tmp_path: Path) -> None:
    telemetry_file = tmp_path / "telemetry.json"
    imported(FORMS["bare form"], telemetry_file)
    modules = imported(["-m", "betty_telemetry", "query", "--limit", "1"], telemetry_file)
    assert "betty_telemetry.read.reading" in loaded_of(modules, NOT_FOR_A_CAPTURE)
    assert "betty_telemetry.stores.sqlite" not in modules  # a JSON file: the others stay out


def test_the_text_rules_load_when_a_value_needs_them_and_still_redact(tmp_path: Path) -> None:
    telemetry_file = tmp_path / "telemetry.json"
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    args = ["-m", "betty_telemetry", "deploy.run", "success", "5", "CLI"]
    modules = imported([*args, f'{{"note": "pushed with {token}"}}'], telemetry_file)
    assert "betty_telemetry.redaction.scanner" in modules
    written = telemetry_file.read_text()
    assert token not in written
    assert "***REDACTED***" in written


def test_sqlite_is_imported_only_for_a_sqlite_store(tmp_path: Path) -> None:
    modules = imported(FORMS["bare form"], tmp_path / "telemetry.db")
    assert "sqlite3" in modules
    assert "betty_telemetry.stores.json_array.store" not in modules


def test_the_lazy_names_are_all_there_and_unknown_ones_fail_clearly() -> None:
    import betty_telemetry
    import betty_telemetry.stores as stores

    for module in (betty_telemetry, stores):
        assert set(module.__all__) <= set(dir(module))
        for name in module.__all__:
            assert getattr(module, name) is not None
        with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
            getattr(module, "no_such_name")  # noqa: B009
    assert betty_telemetry.TelemetryCapture.__module__ == "betty_telemetry.capture.telemetry"
