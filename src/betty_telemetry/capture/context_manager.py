"""``TelemetryContext``: one entry for a ``with`` (or ``async with``) block."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, cast

from betty_telemetry._config import DerivedRules
from betty_telemetry._safety import describe_exception, safe_str
from betty_telemetry.capture.build import NO_OUTPUT
from betty_telemetry.capture.defaults import pending_default, start_environment_export
from betty_telemetry.capture.run import Run, outcome_of_exception, start_run
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.model.entry import one_skill_name, validate_name, validate_status

if TYPE_CHECKING:
    from betty_telemetry.model.types import Entry, Status


class TelemetryContext:
    """Record one entry for a ``with`` block (also ``async with``).

    The status is ``success`` unless set (``set_status``, ``set_error``) or an exception leaves
    the block, which records ``error`` and is never suppressed. The block is a span: runs
    inside it nest under it, and ``caller`` defaults to the enclosing run's skill. After the
    block, ``entry`` holds the recorded entry (None if it could not be written; as queued, if
    it waits for a stuck lock or is written in the background). ``pending=True`` (default:
    ``BETTY_TELEMETRY_PENDING``) also records a ``pending`` entry on entering, which the final
    one replaces in every reader: a run killed inside the block stays visible as pending.
    """

    def __init__(
        self,
        skill: str | None = None,
        caller: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        telemetry: TelemetryCapture | None = None,
        sanitize_keys: Iterable[str] | None = None,
        redact: bool = True,
        pending: bool | None = None,
        skill_name: str | None = None,
    ) -> None:
        named = one_skill_name(skill_name, skill)
        if named is None:
            raise TypeError(
                "TelemetryContext needs the skill it records: "
                "TelemetryContext('plugin.build') or TelemetryContext(skill='plugin.build')"
            )
        self.skill = validate_name("skill", named)
        self._pending = pending_default() if pending is None else bool(pending)
        self.caller = None if caller is None else validate_name("caller", caller)
        self.inputs: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}
        self.status: Status | None = None
        self.error_message: str | None = None
        self.entry: Entry | None = None
        self._output: object = NO_OUTPUT
        self._telemetry = telemetry
        self._rules = DerivedRules(sanitize_keys or (), defaults=redact)
        self._run: Run | None = None
        self._token: Any = None
        self.set_inputs(inputs)

    def set_inputs(self, inputs: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Merge ``inputs`` (and keyword arguments) into the recorded inputs."""
        self.inputs.update(_mapping_argument("inputs", inputs), **more)

    def set_metadata(self, metadata: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Merge ``metadata`` (and keyword arguments) into the recorded metadata."""
        self.metadata.update(_mapping_argument("metadata", metadata), **more)

    def set_output(self, output: object) -> None:
        """Record ``output`` as ``metadata["output"]``."""
        self._output = output

    def set_status(self, status: Status) -> None:
        """Set the status; raises the spec's ValueError for an unknown one."""
        self.status = cast("Status", validate_status(status))

    def set_error(self, error: str | BaseException, *, status: Status = "error") -> None:
        """Record an error message (or an exception, as ``"Type: message"``) and set the
        status: ``error`` unless another is given (e.g. ``status="failure"``)."""
        self.status = cast("Status", validate_status(status))
        if isinstance(error, BaseException):
            self.error_message = describe_exception(error)
        else:
            self.error_message = safe_str(error)

    def __enter__(self) -> TelemetryContext:
        # Inputs set inside the block are recorded too, so the run gets them at the end.
        if self._telemetry is None:
            start_environment_export()
        self._run = start_run(self.skill, self.caller, self._rules, self._telemetry)
        if self._pending:
            self._run.record_pending(self.inputs)
        self._token = self._run.enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        run, self._run = self._run, None
        if run is None:  # exited without being entered: nothing was measured
            return False
        run.leave(self._token)
        status: str = self.status or "success"
        error = self.error_message
        if exc is not None:
            status, raised = outcome_of_exception(exc)
            error = error or raised
        run.add_inputs(self.inputs)
        self.entry = cast("Entry | None", run.end(status, error, self.metadata, self._output))
        return False

    async def __aenter__(self) -> TelemetryContext:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, traceback)


def _mapping_argument(name: str, value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping (dict) or None, got {type(value).__name__}")
    return value
