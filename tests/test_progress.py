"""The progress line itself (``cli.progress``), drawn on a real pseudo-terminal in this process:
when it appears, what it says, that it is erased before output and warnings and at the end,
and that nothing is drawn where no person watches. The CLI's use of it, in real processes, is
in test_progress_cli.py."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import select
import time
from collections.abc import Iterator
from typing import TextIO

import pytest

from betty_telemetry.cli.progress import (
    BAR_WIDTH,
    Progress,
    on_terminal,
    progress,
    render,
    track,
    wanted,
)
from tests.terminal import drawn_lines, screen

FAST = 0.05  # a delay and interval short enough for tests, long enough to be seen


@pytest.fixture
def terminal() -> Iterator[tuple[TextIO, int]]:
    """A pseudo-terminal: its slave end as a text stream (what the CLI's stderr would be),
    and its master end, where what was drawn is read back."""
    master, slave = os.openpty()
    stream = open(slave, "w", encoding="utf-8", closefd=True)  # noqa: SIM115 - closed below
    yield stream, master
    stream.close()
    os.close(master)


def drained(master: int, seconds: float = 0.0) -> bytes:
    """What the terminal received, waiting up to ``seconds`` for more."""
    data = b""
    deadline = time.monotonic() + seconds
    while True:
        ready, _, _ = select.select([master], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            return data
        data += os.read(master, 65536)


def wait_for_a_line(master: int) -> bytes:
    received = b""
    deadline = time.monotonic() + 10
    while b"\x1b[K" not in received:
        assert time.monotonic() < deadline, received
        received += drained(master, 0.05)
    return received


# -- where it shows ---------------------------------------------------------------------------


def test_a_terminal_is_where_progress_shows(
    terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, _ = terminal
    monkeypatch.setenv("TERM", "xterm")
    assert on_terminal(stream)
    assert not on_terminal(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")  # a terminal that cannot erase a line
    assert not on_terminal(stream)


def test_machine_output_on_the_terminal_gets_no_progress(
    terminal: tuple[TextIO, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, _ = terminal
    monkeypatch.setenv("TERM", "xterm")
    pipe = io.StringIO()
    assert wanted(machine_output=False, out=stream, err=stream)  # a table on the terminal
    assert wanted(machine_output=True, out=pipe, err=stream)  # JSON into a file or a pipe
    assert not wanted(machine_output=True, out=stream, err=stream)  # JSON on the terminal
    assert not wanted(machine_output=False, out=stream, err=pipe)  # stderr not a terminal


def test_nothing_is_drawn_on_a_stream_that_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress("stats", stream=stream, delay=0, interval=0.01) as bar:
        assert not bar.enabled
        bar.advance(5)
        time.sleep(0.1)
        assert bar.above(stream.write) == stream.write  # output as it is: nothing to erase
    assert stream.getvalue() == ""
    assert bar.count == 5


# -- when it shows, and that it goes -------------------------------------------------------


def test_the_line_appears_only_after_the_delay_and_is_erased_at_the_end(
    terminal: tuple[TextIO, int],
) -> None:
    stream, master = terminal
    with Progress("stats", stream=stream, delay=0.4, interval=FAST) as bar:
        bar.advance(1234)
        assert drained(master, 0.25) == b""  # a command done by now never shows a line
        received = wait_for_a_line(master)
    received += drained(master)
    [first, *_] = drawn_lines(received)
    assert first.startswith("stats  1,234 entries  ")
    assert received.endswith(b"\r\x1b[K")  # erased: the terminal shows nothing of it
    assert screen(received) == []


def test_the_line_follows_the_work_at_most_once_an_interval(
    terminal: tuple[TextIO, int],
) -> None:
    stream, master = terminal
    interval = 0.1
    started = time.monotonic()
    with Progress("query", stream=stream, delay=0.2, interval=interval) as bar:
        for done in range(1, 101):  # a scan reporting a hundred blocks over a second
            bar.read(done * 10, done, 100)
            time.sleep(0.01)
        seconds = time.monotonic() - started
        received = drained(master, 0.05)
    drawn = drawn_lines(received + drained(master))
    percentages = [int(line.split("%")[0].split()[-1]) for line in drawn]
    assert len(drawn) >= 3
    assert len(drawn) <= (seconds - 0.2) / interval + 2  # throttled: ten a second at most
    assert percentages == sorted(percentages)
    assert percentages[0] >= 15  # nothing before the delay
    last_count = int(drawn[-1].split("%")[1].split()[0].replace(",", ""))
    assert last_count >= 500  # the entries counted, as the work went on


def test_a_fast_piece_of_work_draws_nothing(terminal: tuple[TextIO, int]) -> None:
    stream, master = terminal
    with progress("query", enabled=True) as bar:  # on stderr: pytest's, not a terminal here
        bar.advance()
    with Progress("query", stream=stream, interval=FAST) as bar:
        bar.advance(10)
    assert drained(master, 0.2) == b""


def test_output_written_above_erases_the_line_and_holds_it_back(
    terminal: tuple[TextIO, int],
) -> None:
    stream, master = terminal
    with Progress("query", stream=stream, delay=0.2, interval=FAST) as bar:
        write = bar.above(stream.write)
        write("first row\n")
        stream.flush()
        wait_for_a_line(master)  # quiet for the delay: the line comes back
        write("second row\n")
        stream.flush()
        after = drained(master, 0.1)
        assert after.startswith(b"\r\x1b[K")  # erased before the row
        assert drawn_lines(after) == []  # and held back: output came less than the delay ago
    output = b"first row\r\n" + after + drained(master)
    assert screen(output) == ["first row", "second row"]


def test_a_warning_of_the_library_erases_the_line_first(terminal: tuple[TextIO, int]) -> None:
    stream, master = terminal
    logger = logging.getLogger("betty_telemetry")
    printed: list[bytes] = []

    class Printer(logging.Handler):  # as the CLI's handler: on the same terminal
        def emit(self, record: logging.LogRecord) -> None:
            printed.append(drained(master))  # what the terminal had before the warning
            stream.write(f"Warning: {record.getMessage()}\n")
            stream.flush()

    handler = Printer()
    logger.addHandler(handler)
    try:
        with Progress("stats", stream=stream, delay=0.1, interval=FAST):
            wait_for_a_line(master)
            logger.warning("a damaged line was skipped")
    finally:
        logger.removeHandler(handler)
    assert printed[0].endswith(b"\r\x1b[K")
    assert screen(drained(master)) == ["Warning: a damaged line was skipped"]
    assert logger.filters == []  # the line's filter went with it


def test_a_terminal_that_goes_away_stops_the_drawing_quietly() -> None:
    master, slave = os.openpty()
    stream = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        with Progress("stats", stream=stream, delay=0, interval=0.01) as bar:
            os.close(master)
            time.sleep(0.1)  # draws fail (the terminal hung up, or not): none raises
            bar.advance()
    finally:
        with contextlib.suppress(OSError):  # what is left in the stream's buffer cannot go
            stream.close()


def test_close_is_safe_twice_and_without_start(terminal: tuple[TextIO, int]) -> None:
    stream, master = terminal
    bar = Progress("rotate", stream=stream)
    bar.close()
    bar.start()
    bar.close()
    bar.close()
    assert drained(master, 0.05) == b""


def test_track_counts_the_items_it_passes_on() -> None:
    seen = list(track(iter("abc"), "check", enabled=False))
    assert seen == ["a", "b", "c"]
    assert sum(track(range(1000), "check", enabled=False)) == 499_500


def test_a_line_forced_onto_a_stream_that_is_not_a_terminal_fits_80_columns() -> None:
    stream = io.StringIO()  # no size to ask: 80 columns, as for a terminal that says nothing
    bar = Progress("convert", stream=stream, enabled=True, delay=0, interval=FAST)
    bar.advance(10**70)
    with bar:
        deadline = time.monotonic() + 10
        while "\x1b[K" not in stream.getvalue():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    [first, *_] = drawn_lines(stream.getvalue().encode())
    assert len(first) == 79


def test_tracked_items_are_counted_on_the_line(terminal: tuple[TextIO, int]) -> None:
    stream, master = terminal
    bar = Progress("check", total=4, stream=stream, delay=0.1, interval=FAST)
    with bar:
        for _ in range(3):
            bar.advance()
        wait_for_a_line(master)
    assert bar.fraction == 0.75


# -- the measure ------------------------------------------------------------------------------


def test_the_fraction_comes_from_the_measure_and_never_goes_back() -> None:
    bar = Progress("rotate", enabled=False)
    assert bar.fraction is None
    bar.measure(0, 0)  # nothing to measure yet
    assert bar.fraction is None
    bar.measure(30, 100)
    bar.measure(10, 100)  # a second step starting over, a file read again
    assert bar.fraction == 0.3
    bar.measure(150, 100)
    assert bar.fraction == 1.0


def test_a_read_reports_entries_and_how_far_the_scan_got() -> None:
    bar = Progress("query", total=1000, enabled=False)
    bar.read(40, 0, 0)
    assert (bar.count, bar.fraction) == (40, 0.04)  # the count over the total, until measured
    bar.read(50, 1, 4)
    assert (bar.count, bar.fraction) == (50, 0.25)


# -- the line -----------------------------------------------------------------------------------


def line(**changes: object) -> str:
    values: dict[str, object] = {
        "count": 0,
        "unit": "entries",
        "fraction": None,
        "elapsed": 0.6,
        "columns": 100,
    }
    values.update(changes)
    return render("stats", **values)  # type: ignore[arg-type]


def test_a_known_fraction_shows_a_bar_percentage_rate_and_time_left() -> None:
    text = line(count=450_000, fraction=0.45, elapsed=3.0)
    blocks = "█" * int(BAR_WIDTH * 0.45) + "░" * (BAR_WIDTH - int(BAR_WIDTH * 0.45))
    assert text == f"stats  {blocks}   45%  450,000 entries  150,000/s  4s left"


def test_without_a_fraction_a_counter_and_the_time_spent() -> None:
    assert line(count=1_203_455, elapsed=4.2) == "stats  1,203,455 entries  286,537/s  4s"
    assert line(count=3, elapsed=0) == "stats  3 entries  0s"  # no time yet: no rate
    assert line(elapsed=75) == "stats  1m15s"  # nothing counted (SQL statistics): time alone


def test_time_left_waits_for_something_to_go_by() -> None:
    assert line(fraction=0.5, elapsed=0.7).endswith(" 1s")  # under a second: time spent
    assert line(fraction=0.01, elapsed=5).endswith(" 5s")  # under 2%: too early to tell
    assert line(fraction=1.0, elapsed=8).endswith(" 8s")
    assert line(fraction=0.25, elapsed=1200).endswith(" 1h00m left")


def test_the_line_fits_the_terminal_narrower_than_it() -> None:
    wide = line(count=10, fraction=0.5, elapsed=2)
    narrow = line(count=10, fraction=0.5, elapsed=2, columns=40)
    assert "█" in wide
    assert "█" not in narrow  # no room for a bar worth the name: the numbers stay
    assert len(narrow) <= 39
    assert len(line(count=10**12, elapsed=2, columns=20)) == 19
    assert line(columns=0) == ""


def test_a_terminal_without_block_characters_gets_ascii(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    master, slave = os.openpty()
    monkeypatch.setenv("TERM", "xterm")
    stream = open(slave, "w", encoding="ascii", errors="strict")  # noqa: SIM115
    try:
        bar = Progress("stats", stream=stream, delay=0, interval=FAST)
        bar.measure(1, 2)
        with bar:
            received = wait_for_a_line(master)
        [first, *_] = drawn_lines(received + drained(master))
    finally:
        stream.close()
        os.close(master)
    assert first.startswith("stats  ############------------   50%")
