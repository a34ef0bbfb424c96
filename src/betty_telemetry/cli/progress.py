"""Progress on a terminal for work that takes a while: one line on stderr, redrawn in place.

    query  ██████████░░░░░░░░░░░░░░  45%  451,203 entries  120,345/s  4s left
    stats  1,203,455 entries  301,003/s  4s      (nothing measures the whole: a counter)

It shows only where a person watches and nothing reads: on stderr when stderr is a terminal
(``TERM`` not ``dumb``), never on a pipe or in a file, and only once the command has been
silent on that terminal for ``DELAY`` (half a second), so a fast command never flickers.
Callers decide the rest with ``wanted``: a command printing machine-readable output (JSON,
CSV) on the terminal itself gets no bar between its lines.

The line is redrawn at most ``1 / INTERVAL`` times a second, by the working thread itself when
it reports how far it got (``measure``, ``read``: once a block read, a clock read each), so
the work seldom hands the interpreter's lock to another thread while it runs: a thread woken
ten times a second takes it from the work each time (and on a loaded machine the work may
then wait for that thread to get a core). A watchdog
thread draws only when the work goes quiet (it waits for a lock, SQLite computes, or it only
``advance``-s): four times a second, and once a second while the work reports. The line is
erased (carriage return, erase to the end of the line) before output goes to the terminal
(through ``above``), before a warning of the library's logger is printed, and when the work
ends, however it ends (an error, Ctrl-C): what stays on the screen is the command's output.

    with progress("convert", unit="entries") as bar:
        for entry in store.scan_measured(EntryFilter(), bar.measure, newest_first=False):
            bar.advance()
            ...

    for item in track(items, "check", total=len(items)):
        ...
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO, TypeVar

from betty_telemetry.cli.cells import is_terminal

T = TypeVar("T")

DELAY = 0.5
"""Seconds of silence on the terminal before the line appears."""
INTERVAL = 0.1
"""Seconds between two draws: at most ten a second."""
BAR_WIDTH = 24
_ERASE = "\r\x1b[K"  # to the start of the line, then erase to its end
_LIBRARY_LOGGER = "betty_telemetry"


def on_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal that understands erasing a line."""
    return is_terminal(stream) and os.environ.get("TERM") != "dumb"


def wanted(machine_output: bool, out: TextIO | None = None, err: TextIO | None = None) -> bool:
    """Whether a command shows progress (on ``err``, stderr by default): on a terminal only,
    and not when the command prints machine-readable output on that terminal too (``out``,
    stdout by default), where a line drawn between its lines would get in the way. Redirect
    the output to a file and the bar shows, as curl's does."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    return on_terminal(err) and not (machine_output and on_terminal(out))


class Progress:
    """The progress of one piece of work: counters, and a line drawing them (if enabled).

    ``count`` is how many ``unit`` are done (``advance``); the fraction done comes from
    ``measure`` (a ``stores.base.ProgressHook``: bytes of a file, rows of a database), else
    from ``count`` over ``total`` when a total is given, else it is unknown (a counter and
    the time spent are shown). ``enabled``: draw or not; None asks ``on_terminal(stream)``.
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "entries",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        delay: float = DELAY,
        interval: float = INTERVAL,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.count = 0
        self._measured: float | None = None
        self._stream = sys.stderr if stream is None else stream
        self.enabled = on_terminal(self._stream) if enabled is None else enabled
        self._delay = delay
        self._interval = interval
        # One writer to the terminal at a time; reentrant: a warning logged while output is
        # written above the line erases it again.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        self._started = self._quiet_since = time.monotonic()
        self._next_draw = 0.0  # no draw before this moment: at most one per interval
        self._reported_at = 0.0  # when the work last reported (and drew, if due)
        self._logging_filter = _EraseBeforeWarnings(self)

    # -- what the work reports: counters only ------------------------------------------------

    def advance(self, count: int = 1) -> None:
        """``count`` more ``unit`` done: an addition, cheap enough for a loop over entries (the
        watchdog draws the count; or call ``tick`` now and then)."""
        self.count += count

    def reached(self, count: int) -> None:
        """``count`` ``unit`` done in all (work that reports a running total, per batch), and
        a redraw if one is due."""
        self.count = count
        self.tick()

    def measure(self, done: int, total: int) -> None:
        """How far the work got, ``done`` of ``total`` in any unit (a ``ProgressHook``). The
        fraction shown never goes back (a second step that starts over, a file read again)."""
        if total > 0:
            fraction = min(max(done / total, 0.0), 1.0)
            if self._measured is None or fraction > self._measured:
                self._measured = fraction
        self.tick()

    def tick(self) -> None:
        """Redraw the line now, from the working thread, if a draw is due (``measure`` and
        ``read`` call it; a loop that only ``advance``-s may, every few hundred items)."""
        if self._thread is None:
            return
        now = time.monotonic()
        self._reported_at = now
        if now >= self._next_draw:
            self._draw_if_due(now)

    def read(self, entries: int, done: int, total: int) -> None:
        """``entries`` read so far, and the store's measure (a ``read.reading.ReadProgress``)."""
        self.count = entries
        self.measure(done, total)

    @property
    def fraction(self) -> float | None:
        """The fraction done, if anything tells it."""
        if self._measured is not None:
            return self._measured
        if self.total:
            return min(self.count / self.total, 1.0)
        return None

    # -- output and warnings go above it -----------------------------------------------------

    def above(self, write: Callable[[str], object]) -> Callable[[str], object]:
        """``write``, made safe to use on the terminal the line is drawn on: the line is
        erased first, and held back until the terminal has been silent for ``DELAY`` again.
        Output that does not go to that terminal needs no wrapping."""
        if not self.enabled:
            return write
        lock = self._lock

        def write_above(text: str) -> None:
            with lock:
                self._erase()
                try:
                    write(text)
                finally:
                    self._quiet_since = time.monotonic()

        return write_above

    def hide(self) -> None:
        """Erase the line now; it comes back after ``DELAY`` of silence."""
        with self._lock:
            self._erase()
            self._quiet_since = time.monotonic()

    # -- the drawing -------------------------------------------------------------------------

    def start(self) -> Progress:
        """Start drawing (if enabled); ``close`` stops. The context manager does both."""
        if self.enabled and self._thread is None:
            self._started = self._quiet_since = time.monotonic()
            logging.getLogger(_LIBRARY_LOGGER).addFilter(self._logging_filter)
            self._thread = threading.Thread(target=self._draw_now_and_then, daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop drawing and erase the line. Safe to call twice, and from ``finally``."""
        self._stop.set()
        if self._thread is None:
            return
        with self._lock:  # erased before the join: an interrupted join leaves no line behind
            self._erase()
        logging.getLogger(_LIBRARY_LOGGER).removeFilter(self._logging_filter)
        self._thread.join(timeout=1)
        self._thread = None

    def __enter__(self) -> Progress:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _draw_now_and_then(self) -> None:
        """The watchdog: draws while the work is quiet; while it reports, it draws itself."""
        pause = self._delay
        while not self._stop.wait(pause):
            now = time.monotonic()
            if now - self._reported_at < 4 * self._interval:
                pause = 10 * self._interval
                continue
            pause = 2.5 * self._interval
            self._draw_if_due(now)

    def _draw_if_due(self, now: float) -> None:
        with self._lock:
            quiet = now - self._quiet_since >= self._delay  # output came lately: not yet
            if self._stop.is_set() or now < self._next_draw or not quiet:
                return
            self._next_draw = now + self._interval
            self._draw(now)

    def _draw(self, now: float) -> None:
        line = render(
            self.label,
            count=self.count,
            unit=self.unit,
            fraction=self.fraction,
            elapsed=now - self._started,
            columns=_columns(self._stream),
            blocks=_blocks_for(self._stream),
        )
        self._write("\r" + line + "\x1b[K")
        self._drawn = True

    def _erase(self) -> None:
        if self._drawn:
            self._write(_ERASE)
            self._drawn = False

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: stop drawing, quietly
            self._stop.set()
            self._drawn = False


class _EraseBeforeWarnings(logging.Filter):
    """On the library's logger while a line is drawn: its warnings are printed on the same
    terminal (by the CLI's handler), so the line is erased before each."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self._progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self._progress.hide()
        return True


@contextmanager
def progress(
    label: str,
    total: int | None = None,
    *,
    unit: str = "entries",
    enabled: bool | None = None,
) -> Iterator[Progress]:
    """A ``Progress`` drawn on stderr while the block runs, erased when it ends."""
    with Progress(label, total=total, unit=unit, enabled=enabled) as bar:
        yield bar


def track(
    items: Iterable[T],
    label: str,
    total: int | None = None,
    *,
    unit: str = "entries",
    enabled: bool | None = None,
) -> Iterator[T]:
    """``items``, counted on a progress line while they are iterated (run the loop to its
    end, or close the iterator, to erase the line)."""
    with Progress(label, total=total, unit=unit, enabled=enabled) as bar:
        for count, item in enumerate(items, 1):
            bar.count = count
            if not count & 0xFF:
                bar.tick()
            yield item


# -- the line ------------------------------------------------------------------------------


def render(
    label: str,
    *,
    count: int,
    unit: str,
    fraction: float | None,
    elapsed: float,
    columns: int,
    blocks: tuple[str, str] = ("█", "░"),
) -> str:
    """The progress line: label, bar and percentage (if the fraction is known), count and
    rate (if anything was counted), then the time left (if it can be told) or spent; cut
    to ``columns - 1`` (a line as wide as the terminal would wrap, and not be erasable)."""
    parts = []
    if count:
        parts.append(f"{count:,} {unit}")
        if elapsed > 0:
            parts.append(f"{count / elapsed:,.0f}/s")
    left = _time_left(fraction, elapsed)
    parts.append(f"{_clock(left)} left" if left is not None else _clock(elapsed))
    rest = "  ".join(parts)
    if fraction is not None:
        rest = f"{fraction:4.0%}  {rest}"
        room = columns - 1 - len(label) - len(rest) - 4
        if room >= 8:
            done = int(min(room, BAR_WIDTH) * fraction)
            bar = blocks[0] * done + blocks[1] * (min(room, BAR_WIDTH) - done)
            rest = f"{bar}  {rest}"
    return f"{label}  {rest}"[: max(columns - 1, 0)]


def _time_left(fraction: float | None, elapsed: float) -> float | None:
    # Told once there is something to go by: early guesses jump about.
    if fraction is None or fraction < 0.02 or fraction >= 1 or elapsed < 1:
        return None
    return elapsed * (1 - fraction) / fraction


def _clock(seconds: float) -> str:
    """``4s``, ``1m05s``, ``2h03m``."""
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def _blocks_for(stream: TextIO) -> tuple[str, str]:
    """Block characters where the terminal's encoding has them, else ``#`` and ``-``."""
    try:
        "█░".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ("#", "-")
    return ("█", "░")
