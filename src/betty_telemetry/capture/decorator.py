"""The ``capture_telemetry`` decorator, for every kind of function.

Plain and ``async`` functions record when they return or raise. Generators and async
generators record when they are exhausted, closed early or raise, and their span is current
only while their own code runs, never in the consumer's code between items. Methods,
classmethods and staticmethods work with the decorator above or below the descriptor.
Telemetry problems never reach the host: its return value and exception pass through
unchanged, by identity.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from betty_telemetry._config import LIVE_EXPORTS, DerivedRules
from betty_telemetry._safety import report_failure
from betty_telemetry.capture.defaults import pending_default, start_environment_export
from betty_telemetry.capture.inputs import InputBinder
from betty_telemetry.capture.run import Run, UnmeasuredRun
from betty_telemetry.capture.spans import set_current
from betty_telemetry.capture.telemetry import TelemetryCapture
from betty_telemetry.model.entry import one_skill_name, validate_name

P = ParamSpec("P")
R = TypeVar("R")


class Decorator(Protocol):
    def __call__(self, func: Callable[P, R], /) -> Callable[P, R]: ...


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


def capture_telemetry(
    skill_name: str | Callable[..., Any] | None = None,
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
) -> Any:
    """Record one entry per call (or per iteration, for generators) of the decorated function.

    ``skill_name`` defaults to ``module.qualname``; ``caller`` to the enclosing run's skill
    (else ``"runtime"``). A returned dict with a valid ``status`` sets the status; an
    exception records ``error`` and is re-raised unchanged. ``capture_inputs`` (True, or the
    names to keep) records the bound arguments, defaults applied, without ``self``/``cls``
    and ``exclude_inputs``; ``capture_output`` records the return value (for generators, the
    number of items). Secrets are redacted (``sanitize_keys`` adds key names; ``redact=False``
    turns the default rules off). ``telemetry`` picks a TelemetryCapture; by default the file
    is resolved from the environment at each call. ``pending=True`` (default:
    ``BETTY_TELEMETRY_PENDING`` when decorating) also records a ``pending`` entry when each
    call starts, which the final one replaces in every reader. ``skill=`` is the same as
    ``skill_name=`` (the context manager's spelling).
    """
    if callable(skill_name) or isinstance(skill_name, (classmethod, staticmethod)):
        return capture_telemetry()(skill_name)  # used bare: @capture_telemetry
    skill_name = one_skill_name(skill_name, skill)
    if skill_name is not None:
        validate_name("skill_name", skill_name)
    if caller is not None:
        validate_name("caller", caller)
    settings = _Settings(
        skill_name,
        caller,
        capture_inputs,
        frozenset(exclude_inputs),
        capture_output,
        DerivedRules(sanitize_keys or (), defaults=redact),
        telemetry,
        pending_default() if pending is None else bool(pending),
    )
    return settings.decorate


class _Settings:
    """What one ``capture_telemetry(...)`` call asked for."""

    def __init__(
        self,
        skill_name: str | None,
        caller: str | None,
        capture_inputs: bool | Iterable[str],
        exclude_inputs: frozenset[str],
        capture_output: bool,
        rules: DerivedRules,
        telemetry: TelemetryCapture | None,
        pending: bool,
    ) -> None:
        self.skill_name = skill_name
        self.pending = pending
        self.caller = caller
        self.capture_inputs = capture_inputs
        self.exclude_inputs = exclude_inputs
        self.capture_output = capture_output
        self.rules = rules
        self.telemetry = telemetry

    def decorate(self, func: Any) -> Any:
        if isinstance(func, (classmethod, staticmethod)):
            # Decorator above @classmethod/@staticmethod: wrap the function, keep the kind.
            return type(func)(self.decorate(func.__func__))
        if not callable(func):
            raise TypeError(f"capture_telemetry decorates functions, got {type(func).__name__}")
        if self.telemetry is None:
            start_environment_export()
        name = self.skill_name or f"{func.__module__}.{func.__qualname__}"
        binder = InputBinder.for_function(func, self.capture_inputs, self.exclude_inputs)
        generator = inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func)
        start = _Starter(self, name, binder, not generator).start
        if inspect.isasyncgenfunction(func):
            wrapper: Any = _async_generator_wrapper(func, start, self.capture_output)
        elif inspect.iscoroutinefunction(func):
            wrapper = _coroutine_wrapper(func, start, self.capture_output)
        elif inspect.isgeneratorfunction(func):
            wrapper = _generator_wrapper(func, start, self.capture_output)
        else:
            wrapper = _function_wrapper(func, start, self.capture_output)
        return functools.wraps(func)(wrapper)


class _Starter:
    """Starts the runs of one decorated function: what is the same for every call, kept."""

    __slots__ = ("binder", "caller", "joins_otel", "pending", "rules", "skill", "telemetry")

    def __init__(
        self, settings: _Settings, skill: str, binder: InputBinder | None, joins_otel: bool
    ) -> None:
        self.skill = skill
        # Functions and coroutines are current from start to end; generators only while
        # their own code runs, which Run.enter/leave see to.
        self.joins_otel = joins_otel
        self.caller = settings.caller
        self.rules = settings.rules
        self.telemetry = settings.telemetry
        self.binder = binder
        self.pending = settings.pending

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Run:
        """A new run; if even that fails, one that records nothing (reported once per cause)."""
        try:
            inputs = self.binder.bind(args, kwargs) if self.binder is not None else None
            run = Run(self.skill, self.caller, self.rules, self.telemetry, inputs)
            if self.pending:
                run.record_pending()
            if LIVE_EXPORTS and self.joins_otel:
                run.attach_otel()
            return run
        except Exception as exc:
            report_failure(exc)
            return UnmeasuredRun()


Start = Callable[[tuple[Any, ...], dict[str, Any]], Run]


def _function_wrapper(func: Callable[..., Any], start: Start, output: bool) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = start(args, kwargs)
        token = set_current(run.span)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            run.exit_raised(token, exc)
            raise
        run.exit_returned(token, result, output)
        return result

    return wrapper


# The coroutine and async-generator wrappers mirror their sync twins line for line: an
# ``async def`` body cannot be shared with a plain one without changing what inspect reports.
def _coroutine_wrapper(func: Callable[..., Any], start: Start, output: bool) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = start(args, kwargs)
        token = set_current(run.span)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            run.exit_raised(token, exc)
            raise
        run.exit_returned(token, result, output)
        return result

    return wrapper


def _generator_wrapper(func: Callable[..., Any], start: Start, output: bool) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        run = start(args, kwargs)
        try:
            inner = func(*args, **kwargs)
        except BaseException as exc:  # wrong arguments: raised when iteration starts
            run.end_with_exception(exc)
            raise
        items, sent, thrown = 0, None, None
        while True:
            token = run.enter()
            try:
                item = inner.send(sent) if thrown is None else inner.throw(thrown)
            except StopIteration as stop:
                run.leave(token)
                run.end_exhausted(stop.value, items, output)
                return stop.value
            except BaseException as exc:
                run.leave(token)
                run.end_with_exception(exc, {"items": items})
                raise
            run.leave(token)
            items += 1
            try:
                sent, thrown = (yield item), None
            except GeneratorExit:  # the consumer stopped early (break, close())
                token = run.enter()
                try:
                    inner.close()
                except BaseException as exc:
                    run.leave(token)
                    run.end_with_exception(exc, {"closed_early": True, "items": items})
                    raise
                run.leave(token)
                run.end_closed_early(items, output)
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on
                sent, thrown = None, exc

    return wrapper


def _async_generator_wrapper(func: Callable[..., Any], start: Start, output: bool) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        run = start(args, kwargs)
        try:
            inner = func(*args, **kwargs)
        except BaseException as exc:  # wrong arguments: raised when iteration starts
            run.end_with_exception(exc)
            raise
        items, sent, thrown = 0, None, None
        while True:
            token = run.enter()
            try:
                item = await (inner.asend(sent) if thrown is None else inner.athrow(thrown))
            except StopAsyncIteration:
                run.leave(token)
                run.end_exhausted(None, items, output)
                return
            except BaseException as exc:
                run.leave(token)
                run.end_with_exception(exc, {"items": items})
                raise
            run.leave(token)
            items += 1
            try:
                sent, thrown = (yield item), None
            except GeneratorExit:  # the consumer stopped early (break then aclose())
                token = run.enter()
                try:
                    await inner.aclose()
                except BaseException as exc:
                    run.leave(token)
                    run.end_with_exception(exc, {"closed_early": True, "items": items})
                    raise
                run.leave(token)
                run.end_closed_early(items, output)
                raise
            except BaseException as exc:
                sent, thrown = None, exc

    return wrapper
