"""What one Claude Code hook document records: a run's start, its end, or a run of its own.

Pure: the document, the options and the moment in, a ``Planned`` record out; no store, no
clock, no environment. ``recording`` writes it.

How Claude Code's events become runs (docs/claude-code.md says the same):

- ``PreToolUse`` starts a tool run (``pending``), ``PostToolUse`` ends it ``success`` and
  ``PostToolUseFailure`` ``failure``: one span, paired by ``tool_use_id``. The skill is the
  tool's name, except ``Skill`` (named by the skill it ran) and ``Task``/``Agent`` (named by the
  subagent type). A tool called inside a subagent nests under that subagent's run.
- ``SubagentStart``/``SubagentStop``: a subagent's run, nested under the ``Task`` call that
  started it (found in the store: the hook documents do not link them).
- ``SessionStart``/``SessionEnd``: the session's own run, the root of its trace.
- ``UserPromptSubmit``/``Stop``: a turn (a prompt and the answer to it). The prompt's text is
  kept only when asked; by default only its length.
- Any other event, or a document that is not one, records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from betty_telemetry.hooks import ids

START, END, EVENT = "start", "end", "event"
MAIN_AGENT = "claude-code"
"""The caller of the main session's tool calls, and the skill of the session's own run."""
TURN_SKILL = "claude-code.turn"
USER = "user"
TASK_TOOLS = frozenset({"Task", "Agent"})
SKILL_TOOL = "Skill"
UNKNOWN_TOOL = "unknown-tool"
SUBAGENT = "subagent"
CONTENT_INPUTS: Mapping[str, tuple[str, ...]] = {
    "Write": ("content",),
    "Edit": ("old_string", "new_string"),
    "MultiEdit": ("edits",),
    "NotebookEdit": ("new_source",),
}
"""Tool inputs that are file contents: left out (their size noted) unless outputs are kept."""
EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "SubagentStart",
    "SubagentStop",
    "SessionStart",
    "SessionEnd",
    "UserPromptSubmit",
    "Stop",
)
"""The events recorded: those ``install-hooks`` subscribes to."""


class HookOptions(NamedTuple):
    """What the hook keeps beyond its default: tool outputs and file contents, prompts."""

    outputs: bool = False
    prompts: bool = False


class Planned:
    """One entry to write. ``phase``: START (a pending entry), END (the final entry of the run
    whose start has ``span_id``; or, with ``latest``, of the newest unfinished run of
    ``skill`` in the trace) or EVENT (a run of its own, duration 0).

    - ``output``: ``(value,)`` when the run's output is kept, else empty.
    - ``task_of``: START of a subagent: nest it under the unfinished Task call for this
      agent type.
    - ``once``: START only if the store has no entry of this span yet (a session resumed).

    A plain class, not a dataclass: the hook runs on every tool call, a fresh process each
    time, and importing dataclasses would cost it more than its append. Its fields are set
    once (``inputs`` and ``metadata`` are its own dicts, filled while recording)."""

    __slots__ = (
        "caller",
        "error_message",
        "inputs",
        "latest",
        "metadata",
        "once",
        "output",
        "parent_id",
        "phase",
        "skill",
        "span_id",
        "status",
        "task_of",
        "trace_id",
    )

    def __init__(
        self,
        phase: str,
        *,
        skill: str,
        caller: str,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        inputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        status: str = "pending",
        error_message: str | None = None,
        output: tuple[Any, ...] = (),
        task_of: str | None = None,
        latest: bool = False,
        once: bool = False,
    ) -> None:
        self.phase = phase
        self.skill = skill
        self.caller = caller
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.inputs: dict[str, Any] = {} if inputs is None else inputs
        self.metadata: dict[str, Any] = {} if metadata is None else metadata
        self.status = status
        self.error_message = error_message
        self.output = output
        self.task_of = task_of
        self.latest = latest
        self.once = once

    def with_inputs(self, inputs: dict[str, Any]) -> Planned:
        """A copy of this plan with ``inputs`` (the same metadata dict)."""
        fields = {name: getattr(self, name) for name in self.__slots__ if name != "phase"}
        return Planned(self.phase, **{**fields, "inputs": inputs})


def plan(document: object, options: HookOptions, now_ns: int) -> Planned | None:
    """What ``document`` records, or None (not a hook document, or an event we skip)."""
    if not isinstance(document, dict):
        return None
    planner = _PLANNERS.get(_text(document, "hook_event_name"))
    return None if planner is None else planner(document, options, now_ns)


def _text(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    return value if isinstance(value, str) else ""


def _metadata(document: Mapping[str, Any], kind: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"kind": kind, "hook_event": document["hook_event_name"]}
    for name in ("session_id", "cwd", "permission_mode", "transcript_path"):
        value = _text(document, name)
        if value:
            metadata[name] = value
    return metadata


# -- tool calls --------------------------------------------------------------------------------


def _tool(document: dict[str, Any], options: HookOptions, now_ns: int) -> Planned | None:
    event = document["hook_event_name"]
    session, call_id = _text(document, "session_id"), _text(document, "tool_use_id")
    tool = _text(document, "tool_name").strip() or UNKNOWN_TOOL
    tool_input = document.get("tool_input")
    metadata = _metadata(document, "tool")
    metadata["tool_name"] = tool
    if call_id:
        metadata["tool_use_id"] = call_id
    agent_id = _text(document, "agent_id")
    if agent_id:  # called by a subagent: it nests under the subagent's run
        metadata["agent_id"] = agent_id
        caller = _text(document, "agent_type").strip() or SUBAGENT
        parent = ids.agent_span(session, agent_id)
    else:
        caller, parent = MAIN_AGENT, ids.session_span(session)
    common: dict[str, Any] = {
        "skill": _tool_skill(tool, tool_input, metadata),
        "caller": caller,
        "trace_id": ids.trace_id(session),
        "parent_id": parent,
        "inputs": _tool_inputs(tool, tool_input, options),
        "metadata": metadata,
    }
    if event == "PreToolUse":
        if not call_id:  # nothing would pair it with its end: the end records the run
            return None
        return Planned(START, span_id=ids.tool_span(session, call_id), **common)
    status, error = "success", None
    if event == "PostToolUseFailure":
        status = "failure"
        error = _text(document, "error") or _text(document, "error_message") or "tool failed"
        if document.get("is_interrupt") is True:
            metadata["interrupted"] = True
    output: tuple[Any, ...] = ()
    if options.outputs and "tool_response" in document:
        output = (document["tool_response"],)
    if not call_id:
        metadata["paired"] = False
        span = ids.tool_span(session, f"unpaired:{now_ns}")
        return Planned(EVENT, span_id=span, status=status, error_message=error, output=output,
                       **common)  # fmt: skip
    span = ids.tool_span(session, call_id)
    return Planned(END, span_id=span, status=status, error_message=error, output=output, **common)


def _tool_skill(tool: str, tool_input: object, metadata: dict[str, Any]) -> str:
    """The tool's name; ``Skill`` runs by the skill they ran, Task runs by their subagent."""
    if not isinstance(tool_input, dict):
        return tool
    if tool in TASK_TOOLS:
        subagent = tool_input.get("subagent_type")
        if isinstance(subagent, str) and subagent.strip():
            metadata["subagent_type"] = subagent
            return subagent
    elif tool == SKILL_TOOL:
        for name in ("skill", "command", "name"):
            skill = tool_input.get(name)
            if isinstance(skill, str) and skill.strip():
                metadata["skill_name"] = skill
                return skill
    return tool


def _tool_inputs(tool: str, tool_input: object, options: HookOptions) -> dict[str, Any]:
    if tool_input is None:
        return {}
    if not isinstance(tool_input, dict):
        return {"tool_input": tool_input}
    inputs = dict(tool_input)
    if not options.outputs:
        for name in CONTENT_INPUTS.get(tool, ()):
            if name in inputs:
                inputs[name] = _left_out(inputs[name])
    return inputs


def _left_out(value: object) -> str:
    if isinstance(value, str):
        return f"<not stored: {len(value)} characters>"
    if isinstance(value, (list, dict)):
        return f"<not stored: {len(value)} items>"
    return "<not stored>"


# -- subagents ----------------------------------------------------------------------------------


def _subagent(document: dict[str, Any], options: HookOptions, now_ns: int) -> Planned | None:
    session, agent_id = _text(document, "session_id"), _text(document, "agent_id")
    agent_type = _text(document, "agent_type").strip() or SUBAGENT
    metadata = _metadata(document, "agent")
    metadata["agent_type"] = agent_type
    for name in ("agent_id", "agent_transcript_path"):
        if _text(document, name):
            metadata[name] = document[name]
    common: dict[str, Any] = {
        "skill": agent_type,
        "caller": MAIN_AGENT,
        "trace_id": ids.trace_id(session),
        "parent_id": ids.session_span(session),
        "metadata": metadata,
    }
    if document["hook_event_name"] == "SubagentStart":
        if not agent_id:  # nothing would pair it with its end
            return None
        span = ids.agent_span(session, agent_id)
        return Planned(START, span_id=span, task_of=agent_type, **common)
    output = _kept_message(document, options)
    if not agent_id:  # older Claude Code: SubagentStop without the subagent's id
        metadata["paired"] = False
        span = ids.agent_span(session, f"unpaired:{now_ns}")
        return Planned(EVENT, span_id=span, status="success", output=output, **common)
    span = ids.agent_span(session, agent_id)
    return Planned(END, span_id=span, status="success", output=output, **common)


def _kept_message(document: Mapping[str, Any], options: HookOptions) -> tuple[Any, ...]:
    message = document.get("last_assistant_message")
    return (message,) if options.outputs and isinstance(message, str) else ()


# -- the session and its turns -----------------------------------------------------------------


def _session(document: dict[str, Any], options: HookOptions, now_ns: int) -> Planned | None:
    session = _text(document, "session_id")
    metadata = _metadata(document, "agent")
    starting = document["hook_event_name"] == "SessionStart"
    for name in ("source", "model") if starting else ("reason",):
        if _text(document, name):
            metadata[name] = document[name]
    common: dict[str, Any] = {
        "skill": MAIN_AGENT,
        "caller": USER,
        "trace_id": ids.trace_id(session),
        "span_id": ids.session_span(session),
        "parent_id": None,
        "metadata": metadata,
    }
    if starting:
        # A resumed or compacted session starts again with the same id: one root run only.
        return Planned(START, once=_text(document, "source") not in ("", "startup"), **common)
    return Planned(END, status="success", **common)


def _turn(document: dict[str, Any], options: HookOptions, now_ns: int) -> Planned | None:
    session = _text(document, "session_id")
    metadata = _metadata(document, "chain")
    common: dict[str, Any] = {
        "skill": TURN_SKILL,
        "caller": USER,
        "trace_id": ids.trace_id(session),
        "span_id": ids.turn_span(session, now_ns),
        "parent_id": ids.session_span(session),
        "metadata": metadata,
    }
    if document["hook_event_name"] == "UserPromptSubmit":
        prompt = _text(document, "prompt")
        inputs = {"prompt": prompt} if options.prompts else {"prompt_chars": len(prompt)}
        return Planned(START, inputs=inputs, **common)
    if document.get("stop_hook_active") is True:
        metadata["stop_hook_active"] = True
    output = _kept_message(document, options)
    return Planned(END, status="success", latest=True, output=output, **common)


_Planner = Callable[[dict[str, Any], HookOptions, int], "Planned | None"]
_PLANNERS: dict[str, _Planner] = {
    "PreToolUse": _tool,
    "PostToolUse": _tool,
    "PostToolUseFailure": _tool,
    "SubagentStart": _subagent,
    "SubagentStop": _subagent,
    "SessionStart": _session,
    "SessionEnd": _session,
    "UserPromptSubmit": _turn,
    "Stop": _turn,
}
