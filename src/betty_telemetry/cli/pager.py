"""Long tables through a pager on a terminal, the way git does it.

A table or tree for people (``query``, ``stats``, ``trace``, ``tail`` without ``-f``) that is
taller than the terminal goes through ``$BETTY_TELEMETRY_PAGER``, else ``$PAGER``, else
``less``; with ``LESS=FRX`` when ``LESS`` is unset, as git sets it (F: quit at once if it fits
a screen, R: show the colors, X: leave the text on the screen on quitting). The command is
split into words as a shell does (quotes, no pipes) and run directly.

No pager when: ``--no-pager``; stdout is not a terminal (a pipe, a file); the output is JSON
or CSV; ``tail -f`` (it never ends); the variable is set but empty, or is ``cat``; the output
fits the screen. Unlike git, which starts the pager anyway and counts on ``less -F``, the
first screenful is held and counted: output that fits is printed directly, whatever the
pager. A pager that cannot be started is not an error: the output is printed directly (with
a one-line note on stderr when a variable named it). Quitting the pager before the end (q in
less) stops the command quietly; Ctrl-C waits for the pager to be quit, then exits 130.

Only the read commands import this module, and it imports ``subprocess`` only to start a
pager: a capture never pays for it.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

from betty_telemetry._config import pager_setting
from betty_telemetry.cli.cells import is_terminal
from betty_telemetry.cli.subcommands import EXIT_INTERRUPTED

if TYPE_CHECKING:
    import subprocess

GIT_LESS = "FRX"
"""``LESS`` for the pager when it is unset (git's default)."""


def show(
    lines: Iterable[str],
    *,
    allowed: bool = True,
    write: Callable[[str], object] | None = None,
    before_paging: Callable[[], None] | None = None,
) -> None:
    """Print ``lines`` (each without its newline) to stdout, through the pager when it is
    ``allowed``, stdout is a terminal and they are more than a screen holds. ``write``
    prints directly (default: stdout's); ``before_paging`` runs just before the pager
    takes the terminal (a progress line stops)."""
    out = sys.stdout
    direct = write or out.write
    argv = pager_argv() if allowed and is_terminal(out) else None
    stream = iter(lines)
    if argv is None:
        _write_lines(stream, direct)
        return
    # A screen holds its height less one line for the prompt that follows the output.
    first = list(itertools.islice(stream, max(shutil.get_terminal_size().lines - 1, 1)))
    following = next(stream, None)
    if following is None:
        _write_lines(first, direct)
        return
    if before_paging is not None:
        before_paging()
    out.flush()
    pager = _start(argv)
    rest = itertools.chain(first, (following,), stream)
    if pager is None:
        _write_lines(rest, direct)
    else:
        _feed(pager, rest)


def pager_argv() -> list[str] | None:
    """The pager's command as words, or None: none asked for, or not found (said once)."""
    text, source = pager_setting()
    try:
        argv = shlex.split(text)
    except ValueError as error:
        _note(f"the pager {text!r} ({source}) cannot be read: {error}")
        return None
    if not argv or os.path.basename(argv[0]) == "cat":
        return None
    if shutil.which(argv[0]) is None:
        if source != "the default":  # no less installed: nothing to say, nothing was asked
            _note(f"the pager {argv[0]!r} ({source}) is not found")
        return None
    return argv


def _start(argv: list[str]) -> subprocess.Popen[bytes] | None:
    import subprocess  # only here: starting a pager is the one use

    env = dict(os.environ)
    env.setdefault("LESS", GIT_LESS)
    try:
        # Unbuffered (bufsize=0): closing never waits to flush into a pipe the pager no
        # longer reads (after Ctrl-C, say), which would leave both waiting for the other.
        return subprocess.Popen(argv, stdin=subprocess.PIPE, env=env, bufsize=0)
    except OSError as error:
        _note(f"the pager {argv[0]!r} cannot start: {error.strerror or error}")
        return None


def _feed(pager: subprocess.Popen[bytes], lines: Iterator[str]) -> None:
    """Write ``lines`` to the pager, then wait for it to be quit. Quitting early (a closed
    pipe) ends the output quietly; Ctrl-C too, once the pager has been quit."""
    pipe = pager.stdin
    assert pipe is not None
    encoding = sys.stdout.encoding or "utf-8"
    interrupted = False
    try:
        for chunk in _chunks(lines):
            _write_all(pipe, chunk.encode(encoding, "backslashreplace"))
    except BrokenPipeError:  # the pager was quit before the end
        pass
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pipe.close()
    _wait(pager)
    if interrupted:
        raise SystemExit(EXIT_INTERRUPTED)


def _chunks(lines: Iterator[str], size: int = 1 << 15) -> Iterator[str]:
    """Lines joined into chunks of about ``size`` characters: a write per chunk."""
    batch: list[str] = []
    length = 0
    for line in lines:
        batch.append(line + "\n")
        length += len(line) + 1
        if length >= size:
            yield "".join(batch)
            batch, length = [], 0
    if batch:
        yield "".join(batch)


def _write_all(pipe: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[pipe.write(view) :]


def _wait(pager: subprocess.Popen[bytes]) -> None:
    # The pager owns the terminal until it is quit: returning before that would bring the
    # shell's prompt up under it. Ctrl-C reaches the pager too, which decides.
    while True:
        try:
            pager.wait()
            return
        except KeyboardInterrupt:
            continue


def _write_lines(lines: Iterable[str], write: Callable[[str], object]) -> None:
    for line in lines:
        write(line + "\n")


def _note(text: str) -> None:
    print(f"betty-telemetry: {text}; printing without a pager (--no-pager)", file=sys.stderr)
