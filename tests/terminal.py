"""The CLI on a real pseudo-terminal, as a person runs it, and what the screen then shows.

``Terminal`` starts ``betty-telemetry ARGS`` in a new session whose controlling terminal is a
pty (``pty.fork``): Ctrl-C typed into it (``\\x03``) reaches the command as SIGINT from the
terminal's line discipline, as it does in a shell. Its stdout and stderr are the pty, or
either one a pipe (to check what is drawn on a pipe: nothing). ``screen`` replays what was
written to the pty the way a terminal shows it: carriage returns go back to the start of the
line and erase-line sequences erase, so a progress line that was cleanly erased is gone.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from collections.abc import Callable

WAIT = 30.0  # seconds before a test gives up waiting for the terminal
_TOKENS = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]")


class Terminal:
    """``betty-telemetry ARGS`` running on a pty of ``columns`` columns and ``lines`` lines,
    without a pager (``BETTY_TELEMETRY_PAGER`` empty) unless ``env`` names one; ``unset``:
    variables taken out of its environment."""

    def __init__(
        self,
        *args: str,
        stdout_on_terminal: bool = True,
        stderr_on_terminal: bool = True,
        columns: int = 200,
        env: dict[str, str] | None = None,
        unset: tuple[str, ...] = (),
        lines: int = 50,
    ) -> None:
        # The size is the pty's own, as a terminal emulator sets it, never LINES/COLUMNS
        # (which pytest-xdist's workers carry, 24x80, and which would win over the pty's).
        environment = {**os.environ, "TERM": "xterm-256color"}
        environment.pop("LINES", None)
        environment.pop("COLUMNS", None)
        environment.pop("NO_COLOR", None)
        environment["BETTY_TELEMETRY_PAGER"] = ""  # no pager, unless a test asks for one
        environment.update(env or {})
        for name in unset:
            environment.pop(name, None)
        out_read, out_write = (None, None) if stdout_on_terminal else os.pipe()
        err_read, err_write = (None, None) if stderr_on_terminal else os.pipe()
        self.started = time.monotonic()
        size = struct.pack("HHHH", lines, columns, 0, 0)
        pid, master = pty.fork()
        if pid == 0:  # the child: only async-signal-safe work until exec
            try:
                # Sized before exec: the command may read its size before the parent's
                # ioctl below has run.
                fcntl.ioctl(0, termios.TIOCSWINSZ, size)
                if out_write is not None:
                    os.dup2(out_write, 1)
                if err_write is not None:
                    os.dup2(err_write, 2)
                command = [sys.executable, "-m", "betty_telemetry", *args]
                os.execve(sys.executable, command, environment)
            finally:
                os._exit(127)
        for end in (out_write, err_write):
            if end is not None:
                os.close(end)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
        self.pid = pid
        self.master = master
        self.output = bytearray()  # what the command wrote to the terminal
        self.stdout = bytearray()  # what it wrote to its stdout, when that is a pipe
        self.stderr = bytearray()
        self.first_output_at: float | None = None
        self._open: dict[int, bytearray] = {master: self.output}
        if out_read is not None:
            self._open[out_read] = self.stdout
        if err_read is not None:
            self._open[err_read] = self.stderr
        self.code: int | None = None

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def pump(self, seconds: float = 0.05, *, read_pipes: bool = True) -> None:
        """Read what is there within ``seconds`` (pipes too, unless told not to: a command
        whose pipe is not read stops once the pipe is full)."""
        sources = [fd for fd in self._open if read_pipes or fd == self.master]
        if not sources:
            time.sleep(seconds)
            return
        ready, _, _ = select.select(sources, [], [], seconds)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the command ended and the terminal closed
                data = b""
            if not data:
                self._close(fd)
                continue
            if fd == self.master and self.first_output_at is None:
                self.first_output_at = time.monotonic() - self.started
            self._open[fd].extend(data)

    def wait_for(
        self, condition: Callable[[Terminal], bool], what: str, *, read_pipes: bool = True
    ) -> None:
        deadline = time.monotonic() + WAIT
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {WAIT} s for {what}; the terminal shows {self.text!r}"
                )
            if not self._open:
                raise AssertionError(f"the command ended before {what}: {self.text!r}")
            self.pump(read_pipes=read_pipes)

    def wait_until_stopped(self) -> None:
        """Wait, reading nothing, until the command has stopped to wait for the terminal: its
        main thread asleep (in a write to a full terminal, say) for a while: a Ctrl-C typed
        then finds it with rows written but not yet shown. (Before coverage 7.17.5 this wait
        also kept the signal out of coverage's tracer, which hung when interrupted while it
        held its lock; the pinned coverage no longer needs that.)"""
        deadline = time.monotonic() + WAIT
        asleep = 0
        while asleep < 5:
            assert time.monotonic() < deadline, "the command never stopped to wait"
            with open(f"/proc/{self.pid}/stat") as stat:
                state = stat.read().rpartition(")")[2].split()[0]
            asleep = asleep + 1 if state == "S" else 0
            time.sleep(0.02)

    def type(self, keys: bytes) -> None:
        """Type ``keys`` at the terminal (``b"\\x03"``: Ctrl-C)."""
        os.write(self.master, keys)

    def interrupted_once(self, condition: Callable[[Terminal], bool], what: str) -> None:
        """Wait for ``condition`` (``what`` names it), type Ctrl-C, and see the command end
        with 130 as a shell shows it; killed if anything fails on the way."""
        try:
            self.wait_for(condition, what)
            self.type(b"\x03")
            assert self.finish() == 130, self.text
        finally:
            self.kill()

    def finish(self) -> int:
        """Read everything to the end; the command's exit code."""
        deadline = time.monotonic() + WAIT
        while self._open:
            if time.monotonic() > deadline:
                os.kill(self.pid, 9)
                raise AssertionError(f"the command did not end within {WAIT} s: {self.text!r}")
            self.pump()
        _, status = os.waitpid(self.pid, 0)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self) -> None:
        if self.code is None:
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for fd in list(self._open):
            self._close(fd)

    def _close(self, fd: int) -> None:
        os.close(fd)
        del self._open[fd]


def screen(output: bytes | bytearray | str) -> list[str]:
    """The lines a terminal shows after ``output`` (colors dropped, trailing blank lines
    too). Carriage return, newline and erase-to-end-of-line (``ESC [ K``) are obeyed; any
    other control sequence fails the test: the CLI must not send what this does not know."""
    text = output if isinstance(output, str) else bytes(output).decode("utf-8")
    lines = [""]
    column = 0
    for token in _TOKENS.findall(text):
        if token == "\r":
            column = 0
        elif token == "\n":
            lines.append("")
            column = 0
        elif token.startswith("\x1b["):
            if token == "\x1b[K":
                lines[-1] = lines[-1][:column]
            elif not token.endswith("m"):
                raise AssertionError(f"unexpected control sequence {token!r}")
        else:
            line = lines[-1].ljust(column)
            lines[-1] = line[:column] + token + line[column + 1 :]
            column += 1
    while lines and not lines[-1]:
        lines.pop()
    return lines


def drawn_lines(output: bytes | bytearray) -> list[str]:
    """Every progress line drawn (``\\r`` + text + erase-to-end-of-line), in order."""
    text = bytes(output).decode("utf-8", "replace")
    return re.findall(r"\r([^\r\n\x1b]+)\x1b\[K", text)
