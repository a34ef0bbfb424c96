"""The Betty Framework's pair: ``create_telemetry_entry(...)`` then ``capture_telemetry(entry)``.

The framework's ``betty/telemetry_integration.py`` (``telemetry_tracked``,
``track_skill_execution``) loads ``skills/telemetry.capture/telemetry_capture.py`` by path and
calls these two, swallowing any exception: a missing function or a refused entry there is an
entry silently lost. So the pair takes exactly what the framework passes, including its word
``failed`` for ``failure``, and records through the normal pipeline (validation, redaction,
size limits, the default file). The skill folder's ``capture_telemetry`` is this module's: the
spec's decorator for every other use, the recorder when given an entry mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from betty_telemetry.capture.decorator import Decorator
from betty_telemetry.capture.decorator import capture_telemetry as _decorator
from betty_telemetry.capture.defaults import default_capture
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.model.entry import validate_mapping
from betty_telemetry.model.schema import LEGACY_FAILED

if TYPE_CHECKING:
    from betty_telemetry.model.types import Entry

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_CALLER = "runtime"
"""The caller of an entry that names none (the decorator's default too)."""
# Keys of the framework's entry that are ours by another name, or not recorded at all: the
# timestamp is taken when the entry is recorded, as for every other capture.
_FIELDS = frozenset(
    {"skill", "status", "duration_ms", "caller", "inputs", "error", "error_message", "metadata"}
)
_IGNORED = frozenset({"timestamp"})


def create_telemetry_entry(
    skill_name: str,
    inputs: Mapping[str, Any] | None,
    status: str,
    duration_ms: float,
    agent: str | None = None,
    workflow: str | None = None,
    caller: str | None = None,
    execution_id: str | None = None,
    error: str | None = None,
    **extra_fields: Any,
) -> dict[str, Any]:
    """The framework's entry, as ``betty.telemetry_capture.create_telemetry_entry`` lays it
    out (without its timestamp and UUID): record it with ``capture_telemetry(entry)``.

    Nothing is checked or written here; ``capture_telemetry`` does both, once."""
    entry: dict[str, Any] = {
        "skill": skill_name,
        "inputs": inputs,
        "status": status,
        "duration_ms": duration_ms,
    }
    optional = {
        "agent": agent,
        "workflow": workflow,
        "caller": caller,
        "execution_id": execution_id,
        "error": error,
    }
    entry.update({key: value for key, value in optional.items() if value is not None})
    entry.update(extra_fields)
    return entry


def record_entry(entry: Mapping[str, Any], telemetry: TelemetryCapture | None = None) -> Entry:
    """Record a framework entry (``create_telemetry_entry``'s, or any mapping with ``skill``,
    ``status`` and ``duration_ms``) and return it as stored.

    ``failed`` is recorded as ``failure``; ``error`` is the error message; ``agent``,
    ``workflow``, ``execution_id`` and any other key go into ``metadata``. Raises ValueError
    as ``TelemetryCapture.capture`` does (a bad status, name or duration), and for a missing
    ``skill``, ``status`` or ``duration_ms``."""
    missing = [key for key in ("skill", "status", "duration_ms") if key not in entry]
    if missing:
        raise ValueError(
            f"a telemetry entry needs 'skill', 'status' and 'duration_ms'; this one has no "
            f"{', '.join(repr(key) for key in missing)} (make it with create_telemetry_entry)"
        )
    status = entry["status"]
    metadata = dict(validate_mapping("metadata", entry.get("metadata")))
    metadata.update((key, value) for key, value in entry.items() if key not in _FIELDS | _IGNORED)
    error = entry.get("error_message", entry.get("error"))
    return (telemetry or default_capture()).capture(
        skill=entry["skill"],
        status="failure" if status == LEGACY_FAILED else status,
        duration_ms=entry["duration_ms"],
        caller=entry.get("caller") or DEFAULT_CALLER,
        inputs=entry.get("inputs"),
        error_message=None if error is None else str(error),
        metadata=metadata or None,
    )


@overload
def capture_telemetry(entry: Mapping[str, Any], /) -> Entry: ...


@overload
def capture_telemetry(skill_name: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def capture_telemetry(
    skill_name: str | None = None,
    caller: str | None = None,
    capture_inputs: bool | Iterable[str] = False,
    sanitize_keys: Iterable[str] | None = None,
    *,
    exclude_inputs: Iterable[str] = (),
    capture_output: bool = False,
    redact: bool = True,
    telemetry: TelemetryCapture | None = None,
    pending: bool | None = None,
    skill: str | None = None,
) -> Decorator: ...


def capture_telemetry(*args: Any, **kwargs: Any) -> Any:
    """The spec's decorator (``@capture_telemetry(skill_name=...)``, see
    ``betty_telemetry.capture_telemetry``), or, given one entry mapping, the framework's
    ``capture_telemetry(entry)``: record it (see ``record_entry``) and return it as stored."""
    if args and isinstance(args[0], Mapping):
        if len(args) > 1 or kwargs:
            raise TypeError(
                "capture_telemetry(entry) takes the entry alone; to decorate, call "
                "capture_telemetry(skill_name=..., ...) without an entry"
            )
        return record_entry(args[0])
    return _decorator(*args, **kwargs)
