"""A command line capture imports what a capture needs, and no more (issue 13, item 4).

Every capture from a shell or a hook is a fresh process: what it imports is most of what it
costs. Timing would be noise here (bench/cli_capture.py measures it against the original
script); what is checked is the structure: the modules a real capture process loaded, read
from ``python -X importtime``. A control run (``query``) shows the check sees the read side
when it is there.
"""

from __future__ import annotations

import io
import json
import os
import re
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
# the standard library modules only they use; nor what the library needs only when it logs
# (logging), parses options (argparse), truncates a value (hashlib), runs a writer thread
# (threading) or hands out a Path (pathlib), nor dataclasses.
NOT_FOR_A_CAPTURE = (
    "logging",
    "argparse",
    "dataclasses",
    "hashlib",
    "threading",
    "pathlib",
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
    "betty_telemetry.capture.batching",
    "betty_telemetry.capture.sweep",
    "betty_telemetry.model.filters",
    "betty_telemetry.stores._snapshot",
    "betty_telemetry.stores.json_array.reader",
    "betty_telemetry.stores.json_array.forward",
    "betty_telemetry.stores.json_array.follow",
)


def imported(args: list[str], telemetry_file: Path) -> list[str]:
    """The modules a process running ``python args`` imported, in order."""
    done = run(args, telemetry_file)
    assert done.returncode == 0, done.stderr
    return modules_of(done.stderr)


def run(
    args: list[str], telemetry_file: Path, stdin: str = "", *, env_file: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python -X importtime args``, writing to ``telemetry_file`` (named by the
    environment, unless ``env_file`` is false)."""
    # Without the variables that make a child start coverage (pytest-cov's): coverage imports
    # sqlite3 and much else, which would be counted as the capture's.
    env = {
        name: value
        for name, value in os.environ.items()
        # pytest-cov's, and coverage's own (COVERAGE_PROCESS_START, COVERAGE_PROCESS_CONFIG:
        # coverage 7's patch = ["subprocess"] starts it in every child from the latter).
        if not name.startswith(("COV_CORE_", "COVERAGE_PROCESS_"))
    }
    env.pop("BETTY_TELEMETRY_FILE", None)
    if env_file:
        env["BETTY_TELEMETRY_FILE"] = str(telemetry_file)
    return subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        env=env,
        cwd=telemetry_file.parent,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def modules_of(stderr: str) -> list[str]:
    return [
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]


def without_import_times(stderr: str) -> str:
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not line.startswith("import time:")
    )


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
    # 39 when written (58 before the read side of the stores, the filters and the writer
    # thread left the capture path); the whole package is over 130. A bound, not the
    # figure: room for a module or two, none for the read side coming back.
    modules = imported(FORMS["bare form"], tmp_path / "telemetry.json")
    own = [m for m in modules if m.startswith("betty_telemetry")]
    assert len(own) <= 44, own


def test_a_capture_that_logs_still_logs(tmp_path: Path) -> None:
    # A torn tail (a writer killed mid-append): the append repairs it and the library warns,
    # which loads logging then, and the CLI prints the warning as ever.
    telemetry_file = tmp_path / "telemetry.json"
    telemetry_file.write_text('[\n{"skill": "kept", "status": "success"},\n{"skill": "to')
    done = run(FORMS["bare form"], telemetry_file)
    assert done.returncode == 0, done.stderr
    assert "logging" in modules_of(done.stderr)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Warning: Repaired {telemetry_file}: removed ")
    entries = json.loads(telemetry_file.read_text())
    assert [entry["skill"] for entry in entries] == ["kept", "plugin.build"]


# What differs between two runs of the same capture: when, and the ids drawn at random.
_DRAWN = re.compile(r'"(timestamp|trace_id|span_id)": "[^"]*"')


def _same_run(text: str) -> str:
    return _DRAWN.sub(r'"\1": "..."', text)


@pytest.mark.parametrize(
    "args",
    [
        CAPTURE_ARGS,
        ["deploy.run", "failure", "12.5", "CI", "{}", "it broke: exit 3"],
        ["deploy.run", "done", "5", "CLI"],  # not a status
        ["deploy.run", "success", "5 s", "CLI"],  # not a number
        ["deploy.run", "success", "5", "CLI", '{"a": '],  # not JSON
        ["deploy.run", "success", "5", "CLI", "[1, 2]"],  # not an object
        ["", "success", "0", ""],  # empty names
    ],
)
def test_the_plain_capture_skips_argparse_and_gives_what_argparse_gives(
    args: list[str], tmp_path: Path
) -> None:
    # The same capture, plain (the fast path), and with --file (an option: argparse parses
    # it): the same stdout, stderr, exit code and file, but for the time and random ids.
    fast_file = tmp_path / "fast" / "telemetry.json"
    parsed_file = tmp_path / "parsed" / "telemetry.json"
    for folder in (fast_file.parent, parsed_file.parent):
        folder.mkdir()
    for prefix in (["-m", "betty_telemetry"], ["-m", "betty_telemetry", "capture"]):
        fast = run([*prefix, *args], fast_file)
        parsed = run([*prefix, *args, "--file", "telemetry.json"], parsed_file, env_file=False)
        assert "argparse" not in modules_of(fast.stderr)
        assert "argparse" in modules_of(parsed.stderr)
        assert fast.returncode == parsed.returncode
        assert _same_run(fast.stdout) == _same_run(parsed.stdout.replace("parsed", "fast"))
        assert without_import_times(fast.stderr) == without_import_times(parsed.stderr)
    if fast.returncode == 0:
        assert _same_run(fast_file.read_text()) == _same_run(parsed_file.read_text())
    else:
        assert not fast_file.exists()
        assert not parsed_file.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["plugin.build", "success", "320"],  # one too few
        [*CAPTURE_ARGS, "error", "one too many"],
        ["plugin.build", "success", "-5", "CLI"],  # a negative number: argparse's to judge
        ["--", "plugin.build", "success", "5", "CLI"],
        ["plugin.build", "success", "5", "CLI", "--help"],
    ],
)
def test_anything_but_a_plain_capture_goes_to_argparse(args: list[str], tmp_path: Path) -> None:
    for prefix in (["-m", "betty_telemetry"], [str(SKILL_SCRIPT)]):
        done = run([*prefix, *args], tmp_path / "telemetry.json")
        assert "argparse" in modules_of(done.stderr), done.stderr


_TOOL_CALL = {
    "session_id": "s-import-cost",
    "transcript_path": "/tmp/t.jsonl",
    "cwd": "/tmp",
    "tool_name": "Bash",
    "tool_use_id": "toolu_1",
    "tool_input": {"command": "ls"},
}


def test_a_hook_call_starts_without_argparse_logging_dataclasses_or_the_read_side(
    tmp_path: Path,
) -> None:
    telemetry_file = tmp_path / "telemetry.json"
    start = json.dumps({**_TOOL_CALL, "hook_event_name": "PreToolUse"})
    done = run(["-m", "betty_telemetry", "hook"], telemetry_file, start)
    assert (done.returncode, done.stdout) == (0, "")
    assert loaded_of(modules_of(done.stderr), NOT_FOR_A_CAPTURE) == []
    assert json.loads(telemetry_file.read_text())[0]["status"] == "pending"
    # Its end looks its start up: the read side loads then, and the run is one entry more.
    end = json.dumps({**_TOOL_CALL, "hook_event_name": "PostToolUse", "tool_response": {}})
    done = run(["-m", "betty_telemetry", "hook", "--file", str(telemetry_file)], tmp_path, end)
    assert (done.returncode, done.stdout) == (0, "")
    assert "betty_telemetry.stores.json_array.reader" in modules_of(done.stderr)
    assert [e["status"] for e in json.loads(telemetry_file.read_text())] == [
        "pending",
        "success",
    ]


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


@pytest.mark.parametrize(
    "form", [[], ["--file", "{file}"], ["--file={file}"], ["--file", "{file}", "extra"]]
)
def test_hook_records_by_either_path(
    form: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process: ``hook`` and ``hook --file PATH`` take the fast path, the others argparse
    # (an unknown extra argument is ignored, as Claude Code may grow some); all record.
    from betty_telemetry.cli.main import main

    telemetry_file = tmp_path / "hook.json"
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(telemetry_file))  # for the bare form
    document = json.dumps({**_TOOL_CALL, "hook_event_name": "PreToolUse"}).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(document)))
    assert main(["hook", *(arg.format(file=telemetry_file) for arg in form)]) == 0
    assert json.loads(telemetry_file.read_text())[0]["status"] == "pending"
