"""Writing what a hook document records, through the library's pipeline (redaction and size
limits as for every entry), and pairing a run's end with its start.

A run's start and end are two hook calls, two processes: the end finds its start in the store
(the pending entry of its span) to learn when the run started and under which run it nests.
Nothing else is shared between calls, so nothing else can go stale.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator
from contextlib import closing
from typing import IO, Any, cast

from betty_telemetry._config import hook_flags, resolve_hook_path
from betty_telemetry.capture.build import NO_OUTPUT, build_entry, note_key
from betty_telemetry.capture.spans import Span
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.hooks.documents import (
    END,
    START,
    TASK_TOOLS,
    HookOptions,
    Planned,
    plan,
)
from betty_telemetry.model.entry import utc_timestamp
from betty_telemetry.model.runs import PENDING, PENDING_NOTE
from betty_telemetry.model.times import start_micros, timestamp_micros

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
"""A document larger than this is not read to its end, nor recorded: no hook call may hold
Claude Code's memory hostage. (Its inputs would be cut to the 64 KiB entry limit anyway.)"""
_SCAN_LIMIT = 10_000
"""Entries of the trace looked at, newest first, to find a subagent's Task call or the turn
a Stop ends: they are among the last few; a longer search would only cost the hook time."""

Entry = dict[str, Any]


def run_hook(stream: IO[bytes], telemetry_file: str | None = None) -> Entry | None:
    """Read one hook document from ``stream`` and record what it says; return the entry
    written, or None when it records nothing (not a hook document, an event we skip).
    Raises what reading the stream or the store raises: the caller decides to swallow it."""
    data = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"the hook document is larger than {MAX_DOCUMENT_BYTES} bytes")
    document = json.loads(data) if data.strip() else None
    outputs, prompts = hook_flags()
    planned = plan(document, HookOptions(outputs=outputs, prompts=prompts), time.time_ns())
    if planned is None:
        return None
    telemetry = TelemetryCapture(telemetry_file=resolve_hook_path(telemetry_file).path)
    try:
        return record(telemetry, planned)
    finally:
        telemetry.close()


def record(telemetry: TelemetryCapture, planned: Planned) -> Entry | None:
    """Write ``planned`` through ``telemetry``'s pipeline; the entry as stored, or None when a
    start was already recorded (``once``)."""
    now = utc_timestamp()
    if planned.phase == START:
        return _start(telemetry, planned, now)
    if planned.phase == END:
        return _end(telemetry, planned, now)
    return _write(telemetry, planned, planned.status, 0.0, planned.span_id, planned.parent_id, now)


def _start(telemetry: TelemetryCapture, planned: Planned, now: str) -> Entry | None:
    if planned.once and _find(telemetry, planned.trace_id, _of_span(planned.span_id)):
        return None
    parent = planned.parent_id
    if planned.task_of is not None:
        task = _task_call(telemetry, planned.trace_id, planned.task_of)
        planned.metadata["nested_under"] = "task" if task is not None else "session"
        parent = task if task is not None else parent
    return _write(telemetry, planned, "pending", 0.0, planned.span_id, parent, now)


def _end(telemetry: TelemetryCapture, planned: Planned, now: str) -> Entry | None:
    if planned.latest:
        start = _newest_unfinished(telemetry, planned.trace_id, planned.skill)
    else:
        start = _find(telemetry, planned.trace_id, _of_span(planned.span_id))
    if start is None:  # its start was never recorded (hooks installed mid-run, a lost call)
        planned.metadata["paired"] = False
        span, parent, duration = planned.span_id, planned.parent_id, 0.0
    else:
        span, parent = start["span_id"], start.get("parent_id")
        duration = _since_start(start, now)
        planned = _carried_over(planned, start)
        if start.get("status") == PENDING and isinstance(start.get("timestamp"), str):
            # The note by which every reader lets this entry replace the pending one.
            planned.metadata[note_key(planned.metadata, PENDING_NOTE)] = start["timestamp"]
    return _write(telemetry, planned, planned.status, duration, span, parent, now)


_NOT_CARRIED = frozenset({"hook_event", "redactions", "truncated", "output"})


def _carried_over(planned: Planned, start: Entry) -> Planned:
    """``planned`` with what only its start knew: the inputs of a run whose end has none (a
    turn's prompt, from ``UserPromptSubmit``), and the start's own notes (where a subagent
    was nested). The final entry replaces the pending one for readers: nothing may be lost."""
    inputs = start.get("inputs")
    if not planned.inputs and isinstance(inputs, dict) and inputs:
        planned = planned.with_inputs(inputs)
    metadata = start.get("metadata")
    if isinstance(metadata, dict):
        for name, value in metadata.items():
            if name not in _NOT_CARRIED and not name.startswith("betty_telemetry."):
                planned.metadata.setdefault(name, value)
    return planned


def _write(
    telemetry: TelemetryCapture,
    planned: Planned,
    status: str,
    duration_ms: float,
    span_id: str,
    parent_id: str | None,
    now: str,
) -> Entry:
    entry = build_entry(
        planned.skill,
        status,
        duration_ms,
        planned.caller,
        planned.inputs,
        planned.error_message,
        planned.metadata,
        None,
        Span(planned.trace_id, span_id, parent_id, planned.skill),
        output=planned.output[0] if planned.output else NO_OUTPUT,
        timestamp=now,
    )
    return telemetry.pipeline.record(entry)


def _since_start(start: Entry, now: str) -> float:
    """Milliseconds from the run's start (``model.times.start_micros``) to now."""
    began, ended = start_micros(start), timestamp_micros(now)
    if began is None or ended is None:
        return 0.0
    return max(0.0, (ended - began) / 1000)


# -- finding a run's start in the store -----------------------------------------------------


def _trace(telemetry: TelemetryCapture, trace_id: str) -> Generator[Entry, None, None]:
    return cast("Generator[Entry, None, None]", telemetry.iter_entries(trace_id=trace_id))


def _of_span(span_id: str) -> Callable[[Entry], bool]:
    return lambda entry: entry.get("span_id") == span_id


def _find(
    telemetry: TelemetryCapture, trace_id: str, wanted: Callable[[Entry], bool]
) -> Entry | None:
    with closing(_trace(telemetry, trace_id)) as entries:
        return next((entry for entry in entries if wanted(entry)), None)


def _newest_unfinished(telemetry: TelemetryCapture, trace_id: str, skill: str) -> Entry | None:
    """The newest pending run of ``skill`` in the trace with no final entry yet. (Reads hide
    a run's pending entry once its end is stored, ``model.runs``: a pending entry met here is
    of a run still going.)"""
    with closing(_trace(telemetry, trace_id)) as entries:
        for count, entry in enumerate(entries):
            if count >= _SCAN_LIMIT:
                break
            if entry.get("status") == PENDING and entry.get("skill") == skill:
                return entry
    return None


def _task_call(telemetry: TelemetryCapture, trace_id: str, agent_type: str) -> str | None:
    """The span of the Task call that started a subagent of ``agent_type``: among the Task
    calls still running (pending: reads hide those that ended) that no subagent claimed yet,
    the oldest for this agent type (else the oldest of any type). Newest first, a call's
    subagent comes before it."""
    claimed: set[object] = set()
    matching: list[str] = []
    others: list[str] = []
    with closing(_trace(telemetry, trace_id)) as entries:
        for count, entry in enumerate(entries):
            if count >= _SCAN_LIMIT:
                break
            metadata = entry.get("metadata")
            if not isinstance(metadata, dict):
                continue
            span = entry.get("span_id")
            if metadata.get("kind") == "agent":
                claimed.add(entry.get("parent_id"))
            elif (
                entry.get("status") == PENDING
                and metadata.get("tool_name") in TASK_TOOLS
                and span not in claimed
                and isinstance(span, str)
            ):
                same = metadata.get("subagent_type") == agent_type
                (matching if same else others).append(span)
    candidates = matching or others
    return candidates[-1] if candidates else None
