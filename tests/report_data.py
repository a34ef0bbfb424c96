"""A telemetry file worth a report: every status, nested traces (some failing), a run still
going and one that ended after its pending entry, legacy entries of the original framework,
lone calls outside any trace; and hostile text for the pages that show it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.entries import stamp

Entry = dict[str, Any]
START = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)

HOSTILE_SKILL = '<script>window.__pwned = "skill"</script>'
HOSTILE_MESSAGE = '"><img src=x onerror="window.__pwned=\'message\'">'
HOSTILE_CALLER = "<b onmouseover=alert(1)>caller</b>"


def _entry(skill: str, status: str, at: datetime, duration_ms: float, **extra: Any) -> Entry:
    entry: Entry = {
        "timestamp": stamp(at),
        "skill": skill,
        "status": status,
        "duration_ms": duration_ms,
        "caller": extra.pop("caller", "CLI"),
        "inputs": {"path": f"./{skill}.yaml"},
        "error_message": extra.pop("error_message", None),
        "metadata": extra.pop("metadata", {}),
    }
    entry.update(extra)
    return entry


def _trace(number: int, at: datetime, *, fail_step: int | None) -> list[Entry]:
    """A workflow of three steps, the second with a child of its own, written as runs end:
    children before their parents."""
    trace_id = f"{number + 1:032x}"
    root = f"{number + 1:08x}00000000"
    entries = []
    offset = 0.0
    for step in range(3):
        span = f"{number + 1:08x}{step + 1:08x}"
        start = at + timedelta(milliseconds=offset)
        if step == 1:
            child_end = start + timedelta(milliseconds=120)
            entries.append(
                _entry(
                    "plugin.fetch",
                    "success",
                    child_end,
                    100.0,
                    trace_id=trace_id,
                    span_id=f"{number + 1:08x}{9:08x}",
                    parent_id=span,
                    caller="plugin.build",
                )
            )
        failed = fail_step == step
        duration = 200.0 + 50 * step + number
        entries.append(
            _entry(
                ("skill.define", "plugin.build", "registry.update")[step],
                "failure" if failed else "success",
                start + timedelta(milliseconds=duration),
                duration,
                trace_id=trace_id,
                span_id=span,
                parent_id=root,
                caller="workflow.release",
                error_message=f"step {step} of trace {number} failed" if failed else None,
            )
        )
        offset += duration + 10
    entries.append(
        _entry(
            "workflow.release",
            "failure" if fail_step is not None else "success",
            at + timedelta(milliseconds=offset),
            offset,
            trace_id=trace_id,
            span_id=root,
            parent_id=None,
            error_message="a step failed" if fail_step is not None else None,
        )
    )
    return entries


def report_entries() -> list[Entry]:
    """The file's entries, oldest first, over three hours."""
    entries: list[Entry] = [
        # The original framework's shapes: 'failed', no metadata, 'error' for the message.
        {
            "timestamp": "2026-11-02T07:59:00Z",
            "skill": "plugin.build",
            "status": "failed",
            "duration_ms": 512,
            "caller": "CLI",
            "inputs": {},
            "error": "legacy failure",
        },
        {
            "timestamp": "2026-11-02T07:59:30",
            "skill": "plugin.build",
            "status": "success",
            "duration_ms": 300,
            "caller": "CLI",
            "inputs": {},
        },
    ]
    statuses = ("success", "success", "error", "timeout", "success", "failure")
    for number in range(12):
        at = START + timedelta(minutes=15 * number)
        entries.extend(_trace(number, at, fail_step=1 if number % 4 == 3 else None))
        status = statuses[number % len(statuses)]
        entries.append(
            _entry(
                "api.call",
                status,
                at + timedelta(minutes=5),
                40.0 + 7 * number,
                error_message=None if status == "success" else f"api {status} {number}",
            )
        )
    # A run still going, and one whose pending entry its final entry replaced.
    running_at = START + timedelta(hours=3)
    entries.append(
        _entry("agent.plan", "pending", running_at, 0.0, span_id="a" * 16, trace_id="f" * 32)
    )
    entries.append(
        _entry("agent.act", "pending", running_at, 0.0, span_id="b" * 16, trace_id="e" * 32)
    )
    entries.append(
        _entry(
            "agent.act",
            "success",
            running_at + timedelta(seconds=2),
            2000.0,
            span_id="b" * 16,
            trace_id="e" * 32,
            metadata={"pending_at": stamp(running_at)},
        )
    )
    return entries


def hostile_entries() -> list[Entry]:
    """Entries whose text is HTML and script, in every field a page shows."""
    at = START + timedelta(hours=4)
    return [
        _entry(
            HOSTILE_SKILL,
            "failure",
            at,
            66.0,
            caller=HOSTILE_CALLER,
            error_message=HOSTILE_MESSAGE,
            trace_id="d" * 32,
            span_id="c" * 16,
            parent_id=None,
        ),
        _entry(
            "</script><script>window.__pwned='end'</script>",
            "error",
            at,
            5.0,
            error_message="<svg onload=window.__pwned=1>",
            trace_id="d" * 32,
            span_id="9" * 16,
            parent_id="c" * 16,
        ),
    ]
