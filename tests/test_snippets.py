"""Every code example of README.md and docs/ runs as written (issue 15).

Each ```python snippet runs as a script, each ```bash/```sh/```shell snippet in bash with
``set -eo pipefail``, both in a fresh folder with HOME a fresh folder too (so a completion or
a hook installed by an example lands nowhere real), no BETTY_*/OTEL_*/TRACEPARENT variable,
and the venv's bin first on PATH (``betty-telemetry`` and ``python``). Unless marked
``fresh``, the folder holds ./registry/telemetry.json with a small workflow's runs (a trace
with a failure), as any project using the library does. Markers: tests/snippets.py and
docs/development.md. Every Python snippet also passes ``mypy --strict``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snippets import (
    PYTHON,
    REPO,
    Snippet,
    SnippetMarkupError,
    all_snippets,
    snippets_of,
)

SNIPPETS = all_snippets()
BIN = Path(sys.executable).parent
TIMEOUT = 120  # seconds a snippet may take (the slowest take a few)
RUNNING_FOR = 2.0  # seconds a runs-until-stopped command must keep running

# A small workflow's runs: two traces of four runs with an error, and a failure captured alone.
SEED = textwrap.dedent(
    """
    from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry

    @capture_telemetry(skill_name="plugin.build", capture_inputs=True)
    def build(plugin_path: str) -> dict[str, str]:
        return {"status": "success"}

    @capture_telemetry(skill_name="api.validate", capture_inputs=True)
    def validate(spec: str) -> None:
        if "broken" in spec:
            raise ValueError(f"{spec}: missing 'paths' section")

    for _ in range(2):
        with TelemetryContext(skill="workflow.release", caller="CLI") as release:
            build("./plugin.yaml")
            validate("api.yaml")
            try:
                validate("broken.yaml")
            except ValueError as error:
                release.set_error(error)

    TelemetryCapture().capture(
        "workflow.compose", "failure", 2800, "CLI", {"workflow": "api_first"},
        "Validation failed at step 3",
    )
    """
)


def clean_env(home: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BETTY_", "OTEL_", "COV_CORE_", "PYTEST_"))
        and name not in ("TRACEPARENT", "VIRTUAL_ENV", "PYTHONPATH")
    }
    env["HOME"] = str(home)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return env


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed")
    env = clean_env(folder)
    subprocess.run([sys.executable, "-c", SEED], cwd=folder, env=env, check=True, timeout=60)
    store = folder / "registry" / "telemetry.json"
    assert store.stat().st_size > 0
    return store


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The example's working folder and environment, with a HOME of its own."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    return work, clean_env(home)


def prepare(snippet: Snippet, work: Path, env: dict[str, str], seed: Path) -> Iterator[None]:
    """Sets the folder up as the snippet's markers say; a generator so receivers stop after."""
    if not snippet.fresh:
        (work / "registry").mkdir()
        shutil.copy(seed, work / "registry" / "telemetry.json")
    peer = None
    for need in snippet.needs:
        if need == "betty-checkout":
            checkout = Path(env["HOME"]) / "src" / "betty"
            for folder in ("skills/plugin.build", "registry", "betty"):
                (checkout / folder).mkdir(parents=True)
            (checkout / "betty" / "config.py").write_text("BASE_DIR = '.'\n")
        elif need == "otlp-receiver":
            from tests.otlp_peer import OtlpPeer

            peer = OtlpPeer()
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = peer.base_url
        elif need == "claude-session":
            record_claude_session(work, env)
    try:
        yield
    finally:
        if peer is not None:
            peer.close()


def record_claude_session(work: Path, env: dict[str, str]) -> None:
    from tests.hook_documents import document, post_tool, pre_tool

    bash = {"command": "pytest -q"}
    for doc in (
        document("SessionStart", source="startup"),
        document("UserPromptSubmit", prompt="run the tests"),
        pre_tool("Bash", "toolu_01", bash),
        post_tool("Bash", "toolu_01", bash),
        document("Stop", stop_hook_active=False),
        document("SessionEnd", reason="exit"),
    ):
        import json

        subprocess.run(
            [sys.executable, "-m", "betty_telemetry", "hook"],
            input=json.dumps(doc).encode(),
            cwd=work,
            env={**env, "CLAUDE_PROJECT_DIR": str(work)},
            check=True,
            timeout=60,
            capture_output=True,
        )


def command_for(snippet: Snippet, work: Path) -> list[str]:
    if snippet.language == PYTHON:
        # Beside the folder, which stays the example's own.
        script = work.parent / ("test_snippet.py" if snippet.pytest else "snippet.py")
        script.write_text(snippet.program, encoding="utf-8")
        if snippet.pytest:  # exit code 5 (no test collected) fails too
            return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
        return [sys.executable, str(script)]
    return ["bash", "-c", "set -eo pipefail\n" + snippet.program]


def start(
    snippet: Snippet, work: Path, env: dict[str, str], *, merge_stderr: bool = False
) -> subprocess.Popen[str]:
    """The snippet's program, started in its own process group: Ctrl-C reaches every command
    it started, and ``stop_group`` stops them all."""
    return subprocess.Popen(
        command_for(snippet, work),
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def run_to_end(snippet: Snippet, work: Path, env: dict[str, str]) -> None:
    process = start(snippet, work, env)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_group(process)
        stdout, stderr = process.communicate()
        pytest.fail(f"{snippet.id}: still running after {TIMEOUT} s\n{stdout}\n{stderr}")
    finally:
        stop_group(process)  # anything an example left running in the background
    assert process.returncode == 0, (
        f"{snippet.id} failed (exit {process.returncode}); fix the example, or mark it "
        f"(tests/snippets.py)\n--- program\n{snippet.program}\n--- stdout\n{stdout}"
        f"\n--- stderr\n{stderr}"
    )


def stop_group(process: subprocess.Popen[str]) -> None:
    """Kills what is left of the snippet's process group (it may already be gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_until_stopped(snippet: Snippet, work: Path, env: dict[str, str]) -> None:
    process = start(snippet, work, env, merge_stderr=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        # A server prints its address first; a follower (tail -f) prints rows and no address:
        # a second after its first output, it is taken to be running.
        deadline = time.monotonic() + 30
        url = first_output_at = None
        while time.monotonic() < deadline and url is None and process.poll() is None:
            url = next((m.group(0) for line in output for m in [URL.search(line)] if m), None)
            if output and first_output_at is None:
                first_output_at = time.monotonic()
            if first_output_at is not None and time.monotonic() - first_output_at > 1.0:
                break
            time.sleep(0.05)
        if url is not None:
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert answer.status == 200, f"{snippet.id}: {url} answered {answer.status}"
        else:
            time.sleep(RUNNING_FOR)
        assert process.poll() is None, (
            f"{snippet.id} ended (exit {process.returncode}) instead of running until "
            f"stopped:\n{''.join(output)}"
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stop_group(process)
            process.wait()
        stop_group(process)
        reader.join(timeout=10)
    assert process.returncode in (0, 130, -signal.SIGINT), (
        f"{snippet.id}: exit {process.returncode} after Ctrl-C:\n{''.join(output)}"
    )


URL = re.compile(r"http://[\w.:\[\]-]+/\S*")


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_the_snippet_runs_as_written(
    snippet: Snippet, place: tuple[Path, dict[str, str]], seeded_store: Path
) -> None:
    if snippet.skip:
        pytest.skip(f"marked in the page: {snippet.skip}")
    work, env = place
    steps = prepare(snippet, work, env, seeded_store)
    next(steps)
    try:
        if snippet.until_stopped:
            run_until_stopped(snippet, work, env)
        else:
            run_to_end(snippet, work, env)
    finally:
        next(steps, None)


def mypy_strict(programs: dict[str, str], folder: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` over the programs (module name -> source), written into folder."""
    folder.mkdir()
    for name, source in programs.items():
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
    config = folder / "mypy.ini"
    # As a user's project runs it: its own configuration, betty_telemetry and the spec's
    # modules (their stub packages) found where they are installed, not in this checkout.
    config = folder / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\npython_version = 3.10\n")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(REPO / ".mypy_cache" / "snippets"),
            *sorted(str(path) for path in folder.glob("*.py")),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_every_python_snippet_passes_mypy_strict(tmp_path: Path) -> None:
    """The examples are what users paste into typed code: they must type-check as written."""
    programs = {
        # One module per snippet, named after where it is, so mypy's messages say it.
        f"s{number:03d}_" + re.sub(r"\W", "_", snippet.id): snippet.program
        for number, snippet in enumerate(s for s in SNIPPETS if s.language == PYTHON)
    }
    assert len(programs) > 25
    done = mypy_strict(programs, tmp_path / "snippets")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"no issues found in {len(programs)} source files" in done.stdout


def test_the_type_check_fails_on_an_untyped_example(tmp_path: Path) -> None:
    """An argument of the wrong type, an unannotated function: both refused."""
    done = mypy_strict(
        {
            "wrong_type": "from betty_telemetry import TelemetryCapture\n"
            "telemetry = TelemetryCapture()\n"
            "telemetry.query(limit='10')\n",
            "untyped": "def show(node, depth=0):\n    print(node, depth)\n",
        },
        tmp_path / "bad",
    )
    assert done.returncode == 1
    assert 'wrong_type.py:3: error: Argument "limit" to "query"' in done.stdout
    assert "untyped.py:1: error: Function is missing a type annotation" in done.stdout


# -- the markers themselves: a mistake in them must fail, not pass quietly ---------------


def page(tmp_path: Path, text: str) -> list[Snippet]:
    (tmp_path / "docs").mkdir(exist_ok=True)
    path = tmp_path / "docs" / "page.md"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return snippets_of(path, tmp_path)


def test_every_page_has_snippets_and_the_markers_are_read() -> None:
    by_file = {s.path for s in SNIPPETS}
    assert "README.md" in by_file
    assert len(SNIPPETS) > 50
    assert any(s.skip for s in SNIPPETS)
    assert any(s.until_stopped for s in SNIPPETS)


def test_continues_joins_the_previous_snippet_of_the_language(tmp_path: Path) -> None:
    first, shell, second = page(
        tmp_path,
        """
        ```python
        x = 1
        ```

        ```bash
        echo hi
        ```

        <!-- snippet: continues -->
        ```python
        print(x)
        ```
        """,
    )
    assert second.program == "x = 1\n\nprint(x)\n"
    assert shell.program == "echo hi\n"
    assert first.program == "x = 1\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("<!-- snippet: skip -->\n```bash\nls\n```\n", "needs a reason"),
        ("<!-- snippet: skipp slow -->\n```bash\nls\n```\n", "not a snippet marker"),
        ("<!-- snippet: needs a-database -->\n```bash\nls\n```\n", "known are"),
        ("<!-- snippet: continues -->\n```bash\nls\n```\n", "no shell snippet before"),
        ("```console\n$ ls\n```\n", "```text"),
        ("```bash\nls\n", "never closed"),
        ("<!-- snippet: fresh -->\n```yaml\na: 1\n```\n", "marker above"),
    ],
)
def test_a_marker_mistake_is_refused(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(SnippetMarkupError, match=re.escape(says)):
        page(tmp_path, text)


def test_an_unmarked_failing_snippet_fails_the_test(
    tmp_path: Path, place: tuple[Path, dict[str, str]], seeded_store: Path
) -> None:
    text = "```python\nprint(telemetry)\n```\n\n```bash\nfalse\ntrue\n```\n"
    [python, shell] = page(tmp_path, text)
    work, env = place
    for snippet in (python, shell):
        with pytest.raises(AssertionError, match="fix the example"):
            run_to_end(snippet, work, env)


def test_a_shell_snippet_sees_no_setting_of_ours_and_a_home_of_its_own(
    tmp_path: Path, place: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", "/nowhere/t.json")
    work, env = place
    [snippet] = page(
        tmp_path,
        """
        ```bash
        test -z "${BETTY_TELEMETRY_FILE:-}"
        test "$HOME" != ~root
        test "$(command -v betty-telemetry)" = "$(dirname "$(command -v python)")/betty-telemetry"
        test "$PWD" = "{work}"
        ```
        """.replace("{work}", str(work)),
    )
    run_to_end(snippet, work, clean_env(Path(env["HOME"])))
