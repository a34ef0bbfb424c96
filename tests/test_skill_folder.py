"""The Betty skill folder: its modules work from a bare checkout and after installing the wheel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SKILL_DIR

BASE_PYTHON = os.path.join(sys.base_prefix, "bin", "python3")
SCRIPT = SKILL_DIR / "telemetry_capture.py"
SITE_PACKAGES = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def run(
    command: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command with no PYTHONPATH, so only what the command itself sets up is importable."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment, **(env or {})},
        timeout=120,
        check=False,
    )


def entries_in(path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


# --- the folder itself ---------------------------------------------------------------------------


def test_skill_folder_has_skill_yaml_naming_telemetry_capture() -> None:
    text = (SKILL_DIR / "skill.yaml").read_text(encoding="utf-8")
    assert re.search(r"^name:\s*telemetry\.capture\s*$", text, re.MULTILINE)


def test_skill_yaml_entrypoint_is_the_capture_script() -> None:
    text = (SKILL_DIR / "skill.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s*handler:\s*telemetry_capture\.py\s*$", text, re.MULTILINE)


def test_skill_folder_has_skill_md_about_telemetry_capture() -> None:
    text = (SKILL_DIR / "SKILL.md").read_text(encoding="utf-8")
    assert text.startswith("# telemetry.capture\n")


# --- (a) a checkout that was not installed -------------------------------------------------------


def test_base_interpreter_without_site_packages_cannot_see_the_package(tmp_path: Path) -> None:
    # The premise of the tests below: -S really hides every installed copy.
    result = run([BASE_PYTHON, "-S", "-c", "import betty_telemetry"], cwd=tmp_path)
    assert result.returncode == 1
    assert "ModuleNotFoundError" in result.stderr


def test_uninstalled_skill_script_captures_from_the_command_line(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    result = run(
        [
            BASE_PYTHON,
            "-S",
            str(SCRIPT),
            "plugin.build",
            "success",
            "320",
            "CLI",
            "--file",
            str(target),
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"\n\n✓ Telemetry captured to {target}\n")
    [entry] = entries_in(target)
    assert (entry["skill"], entry["status"], entry["duration_ms"], entry["caller"]) == (
        "plugin.build",
        "success",
        320.0,
        "CLI",
    )


def test_uninstalled_skill_script_reports_errors(tmp_path: Path) -> None:
    result = run(
        [BASE_PYTHON, "-S", str(SCRIPT), "plugin.build", "invalid_status", "320", "CLI"],
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: Invalid status: invalid_status. "
        "Must be one of: success, failure, timeout, error, pending\n"
    )
    assert not (tmp_path / "registry").exists()


UNINSTALLED_IMPORTS = f"""\
import sys
sys.path.insert(0, {str(SKILL_DIR)!r})
from telemetry_utils import capture_telemetry, TelemetryContext
from telemetry_capture import TelemetryCapture
import betty_telemetry

@capture_telemetry(skill_name="agent.run", caller="CLI")
def run_agent():
    return {{"status": "success"}}

run_agent()
with TelemetryContext(skill="plugin.build", caller="API"):
    pass
TelemetryCapture().capture(skill="deploy.run", status="failure", duration_ms=5, caller="CI")
print(betty_telemetry.__file__)
"""


def test_uninstalled_modules_import_and_record_from_the_checkout_src(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    result = run(
        [BASE_PYTHON, "-S", "-c", UNINSTALLED_IMPORTS],
        cwd=tmp_path,
        env={"BETTY_TELEMETRY_FILE": str(target)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{REPO / 'src' / 'betty_telemetry' / '__init__.py'}\n"
    assert [(e["skill"], e["status"], e["caller"]) for e in entries_in(target)] == [
        ("agent.run", "success", "CLI"),
        ("plugin.build", "success", "API"),
        ("deploy.run", "failure", "CI"),
    ]


# --- (b) the installed wheel ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        cwd=out,
        env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stderr
    [built] = out.glob("betty_telemetry-*.whl")
    return built


@pytest.fixture(scope="module")
def installed_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv's python, with the wheel unpacked into its site-packages."""
    venv = tmp_path_factory.mktemp("venv")
    result = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    assert result.returncode == 0, result.stderr
    site_packages = venv / SITE_PACKAGES
    assert site_packages.is_dir()
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site_packages)
    return venv / "bin" / "python"


@pytest.mark.slow
def test_the_wheel_carries_the_license_and_the_report_assets(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: MIT" in text
    assert "Programming Language :: Python :: 3.10" in text
    assert {
        "betty_telemetry/report/assets/report.html",
        "betty_telemetry/report/assets/report.js",
        "betty_telemetry/report/assets/report.css",
    } <= names


@pytest.mark.slow
def test_the_installed_wheel_prints_the_committed_completion_scripts(
    installed_python: Path, tmp_path: Path
) -> None:
    """The scripts are package data: an install without shtab (or the checkout) prints them."""
    scripts = REPO / "src" / "betty_telemetry" / "cli" / "completions"
    for shell in ("bash", "zsh", "fish"):
        result = run(
            [str(installed_python), "-m", "betty_telemetry", "completion", shell], tmp_path
        )
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout == (scripts / f"betty-telemetry.{shell}").read_text()


@pytest.mark.slow
def test_wheel_installs_compat_modules_at_top_level_unchanged(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert {
            "telemetry_capture.py",
            "telemetry_utils.py",
            "_betty_telemetry_locate.py",
            "betty_telemetry/__init__.py",
            "betty_telemetry/_skill/telemetry_capture.py",
            "betty_telemetry/_skill/__init__.py",
        } <= names
        for name in ("telemetry_capture.py", "telemetry_utils.py", "_betty_telemetry_locate.py"):
            assert archive.read(name) == (SKILL_DIR / name).read_bytes()


@pytest.mark.slow
def test_installed_wheel_provides_telemetry_capture_import(
    installed_python: Path, tmp_path: Path
) -> None:
    target = tmp_path / "t.json"
    code = (
        "import betty_telemetry, telemetry_capture\n"
        "from telemetry_capture import TelemetryCapture\n"
        "TelemetryCapture().capture(skill='plugin.build', status='success', duration_ms=320.5,"
        " caller='CLI', inputs={'plugin_path': './plugin.yaml'})\n"
        "print(telemetry_capture.__file__)\n"
        "print(betty_telemetry.__file__)\n"
    )
    result = run(
        [str(installed_python), "-c", code], cwd=tmp_path, env={"BETTY_TELEMETRY_FILE": str(target)}
    )
    assert result.returncode == 0, result.stderr
    site_packages = installed_python.parent.parent / SITE_PACKAGES
    assert result.stdout.splitlines() == [
        str(site_packages / "telemetry_capture.py"),
        str(site_packages / "betty_telemetry" / "__init__.py"),
    ]
    [entry] = entries_in(target)
    assert (entry["skill"], entry["duration_ms"], entry["inputs"]) == (
        "plugin.build",
        320.5,
        {"plugin_path": "./plugin.yaml"},
    )


@pytest.mark.slow
def test_installed_wheel_provides_capture_telemetry_decorator(
    installed_python: Path, tmp_path: Path
) -> None:
    target = tmp_path / "t.json"
    code = (
        "from telemetry_utils import capture_telemetry\n"
        "@capture_telemetry(skill_name='auth.login', capture_inputs=True,"
        " sanitize_keys=['password'])\n"
        "def login(username, password):\n"
        "    return None\n"
        "login('alice', 's3cret')\n"
    )
    result = run(
        [str(installed_python), "-c", code], cwd=tmp_path, env={"BETTY_TELEMETRY_FILE": str(target)}
    )
    assert result.returncode == 0, result.stderr
    [entry] = entries_in(target)
    assert entry["skill"] == "auth.login"
    assert entry["inputs"] == {"username": "alice", "password": "***REDACTED***"}


@pytest.mark.slow
def test_installed_wheel_runs_python_m_betty_telemetry_where(
    installed_python: Path, tmp_path: Path
) -> None:
    result = run([str(installed_python), "-m", "betty_telemetry", "where"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        str(tmp_path / "registry" / "telemetry.json"),
        "chosen by: default ./registry/telemetry.json",
        "",
    ]


@pytest.mark.slow
def test_installed_telemetry_capture_module_runs_the_spec_cli(
    installed_python: Path, tmp_path: Path
) -> None:
    result = run(
        [str(installed_python), "-m", "telemetry_capture", "plugin.build", "success", "320", "CLI"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    telemetry_file = tmp_path / "registry" / "telemetry.json"
    assert result.stdout.endswith(f"\n\n✓ Telemetry captured to {telemetry_file}\n")
    assert [e["skill"] for e in entries_in(telemetry_file)] == ["plugin.build"]


@pytest.mark.slow
def test_installed_wheel_writes_the_self_contained_skill_folder(
    installed_python: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "telemetry.capture"
    result = run(
        [str(installed_python), "-m", "betty_telemetry", "install-skill", "--output", str(folder)],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    vendored = folder / "_vendor" / "betty_telemetry"
    assert (vendored / "__init__.py").is_file()
    assert not (vendored / "_skill").exists()  # the wheel's copy of the folder stays out
    target = tmp_path / "t.json"
    code = (
        "import sys\n"
        f"sys.argv[1:] = ['plugin.build', 'success', '3', 'CLI', '--file', {str(target)!r}]\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "import telemetry_capture, betty_telemetry\n"
        "telemetry_capture.main()\n"
        "print(betty_telemetry.__file__)\n"
    )
    result = run([BASE_PYTHON, "-S", "-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == str(vendored / "__init__.py")
    assert [e["skill"] for e in entries_in(target)] == ["plugin.build"]
