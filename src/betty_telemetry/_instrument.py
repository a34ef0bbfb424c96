"""The ``capture_telemetry`` decorator and the ``TelemetryContext`` context manager.

Both measure a block of the host's code and record one entry for it. Whatever happens inside
telemetry (a bad store, an odd value) is logged once and swallowed: the host's return value
and exception pass through unchanged, by identity.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from betty_telemetry._capture import TelemetryCapture
from betty_telemetry._config import default_capture
from betty_telemetry._entry import is_valid_status, validate_name, validate_status
from betty_telemetry._redact import NO_KEYS, redaction_keys, to_json_safe
from betty_telemetry._safety import describe_exception, report_failure, safe_str

F = TypeVar("F", bound=Callable[..., Any])
_SKIPPED_PARAMETERS = frozenset({"self", "cls"})


@overload
def capture_telemetry(skill_name: F) -> F: ...


@overload
def capture_telemetry(
    skill_name: str | None = None,
    caller: str = "runtime",
    capture_inputs: bool = False,
    sanitize_keys: list[str] | None = None,
    *,
    telemetry: TelemetryCapture | None = None,
) -> Callable[[F], F]: ...


def capture_telemetry(
    skill_name: str | Callable[..., Any] | None = None,
    caller: str = "runtime",
    capture_inputs: bool = False,
    sanitize_keys: list[str] | None = None,
    *,
    telemetry: TelemetryCapture | None = None,
) -> Any:
    """Record one entry per call of the decorated function.

    ``skill_name`` defaults to ``module.qualname``. A returned dict with a valid ``status`` sets
    the entry's status; an exception records ``error`` and is re-raised unchanged. With
    ``capture_inputs`` the bound arguments (defaults applied, ``self``/``cls`` left out) are
    recorded, keys named in ``sanitize_keys`` masked at any depth. ``telemetry`` picks a
    TelemetryCapture; by default the file is resolved from the environment at each call.
    """
    if callable(skill_name):  # used bare: @capture_telemetry
        return capture_telemetry()(skill_name)
    if skill_name is not None:
        validate_name("skill_name", skill_name)
    validate_name("caller", caller)
    redact = redaction_keys(sanitize_keys)

    def decorate(func: F) -> F:
        name = skill_name or f"{func.__module__}.{func.__qualname__}"
        signature = inspect.signature(func) if capture_inputs else None

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inputs = _bound_inputs(signature, args, kwargs, redact)
            started = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                status, error = _outcome_of_exception(exc)
                _record(telemetry, name, status, started, caller, inputs, error, {}, redact)
                raise
            status, error, metadata = _outcome_of_result(result)
            _record(telemetry, name, status, started, caller, inputs, error, metadata, redact)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _bound_inputs(
    signature: inspect.Signature | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    redact: frozenset[str],
) -> dict[str, Any]:
    """The call's arguments by parameter name, converted now: the callee may mutate them."""
    if signature is None:
        return {}
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}  # the call itself is about to raise this TypeError; it is recorded as such
    bound.apply_defaults()
    arguments = {k: v for k, v in bound.arguments.items() if k not in _SKIPPED_PARAMETERS}
    safe: dict[str, Any] = to_json_safe(arguments, redact)
    return safe


def _outcome_of_exception(exc: BaseException) -> tuple[str, str | None]:
    if isinstance(exc, SystemExit):
        if exc.code is None or exc.code == 0:
            return "success", None
        return "failure", describe_exception(exc)
    return "error", describe_exception(exc)


def _outcome_of_result(result: object) -> tuple[str, str | None, dict[str, Any]]:
    """Status, error message and metadata implied by a returned value."""
    if not isinstance(result, Mapping) or "status" not in result:
        return "success", None, {}
    returned = result["status"]
    if not is_valid_status(returned):
        return "success", None, {"returned_status": returned}
    error = result.get("error_message", result.get("error"))
    return returned, error if isinstance(error, str) else None, {}


def _record(
    telemetry: TelemetryCapture | None,
    skill: str,
    status: str,
    started: float,
    caller: str,
    inputs: Mapping[str, Any] | None,
    error_message: str | None,
    metadata: Mapping[str, Any],
    redact: frozenset[str],
) -> dict[str, Any] | None:
    duration_ms = (time.perf_counter() - started) * 1000.0
    try:
        target = telemetry if telemetry is not None else default_capture()
        return target._capture_redacted(
            skill,
            status,
            duration_ms,
            caller,
            inputs,
            error_message,
            metadata,
            redact_keys=redact,
        )
    except Exception as exc:
        report_failure(exc)
        return None


class TelemetryContext:
    """Record one entry for a ``with`` block.

    The status is ``success`` unless set (``set_status``, ``set_error``) or an exception leaves
    the block, which records ``error`` and is never suppressed. After the block, ``entry``
    holds the recorded entry (None if it could not be written).
    """

    def __init__(
        self,
        skill: str,
        caller: str = "runtime",
        inputs: Mapping[str, Any] | None = None,
        *,
        telemetry: TelemetryCapture | None = None,
        sanitize_keys: list[str] | None = None,
    ) -> None:
        self.skill = validate_name("skill", skill)
        self.caller = validate_name("caller", caller)
        self.inputs: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.status: str | None = None
        self.error_message: str | None = None
        self.entry: dict[str, Any] | None = None
        self._telemetry = telemetry
        self._redact = redaction_keys(sanitize_keys) if sanitize_keys else NO_KEYS
        self._started = 0.0
        self.set_inputs(inputs)

    def set_inputs(self, inputs: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Merge ``inputs`` (and keyword arguments) into the recorded inputs."""
        self.inputs.update(_mapping_argument("inputs", inputs), **more)

    def set_metadata(self, metadata: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Merge ``metadata`` (and keyword arguments) into the recorded metadata."""
        self.metadata.update(_mapping_argument("metadata", metadata), **more)

    def set_status(self, status: str) -> None:
        """Set the status; raises the spec's ValueError for an unknown one."""
        self.status = validate_status(status)

    def set_error(self, error: str | BaseException) -> None:
        """Record an error message (or an exception, as ``"Type: message"``); status ``error``."""
        self.status = "error"
        if isinstance(error, BaseException):
            self.error_message = describe_exception(error)
        else:
            self.error_message = safe_str(error)

    def __enter__(self) -> TelemetryContext:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        status, error = self.status or "success", self.error_message
        if exc is not None:
            status, raised = _outcome_of_exception(exc)
            error = error or raised
        self.entry = _record(
            self._telemetry,
            self.skill,
            status,
            self._started,
            self.caller,
            self.inputs,
            error,
            self.metadata,
            self._redact,
        )
        return False


def _mapping_argument(name: str, value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping (dict) or None, got {type(value).__name__}")
    return value
