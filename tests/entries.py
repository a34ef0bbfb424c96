"""Entries and stores built directly, for read tests: exact timestamps, any field left out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

# Re-exported: the read tests seed a store of any kind with it (see tests/stores.py).
from tests.stores import write_entries as write_entries

Entry = dict[str, Any]
UTC = timezone.utc
MISSING: Any = object()
"""A field value meaning: leave the field out of the entry."""


def stamp(moment: datetime) -> str:
    """``moment`` in the writer's form: UTC, microseconds, ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def new_entry(
    skill: object = "agent.run",
    status: object = "success",
    *,
    at: datetime | object,
    duration_ms: object = 10.0,
    caller: object = "cli",
    error_message: object = None,
    **extra: object,
) -> Entry:
    """An entry with the spec's fields in order; ``at`` a datetime, or the stored value itself."""
    entry: Entry = {
        "timestamp": stamp(at) if isinstance(at, datetime) else at,
        "skill": skill,
        "status": status,
        "duration_ms": duration_ms,
        "caller": caller,
        "inputs": {},
        "error_message": error_message,
        "metadata": {},
        **extra,
    }
    return {key: value for key, value in entry.items() if value is not MISSING}


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def numbered_entry(n: int, **changes: object) -> Entry:
    """Entry number ``n`` of one trace, a second after number ``n - 1``, every field set, as
    our writer stores it (``inputs`` holds ``n``)."""
    return {
        "timestamp": f"2025-10-24T14:{n // 60:02d}:{n % 60:02d}.000000+00:00",
        "skill": f"skill.{n}",
        "status": "success",
        "duration_ms": float(n),
        "caller": "test",
        "inputs": {"n": n},
        "error_message": None,
        "metadata": {},
        "trace_id": TRACE,
        "span_id": f"{n + 1:016x}",
        "parent_id": None,
        **changes,
    }


def moment_of(value: object) -> datetime | None:
    """The real moment of a stored timestamp (``Z`` allowed, naive = UTC), or None: the test's
    own reading, to check the library's against."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_MANY_START = datetime(2026, 3, 1, tzinfo=UTC)


def make_entries(count: int) -> list[Entry]:
    """``count`` entries a second apart, oldest first: mostly successes, some failures, in
    traces of five runs."""
    statuses = ("success", "success", "success", "failure", "timeout")
    return [
        {
            "timestamp": stamp(_MANY_START + timedelta(seconds=n)),
            "skill": f"skill.{n % 7}",
            "status": statuses[n % 5],
            "duration_ms": float(n % 1000),
            "caller": "CLI",
            "inputs": {"n": n, "path": f"./plugins/{n}.yaml"},
            "error_message": "step failed" if statuses[n % 5] != "success" else None,
            "metadata": {},
            "trace_id": f"{n // 5 + 1:032x}",
            "span_id": f"{n + 1:016x}",
            "parent_id": None,
        }
        for n in range(count)
    ]
