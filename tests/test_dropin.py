"""The skill folder as a drop-in in a Betty checkout, with nothing installed (issue 13, part 1).

A Betty-shaped checkout is built under ``tmp_path`` (``tests/betty_checkout.py``), our folder is
put in it by ``betty-telemetry install-skill`` (or copied from the folder it writes), and the
folder is run by a virtual environment's Python that has no ``betty_telemetry`` at all: as a
script from the checkout and from elsewhere, loaded by path as the framework's
``telemetry_integration`` does, and imported as a package through the framework's finder.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import _config
from betty_telemetry.capture.betty_framework import (
    capture_telemetry,
    create_telemetry_entry,
    record_entry,
)
from betty_telemetry.cli import skill_command
from betty_telemetry.testing import capture_entries
from tests.betty_checkout import make_betty_checkout
from tests.conftest import REPO, SKILL_DIR, in_process
from tests.test_skill_folder import entries_in
from tests.test_skill_folder import run as run_command

FOLDER = Path("skills") / "telemetry.capture"


def run(
    python: Path, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python`` with no PYTHONPATH: only what the folder itself finds is importable."""
    return run_command([str(python), *args], cwd, env)


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment's Python: no betty_telemetry, no pip."""
    venv = tmp_path_factory.mktemp("bare-venv")
    created = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def built_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The self-contained folder, as ``install-skill --output`` writes it, compiled once (a
    real checkout writes its .pyc at the first run; PYTHONDONTWRITEBYTECODE is set here)."""
    folder = tmp_path_factory.mktemp("built") / "telemetry.capture"
    result = subprocess.run(
        [sys.executable, "-m", "betty_telemetry", "install-skill", "--output", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)
    return folder


@pytest.fixture
def checkout(tmp_path: Path, built_folder: Path) -> Path:
    """A Betty-shaped checkout with our self-contained folder in skills/telemetry.capture."""
    root = make_betty_checkout(tmp_path / "betty")
    shutil.copytree(built_folder, root / FOLDER)
    return root


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def capture_script(
    python: Path, root: Path, cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return run(python, [str(root / FOLDER / "telemetry_capture.py"), *args], cwd)


# --- the premise ---------------------------------------------------------------------------------


def test_the_bare_environment_has_no_betty_telemetry(bare_python: Path, tmp_path: Path) -> None:
    result = run(bare_python, ["-c", "import betty_telemetry"], tmp_path)
    assert result.returncode == 1
    assert "No module named 'betty_telemetry'" in result.stderr


def test_the_built_folder_carries_the_package_and_no_bytecode_of_ours(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    result = run(
        Path(sys.executable),
        ["-m", "betty_telemetry", "install-skill", "--output", str(folder)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    names = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert {
        "SKILL.md",
        "skill.yaml",
        "__init__.py",
        "telemetry_capture.py",
        "telemetry_utils.py",
        "_betty_telemetry_locate.py",
        "_vendor/betty_telemetry/__init__.py",
        "_vendor/betty_telemetry/py.typed",
        "_vendor/betty_telemetry/capture/betty_framework.py",
    } <= names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    package = REPO / "src" / "betty_telemetry"
    sources = {str(p.relative_to(package)) for p in package.rglob("*.py")}
    assert {
        n.removeprefix("_vendor/betty_telemetry/") for n in names if n.endswith(".py")
    } >= sources
    assert result.stdout.startswith("✓ Wrote the telemetry.capture skill folder (betty_telemetry ")


# --- run as a script, from the checkout and from elsewhere ----------------------------------


def test_script_writes_to_the_checkout_registry_from_the_checkout_and_from_elsewhere(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    first = capture_script(bare_python, checkout, checkout, "plugin.build", "success", "320", "CLI")
    second = capture_script(bare_python, checkout, elsewhere, "agent.run", "failure", "15", "API")
    telemetry_file = checkout / "registry" / "telemetry.json"
    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith(f"\n\n✓ Telemetry captured to {telemetry_file}\n")
    assert [(e["skill"], e["status"]) for e in entries_in(telemetry_file)] == [
        ("plugin.build", "success"),
        ("agent.run", "failure"),
    ]
    assert not (elsewhere / "registry").exists()


def test_script_uses_the_vendored_copy(bare_python: Path, checkout: Path) -> None:
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{str(checkout / FOLDER / 'telemetry_capture.py')!r}]\n"
        f"sys.path.insert(0, {str(checkout / FOLDER)!r})\n"
        "import telemetry_capture, betty_telemetry\n"
        "print(betty_telemetry.__file__)\n"
    )
    result = run(bare_python, ["-c", code], checkout)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{checkout / FOLDER / '_vendor' / 'betty_telemetry' / '__init__.py'}\n"


def test_secret_in_the_inputs_is_redacted_on_disk(bare_python: Path, checkout: Path) -> None:
    inputs = json.dumps({"api_key": "sk-live-1234567890abcdef", "user": "alice"})
    result = capture_script(
        bare_python, checkout, checkout, "auth.login", "success", "5", "CLI", inputs
    )
    assert result.returncode == 0, result.stderr
    text = (checkout / "registry" / "telemetry.json").read_text(encoding="utf-8")
    assert "sk-live-1234567890abcdef" not in text
    [entry] = entries_in(checkout / "registry" / "telemetry.json")
    assert entry["inputs"] == {"api_key": "***REDACTED***", "user": "alice"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plugin.build", "failed", "3", "CLI"), "Error: Invalid status: failed."),
        (("plugin.build", "success", "-3", "CLI"), "Error: Invalid duration_ms: '-3'."),
        (("plugin.build", "success", "3", "CLI", "[1]"), "Error: inputs must be a JSON object"),
        (("plugin.build", "success", "3", "CLI", "{x"), "Error: Invalid JSON for inputs:"),
    ],
)
def test_script_refuses_bad_arguments_clearly_and_writes_nothing(
    bare_python: Path, checkout: Path, args: tuple[str, ...], message: str
) -> None:
    result = capture_script(bare_python, checkout, checkout, *args)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert not (checkout / "registry" / "telemetry.json").exists()


def test_environment_still_comes_before_the_checkout(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    named = elsewhere / "named.json"
    result = run(
        bare_python,
        [str(checkout / FOLDER / "telemetry_capture.py"), "a.b", "success", "1", "CLI"],
        elsewhere,
        env={"BETTY_TELEMETRY_FILE": str(named)},
    )
    assert result.returncode == 0, result.stderr
    home = elsewhere / "home"
    result = run(
        bare_python,
        [str(checkout / FOLDER / "telemetry_capture.py"), "c.d", "success", "1", "CLI"],
        elsewhere,
        env={"BETTY_HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr
    assert [e["skill"] for e in entries_in(named)] == ["a.b"]
    assert [e["skill"] for e in entries_in(home / "registry" / "telemetry.json")] == ["c.d"]
    assert not (checkout / "registry" / "telemetry.json").exists()


def test_folder_outside_a_betty_checkout_keeps_the_working_directory_default(
    bare_python: Path, built_folder: Path, tmp_path: Path, elsewhere: Path
) -> None:
    project = tmp_path / "not-betty"
    shutil.copytree(built_folder, project / FOLDER)
    result = capture_script(bare_python, project, elsewhere, "a.b", "success", "1", "CLI")
    assert result.returncode == 0, result.stderr
    assert [e["skill"] for e in entries_in(elsewhere / "registry" / "telemetry.json")] == ["a.b"]


def test_folder_without_any_copy_of_the_package_says_what_to_do(
    bare_python: Path, tmp_path: Path, elsewhere: Path
) -> None:
    root = make_betty_checkout(tmp_path / "betty")
    shutil.copytree(SKILL_DIR, root / FOLDER, ignore=shutil.ignore_patterns("__pycache__"))
    result = capture_script(bare_python, root, elsewhere, "a.b", "success", "1", "CLI")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"ImportError: The telemetry.capture skill in {root / FOLDER} cannot find the "
        "betty_telemetry package: not in "
    )
    assert "'betty-telemetry install-skill /path/to/betty'" in last
    assert f"{root / 'src'}." in last  # the framework's own src/ was not taken for ours
    assert not (root / "registry" / "telemetry.json").exists()


# --- loaded by path, as betty/telemetry_integration.py does ---------------------------------------

INTEGRATION = """\
import json, sys
sys.path.insert(0, {root!r})
from betty import telemetry_integration as ti

@ti.telemetry_tracked(skill_name="workflow.validate", caller="cli")
def main(argv):
    return 1

main(["wf.yaml", "--strict"])
ti.track_skill_execution(
    "policy.enforce", lambda: None, {{"policy": "p1", "password": "hunter2"}},
    workflow="validation-pipeline", agent="api.designer",
)
print(json.dumps(ti.FAILURES))
print("betty_telemetry" in sys.modules and sys.modules["betty_telemetry"].__file__)
"""


def test_telemetry_integration_records_for_real_failed_as_failure(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    result = run(bare_python, ["-c", INTEGRATION.format(root=str(checkout))], elsewhere)
    assert result.returncode == 0, result.stderr
    failures, package = result.stdout.splitlines()
    assert json.loads(failures) == []
    assert package == str(checkout / FOLDER / "_vendor" / "betty_telemetry" / "__init__.py")
    tracked, executed = entries_in(checkout / "registry" / "telemetry.json")
    assert (tracked["skill"], tracked["status"], tracked["caller"]) == (
        "workflow.validate",
        "failure",
        "cli",
    )
    assert tracked["inputs"] == {"arg_count": 2, "args": ["wf.yaml", "--strict"]}
    assert isinstance(tracked["duration_ms"], float)
    assert (executed["skill"], executed["status"], executed["caller"]) == (
        "policy.enforce",
        "success",
        "workflow",
    )
    assert executed["inputs"] == {"policy": "p1", "password": "***REDACTED***"}
    assert executed["metadata"]["agent"] == "api.designer"
    assert executed["metadata"]["workflow"] == "validation-pipeline"
    assert "hunter2" not in (checkout / "registry" / "telemetry.json").read_text(encoding="utf-8")


# --- imported as a package, through the framework's finder ---------------------------------------

PACKAGE_IMPORT = """\
import importlib, sys
sys.path.insert(0, {root!r})
import betty.skills
skill = importlib.import_module("betty.skills.telemetry.capture")
print(skill.__name__, skill.__file__)
print(skill.telemetry_capture.__name__)
telemetry = skill.TelemetryCapture()
telemetry.capture(skill="plugin.build", status="success", duration_ms=1, caller="API")

@skill.capture_telemetry(skill_name="agent.run", caller="CLI")
def run_agent():
    return {{"status": "success"}}

run_agent()
skill.capture_telemetry(skill.create_telemetry_entry("deploy.run", {{}}, "failed", 7, error="boom"))
"""


def test_package_import_through_the_framework_finder_records(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    result = run(bare_python, ["-c", PACKAGE_IMPORT.format(root=str(checkout))], elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"betty.skills.telemetry.capture {checkout / FOLDER / '__init__.py'}",
        "betty.skills.telemetry.capture.telemetry_capture",
    ]
    entries = entries_in(checkout / "registry" / "telemetry.json")
    assert [(e["skill"], e["status"], e["error_message"]) for e in entries] == [
        ("plugin.build", "success", None),
        ("agent.run", "success", None),
        ("deploy.run", "failure", "boom"),
    ]


def test_install_skill_puts_a_working_folder_in_the_checkout(
    bare_python: Path, tmp_path: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_betty_checkout(tmp_path / "betty")
    code, out, err = in_process(capsys, "install-skill", str(root))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"✓ Installed. Entries go to {root / 'registry' / 'telemetry.json'} by default."
    )
    result = capture_script(bare_python, root, elsewhere, "plugin.build", "success", "1", "CLI")
    assert result.returncode == 0, result.stderr
    assert [e["skill"] for e in entries_in(root / "registry" / "telemetry.json")] == [
        "plugin.build"
    ]


# --- the original framework's own integration tests, against the fake checkout --------------------
# tests/test_integration_new_skills.py::TestTelemetryCaptureIntegration of the framework, its
# logic kept, run with the bare environment's Python from another folder.


def test_framework_telemetry_capture_success(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    start_time = time.time()
    result = capture_script(
        bare_python, checkout, elsewhere, "test.integration.skill", "success", "150.5",
        "integration_test", '{"test": "value"}',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    latest = entries_in(checkout / "registry" / "telemetry.json")[-1]
    assert latest["skill"] == "test.integration.skill"
    assert latest["status"] == "success"
    assert latest["duration_ms"] == 150.5
    assert latest["caller"] == "integration_test"
    assert latest["inputs"]["test"] == "value"
    assert datetime.fromisoformat(latest["timestamp"]).tzinfo is not None
    assert (time.time() - start_time) < 60


def test_framework_telemetry_capture_failure(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    result = capture_script(
        bare_python, checkout, elsewhere, "test.failing.skill", "failure", "250.0",
        "integration_test", "{}", "Test error message",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    latest = entries_in(checkout / "registry" / "telemetry.json")[-1]
    assert latest["skill"] == "test.failing.skill"
    assert latest["status"] == "failure"
    assert latest["error_message"] == "Test error message"


def test_framework_telemetry_capture_with_inputs(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    result = capture_script(
        bare_python, checkout, elsewhere, "test.input.skill", "success", "100.0",
        "integration_test", '{"param1": "value1", "param2": 42}',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    latest = entries_in(checkout / "registry" / "telemetry.json")[-1]
    assert latest["skill"] == "test.input.skill"
    assert latest["inputs"]["param1"] == "value1"
    assert latest["inputs"]["param2"] == 42


@pytest.mark.slow
def test_framework_telemetry_thread_safety(
    bare_python: Path, checkout: Path, elsewhere: Path
) -> None:
    def capture(index: int) -> bool:
        result = capture_script(
            bare_python, checkout, elsewhere, f"test.concurrent.skill.{index}", "success",
            str(float(index) + 1.0), "concurrent_test",
        )  # fmt: skip
        return result.returncode == 0

    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as executor:
        results = list(executor.map(capture, range(10)))
    assert all(results)
    entries = entries_in(checkout / "registry" / "telemetry.json")
    # Stricter than the framework's ">= initial + 10": every one of the ten, once.
    assert sorted(e["skill"] for e in entries) == sorted(
        f"test.concurrent.skill.{i}" for i in range(10)
    )


# --- the checkout rule, in this process ----------------------------------------------------------


def load_by_path(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_where_names_the_checkout_rule_once_the_folder_is_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_betty_checkout(tmp_path / "betty")
    shutil.copytree(SKILL_DIR, root / FOLDER, ignore=shutil.ignore_patterns("__pycache__"))
    assert in_process(capsys, "where")[1].splitlines()[1] == (
        "chosen by: default ./registry/telemetry.json"
    )
    load_by_path(root / FOLDER / "telemetry_capture.py", "dropin_telemetry_capture")
    code, out, _ = in_process(capsys, "where")
    assert code == 0
    assert out.splitlines()[:2] == [
        str(root / "registry" / "telemetry.json"),
        f"chosen by: the Betty checkout of the skill folder {root / FOLDER}",
    ]


@pytest.mark.parametrize(
    ("marker", "applies"),
    [("betty/config.py", True), ("registry/", True), ("README.md", False)],
)
def test_a_checkout_is_recognised_by_betty_config_or_registry(
    tmp_path: Path, marker: str, applies: bool
) -> None:
    root = tmp_path / "root"
    (root / FOLDER).mkdir(parents=True)
    target = root / marker
    target.parent.mkdir(parents=True, exist_ok=True)
    if marker.endswith("/"):
        target.mkdir()
    else:
        target.write_text("", encoding="utf-8")
    rule = _config.use_skill_folder(root / FOLDER)
    expected = (
        str(root / "registry" / "telemetry.json")
        if applies
        else str(tmp_path / "registry" / "telemetry.json")
    )
    assert (rule is not None) == applies
    assert _config.resolve_telemetry_path().path == expected


def test_a_folder_not_under_skills_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    (tmp_path / "tools" / "telemetry.capture").mkdir(parents=True)
    assert _config.use_skill_folder(tmp_path / "tools" / "telemetry.capture") is None
    assert _config.resolve_telemetry_path().rule == "default ./registry/telemetry.json"


def test_forget_skill_folder_restores_the_package_default(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir()
    (tmp_path / FOLDER).mkdir(parents=True)
    assert _config.use_skill_folder(tmp_path / FOLDER) is not None
    _config.forget_skill_folder()
    assert _config.resolve_telemetry_path().rule == "default ./registry/telemetry.json"


# --- create_telemetry_entry / capture_telemetry(entry) --------------------------------------------


def test_create_telemetry_entry_lays_out_the_framework_entry() -> None:
    entry = create_telemetry_entry(
        skill_name="s.k", inputs={"a": 1}, status="failed", duration_ms=3, agent="ag",
        workflow=None, caller="cli", execution_id="e-1", custom=True,
    )  # fmt: skip
    assert entry == {
        "skill": "s.k",
        "inputs": {"a": 1},
        "status": "failed",
        "duration_ms": 3,
        "agent": "ag",
        "caller": "cli",
        "execution_id": "e-1",
        "custom": True,
    }


def test_capture_telemetry_of_an_entry_records_it_through_the_pipeline() -> None:
    with capture_entries() as entries:
        stored = capture_telemetry(
            {
                "timestamp": "2020-01-01T00:00:00+00:00",
                "skill": "s.k",
                "status": "failed",
                "duration_ms": 4,
                "inputs": {"token": "abc"},
                "error": ValueError("bad"),
                "workflow": "wf",
                "metadata": {"env": "prod"},
            }
        )
    assert entries == [stored]
    assert (stored["status"], stored["caller"], stored["error_message"]) == (
        "failure",
        "runtime",
        "bad",
    )
    assert stored["timestamp"] != "2020-01-01T00:00:00+00:00"
    assert stored["inputs"] == {"token": "***REDACTED***"}
    assert {k: stored["metadata"][k] for k in ("env", "workflow")} == {
        "env": "prod",
        "workflow": "wf",
    }


def test_capture_telemetry_stays_the_spec_decorator() -> None:
    @capture_telemetry(skill_name="agent.run", caller="CLI")
    def run_agent() -> dict[str, str]:
        return {"status": "success"}

    @capture_telemetry
    def bare() -> int:
        return 7

    with capture_entries() as entries:
        assert run_agent() == {"status": "success"}
        assert bare() == 7
    assert [(e["skill"], e["caller"]) for e in entries] == [
        ("agent.run", "CLI"),
        (f"{__name__}.test_capture_telemetry_stays_the_spec_decorator.<locals>.bare", "runtime"),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"skill": "s.k", "status": "success"}, "this one has no 'duration_ms'"),
        ({"status": "bogus", "skill": "s.k", "duration_ms": 1}, "Invalid status: bogus"),
        ({"skill": "", "status": "success", "duration_ms": 1}, "skill must be a non-empty"),
        ({"skill": "s.k", "status": "success", "duration_ms": -1}, "duration_ms"),
        (
            {"skill": "s.k", "status": "success", "duration_ms": 1, "metadata": [1]},
            "metadata must be a mapping",
        ),
        ({"skill": "s.k", "status": "success", "duration_ms": 1, "inputs": [1]}, "inputs"),
    ],
)
def test_a_bad_entry_is_refused_with_a_clear_error(entry: dict[str, Any], message: str) -> None:
    with capture_entries() as entries, pytest.raises(ValueError, match=message):
        record_entry(entry)
    assert entries == []


def test_capture_telemetry_of_an_entry_takes_nothing_else() -> None:
    with pytest.raises(TypeError, match=r"capture_telemetry\(entry\) takes the entry alone"):
        capture_telemetry({"skill": "s.k", "status": "success", "duration_ms": 1}, "CLI")  # type: ignore[call-overload]


# --- install-skill: refusals, dry run, backup ----------------------------------------------------


def test_install_skill_refuses_what_is_not_a_betty_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    code, out, err = in_process(capsys, "install-skill", str(missing))
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: {missing} is not a folder: give the top folder of a Betty")
    plain = tmp_path / "plain"
    (plain / "skills").mkdir(parents=True)
    code, out, err = in_process(capsys, "install-skill", str(plain))
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: {plain} does not look like a Betty Framework checkout")
    assert "--output FOLDER" in err
    assert list(plain.rglob("*")) == [plain / "skills"]


def test_install_skill_dry_run_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_betty_checkout(tmp_path / "betty")
    (root / FOLDER).mkdir()
    (root / FOLDER / "old.txt").write_text("old", encoding="utf-8")
    before = sorted(root.rglob("*"))
    code, out, err = in_process(capsys, "install-skill", str(root), "--dry-run")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("Would install the telemetry.capture skill folder (betty_telemetry ")
    assert lines[1].startswith(
        f"Would move the folder there now to {root / '.betty-telemetry-backup'}/"
    )
    assert lines[2] == "Nothing was changed (--dry-run)."
    assert sorted(root.rglob("*")) == before


def test_install_skill_backs_up_the_folder_it_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_betty_checkout(tmp_path / "betty")
    (root / FOLDER).mkdir()
    (root / FOLDER / "old.txt").write_text("old", encoding="utf-8")
    assert in_process(capsys, "install-skill", str(root))[0] == 0
    assert in_process(capsys, "install-skill", str(root))[0] == 0
    backups = sorted((root / ".betty-telemetry-backup").iterdir())
    assert len(backups) == 2
    assert (backups[0] / "old.txt").read_text(encoding="utf-8") == "old"
    assert (backups[1] / "telemetry_capture.py").is_file()
    assert not (root / FOLDER / "old.txt").exists()
    assert sorted(p.name for p in (root / "skills").iterdir()) == [
        "__init__.py",
        "telemetry.capture",
    ]


def test_install_skill_output_refuses_an_existing_folder_and_dry_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = in_process(capsys, "install-skill", "--output", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == f"Error: {tmp_path} already exists: remove it or name a new folder\n"
    new = tmp_path / "new"
    code, out, err = in_process(capsys, "install-skill", "--output", str(new), "--dry-run")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "Nothing was changed (--dry-run)."
    assert not new.exists()


@pytest.mark.parametrize("args", [(), ("somewhere", "--output", "else")])
def test_install_skill_needs_one_target(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = in_process(capsys, "install-skill", *args)
    assert code == 2
    assert "give either BETTY_CHECKOUT or --output FOLDER" in err


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """install-skill copying from a copy of the package (with the skill folder it carries, as
    in a wheel), which the test may then damage."""
    package = tmp_path / "site" / "betty_telemetry"
    source = REPO / "src" / "betty_telemetry"
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SKILL_DIR, package / "_skill", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(skill_command, "_PACKAGE", package)
    return package


def test_install_skill_refuses_a_package_with_compiled_files(
    package_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (package_copy / "speedup.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    code, out, err = in_process(capsys, "install-skill", "--output", str(tmp_path / "out"))
    assert (code, out) == (1, "")
    assert err.startswith("Error: this copy of betty_telemetry holds compiled files (")
    assert not (tmp_path / "out").exists()


def test_install_skill_says_when_the_package_came_without_the_folder(
    package_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(package_copy / "_skill")
    code, out, err = in_process(capsys, "install-skill", "--output", str(tmp_path / "out"))
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: this copy of betty_telemetry ({package_copy}) came without")
    assert not (tmp_path / "out").exists()


def test_a_failed_copy_leaves_nothing_half_written_and_the_old_folder_in_place(
    package_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (package_copy / "dangling.py").symlink_to(tmp_path / "nowhere.py")  # copying it fails
    code, out, err = in_process(capsys, "install-skill", "--output", str(tmp_path / "out"))
    assert (code, out) == (1, "")
    assert err.startswith(f"Error: could not copy {package_copy / 'dangling.py'}: ")
    assert err.endswith(" (1 file(s) failed); nothing was installed\n")
    assert not (tmp_path / "out").exists()
    root = make_betty_checkout(tmp_path / "betty")
    (root / FOLDER).mkdir()
    (root / FOLDER / "old.txt").write_text("old", encoding="utf-8")
    code, _, err = in_process(capsys, "install-skill", str(root))
    assert code == 1
    assert sorted(p.name for p in (root / "skills").iterdir()) == [
        "__init__.py",
        "telemetry.capture",
    ]
    assert [p.name for p in (root / FOLDER).iterdir()] == ["old.txt"]
    assert not (root / ".betty-telemetry-backup").exists()
