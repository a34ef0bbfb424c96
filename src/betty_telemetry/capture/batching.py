"""The batching sink: callers only enqueue, one thread writes batches to any sink.

This is the *when* of OpenTelemetry's split (its ``BatchSpanProcessor``): the sink it wraps is
the *where*. For code that cannot spend the microseconds of an append (five system calls under
a lock), ``TelemetryCapture(background=True)`` hands each entry, or the arguments to build it,
to a queue and returns. A daemon thread takes what is queued every ``interval`` seconds (sooner
once a batch has piled up), builds and encodes the entries (the same pipeline step as direct
mode), and hands them to the sink as one batch: one write under one lock. Rules it keeps:

- The caller never blocks: when the queue is full, the entry is dropped and counted. Drops
  are logged and written to the file itself, as an entry of skill ``betty_telemetry.dropped``
  with the count in its metadata, as soon as the writer can, so stats and queries show them.
- A batch that meets a lock timeout (another process is stuck holding the file's lock) is
  kept and retried, after a pause that grows up to a second, until it is written: a stopped
  process is usually resumed or killed, and its lock then goes. Meanwhile the queue stays
  bounded by ``queue_size``, and what does not fit is dropped and counted as above.
- Everything queued is written at normal interpreter exit (``atexit``), and by ``flush()``.
- After ``os.fork()`` the child starts with an empty queue and a writer of its own: it never
  writes the entries its parent had queued, which the parent writes itself.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from betty_telemetry._config import (
    CAPTURING,
    DEFAULT_QUEUE_SIZE,
    EXIT_FLUSH_TIMEOUT,
    RETRY_LONGEST_PAUSE,
    logger,
    tap,
    track,
)
from betty_telemetry._safety import report_failure, safe_str
from betty_telemetry.capture.build import build_entry, encoded
from betty_telemetry.model.entry import DROPPED_SKILL
from betty_telemetry.stores import LockTimeoutError
from betty_telemetry.stores.base import Encoded, Sink

DEFAULT_INTERVAL = 0.1
BATCH_SIZE = 512
RETRY_FIRST_PAUSE = 0.01
WAITING_IN_QUEUE = (
    "this entry and the ones after it wait in a queue, and a thread writes them as soon as "
    "the file is free, without holding the program up again"
)

Job = tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]
"""A function that builds an entry on the writer thread, and its arguments."""


def _prebuilt(entry: dict[str, Any]) -> dict[str, Any]:
    return entry


class BatchingSink:
    """A sink that queues entries and writes them to ``sink`` in batches, on a thread of its
    own. ``name`` says where they go, in warnings and the thread's name."""

    def __init__(
        self,
        sink: Sink,
        name: str,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._sink = sink
        self._path = name
        self._queue_size = queue_size
        self._interval = interval
        self._reset()
        track(self)  # told about forks and interpreter exit

    def after_fork_in_child(self) -> None:
        # The child has no writer thread, and its parent writes what the parent queued.
        self._reset()

    def at_exit(self) -> None:
        """Everything queued is written at normal interpreter exit (up to 5 s)."""
        if not self.close(EXIT_FLUSH_TIMEOUT):
            logger.warning(
                "telemetry entries still queued for %s after %g s at exit were not written",
                self._path,
                EXIT_FLUSH_TIMEOUT,
            )

    def _reset(self) -> None:
        self._queue: deque[Job | threading.Event] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._writing = False  # a batch is off the queue and not yet written
        self._drops_lock = threading.Lock()
        self._dropped: dict[str, int] = {}  # reason -> entries lost, not yet reported
        self.dropped_total = 0

    # -- the calling threads ---------------------------------------------------------------

    def submit_entry(self, entry: dict[str, Any]) -> bool:
        """Queue an entry already built; False if the queue was full and it was dropped."""
        return self.submit((_prebuilt, (entry,)))

    def write(self, batch: Sequence[Encoded]) -> None:
        """The Sink protocol: queue entries already encoded (dropped and counted if full)."""
        for item in batch:
            self.submit((_prebuilt, (item.entry,)))

    def submit(self, job: Job) -> bool:
        """Queue a job; False if the queue was full and it was dropped. Never blocks."""
        queue = self._queue
        if len(queue) >= self._queue_size:  # approximate under races: a bound, not a count
            self._count_drops(1, f"the queue was full ({self._queue_size} entries waiting)")
            return False
        queue.append(job)
        if self._thread is None:
            self._start()
        elif len(queue) == BATCH_SIZE:  # a batch is ready: no need to wait for the interval
            with self._wake:
                self._wake.notify()
        return True

    def busy(self) -> bool:
        """Whether anything queued is not written yet. A thread that submitted entries and
        then sees False knows they are all written (or counted as dropped)."""
        # The queue first: the writer sets _writing before it takes jobs off the queue, so a
        # job is seen in one or the other.
        return bool(self._queue) or self._writing

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is written; False on timeout."""
        if self._thread is None:
            if not self._queue:
                return True
            self._start()  # queued while the thread was stopping: write it now
        done = threading.Event()
        self._queue.append(done)
        with self._wake:
            self._wake.notify()
        return done.wait(timeout)

    # -- the writer thread -----------------------------------------------------------------

    def _start(self) -> None:
        with self._drops_lock:  # two first submits at once must start one thread
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name=f"betty-telemetry writer {self._path}", daemon=True
                )
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        queue = self._queue
        while True:
            with self._wake:
                if len(queue) < BATCH_SIZE and not self._stopping:
                    self._wake.wait(self._interval)
            while queue:
                self._write_batch(queue)
            if self._stopping:
                return

    def _write_batch(self, queue: deque[Job | threading.Event]) -> None:
        lines: list[Encoded] = []
        reached: list[threading.Event] = []
        self._writing = True
        try:
            while queue and len(lines) < BATCH_SIZE:
                job = queue.popleft()
                if isinstance(job, threading.Event):
                    reached.append(job)
                else:
                    line = self._line(job)
                    if line is not None:
                        lines.append(line)
            self._append(lines)
        except Exception as exc:  # never let the writer thread die: flush() would wait for ever
            report_failure(exc)
            self._count_drops(len(lines), f"not written: {type(exc).__name__}", log=False)
        finally:
            self._writing = False
            for event in reached:  # everything queued before these flushes is done with now
                event.set()

    def _line(self, job: Job) -> Encoded | None:
        build, arguments = job
        try:
            return encoded(build(*arguments))
        except Exception as exc:
            report_failure(exc)
            self._count_drops(1, f"not built: {type(exc).__name__}", log=False)
            return None

    def _append(self, lines: list[Encoded]) -> None:
        dropped = self._take_drops()
        if dropped:
            lines.append(_drops_entry(dropped))
        if not lines:
            return
        pause = RETRY_FIRST_PAUSE
        while True:
            try:
                self._sink.write(lines)
                if CAPTURING:  # testing.capture_entries() is active: it gets a copy
                    tap(lines)
                return
            except LockTimeoutError as exc:
                # Nothing was written (the lock comes first): keep the batch and try again.
                report_waiting(exc)
                time.sleep(pause)
                pause = min(pause * 2, RETRY_LONGEST_PAUSE)
            except Exception as exc:
                report_failure(exc)  # the one warning for this cause
                self._count_drops_again(dropped)  # the report was not written either
                lost = len(lines) - bool(dropped)
                self._count_drops(lost, f"not written: {safe_str(exc)}", log=False)
                return

    # -- drops -------------------------------------------------------------------------------

    def _count_drops(self, count: int, reason: str, *, log: bool = True) -> None:
        with self._drops_lock:
            first = not self._dropped
            self._dropped[reason] = self._dropped.get(reason, 0) + count
            self.dropped_total += count
        if log and first:  # once per burst: the next report in the file resets it
            logger.warning(
                "Dropping telemetry entries for %s: %s. They are counted, and the count is "
                "recorded in the file as a %s entry",
                self._path,
                reason,
                DROPPED_SKILL,
            )

    def _count_drops_again(self, dropped: dict[str, int]) -> None:
        with self._drops_lock:
            for reason, count in dropped.items():
                self._dropped[reason] = self._dropped.get(reason, 0) + count

    def _take_drops(self) -> dict[str, int]:
        with self._drops_lock:
            dropped, self._dropped = self._dropped, {}
        return dropped

    def close(self, timeout: float | None = EXIT_FLUSH_TIMEOUT) -> bool:
        """Write what is queued (waiting at most ``timeout``) and end the thread; a later
        submit starts a new one. False if the queue could not be written in time. The sink
        it writes to stays open: it belongs to whoever made it."""
        written = self.flush(timeout)
        thread = self._thread
        if thread is not None:
            self._stopping = True
            with self._wake:
                self._wake.notify()
            thread.join(timeout)
            if not thread.is_alive():
                self._thread = None
                self._stopping = False
        return written


def report_waiting(exc: LockTimeoutError) -> None:
    """The one warning (per file and timeout) that entries wait in a queue for a stuck lock:
    the same whether the host's call or the writer thread met it."""
    waiting = LockTimeoutError(exc.path, exc.timeout, WAITING_IN_QUEUE)
    report_failure(waiting, "Telemetry is waiting for a locked file")


def _drops_entry(dropped: dict[str, int]) -> Encoded:
    """The entry that records drops in the store itself, where stats and queries see them."""
    total = sum(dropped.values())
    entry = build_entry(
        DROPPED_SKILL,
        "error",
        0.0,
        "betty_telemetry",
        error_message=f"{total} telemetry entries were not recorded: " + "; ".join(dropped),
        metadata={"dropped": total, "reasons": dropped},
    )
    return encoded(entry)
