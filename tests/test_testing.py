"""``betty_telemetry.testing``, used as a user would: a small module of their own, instrumented
with the decorator and the context manager, and tests asserting on what it records, through
the ``capture_entries`` fixture (installed by the package's pytest plugin: no conftest
defines it) and the ``capture_entries()`` context manager."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, _config, capture_telemetry
from betty_telemetry.testing import MemoryStore, capture_entries, find, one
from betty_telemetry.testing.capturing import flush_writers
from tests.conftest import run_python
from tests.lock_holder import start_holder

# -- the user's code -----------------------------------------------------------------------------


@capture_telemetry(skill_name="plugin.build", capture_inputs=True)
def build_plugin(plugin_path: str, api_key: str) -> dict[str, str]:
    if not plugin_path.endswith(".yaml"):
        raise ValueError(f"not a manifest: {plugin_path}")
    return {"status": "success", "artifact": "plugin.tar.gz"}


@capture_telemetry(skill_name="plugin.lint")
def lint_plugin() -> dict[str, str]:
    return {"status": "failure", "error_message": "3 problems"}


def release(plugin_path: str) -> None:
    with TelemetryContext("workflow.release", inputs={"plugin_path": plugin_path}) as ctx:
        lint_plugin()
        build_plugin(plugin_path, api_key="sk-live-" + "a1b2c3d4" * 4)
        ctx.set_metadata(channel="stable")


@capture_telemetry(skill_name="agent.fetch")
async def fetch(url: str) -> str:
    await asyncio.sleep(0)
    return url


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def stored_in(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text()))


# -- the fixture -------------------------------------------------------------------------------


def test_a_run_is_recorded_with_its_skill_status_and_redacted_inputs(
    capture_entries: list[dict[str, Any]],
) -> None:
    build_plugin("./plugin.yaml", api_key="sk-live-" + "a1b2c3d4" * 4)
    [entry] = capture_entries
    assert entry["skill"] == "plugin.build"
    assert entry["status"] == "success"
    assert entry["caller"] == "runtime"
    assert entry["inputs"] == {"plugin_path": "./plugin.yaml", "api_key": "***REDACTED***"}


def test_a_returned_status_is_recorded(capture_entries: list[dict[str, Any]]) -> None:
    lint_plugin()
    assert one(capture_entries, skill="plugin.lint")["status"] == "failure"
    assert one(capture_entries)["error_message"] == "3 problems"


def test_an_error_is_recorded_and_still_raised(capture_entries: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="not a manifest"):
        build_plugin("./README.md", api_key="none")
    entry = one(capture_entries, status="error")
    assert entry["error_message"] == "ValueError: not a manifest: ./README.md"


def test_nested_runs_form_one_trace_of_parent_and_child_spans(
    capture_entries: list[dict[str, Any]],
) -> None:
    release("./plugin.yaml")
    # Recorded as each run ends: the children first.
    assert [entry["skill"] for entry in capture_entries] == [
        "plugin.lint",
        "plugin.build",
        "workflow.release",
    ]
    root = one(capture_entries, skill="workflow.*")
    assert root["parent_id"] is None
    assert root["metadata"] == {"channel": "stable"}
    for child in find(capture_entries, skill="plugin.*"):
        assert child["trace_id"] == root["trace_id"]
        assert child["parent_id"] == root["span_id"]
        assert child["caller"] == "workflow.release"
    assert len({entry["span_id"] for entry in capture_entries}) == 3


def test_async_runs_are_captured(capture_entries: list[dict[str, Any]]) -> None:
    async def main() -> list[str]:
        return await asyncio.gather(fetch("a"), fetch("b"))

    assert asyncio.run(main()) == ["a", "b"]
    assert len(find(capture_entries, skill="agent.fetch", status="success")) == 2


def test_nothing_is_written_to_disk(
    capture_entries: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release("./plugin.yaml")
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(tmp_path / "elsewhere" / "t.json"))
    release("./plugin.yaml")
    assert len(capture_entries) == 6
    assert os.getcwd() == str(tmp_path)  # where ./registry/telemetry.json would have been
    assert files_under(tmp_path) == []


def test_entries_on_other_threads_are_captured(capture_entries: list[dict[str, Any]]) -> None:
    threads = [threading.Thread(target=lint_plugin) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(find(capture_entries, skill="plugin.lint")) == 4


def test_an_explicit_capture_is_copied_to_the_list_and_still_written(
    capture_entries: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "audit.json"
    telemetry = TelemetryCapture(path)

    @capture_telemetry(skill_name="audit.check", telemetry=telemetry)
    def check() -> None:
        pass

    check()
    telemetry.capture("audit.manual", "success", 2.0, "test", {"token": "ghp_" + "x" * 36})
    assert [entry["skill"] for entry in capture_entries] == ["audit.check", "audit.manual"]
    assert stored_in(path) == capture_entries
    assert capture_entries[1]["inputs"] == {"token": "***REDACTED***"}
    telemetry.close()


def test_a_background_capture_reaches_the_list_once_flushed(
    capture_entries: list[dict[str, Any]],
) -> None:
    telemetry = TelemetryCapture(store=MemoryStore(), background=True)
    telemetry.capture("queued", "success", 1.0, "test", {"password": "hunter2"})
    assert telemetry.flush(10)
    assert one(capture_entries, skill="queued")["inputs"] == {"password": "***REDACTED***"}
    telemetry.close()


def test_entries_are_the_lists_own_not_the_dicts_the_code_got_back(
    capture_entries: list[dict[str, Any]],
) -> None:
    telemetry = TelemetryCapture(":memory:")
    returned = telemetry.capture("a", "success", 1.0, "test", {"path": "x"})
    returned["inputs"]["path"] = "changed"
    with TelemetryContext("b") as ctx:
        pass
    assert ctx.entry is not None
    ctx.entry["status"] = "changed"
    assert [(e["skill"], e["status"]) for e in capture_entries] == [
        ("a", "success"),
        ("b", "success"),
    ]
    assert capture_entries[0]["inputs"] == {"path": "x"}


def test_each_test_gets_a_fresh_list(capture_entries: list[dict[str, Any]]) -> None:
    assert capture_entries == []


# -- the context manager -------------------------------------------------------------------------


def test_the_context_manager_collects_only_while_active(tmp_path: Path) -> None:
    lint_plugin()  # before: to the default file
    with capture_entries() as entries:
        lint_plugin()
    lint_plugin()  # after: to the default file again
    assert len(entries) == 1
    assert len(stored_in(tmp_path / "registry" / "telemetry.json")) == 2
    assert _config.CAPTURING == []


def test_the_previous_state_is_back_after_the_block_raised(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a manifest"), capture_entries() as entries:
        build_plugin("./README.md", api_key="none")
    assert one(entries)["status"] == "error"
    assert _config.CAPTURING == []
    lint_plugin()
    assert len(stored_in(tmp_path / "registry" / "telemetry.json")) == 1


def test_nested_blocks_each_collect_what_runs_inside_them() -> None:
    with capture_entries() as outer:
        lint_plugin()
        with capture_entries() as inner:
            release("./plugin.yaml")
        lint_plugin()
    assert len(inner) == 3
    assert len(outer) == 5
    assert inner == outer[1:4]
    assert inner[0] is not outer[1]  # each list holds its own dicts


def test_blocks_on_two_threads_may_end_in_any_order() -> None:
    started, first_done = threading.Event(), threading.Event()
    seen: dict[str, list[dict[str, Any]]] = {}

    def on_a_thread() -> None:
        with capture_entries() as entries:
            started.set()
            first_done.wait(10)
            lint_plugin()
        seen["thread"] = entries

    thread = threading.Thread(target=on_a_thread)
    thread.start()
    started.wait(10)
    with capture_entries() as mine:
        lint_plugin()
    first_done.set()  # this block ended first, although it started second
    thread.join()
    assert _config.CAPTURING == []
    assert len(mine) == 1  # its own entry only: the thread's came after the block ended
    assert len(seen["thread"]) == 2  # both: blocks are process-wide


def test_background_entries_are_in_the_list_after_the_block(tmp_path: Path) -> None:
    telemetry = TelemetryCapture(tmp_path / "t.json", background=True)
    with capture_entries() as entries:
        for i in range(50):
            telemetry.capture("queued", "success", 1.0, "test", {"i": i})
    assert [entry["inputs"]["i"] for entry in entries] == list(range(50))
    assert stored_in(tmp_path / "t.json") == entries
    telemetry.close()


def test_the_mode_variable_does_not_delay_captured_default_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_MODE", "background")
    with capture_entries() as entries:
        lint_plugin()
        assert len(entries) == 1  # at once, not when a writer thread gets to it
    assert files_under(tmp_path) == []


def test_flushing_writers_reports_one_that_could_not_finish(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.touch()
    holder = start_holder(path)  # another process keeps the file locked: nothing is written
    try:
        telemetry = TelemetryCapture(path, background=True, lock_timeout=0.05)
        telemetry.capture("stuck", "success", 1.0, "test")
        assert flush_writers(0.2) is False
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()
    assert flush_writers(10) is True
    telemetry.close()


def test_a_forked_child_records_to_its_file_not_to_the_parents_list(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, os, sys
        from betty_telemetry import capture_telemetry
        from betty_telemetry.testing import capture_entries

        @capture_telemetry(skill_name="work")
        def work():
            pass

        with capture_entries() as entries:
            pid = os.fork()
            if pid == 0:
                work()
                os._exit(0)
            os.waitpid(pid, 0)
            work()
        print(json.dumps(entries))
        """
    )
    result = run_python("-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1
    assert [entry["skill"] for entry in stored_in(tmp_path / "registry" / "telemetry.json")] == [
        "work"
    ]


# -- find and one --------------------------------------------------------------------------------


def test_find_takes_the_filters_of_query(capture_entries: list[dict[str, Any]]) -> None:
    release("./plugin.yaml")
    assert [e["skill"] for e in find(capture_entries, status=["success", "failure"])] == [
        "plugin.lint",
        "plugin.build",
        "workflow.release",
    ]
    assert find(capture_entries, caller="workflow.release", text="problems") == [capture_entries[0]]
    with pytest.raises(ValueError, match="Unknown status"):
        find(capture_entries, status="ok")


def test_one_says_what_there_was_when_it_finds_none_or_several() -> None:
    entries = [{"skill": "a", "status": "success"}, {"skill": "a", "status": "error"}]
    with pytest.raises(AssertionError, match=r"with skill='a', found 2 among 2: a success; a er"):
        one(entries, skill="a")
    with pytest.raises(AssertionError, match=r"with skill='b', found 0 among 2"):
        one(entries, skill="b")
    with pytest.raises(AssertionError, match=r"with no filter, found 0 among 0: none"):
        one([])


# -- the pytest plugin, as a user's project gets it ---------------------------------------------

USER_TESTS = textwrap.dedent(
    """
    from betty_telemetry import capture_telemetry

    @capture_telemetry(skill_name="plugin.build", capture_inputs=True)
    def build(api_key):
        return "built"

    def test_build_is_recorded(capture_entries):
        build(api_key="sk-" + "x" * 40)
        [entry] = capture_entries
        assert entry["skill"] == "plugin.build"
        assert entry["inputs"] == {"api_key": "***REDACTED***"}

    def test_the_list_is_fresh(capture_entries):
        assert capture_entries == []
    """
)


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(USER_TESTS)
    return project


def test_the_fixture_comes_with_the_package_without_a_conftest(user_project: Path) -> None:
    result = run_python("-m", "pytest", "-p", "no:cacheprovider", "-q", cwd=user_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert sorted(path.name for path in files_under(user_project)) == ["test_user.py"]


def test_the_plugin_can_be_turned_off_by_its_name(user_project: Path) -> None:
    off = ("-p", "no:cacheprovider", "-p", "no:betty_telemetry")
    result = run_python("-m", "pytest", *off, "-q", cwd=user_project)
    assert result.returncode != 0
    assert "fixture 'capture_entries' not found" in result.stdout


def test_neither_the_package_nor_the_plugin_imports_the_other_or_pytest_when_loaded() -> None:
    script = textwrap.dedent(
        """
        import sys
        import betty_telemetry, betty_telemetry.testing
        assert "pytest" not in sys.modules and "_pytest" not in sys.modules
        for name in [n for n in sys.modules if n.startswith("betty_telemetry")]:
            del sys.modules[name]
        import _betty_telemetry_pytestplugin
        assert not [n for n in sys.modules if n.startswith("betty_telemetry")]
        """
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
