"""Live export: a sink beside the store that sends every stored entry as a span.

The calling thread only appends the stored entry's JSON line to a queue (a deque append):
parsing it, mapping it to a span, encoding and posting happen on one daemon thread, in
batches, as OpenTelemetry's ``BatchSpanProcessor`` does. The line, not the entry dict: the
dict is also the caller's (``capture()`` returns it), and what is exported must be exactly
what was stored, whatever the caller does with it afterwards. What it adds to that processor
is what a telemetry ledger needs:

- a batch the backend refuses (down, 5xx after the exporter's own retries) is kept and sent
  again after a pause that doubles up to 30 s, for ``retry_for`` seconds, then dropped;
- every span that could not be delivered (queue full, retries spent, still queued at exit,
  an entry with no usable time) is counted, logged once per burst, and added to the
  ``NAME.otlp.json`` file beside the telemetry file, where ``where`` shows it;
- nothing raises into the host: the store has the entry whatever happens here.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from betty_telemetry._config import LIVE_EXPORTS, logger, track
from betty_telemetry._safety import report_failure, safe_str
from betty_telemetry.export import state
from betty_telemetry.export.mapping import NotASpan, SpanData, span_of
from betty_telemetry.export.settings import OtlpExport
from betty_telemetry.export.targets import Target, make_target, sent_with_retries
from betty_telemetry.model.runs import is_pending
from betty_telemetry.stores.base import Encoded

BATCH_SIZE = 512
YIELD_EVERY = 8
"""Spans mapped between two offers of the interpreter lock to the host's threads. A thread
that computes holds the lock for up to 5 ms at a time (sys.getswitchinterval()); a host
thread that writes its entries waits that long after each system call. Offering it often
keeps a busy export from slowing the host's captures tenfold."""
EXIT_FLUSH_TIMEOUT = 5.0


class LiveExport:
    """Queues stored entries and sends them as spans on a thread of its own (a Sink)."""

    def __init__(
        self,
        settings: OtlpExport,
        state_file: str | None,
        make: Callable[[OtlpExport], Target] = make_target,
    ) -> None:
        self.settings = settings
        self.state_file = state_file
        self._make = make
        self._target: Target | None = None
        self._failure = ""
        self._lock = threading.Lock()
        self._reset()
        self._joined()
        track(self)  # told about forks and interpreter exit

    def _joined(self) -> None:
        # While open, runs are current OpenTelemetry spans too (see capture.otel_context).
        with self._lock:
            if self not in LIVE_EXPORTS:
                LIVE_EXPORTS.append(self)

    def _reset(self) -> None:
        self._queue: deque[bytes | threading.Event] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = threading.Event()  # ends a pause between retries at once
        self.exported = 0
        """Spans delivered by this process."""
        self.dropped = 0
        """Spans this process could not deliver (also added to the state file)."""

    def after_fork_in_child(self) -> None:
        self._reset()  # the parent sends what the parent queued

    def at_exit(self) -> None:
        self.close(EXIT_FLUSH_TIMEOUT)

    @property
    def description(self) -> str:
        """Where spans go (known once the first batch went)."""
        return self._target.description if self._target is not None else "not connected yet"

    # -- the calling threads -----------------------------------------------------------------

    def write(self, batch: Sequence[Encoded]) -> None:
        """Queue the entries just stored. Never blocks, never raises."""
        queue = self._queue
        for item in batch:
            if len(queue) >= self.settings.queue_size:
                self._drop(1, f"the export queue was full ({self.settings.queue_size} waiting)")
                continue
            queue.append(item.line)
        if self._thread is None:
            self._start()
        elif len(queue) >= BATCH_SIZE:
            with self._wake:
                self._wake.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every entry queued so far was sent (or dropped); False on timeout."""
        if self._thread is None:
            if not self._queue:
                return True
            self._start()
        done = threading.Event()
        self._queue.append(done)
        with self._wake:
            self._wake.notify()
        return done.wait(timeout)

    def close(self, timeout: float | None = EXIT_FLUSH_TIMEOUT) -> bool:
        """Send what is queued (waiting at most ``timeout``), then stop the thread and the
        exporter; what is left is counted as dropped. A later write starts them again."""
        sent = self.flush(timeout)
        self._stopping = True
        self._stopped.set()
        with self._wake:
            self._wake.notify()
        target = self._target
        if target is not None:
            target.shutdown()  # ends an exporter's retry pause at once
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._target = None  # the next write connects again
        left = sum(1 for job in list(self._queue) if not isinstance(job, threading.Event))
        self._queue.clear()
        if left:
            self._drop(left, "still queued when the export was closed")
        with self._lock:
            if self in LIVE_EXPORTS:
                LIVE_EXPORTS.remove(self)
            self._thread = None
            self._stopping = False
            self._stopped = threading.Event()
        return sent

    def _connect(self) -> Target | None:
        try:
            return self._make(self.settings)
        except Exception as exc:  # a bad endpoint in the environment, an odd provider
            self._failure = f"{type(exc).__name__}: {safe_str(exc)}"
            report_failure(exc, "Telemetry cannot export spans")
            return None

    # -- the sending thread ------------------------------------------------------------------

    def _start(self) -> None:
        self._joined()
        with self._lock:
            if self._target is None:
                # Here, on the first write, not on the thread: at exit (when a short-lived
                # process sends what it queued) the exporter could no longer be made; and
                # not at construction: the application sets its provider up after that.
                self._target = self._connect()
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, name="betty-telemetry OTLP export", daemon=True
                )
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        queue = self._queue
        while not self._stopping:
            with self._wake:
                if len(queue) < BATCH_SIZE and not self._stopping:
                    self._wake.wait(self.settings.interval)
            while queue and not self._stopping:
                self._send_batch(queue)

    def _send_batch(self, queue: deque[bytes | threading.Event]) -> None:
        entries: list[bytes] = []
        reached: list[threading.Event] = []
        while queue and len(entries) < BATCH_SIZE:
            job = queue.popleft()
            if isinstance(job, threading.Event):
                reached.append(job)
            else:
                entries.append(job)
        try:
            self._deliver(self._spans(entries))
        except Exception as exc:  # never let the thread die: flush() would wait for ever
            report_failure(exc, "Telemetry could not export spans")
            self._drop(len(entries), f"not exported: {type(exc).__name__}")
        finally:
            for event in reached:
                event.set()

    def _spans(self, lines: list[bytes]) -> list[SpanData]:
        spans = []
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                if not is_pending(entry):  # its run's span is sent when the run ends
                    spans.append(span_of(entry))
            except NotASpan:
                self._drop(1, "an entry with no usable timestamp")
            if number % YIELD_EVERY == 0:
                time.sleep(0)  # let the host's threads have the interpreter: see YIELD_EVERY
        return spans

    def _deliver(self, spans: list[SpanData]) -> None:
        if not spans:
            return
        target = self._target  # close() lets it go, maybe while this batch is retried
        if target is None:
            self._drop(len(spans), f"cannot export: {self._failure}")
            return
        if sent_with_retries(target, spans, self.settings.retry_for, self._pause):
            self.exported += len(spans)
        else:
            self._drop(len(spans), f"refused by {target.description}")

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` before the next try; True (give up) once the export is closing."""
        return self._stopping or self._stopped.wait(seconds)

    # -- drops -------------------------------------------------------------------------------

    def _drop(self, count: int, reason: str) -> None:
        with self._lock:
            first = self.dropped == 0
            self.dropped += count
        if first:
            logger.warning(
                "Telemetry spans were not exported: %s. The entries are in the telemetry "
                "file; `betty-telemetry where` shows how many spans were dropped",
                reason,
            )
        if self.state_file is not None:
            try:
                state.add_drops(self.state_file, count, reason)
            except OSError as exc:
                report_failure(exc, f"Telemetry could not count dropped spans: {safe_str(exc)}")
