"""Trace context: the current span, span ids, and W3C ``TRACEPARENT`` in and out.

The current span lives in a ``contextvars.ContextVar``, so nesting is right across ``await``
and ``asyncio.gather`` by construction, and threads see their parent's span when started
through ``bind_context``. A process with no span of its own adopts ``TRACEPARENT`` from its
environment, which is how a child process (Python or the CLI) joins its parent's trace. A run
started inside the application's own OpenTelemetry span takes that span as its parent.
"""

from __future__ import annotations

import contextvars
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import NamedTuple, ParamSpec, TypeVar

from betty_telemetry._config import LIVE_EXPORTS, TRACEPARENT_SEEN, logger, random_bits
from betty_telemetry.capture.otel_context import otel_parent

ENV_TRACEPARENT = "TRACEPARENT"
ENV_CALLER = "BETTY_TELEMETRY_CALLER"
# Compiled on use (re caches it): most processes have no TRACEPARENT, and parse it once.
_TRACEPARENT = r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?"

P = ParamSpec("P")
R = TypeVar("R")


class Span(NamedTuple):
    """One run being measured: the ids its entry will carry. (A tuple: made on every call.)"""

    trace_id: str
    span_id: str
    parent_id: str | None
    skill: str


class RemoteParent(NamedTuple):
    """A parent span in another process, from ``TRACEPARENT``."""

    trace_id: str
    span_id: str


_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "betty_telemetry_span", default=None
)


def current_span() -> Span | None:
    """The span of the innermost decorated function or context running here, if any."""
    return _current.get()


def new_span(skill: str) -> Span:
    """A span for ``skill``, child of the current span, else of ``TRACEPARENT``, else a root."""
    return span_under(_current.get(), skill)


# A NamedTuple's own __new__ is a Python function; a span is made on every run: skip it.
_new_span = tuple.__new__
# The current span's setter and resetter, bound once: the decorator calls them on every run.
set_current = _current.set
reset_current = _current.reset
get_current = _current.get


def span_under(parent: Span | None, skill: str) -> Span:
    """A span for ``skill`` under ``parent`` (the current span, looked up by the caller),
    else under the application's current OpenTelemetry span, else under ``TRACEPARENT``, else
    a root.

    With live export on, our runs are current OpenTelemetry spans too, so OpenTelemetry's
    current span is the innermost of both kinds: it wins. Without, an application span
    started inside one of our runs cannot be told from one it started inside: ours wins.
    """
    if _OTEL_TRACE in _modules and (parent is None or LIVE_EXPORTS):
        foreign = otel_parent()
        if foreign is not None and (parent is None or foreign[1] != parent.span_id):
            return _new_span(Span, (foreign[0], new_span_id(), foreign[1], skill))
    if parent is not None:
        return _new_span(Span, (parent.trace_id, new_span_id(), parent.span_id, skill))
    remote = remote_parent()
    if remote is not None:
        return _new_span(Span, (remote.trace_id, new_span_id(), remote.span_id, skill))
    # A root needs both ids: one draw of 192 bits costs less than two draws.
    ids = random_bits(192).to_bytes(24, "big").hex()
    trace_id, span_id = ids[:32], ids[32:]
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:  # all-zero ids are invalid
        trace_id, span_id = new_trace_id(), new_span_id()
    return _new_span(Span, (trace_id, span_id, None, skill))


_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_modules = sys.modules
_OTEL_TRACE = "opentelemetry.trace"


def linked_span(skill: str) -> Span | None:
    """A span for a one-off capture (API, CLI) if there is a trace to join, else None.

    Entries outside any trace keep exactly the spec's fields.
    """
    if (
        _current.get() is None
        and remote_parent() is None
        and (_OTEL_TRACE not in _modules or otel_parent() is None)
    ):
        return None
    return new_span(skill)


def enter(span: Span) -> contextvars.Token[Span | None]:
    return _current.set(span)


def leave(token: contextvars.Token[Span | None]) -> None:
    _current.reset(token)


def new_trace_id() -> str:
    # Ids come from the library's own generator (see _config), never the global random.
    # to_bytes().hex() formats three times faster than a format spec; all-zero is invalid.
    return (random_bits(128) or 1).to_bytes(16, "big").hex()


def new_span_id() -> str:
    return (random_bits(64) or 1).to_bytes(8, "big").hex()


def default_caller() -> str:
    """The caller when none was given: the enclosing span's skill, else the parent process's
    (``BETTY_TELEMETRY_CALLER``, set by ``child_env``), else ``"runtime"``."""
    span = _current.get()
    if span is not None:
        return span.skill
    return env_caller()


def env_caller() -> str:
    """The caller a parent process passed down (``BETTY_TELEMETRY_CALLER``), else "runtime"."""
    caller = getenv(ENV_CALLER)
    return caller if caller and caller.strip() else "runtime"


# -- across processes ------------------------------------------------------------------------

_environ_bytes: dict[bytes, bytes] | None = (
    getattr(os.environ, "_data", None) if os.name == "posix" else None
)
_ENCODED_NAMES = {name: name.encode() for name in (ENV_TRACEPARENT, ENV_CALLER)}
_TRACEPARENT_BYTES = ENV_TRACEPARENT.encode()


def getenv(name: str) -> str | None:
    """``os.environ.get(name)`` without its cost on every run.

    os.environ.get encodes the key and raises and catches KeyError when the variable is unset,
    which is the common case for TRACEPARENT: a microsecond per run. On POSIX, os.environ keeps
    a dict of bytes that every change to os.environ updates; read that when it is there.
    """
    if _environ_bytes is None:  # pragma: no cover - other platforms
        return os.environ.get(name)
    value = _environ_bytes.get(_ENCODED_NAMES.get(name) or name.encode())
    return None if value is None else os.fsdecode(value)


def remote_parent() -> RemoteParent | None:
    """The parent named by ``TRACEPARENT`` in this process's environment, if set and valid."""
    if _environ_bytes is None:  # pragma: no cover - other platforms
        value = os.environ.get(ENV_TRACEPARENT)
    else:  # getenv, inlined: this runs on every run outside a span
        raw = _environ_bytes.get(_TRACEPARENT_BYTES)
        value = None if raw is None else os.fsdecode(raw)
    if value is None:
        return None
    if value in TRACEPARENT_SEEN:
        return TRACEPARENT_SEEN[value]  # type: ignore[no-any-return]
    parent = parse_traceparent(value)
    if parent is None:
        logger.debug("Ignoring invalid %s=%r", ENV_TRACEPARENT, value)
    TRACEPARENT_SEEN.clear()  # one value at a time: the environment changes rarely
    TRACEPARENT_SEEN[value] = parent
    return parent


def parse_traceparent(value: str) -> RemoteParent | None:
    """Parse a W3C traceparent header; None if it is not valid."""
    match = re.fullmatch(_TRACEPARENT, value.strip())
    if match is None:
        return None
    version, trace_id, span_id, _flags, rest = match.groups()
    # Version ff is forbidden; version 00 has exactly four fields; later versions may add more.
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return RemoteParent(trace_id, span_id)


def format_traceparent(span: Span) -> str:
    return f"00-{span.trace_id}-{span.span_id}-01"


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment for a child process that continues the current trace.

    A copy of ``base`` (default: ``os.environ``) with ``TRACEPARENT`` set to the current span,
    and ``BETTY_TELEMETRY_CALLER`` to its skill, so the child's runs nest under it. With no
    current span the copy is returned as it is (an inherited ``TRACEPARENT`` passes through).
    """
    env = dict(os.environ if base is None else base)
    span = _current.get()
    if span is not None:
        env[ENV_TRACEPARENT] = format_traceparent(span)
        env[ENV_CALLER] = span.skill
    return env


# -- across threads --------------------------------------------------------------------------


def bind_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so that each call runs in a fresh copy of the caller's current context.

    Use it for ``threading.Thread(target=bind_context(work))``, ``executor.submit`` and
    ``executor.map``: runs recorded in the thread nest under the span that was current here.
    A fresh copy per call lets one bound callable run in several threads at once.
    """
    captured = contextvars.copy_context()

    def run_in_copy(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    run_in_copy.__wrapped__ = fn  # type: ignore[attr-defined]
    run_in_copy.__name__ = getattr(fn, "__name__", "bound")
    run_in_copy.__qualname__ = getattr(fn, "__qualname__", run_in_copy.__name__)
    run_in_copy.__doc__ = getattr(fn, "__doc__", None)
    return run_in_copy
