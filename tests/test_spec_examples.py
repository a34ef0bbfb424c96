"""Every Python and bash example of the spec, run as written in a Betty-like project folder.

The code is read from the spec itself, so a test fails if an example stops working. Where an
example is only a fragment (an undefined ``execution_result``, a function that is never
called), the smallest addition that makes it run is made, and nothing of the example changes.

Each example runs on every store: the file the examples are given (BETTY_TELEMETRY_FILE, or
--file) is one of the store under test; the bash examples, which name no file, write to the
default ./registry/telemetry.json for the spec's JSON array, and to the store under test named
by BETTY_TELEMETRY_FILE for any other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SKILL_DIR, SPEC, SPEC_FIELDS, run_cli, run_python
from tests.stores import JSON_ARRAY, kind_of, store_bytes, stored_entries, write_entries

pytestmark = pytest.mark.every_store

STATUS_MESSAGE = (
    "Invalid status: invalid_status. Must be one of: success, failure, timeout, error, pending"
)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
TRACE_FIELDS = ["trace_id", "span_id", "parent_id"]
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
IMPORT_FROM_SKILL_FOLDER = """\
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent / "../telemetry.capture"))
"""


def spec_blocks() -> list[tuple[str, str, str]]:
    """(heading, language, code) of every fenced block in the spec, in order."""
    blocks: list[tuple[str, str, str]] = []
    heading: str = ""
    language: str | None = None
    code: list[str] = []
    for line in SPEC.read_text(encoding="utf-8").splitlines(keepends=True):
        if language is None and line.startswith("#"):
            heading = line.strip()
        elif language is None and line.startswith("```"):
            language, code = line.strip()[3:], []
        elif language is not None and line.startswith("```"):
            blocks.append((heading, language, "".join(code)))
            language = None
        elif language is not None:
            code.append(line)
    return blocks


def spec_block(heading: str, language: str) -> str:
    """The first ``language`` code block under ``heading`` (before the next heading)."""
    found = [code for h, lang, code in spec_blocks() if h == heading and lang == language]
    assert found, f"no {language} block under {heading!r}"
    return found[0]


def replace_once(code: str, old: str, new: str) -> str:
    assert code.count(old) == 1, f"{old!r} not exactly once in example"
    return code.replace(old, new)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Betty project folder whose skills/telemetry.capture is this repository's skill."""
    skills = tmp_path / "skills"
    skills.mkdir()
    (skills / "telemetry.capture").symlink_to(SKILL_DIR, target_is_directory=True)
    return tmp_path


@pytest.fixture
def out(tmp_path: Path, store_suffix: str) -> Path:
    """The telemetry file the Python examples write, given as BETTY_TELEMETRY_FILE: a file
    of the store under test (the examples themselves are run unchanged)."""
    return tmp_path / "out" / f"telemetry{store_suffix}"


def write_script(project: Path, relative: str, code: str) -> Path:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code, encoding="utf-8")
    return path


def run_script(
    script: Path, project: Path, out: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_python(
        str(script), env={"BETTY_TELEMETRY_FILE": str(out), **(env or {})}, cwd=project
    )


def run_bash(code: str, project: Path) -> subprocess.CompletedProcess[str]:
    """Run a spec bash block with this venv's ``python`` first on PATH, from the project."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return subprocess.run(
        ["bash", "-e", "-c", code],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "PATH": path},
        timeout=120,
        check=False,
    )


def entries_in(path: Path) -> list[dict[str, Any]]:
    """The store's entries, oldest first, the whole store checked (see ``stored_entries``)."""
    return stored_entries(path)


def without_timestamp(entry: dict[str, Any]) -> dict[str, Any]:
    assert TIMESTAMP.match(entry["timestamp"]), entry["timestamp"]
    return {k: v for k, v in entry.items() if k != "timestamp"}


def without_time(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without timestamp and measured duration (checked to be a float >= 0)."""
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] >= 0
    return {k: v for k, v in without_timestamp(entry).items() if k != "duration_ms"}


def spec_fields_of_root_span(entry: dict[str, Any]) -> dict[str, Any]:
    """The spec's fields of a decorator or context entry, after checking that they come first,
    in order, followed by the trace ids of a root span (no parent)."""
    assert list(entry) == SPEC_FIELDS + TRACE_FIELDS
    assert TRACE_ID.match(entry["trace_id"]), entry["trace_id"]
    assert SPAN_ID.match(entry["span_id"]), entry["span_id"]
    assert entry["parent_id"] is None
    return {name: entry[name] for name in SPEC_FIELDS}


def seed(path: Path, entries: list[dict[str, Any]]) -> None:
    """``entries`` in the store at ``path``: the original framework's indented JSON array in
    a JSON-array file, written through the store for any other."""
    if kind_of(path) != JSON_ARRAY:
        write_entries(path, entries)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")


def spec_entry(skill: str, status: str, duration_ms: float, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": extra.pop("timestamp", "2025-10-24T14:30:45.123456+00:00"),
        "skill": skill,
        "status": status,
        "duration_ms": duration_ms,
        "caller": extra.pop("caller", "CLI"),
        "inputs": extra.pop("inputs", {}),
        "error_message": extra.pop("error_message", None),
        "metadata": extra.pop("metadata", {}),
    }


# --- bash examples -------------------------------------------------------------------------------


def test_basic_cli_usage_commands_record_three_entries(project: Path, default_store: Path) -> None:
    result = run_bash(spec_block("### Basic CLI Usage", "bash"), project)
    assert result.returncode == 0, result.stderr
    telemetry_file = default_store  # project / "registry" / "telemetry.json" for the spec's
    assert result.stdout.count(f"\n✓ Telemetry captured to {telemetry_file}\n") == 3
    assert [without_timestamp(e) for e in entries_in(telemetry_file)] == [
        {
            "skill": "plugin.build",
            "status": "success",
            "duration_ms": 320.0,
            "caller": "CLI",
            "inputs": {},
            "error_message": None,
            "metadata": {},
        },
        {
            "skill": "agent.run",
            "status": "success",
            "duration_ms": 1500.0,
            "caller": "API",
            "inputs": {"agent": "api.designer", "task": "design_api"},
            "error_message": None,
            "metadata": {},
        },
        {
            "skill": "workflow.compose",
            "status": "failure",
            "duration_ms": 2800.0,
            "caller": "CLI",
            "inputs": {"workflow": "api_first"},
            "error_message": "Validation failed at step 3",
            "metadata": {},
        },
    ]


def test_example_1_prints_the_entry_and_confirmation_as_shown(
    project: Path, default_store: Path
) -> None:
    result = run_bash(spec_block("### Example 1: Capture Plugin Build", "bash"), project)
    assert result.returncode == 0, result.stderr
    telemetry_file = default_store  # project / "registry" / "telemetry.json" for the spec's
    body, separator, rest = result.stdout.partition("\n\n")
    assert separator
    assert rest == f"✓ Telemetry captured to {telemetry_file}\n"
    entry = json.loads(body)
    assert body == json.dumps(entry, indent=2)
    shown = spec_block("### Example 1: Capture Plugin Build", "json")
    shown = replace_once(shown, "2025-10-24T14:30:45.123456+00:00", entry["timestamp"])
    shown = replace_once(shown, "/home/user/betty/registry/telemetry.json", str(telemetry_file))
    assert result.stdout == shown
    assert entries_in(telemetry_file) == [entry]


@pytest.mark.usefixtures("default_store")
def test_malformed_input_json_example_fails_with_spec_error(project: Path) -> None:
    result = run_bash(spec_block("### Malformed Input JSON (CLI)", "bash"), project)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: Invalid JSON for inputs: Expecting property name enclosed in double quotes"
    )
    assert not (project / "registry").exists()


# --- Python examples -----------------------------------------------------------------------------


def test_decorator_example_records_agent_run_with_inputs(project: Path, out: Path) -> None:
    code = spec_block("### As a Decorator (Recommended)", "python")
    code = replace_once(
        code,
        "    # ... implementation\n",
        "    # ... implementation\n    execution_result = {'plan': ['design']}\n",
    )
    script = write_script(project, "skills/agent.run/agent_run.py", code + "print(result)\n")
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "{'status': 'success', 'result': {'plan': ['design']}}\n"
    [entry] = entries_in(out)
    assert without_time(spec_fields_of_root_span(entry)) == {
        "skill": "agent.run",
        "status": "success",
        "caller": "CLI",
        "inputs": {
            "agent_path": "/agents/api.designer",
            "task_context": "Design user authentication API",
        },
        "error_message": None,
        "metadata": {},
    }


def test_decorator_example_imports_telemetry_utils_from_the_skill_folder(
    project: Path, out: Path
) -> None:
    code = spec_block("### As a Decorator (Recommended)", "python")
    code = replace_once(
        code, "    # ... implementation\n", "    # ... implementation\n    execution_result = 1\n"
    )
    code += "import telemetry_utils\nprint(telemetry_utils.__file__)\n"
    script = write_script(project, "skills/agent.run/agent_run.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    loaded = Path(result.stdout.strip())
    assert loaded.parent == project / "skills" / "agent.run" / ".." / "telemetry.capture"
    assert loaded.resolve() == SKILL_DIR / "telemetry_utils.py"


def context_manager_script(project: Path, stand_in: str) -> Path:
    code = spec_block("### As a Context Manager", "python")
    code += "\n\n" + stand_in + "\n"
    code += (
        "try:\n"
        "    print('returned:', build_plugin('./plugin.yaml'))\n"
        "except Exception as exc:\n"
        "    print('raised:', exc)\n"
    )
    return write_script(project, "skills/plugin.build/plugin_build.py", code)


def test_context_manager_example_records_success(project: Path, out: Path) -> None:
    script = context_manager_script(
        project,
        "def create_plugin_archive(plugin_path):\n    return plugin_path + '.tar.gz'\n",
    )
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "returned: ./plugin.yaml.tar.gz\n"
    [entry] = entries_in(out)
    assert without_time(spec_fields_of_root_span(entry)) == {
        "skill": "plugin.build",
        "status": "success",
        "caller": "CLI",
        "inputs": {"plugin_path": "./plugin.yaml"},
        "error_message": None,
        "metadata": {},
    }


def test_context_manager_example_records_error_and_reraises(project: Path, out: Path) -> None:
    script = context_manager_script(
        project,
        "def create_plugin_archive(plugin_path):\n    raise RuntimeError('disk full')\n",
    )
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "raised: disk full\n"
    [entry] = entries_in(out)
    assert without_time(spec_fields_of_root_span(entry)) == {
        "skill": "plugin.build",
        "status": "error",
        "caller": "CLI",
        "inputs": {"plugin_path": "./plugin.yaml"},
        "error_message": "disk full",
        "metadata": {},
    }


def test_programmatic_api_example_records_the_entry_and_prints_timestamp(
    project: Path, out: Path
) -> None:
    script = write_script(project, "api.py", spec_block("### Programmatic API", "python"))
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    [entry] = entries_in(out)
    assert result.stdout == f"Captured: {entry['timestamp']}\n"
    assert without_timestamp(entry) == {
        "skill": "plugin.build",
        "status": "success",
        "duration_ms": 320.5,
        "caller": "CLI",
        "inputs": {"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
        "error_message": None,
        "metadata": {"user": "developer@example.com", "environment": "production"},
    }


def test_programmatic_api_example_entry_matches_spec_entry_structure(
    project: Path, out: Path
) -> None:
    script = write_script(project, "api.py", spec_block("### Programmatic API", "python"))
    run_script(script, project, out)
    [entry] = entries_in(out)
    shown = json.loads(spec_block("### Telemetry Entry Structure", "json"))
    assert list(entry) == list(shown)
    assert without_timestamp(entry) == without_timestamp(shown)


FAILURES = [
    spec_entry("agent.run", "success", 10.0, timestamp="2025-10-24T14:30:00.000001+00:00"),
    spec_entry(
        "workflow.compose",
        "failure",
        2800.0,
        timestamp="2025-10-24T14:31:00.000002+00:00",
        error_message="Validation failed at step 3",
    ),
    spec_entry(
        "plugin.build",
        "failure",
        12.5,
        timestamp="2025-10-24T14:32:00.000003+00:00",
        caller="API",
        error_message="missing plugin.yaml",
    ),
]


def test_query_example_prints_recent_failures_newest_first(project: Path, out: Path) -> None:
    seed(out, FAILURES)
    before = out.read_bytes()
    script = write_script(project, "query.py", spec_block("### Query Telemetry Data", "python"))
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "2025-10-24T14:32:00.000003+00:00: plugin.build - missing plugin.yaml\n"
        "2025-10-24T14:31:00.000002+00:00: workflow.compose - Validation failed at step 3\n"
    )
    assert out.read_bytes() == before


def test_query_example_filters_by_skill_and_caller(project: Path, out: Path) -> None:
    seed(out, FAILURES)
    code = spec_block("### Query Telemetry Data", "python")
    code += "print([e['skill'] for e in agent_runs])\nprint([e['skill'] for e in cli_executions])\n"
    script = write_script(project, "query.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "['agent.run']",
        "['workflow.compose', 'agent.run']",
    ]


def test_example_2_decorated_main_records_agent_run(project: Path, out: Path) -> None:
    code = spec_block("### Example 2: Capture Agent Execution with Decorator", "python")
    code = replace_once(
        code,
        "    # ... existing implementation\n",
        "    # ... existing implementation\n    result = 'done'\n",
    )
    script = write_script(project, "skills/agent.run/agent_run.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    [entry] = entries_in(out)
    assert without_time(spec_fields_of_root_span(entry)) == {
        "skill": "agent.run",
        "status": "success",
        "caller": "CLI",
        "inputs": {},
        "error_message": None,
        "metadata": {},
    }


def test_example_3_prints_failure_report(project: Path, out: Path) -> None:
    seed(out, FAILURES)
    script = write_script(
        project, "failures.py", spec_block("### Example 3: Query Recent Failures", "python")
    )
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Recent Failures:\n"
        "  [2025-10-24T14:32:00.000003+00:00] plugin.build\n"
        "    Error: missing plugin.yaml\n"
        "    Duration: 12.5ms\n"
        "\n"
        "  [2025-10-24T14:31:00.000002+00:00] workflow.compose\n"
        "    Error: Validation failed at step 3\n"
        "    Duration: 2800.0ms\n"
        "\n"
    )


def test_example_3_reports_a_failure_captured_by_the_cli(project: Path, out: Path) -> None:
    captured = run_cli(
        "workflow.compose", "failure", "2800", "CLI", "{}", "Step 3 failed", "--file", str(out)
    )
    assert captured.returncode == 0, captured.stderr
    [entry] = entries_in(out)
    script = write_script(
        project, "failures.py", spec_block("### Example 3: Query Recent Failures", "python")
    )
    result = run_script(script, project, out)
    assert result.stdout == (
        f"Recent Failures:\n  [{entry['timestamp']}] workflow.compose\n"
        "    Error: Step 3 failed\n    Duration: 2800.0ms\n\n"
    )


def test_sanitize_keys_example_redacts_password(project: Path, out: Path) -> None:
    code = (
        IMPORT_FROM_SKILL_FOLDER
        + "from telemetry_utils import capture_telemetry\n\n"
        + spec_block("### Q: How to exclude sensitive data?", "python")
        + "\nlogin('alice', 'hunter2-secret')\n"
    )
    script = write_script(project, "skills/auth.login/auth_login.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    [entry] = entries_in(out)
    assert entry["inputs"] == {"username": "alice", "password": "***REDACTED***"}
    assert without_time(spec_fields_of_root_span(entry)) == {
        "skill": "auth.login",
        "status": "success",
        "caller": "runtime",
        "inputs": {"username": "alice", "password": "***REDACTED***"},
        "error_message": None,
        "metadata": {"redactions": [{"path": "inputs.password", "rule": "sanitize_keys"}]},
    }
    assert b"hunter2-secret" not in store_bytes(out)


def test_custom_telemetry_file_example_uses_the_given_path(project: Path, out: Path) -> None:
    code = spec_block("### Custom Telemetry File", "python")
    code += "print(telemetry.telemetry_file)\n"
    script = write_script(project, "custom.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "/custom/path/telemetry.json\n"
    assert not out.exists()


def test_custom_telemetry_file_example_writes_there_not_to_environment_file(
    project: Path, out: Path, store_suffix: str
) -> None:
    custom = project / "custom" / "path" / f"telemetry{store_suffix}"
    code = replace_once(
        spec_block("### Custom Telemetry File", "python"),
        '"/custom/path/telemetry.json"',
        repr(str(custom)),
    )
    code += (
        "telemetry.capture(skill='plugin.build', status='success', duration_ms=1, caller='CLI')\n"
    )
    script = write_script(project, "custom.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 0, result.stderr
    assert [e["skill"] for e in entries_in(custom)] == ["plugin.build"]
    assert not out.exists()


def test_invalid_status_example_raises_spec_value_error(project: Path, out: Path) -> None:
    assert f"`ValueError: {STATUS_MESSAGE}`" in SPEC.read_text(encoding="utf-8")
    code = (
        "from telemetry_capture import TelemetryCapture\n"
        "telemetry = TelemetryCapture()\n" + spec_block("### Invalid Status Value", "python")
    )
    script = write_script(project, "invalid.py", code)
    result = run_script(script, project, out)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"ValueError: {STATUS_MESSAGE}"
    assert not out.exists()


def test_telemetry_file_structure_example_is_readable_by_query(project: Path, out: Path) -> None:
    shown = json.loads(spec_block("### Telemetry File Structure", "json"))
    if kind_of(out) == JSON_ARRAY:  # the spec's file, as shown
        out.parent.mkdir(parents=True)
        out.write_text(spec_block("### Telemetry File Structure", "json"), encoding="utf-8")
    else:  # its entries, in the store under test
        write_entries(out, shown)
    result = run_cli("query", "--json", "--file", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == list(reversed(shown))
