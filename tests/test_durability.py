"""Durability: ``durability="fsync"`` and ``BETTY_TELEMETRY_FSYNC`` (issue 5, item 5).

What is synced, and when, is observed for real: a child process runs under
``strace -f -y -e trace=pwrite64,fdatasync,fsync``, which names the file or folder behind each
descriptor, so the order of writes and syncs can be read per path. When strace is missing (or
cannot trace here) those tests are skipped, nothing is installed; the settings themselves are
checked in this process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture
from tests.tracing import strace_usable

CHILD = textwrap.dedent(
    """
    import os, sys
    from betty_telemetry import TelemetryCapture

    path, mode, durability, count, replace = sys.argv[1:6]
    capture = TelemetryCapture(
        path,
        background=mode == "background",
        durability=None if durability == "-" else durability,
    )
    for i in range(int(count)):
        capture.capture("durable", "success", 1.0, "child", inputs={"i": i})
    assert capture.flush(60)
    if replace == "replace":  # a new file takes the path: the next capture opens it
        with open(path + ".new", "w") as new:
            new.write("[\\n]\\n")
        os.replace(path + ".new", path)
        capture.capture("durable", "success", 1.0, "child", inputs={"i": -1})
    """
)
SYSCALL = re.compile(r"\b(pwrite64|fdatasync|fsync)\((\d+)<([^>]*)>")


needs_strace = pytest.mark.skipif(
    not strace_usable(),
    reason="strace is not installed (or cannot trace here): the sync calls cannot be observed",
)


def traced(
    tmp_path: Path,
    path: Path,
    *,
    mode: str = "direct",
    durability: str | None = None,
    count: int = 5,
    env: dict[str, str] | None = None,
    replace: bool = False,
) -> list[tuple[str, str]]:
    """Run the child under strace; (system call, path of its descriptor) for each call."""
    trace = tmp_path / "strace.out"
    arguments = [str(path), mode, durability or "-", str(count), "replace" if replace else "-"]
    child = subprocess.run(
        [
            *("strace", "-f", "-qq", "-y", "-e", "trace=pwrite64,fdatasync,fsync"),
            *("-o", str(trace), sys.executable, "-c", CHILD, *arguments),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},  # conftest has removed every BETTY_ variable
    )
    assert child.returncode == 0, child.stderr
    calls = []
    for line in trace.read_text().splitlines():
        match = SYSCALL.search(line)
        if match:
            calls.append((match.group(1), match.group(3)))
    return calls


def on(calls: list[tuple[str, str]], path: Path) -> list[str]:
    return [name for name, target in calls if target == str(path)]


# -- what gets synced, observed -----------------------------------------------------------------


@needs_strace
def test_fsync_durability_syncs_the_file_after_each_direct_append(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    calls = traced(tmp_path, path, durability="fsync", count=5)
    assert on(calls, path) == ["pwrite64", "fdatasync"] * 5


@needs_strace
def test_the_fsync_variable_syncs_the_file_after_each_direct_append(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    calls = traced(tmp_path, path, count=5, env={"BETTY_TELEMETRY_FSYNC": "1"})
    assert on(calls, path) == ["pwrite64", "fdatasync"] * 5


@needs_strace
def test_fsync_durability_syncs_the_file_once_per_batch_in_background_mode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    calls = traced(tmp_path, path, mode="background", durability="fsync", count=2000)
    file_calls = on(calls, path)
    batches = file_calls.count("pwrite64")
    assert 1 <= batches <= 2000 // 20  # batched, not one write per entry
    assert file_calls == ["pwrite64", "fdatasync"] * batches  # each batch synced once


@needs_strace
def test_the_fsync_variable_syncs_once_per_batch_in_background_mode(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    calls = traced(
        tmp_path, path, mode="background", count=600, env={"BETTY_TELEMETRY_FSYNC": "yes"}
    )
    file_calls = on(calls, path)
    batches = file_calls.count("pwrite64")
    assert 1 <= batches < 600
    assert file_calls == ["pwrite64", "fdatasync"] * batches


@needs_strace
@pytest.mark.parametrize("mode", ["direct", "background"])
def test_the_default_write_durability_syncs_nothing(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    calls = traced(tmp_path, path, mode=mode, count=50)
    assert [name for name, _ in calls if name != "pwrite64"] == []
    assert on(calls, path).count("pwrite64") >= 1  # the trace does see this process's calls


@needs_strace
def test_explicit_write_durability_wins_over_the_fsync_variable(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    calls = traced(tmp_path, path, durability="write", env={"BETTY_TELEMETRY_FSYNC": "1"})
    assert [name for name, _ in calls if name != "pwrite64"] == []


@needs_strace
def test_the_folder_is_synced_when_the_file_is_opened_before_the_first_write(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "registry"
    path = folder / "telemetry.json"
    calls = traced(tmp_path, path, durability="fsync", count=5)
    assert on(calls, folder) == ["fsync"]  # once: the file stays open between appends
    first_write = calls.index(("pwrite64", str(path)))
    assert calls.index(("fsync", str(folder))) < first_write


@needs_strace
def test_the_folder_is_synced_again_when_a_replaced_file_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    calls = traced(tmp_path, path, durability="fsync", count=2, replace=True)
    assert on(calls, tmp_path) == ["fsync", "fsync"]
    assert on(calls, path) == ["pwrite64", "fdatasync"] * 3


@needs_strace
def test_folders_created_for_the_file_are_synced_into_their_parents(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "telemetry.json"
    calls = traced(tmp_path, path, durability="fsync", count=1)
    synced = {target for name, target in calls if name == "fsync"}
    # each new name lives in its parent folder: deeper/ names the file, new/ names deeper,
    # tmp_path names new
    assert {str(path.parent), str(path.parent.parent), str(tmp_path)} <= synced


# -- the settings --------------------------------------------------------------------------


def test_durability_defaults_to_write(tmp_path: Path) -> None:
    assert TelemetryCapture(tmp_path / "t.json").durability == "write"


@pytest.mark.parametrize("durability", ["write", "fsync"])
def test_an_explicit_durability_is_kept(tmp_path: Path, durability: str) -> None:
    assert TelemetryCapture(tmp_path / "t.json", durability=durability).durability == durability


@pytest.mark.parametrize("bad", ["sometimes", "FSYNC", "", "1", "sync"])
def test_a_bad_durability_is_refused_naming_what_is_accepted(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match=r"durability must be 'write' .* or 'fsync'") as raised:
        TelemetryCapture(tmp_path / "t.json", durability=bad)
    assert repr(bad) in str(raised.value)


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "TRUE", " On ", "Yes"])
def test_fsync_variable_values_meaning_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FSYNC", value)
    assert TelemetryCapture(tmp_path / "t.json").durability == "fsync"


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", "OFF", " no "])
def test_fsync_variable_values_meaning_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FSYNC", value)
    assert TelemetryCapture(tmp_path / "t.json").durability == "write"


@pytest.mark.parametrize("bad", ["maybe", "2", "fsync", "enabled"])
def test_a_bad_fsync_variable_is_refused_naming_what_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FSYNC", bad)
    with pytest.raises(ValueError, match=r"BETTY_TELEMETRY_FSYNC must be 1 or 0") as raised:
        TelemetryCapture(tmp_path / "t.json")
    message = str(raised.value)
    assert "true/false" in message
    assert "yes/no" in message
    assert "on/off" in message
    assert repr(bad) in message


def test_an_explicit_durability_wins_over_a_bad_fsync_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FSYNC", "maybe")
    assert TelemetryCapture(tmp_path / "t.json", durability="fsync").durability == "fsync"


def test_explicit_fsync_wins_over_a_variable_saying_no(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FSYNC", "0")
    assert TelemetryCapture(tmp_path / "t.json", durability="fsync").durability == "fsync"


def test_direct_entries_written_with_fsync_read_back_like_any_other(tmp_path: Path) -> None:
    capture = TelemetryCapture(tmp_path / "t.json", durability="fsync")
    returned = [capture.capture("s", "success", float(i), "c") for i in range(3)]
    assert capture.query() == returned[::-1]


def test_background_entries_written_with_fsync_read_back_like_any_other(tmp_path: Path) -> None:
    queued = TelemetryCapture(tmp_path / "b.json", durability="fsync", background=True)
    for i in range(3):
        queued.capture("s", "success", float(i), "c")
    assert [entry["duration_ms"] for entry in queued.query()] == [2.0, 1.0, 0.0]
