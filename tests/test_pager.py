"""Long tables through a pager on a terminal, as git does it (``cli.pager``).

The command runs on a real pty (tests/terminal.py) 30 lines high; the pager is a real
process, a shell script named by ``$BETTY_TELEMETRY_PAGER`` or ``$PAGER`` that records its
arguments, its ``LESS`` and what it reads. Decided and tested: output that fits the screen is
printed directly, with no pager started (git starts one and relies on ``less -F``).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from tests.stores import write_entries
from tests.terminal import Terminal, screen

LINES = 30
RECORD = 'cat > "$HERE/stdin"'


def entries(count: int) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": f"2026-12-07T09:{number // 60 % 60:02d}:{number % 60:02d}.000000+00:00",
            "skill": f"job.{number}",
            "status": "success" if number % 3 else "failure",
            "duration_ms": float(number),
            "caller": "CLI",
            "inputs": {},
        }
        for number in range(count)
    ]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "t.json"
    write_entries(path, entries(150))
    return path


class Pager:
    """A fake pager in ``folder``: records its arguments, LESS and stdin, then runs ``body``."""

    def __init__(self, folder: Path, body: str = RECORD) -> None:
        folder.mkdir()
        self.folder = folder
        self.path = folder / "pager"
        self.path.write_text(
            "#!/bin/sh\n"
            f"HERE={shlex.quote(str(folder))}\n"
            'printf "%s\\n" "$@" > "$HERE/args"\n'
            'printf "%s" "${LESS-unset}" > "$HERE/less"\n'
            f"{body}\n"
        )
        self.path.chmod(0o755)

    @property
    def ran(self) -> bool:
        return (self.folder / "args").exists()

    def read(self, name: str) -> str:
        return (self.folder / name).read_text()


@pytest.fixture
def pager(tmp_path: Path) -> Pager:
    return Pager(tmp_path / "pager")


def run(*args: str, **options: Any) -> tuple[Terminal, list[str]]:
    """``betty-telemetry ARGS`` on a pty LINES high, to its end: it and the screen's lines."""
    terminal = Terminal(*args, lines=LINES, **options)
    try:
        code = terminal.finish()
    finally:
        terminal.kill()
    assert code == 0, terminal.text
    assert "Traceback" not in terminal.text
    return terminal, screen(terminal.output)


@pytest.mark.parametrize(
    "command", [["query", "--limit", "100"], ["tail", "-n", "100"], ["query", "--all"]]
)
def test_a_table_taller_than_the_terminal_goes_through_the_pager(
    data: Path, pager: Pager, command: list[str]
) -> None:
    _, lines = run(*command, "--file", str(data), env={"BETTY_TELEMETRY_PAGER": str(pager.path)})
    paged = pager.read("stdin").splitlines()
    assert paged[0].startswith("\x1b[2mTIMESTAMP")  # colored: the terminal is stdout's
    assert len(paged) == (151 if command == ["query", "--all"] else 101)
    assert not any("job." in line for line in lines)  # none printed beside the pager
    assert pager.read("less") == "FRX"  # git's: quit if one screen, raw colors, no clearing


def test_stats_and_trace_are_paged_too(tmp_path: Path, pager: Pager) -> None:
    path = tmp_path / "t.json"
    traced = [
        {**entry, "trace_id": "c" * 32, "span_id": f"{n:016x}"}
        for n, entry in enumerate(entries(40))
    ]
    write_entries(path, traced)
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    run("stats", "--file", str(path), env=env)
    heading, *rows = screen(pager.read("stdin"))  # the colors taken out
    assert heading.split()[:3] == ["SKILL", "COUNT", "FAIL%"]
    assert len(rows) == 41  # a row per skill, and the summary
    (pager.folder / "args").unlink()
    run("trace", "c" * 32, "--file", str(path), env=env)
    assert pager.ran
    assert len(pager.read("stdin").splitlines()) == 41  # the title and the 40 runs


def test_the_pager_command_is_split_as_a_shell_splits_words(data: Path, pager: Pager) -> None:
    command = f"{shlex.quote(str(pager.path))} --flag 'two words'"
    run("query", "--limit", "100", "--file", str(data), env={"BETTY_TELEMETRY_PAGER": command})
    assert pager.read("args").splitlines() == ["--flag", "two words"]


def test_the_users_less_is_kept(data: Path, pager: Pager) -> None:
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path), "LESS": "-S"}
    run("query", "--limit", "100", "--file", str(data), env=env)
    assert pager.read("less") == "-S"


def test_betty_telemetry_pager_comes_before_pager(data: Path, pager: Pager, tmp_path: Path) -> None:
    other = Pager(tmp_path / "other")
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path), "PAGER": str(other.path)}
    run("query", "--limit", "100", "--file", str(data), env=env)
    assert pager.ran
    assert not other.ran
    run(
        "query",
        "--limit",
        "100",
        "--file",
        str(data),
        env={"PAGER": str(other.path)},
        unset=("BETTY_TELEMETRY_PAGER",),
    )
    assert other.ran


@pytest.mark.parametrize(
    "env",
    [
        {"BETTY_TELEMETRY_PAGER": ""},
        {"BETTY_TELEMETRY_PAGER": "cat"},
        {"BETTY_TELEMETRY_PAGER": "/bin/cat -u"},
        {"PAGER": ""},
        {"PAGER": "  "},
    ],
)
def test_an_empty_pager_or_cat_means_none(data: Path, pager: Pager, env: dict[str, str]) -> None:
    unset = () if "BETTY_TELEMETRY_PAGER" in env else ("BETTY_TELEMETRY_PAGER",)
    _, lines = run("query", "--limit", "100", "--file", str(data), env=env, unset=unset)
    assert len(lines) == 101
    assert not pager.ran


def test_no_pager_prints_directly(data: Path, pager: Pager) -> None:
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    _, lines = run("query", "--limit", "100", "--no-pager", "--file", str(data), env=env)
    assert len(lines) == 101
    assert not pager.ran


def test_output_that_fits_the_screen_starts_no_pager(data: Path, pager: Pager) -> None:
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    _, lines = run("query", "--limit", str(LINES - 2), "--file", str(data), env=env)
    assert len(lines) == LINES - 1  # the heading too: one line is left for the prompt
    assert not pager.ran
    run("query", "--limit", str(LINES - 1), "--file", str(data), env=env)
    assert pager.ran


@pytest.mark.parametrize("args", [["--json"], ["--jsonl"], ["--csv"]])
def test_machine_output_is_never_paged(data: Path, pager: Pager, args: list[str]) -> None:
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    run("query", "--limit", "100", *args, "--file", str(data), env=env)
    assert not pager.ran


def test_a_pipe_is_never_paged(data: Path, pager: Pager) -> None:
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    terminal, _ = run(
        "query", "--limit", "100", "--file", str(data), env=env, stdout_on_terminal=False
    )
    assert len(terminal.stdout.decode().splitlines()) == 101
    assert not pager.ran


def test_tail_follow_is_never_paged(data: Path, pager: Pager) -> None:
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    terminal = Terminal("tail", "-f", "-n", "100", "--file", str(data), env=env, lines=LINES)
    terminal.interrupted_once(lambda t: "job.149" in t.text, "the newest entry")
    assert not pager.ran


def test_a_missing_pager_named_by_a_variable_is_said_and_skipped(data: Path) -> None:
    env = {"BETTY_TELEMETRY_PAGER": "/no/such/pager --x"}
    _, lines = run("query", "--limit", "100", "--file", str(data), env=env)
    note = "betty-telemetry: the pager '/no/such/pager' ($BETTY_TELEMETRY_PAGER) is not found"
    assert lines[0].startswith(note)
    assert len(lines) == 102


def test_a_pager_that_cannot_be_read_is_said_and_skipped(data: Path) -> None:
    env = {"PAGER": "less 'unbalanced"}
    _, lines = run(
        "query", "--limit", "100", "--file", str(data), env=env, unset=("BETTY_TELEMETRY_PAGER",)
    )
    assert lines[0].startswith('betty-telemetry: the pager "less \'unbalanced" ($PAGER) cannot')
    assert len(lines) == 102


def test_a_pager_that_cannot_start_is_said_and_skipped(data: Path, tmp_path: Path) -> None:
    unrunnable = tmp_path / "not-executable-by-exec"
    unrunnable.write_text("no shebang, no binary")
    unrunnable.chmod(0o755)
    env = {"BETTY_TELEMETRY_PAGER": str(unrunnable)}
    _, lines = run("query", "--limit", "100", "--file", str(data), env=env)
    assert lines[0].startswith(f"betty-telemetry: the pager '{unrunnable}' cannot start")
    assert len(lines) == 102


def test_no_less_installed_prints_directly_and_quietly(data: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty)}
    unset = ("BETTY_TELEMETRY_PAGER", "PAGER")
    _, lines = run("query", "--limit", "100", "--file", str(data), env=env, unset=unset)
    assert len(lines) == 101


def test_quitting_the_pager_early_ends_the_command_quietly(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_entries(path, entries(5000))  # far more than a pipe holds
    pager = Pager(tmp_path / "pager", body='head -n 1 > "$HERE/stdin"')
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    _, lines = run("query", "--all", "--file", str(path), env=env)
    assert pager.read("stdin").startswith("\x1b[2mTIMESTAMP")
    assert lines == []  # nothing on the terminal: no rows, no error


def test_ctrl_c_while_paging_waits_for_the_pager_then_exits_quietly(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_entries(path, entries(5000))
    # Like less: Ctrl-C does not end it; it reads on until the end of its input.
    body = 'trap "" INT\nhead -n 1 > "$HERE/first"\nsleep 2\ncat > /dev/null\ntouch "$HERE/done"'
    pager = Pager(tmp_path / "pager", body=body)
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    terminal = Terminal("query", "--all", "--file", str(path), env=env, lines=LINES)
    try:
        deadline = time.monotonic() + 30
        while not (pager.folder / "first").exists():
            assert time.monotonic() < deadline, terminal.text
            terminal.pump()
        terminal.wait_until_stopped()  # writing into the full pipe
        terminal.type(b"\x03")
        terminal.wait_until_stopped()  # now waiting for the pager, which sleeps on
        terminal.type(b"\x03")  # a second Ctrl-C: still waiting
        code = terminal.finish()
    finally:
        terminal.kill()
    assert code == 130
    assert (pager.folder / "done").exists()
    assert set(screen(terminal.output)) <= {"^C", "^C^C"}  # the echo of Ctrl-C: nothing else


def test_running_pages_a_long_list_unless_told_not_to(tmp_path: Path, pager: Pager) -> None:
    path = tmp_path / "pending.json"
    pending = [
        {**entry, "status": "pending", "trace_id": f"{n + 1:032x}", "span_id": f"{n + 1:016x}"}
        for n, entry in enumerate(entries(LINES + 5))
    ]
    write_entries(path, pending)
    env = {"BETTY_TELEMETRY_PAGER": str(pager.path)}
    _, lines = run("running", "--no-pager", "--file", str(path), env=env)
    assert not pager.ran
    assert sum("job." in line for line in lines) == LINES + 5
    run("running", "--file", str(path), env=env)
    paged = pager.read("stdin").splitlines()
    assert sum("job." in line for line in paged) == LINES + 5
    assert any(line.startswith(f"{LINES + 5} running") for line in paged[-2:]), paged[-3:]
