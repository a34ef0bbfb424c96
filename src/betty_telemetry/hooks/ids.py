"""Stable ids for Claude Code runs.

Every hook call is a new process: the ``PreToolUse`` that starts a run and the
``PostToolUse`` that ends it share no memory. They agree on the run's ids because both derive
them from what Claude Code gives both: the session id (the trace) and the tool call's id (the
span). A digest, not the ids themselves: ours are hexadecimal of fixed length (W3C trace
context), Claude Code's are not.
"""

from __future__ import annotations

from betty_telemetry._hashing import sha256

_TRACE_DIGITS, _SPAN_DIGITS = 32, 16


def _digest(kind: str, *parts: str, digits: int) -> str:
    text = "\x1f".join(("claude-code", kind, *parts))
    value = sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:digits]
    # All zeros is not a valid id: one chance in 2**64, taken care of all the same.
    return value if value.strip("0") else "1".rjust(digits, "0")


def trace_id(session_id: str) -> str:
    """The trace of a session: every run of the session is in it."""
    return _digest("session", session_id, digits=_TRACE_DIGITS)


def session_span(session_id: str) -> str:
    """The session's own run: the root of its trace."""
    return _digest("session run", session_id, digits=_SPAN_DIGITS)


def tool_span(session_id: str, tool_use_id: str) -> str:
    """The run of one tool call."""
    return _digest("tool", session_id, tool_use_id, digits=_SPAN_DIGITS)


def agent_span(session_id: str, agent_id: str) -> str:
    """The run of one subagent: the parent of the tool calls it makes."""
    return _digest("agent", session_id, agent_id, digits=_SPAN_DIGITS)


def turn_span(session_id: str, started_ns: int) -> str:
    """The run of one turn (a prompt and Claude's answer to it). A turn has no id of its own
    in the hook documents: its end finds it in the store as the newest turn still going."""
    return _digest("turn", session_id, str(started_ns), digits=_SPAN_DIGITS)
