"""One measured run: its span, clock, inputs, and the entry it records when it ends.

Shared by the decorator (every kind of function) and the context manager. Nothing here may
raise into the host: starting a run that cannot be recorded gives a run that records nothing,
and a failure while recording is reported once per cause (``_safety``) and swallowed.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from time import perf_counter_ns
from typing import Any

from betty_telemetry._config import LIVE_EXPORTS, DerivedRules
from betty_telemetry._safety import describe_exception, report_failure
from betty_telemetry.capture import otel_context, spans
from betty_telemetry.capture.build import NO_OUTPUT, assemble_entry, clean_mapping, note_key
from betty_telemetry.capture.defaults import default_capture
from betty_telemetry.capture.spans import get_current, reset_current, set_current, span_under
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.model.entry import is_valid_status, utc_timestamp, validate_status
from betty_telemetry.model.runs import PENDING, PENDING_NOTE


class Run:
    """A run in progress. ``enter``/``leave`` make its span current around the host's code."""

    __slots__ = (
        "_inputs",
        "_otel_token",
        "_pending_at",
        "_rules",
        "_sanitizer",
        "_started",
        "_telemetry",
        "caller",
        "span",
    )

    def __init__(
        self,
        skill: str,
        caller: str | None,
        rules: DerivedRules,
        telemetry: TelemetryCapture | None,
        inputs: Mapping[str, Any] | None,
    ) -> None:
        parent = get_current()
        # The caller defaults to the enclosing run's skill: read it before this span is current.
        if caller is None:
            caller = parent.skill if parent is not None else spans.env_caller()
        self.caller = caller
        self.span = span_under(parent, skill)
        self._rules = rules.get()
        self._telemetry = telemetry
        # Inputs are converted now, before the host's code can mutate them.
        if inputs:
            self._inputs, self._sanitizer = clean_mapping(self._rules, None, "inputs", inputs)
        else:
            self._inputs, self._sanitizer = {}, None
        self._otel_token: object = None
        self._pending_at: str | None = None
        self._started = perf_counter_ns()

    def record_pending(self, inputs: Mapping[str, Any] | None = None) -> None:
        """Record the run's ``pending`` entry now; its final entry will replace it in every
        reader (``model.runs``), and a run killed before its end stays visible as pending.
        ``inputs``: those known so far, if the run is given its inputs only at its end (a
        context's), else the run's own."""
        try:
            telemetry = self._telemetry if self._telemetry is not None else default_capture()
            span = self.span
            started = utc_timestamp()
            if inputs is None:
                cleaned, sanitizer = dict(self._inputs), self._sanitizer
            else:
                cleaned, sanitizer = clean_mapping(self._rules, None, "inputs", inputs)
            entry = assemble_entry(
                self._rules,
                sanitizer,
                span.skill,
                PENDING,
                0.0,
                self.caller,
                cleaned,
                None,
                None,
                NO_OUTPUT,
                span,
                started,
            )
            telemetry.pipeline.record_for_host(entry)
            self._pending_at = started
        except Exception as exc:
            report_failure(exc)

    def enter(self) -> contextvars.Token[spans.Span | None]:
        if LIVE_EXPORTS:
            self.attach_otel()
        return set_current(self.span)

    def attach_otel(self) -> None:
        """With live export on: make this run the current OpenTelemetry span as well, so the
        application's spans started inside it nest under it (until ``detach_otel``)."""
        try:
            self._otel_token = otel_context.attach(self.span.trace_id, self.span.span_id)
        except Exception as exc:
            report_failure(exc)

    def detach_otel(self) -> None:
        token, self._otel_token = self._otel_token, None
        try:
            otel_context.detach(token)
        except Exception as exc:  # left in another context than it was entered in
            report_failure(exc)

    def add_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Record more inputs (a context manager's, set during its block)."""
        if inputs:
            try:
                more, self._sanitizer = clean_mapping(
                    self._rules, self._sanitizer, "inputs", inputs
                )
                self._inputs.update(more)
            except Exception as exc:
                report_failure(exc)

    def leave(self, token: contextvars.Token[spans.Span | None]) -> None:
        try:
            reset_current(token)
        except ValueError as exc:  # left in another context than it was entered in
            report_failure(exc)
        if self._otel_token is not None:
            self.detach_otel()

    def end(
        self,
        status: str,
        error_message: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        output: object = NO_OUTPUT,
    ) -> dict[str, Any] | None:
        """Record the entry; returns it, or None if it could not be recorded."""
        # Whole nanoseconds over 1e6: the float nearest a 6-decimal number, whose text is as
        # short as its digits (0.015276), not the 17 digits of a float difference, which
        # cost twice as much to write and read.
        duration_ms = (perf_counter_ns() - self._started) / 1e6
        try:
            telemetry = self._telemetry if self._telemetry is not None else default_capture()
            span = self.span
            # Every argument is valid by construction (names checked when the decorator or
            # context was made, statuses validated): no need for build_entry's checks.
            entry = assemble_entry(
                self._rules,
                self._sanitizer,
                span.skill,
                status,
                duration_ms,
                self.caller,
                self._inputs,
                error_message,
                metadata,
                output,
                span,
                None,
            )
            if self._pending_at is not None:
                notes = entry["metadata"]
                notes[note_key(notes, PENDING_NOTE)] = self._pending_at
            return telemetry.pipeline.record_for_host(entry)
        except Exception as exc:
            report_failure(exc)
            return None

    def exit_raised(self, token: contextvars.Token[spans.Span | None], exc: BaseException) -> None:
        """The host's code raised: its span stops being current, and the error is recorded."""
        self.leave(token)
        self.end_with_exception(exc)

    def exit_returned(
        self, token: contextvars.Token[spans.Span | None], result: object, capture_output: bool
    ) -> None:
        """The host's code returned: its span stops being current, and the result is recorded."""
        try:
            reset_current(token)
        except ValueError as exc:  # left in another context than it was entered in
            report_failure(exc)
        if self._otel_token is not None:
            self.detach_otel()
        if type(result) in _NOT_MAPPINGS and not capture_output:  # the usual case, in short
            self.end("success")
        else:
            self.end_with_result(result, capture_output)

    def end_with_exception(
        self, exc: BaseException, metadata: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        status, error = outcome_of_exception(exc)
        return self.end(status, error, metadata)

    def end_with_result(self, result: object, capture_output: bool) -> dict[str, Any] | None:
        status, error, metadata = outcome_of_result(result)
        return self.end(status, error, metadata, result if capture_output else NO_OUTPUT)

    def end_exhausted(self, returned: object, items: int, capture_output: bool) -> None:
        """A generator ran to its end: its return value may carry a status, like a function's."""
        status, error, metadata = outcome_of_result(returned)
        metadata["items"] = items
        self.end(status, error, metadata, items if capture_output else NO_OUTPUT)

    def end_closed_early(self, items: int, capture_output: bool) -> None:
        metadata = {"closed_early": True, "items": items}
        self.end("success", None, metadata, items if capture_output else NO_OUTPUT)


class UnmeasuredRun(Run):
    """Stands in when a run could not even start: the host's code runs, nothing is recorded."""

    def __init__(self) -> None:
        self.span = get_current()  # type: ignore[assignment] # entered and left as it is
        self._otel_token = None

    def enter(self) -> contextvars.Token[spans.Span | None]:
        return set_current(self.span)

    def attach_otel(self) -> None:
        pass

    def add_inputs(self, inputs: Mapping[str, Any]) -> None:
        pass

    def record_pending(self, inputs: Mapping[str, Any] | None = None) -> None:
        pass

    def end(
        self,
        status: str,
        error_message: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        output: object = NO_OUTPUT,
    ) -> dict[str, Any] | None:
        return None


def start_run(
    skill: str,
    caller: str | None,
    rules: DerivedRules,
    telemetry: TelemetryCapture | None,
    inputs: Mapping[str, Any] | None = None,
) -> Run:
    """A new run; if even that fails, one that records nothing (reported once per cause)."""
    try:
        return Run(skill, caller, rules, telemetry, inputs)
    except Exception as exc:
        report_failure(exc)
        return UnmeasuredRun()


def outcome_of_exception(exc: BaseException) -> tuple[str, str | None]:
    """Status and error message for an exception that ended a run."""
    if isinstance(exc, SystemExit):
        if exc.code is None or exc.code == 0:
            return "success", None
        return "failure", describe_exception(exc)
    return "error", describe_exception(exc)


# Common results, told apart without the cost of an ABC isinstance check.
_NOT_MAPPINGS = frozenset({type(None), bool, int, float, str, bytes, list, tuple})


def outcome_of_result(result: object) -> tuple[str, str | None, dict[str, Any]]:
    """Status, error message and metadata implied by a returned value.

    Never raises: looking into the host's value runs the host's code (``__contains__``,
    ``__getitem__``, an ABC's ``__subclasshook__``), which may fail, as a closed
    ``shelve.Shelf`` does. Such a value is recorded as a success, and the failure reported.
    """
    if type(result) in _NOT_MAPPINGS:
        return "success", None, {}
    try:
        return _outcome_of_mapping(result)
    except Exception as exc:
        # The message is the host's, about its own data: it may quote anything. Leave it out.
        what = (
            f"A returned {type(result).__name__} raised when looked into for a status, so the "
            "run was recorded as a success"
        )
        report_failure(exc, what, with_message=False)
        return "success", None, {}


def _outcome_of_mapping(result: object) -> tuple[str, str | None, dict[str, Any]]:
    if not isinstance(result, Mapping) or "status" not in result:
        return "success", None, {}
    returned = result["status"]
    if not is_valid_status(returned):
        return "success", None, {"returned_status": returned}
    error = result.get("error_message", result.get("error"))
    # validate_status: a str-Enum member becomes its plain text, as queries look it up.
    return validate_status(returned), error if isinstance(error, str) else None, {}
