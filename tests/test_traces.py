"""Traces: every decorated run and context is a span; spans nest through calls, ``await``,
``asyncio.gather``, threads (with ``bind_context``) and child processes (with ``child_env``
and ``TRACEPARENT``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    TelemetryCapture,
    TelemetryContext,
    bind_context,
    capture_telemetry,
    child_env,
    current_span,
)
from tests.conftest import SPEC_FIELDS, run_cli, run_python

pytestmark = pytest.mark.every_store

TRACE_FIELDS = ["trace_id", "span_id", "parent_id"]
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")

# The W3C specification's own example ids.
REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_SPAN = "00f067aa0ba902b7"


def entries(telemetry: TelemetryCapture) -> list[dict[str, Any]]:
    """Every entry in the file, oldest first."""
    return list(reversed(telemetry.query()))


def by_skill(telemetry: TelemetryCapture) -> dict[str, dict[str, Any]]:
    """Every entry by its skill; each skill must have run once."""
    found = entries(telemetry)
    skills = [entry["skill"] for entry in found]
    assert len(set(skills)) == len(skills), skills
    return {entry["skill"]: entry for entry in found}


def assert_root(entry: dict[str, Any]) -> None:
    """A span that starts a new trace."""
    assert list(entry)[len(SPEC_FIELDS) :] == TRACE_FIELDS
    assert TRACE_ID.match(entry["trace_id"]), entry["trace_id"]
    assert SPAN_ID.match(entry["span_id"]), entry["span_id"]
    assert entry["parent_id"] is None


def assert_child(child: dict[str, Any], parent: dict[str, Any]) -> None:
    """``child`` is a span directly under ``parent``, in the same trace."""
    assert list(child)[len(SPEC_FIELDS) :] == TRACE_FIELDS
    assert SPAN_ID.match(child["span_id"]), child["span_id"]
    assert child["trace_id"] == parent["trace_id"]
    assert child["parent_id"] == parent["span_id"]
    assert child["span_id"] != parent["span_id"]


# -- spans and ids -----------------------------------------------------------------------


def test_top_level_call_is_a_root_span(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    [entry] = entries(telemetry)
    assert_root(entry)


def test_each_top_level_call_starts_its_own_trace(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    run()
    first, second = entries(telemetry)
    assert first["trace_id"] != second["trace_id"]
    assert first["span_id"] != second["span_id"]


def test_current_span_is_none_outside_any_run() -> None:
    assert current_span() is None


def test_current_span_inside_a_run_has_the_ids_of_its_entry(telemetry: TelemetryCapture) -> None:
    seen: list[Any] = []

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def run() -> None:
        seen.append(current_span())

    run()
    [entry] = entries(telemetry)
    span = seen[0]
    assert (span.trace_id, span.span_id, span.parent_id, span.skill) == (
        entry["trace_id"],
        entry["span_id"],
        None,
        "outer",
    )
    assert current_span() is None


def test_nested_call_is_a_child_of_the_enclosing_run(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="inner", telemetry=telemetry)
    def inner() -> None:
        return None

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        inner()

    outer()
    found = by_skill(telemetry)
    assert_root(found["outer"])
    assert_child(found["inner"], found["outer"])


def test_three_levels_nest_in_order(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="c", telemetry=telemetry)
    def c() -> None:
        return None

    @capture_telemetry(skill_name="b", telemetry=telemetry)
    def b() -> None:
        c()

    @capture_telemetry(skill_name="a", telemetry=telemetry)
    def a() -> None:
        b()

    a()
    found = by_skill(telemetry)
    assert_child(found["b"], found["a"])
    assert_child(found["c"], found["b"])


def test_consecutive_nested_calls_are_siblings(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="first", telemetry=telemetry)
    def first() -> None:
        return None

    @capture_telemetry(skill_name="second", telemetry=telemetry)
    def second() -> None:
        return None

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        first()
        second()

    outer()
    found = by_skill(telemetry)
    assert_child(found["first"], found["outer"])
    assert_child(found["second"], found["outer"])


def test_enclosing_span_is_current_again_after_a_nested_call_raised(
    telemetry: TelemetryCapture,
) -> None:
    seen: list[Any] = []

    @capture_telemetry(skill_name="inner", telemetry=telemetry)
    def inner() -> None:
        raise ValueError("inner failed")

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        with pytest.raises(ValueError, match="inner failed"):
            inner()
        seen.append(current_span())

    outer()
    assert seen[0].span_id == by_skill(telemetry)["outer"]["span_id"]
    assert current_span() is None


# -- callers -----------------------------------------------------------------------------


def test_caller_defaults_to_the_enclosing_skill_at_every_level(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="c", telemetry=telemetry)
    def c() -> None:
        return None

    @capture_telemetry(skill_name="b", telemetry=telemetry)
    def b() -> None:
        c()

    @capture_telemetry(skill_name="a", telemetry=telemetry)
    def a() -> None:
        b()

    a()
    found = by_skill(telemetry)
    assert [found[s]["caller"] for s in "abc"] == ["runtime", "a", "b"]


def test_explicit_caller_is_kept_inside_a_span(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="inner", caller="scheduler", telemetry=telemetry)
    def inner() -> None:
        return None

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        inner()

    outer()
    assert by_skill(telemetry)["inner"]["caller"] == "scheduler"


def test_caller_variable_names_the_caller_of_a_top_level_run(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_CALLER", "parent.skill")

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    assert entries(telemetry)[0]["caller"] == "parent.skill"


def test_enclosing_skill_wins_over_the_caller_variable(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_CALLER", "parent.skill")

    @capture_telemetry(skill_name="inner", telemetry=telemetry)
    def inner() -> None:
        return None

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        inner()

    outer()
    assert by_skill(telemetry)["inner"]["caller"] == "outer"


def test_empty_caller_variable_counts_as_unset(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_CALLER", "")

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    assert entries(telemetry)[0]["caller"] == "runtime"


# -- async -------------------------------------------------------------------------------


def test_awaited_call_is_a_child_of_the_awaiting_run(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="child", telemetry=telemetry)
    async def child() -> None:
        await asyncio.sleep(0.001)

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    async def parent() -> None:
        await asyncio.sleep(0)
        await child()

    asyncio.run(parent())
    found = by_skill(telemetry)
    assert_root(found["parent"])
    assert_child(found["child"], found["parent"])
    assert found["child"]["caller"] == "parent"


def test_call_after_an_await_is_still_a_child_of_the_run(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="awaited", telemetry=telemetry)
    async def awaited() -> None:
        await asyncio.sleep(0.001)

    @capture_telemetry(skill_name="after", telemetry=telemetry)
    def after() -> None:
        return None

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    async def parent() -> None:
        await awaited()
        await asyncio.sleep(0.001)
        after()

    asyncio.run(parent())
    found = by_skill(telemetry)
    assert_child(found["awaited"], found["parent"])
    assert_child(found["after"], found["parent"])


def test_gathered_calls_are_siblings_under_the_gathering_run(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="slow", telemetry=telemetry)
    async def slow() -> None:
        await asyncio.sleep(0.02)  # still running while `fast` starts and ends

    @capture_telemetry(skill_name="fast", telemetry=telemetry)
    async def fast() -> None:
        await asyncio.sleep(0)

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    async def parent() -> None:
        await asyncio.gather(slow(), fast())

    asyncio.run(parent())
    found = by_skill(telemetry)
    assert_child(found["slow"], found["parent"])
    assert_child(found["fast"], found["parent"])
    assert found["fast"]["parent_id"] != found["slow"]["span_id"]
    assert found["slow"]["parent_id"] != found["fast"]["span_id"]


def test_calls_inside_gathered_runs_nest_under_their_own_run(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    async def step(label: str) -> None:
        await asyncio.sleep(0)

    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    async def worker(label: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await step(label)
        await asyncio.sleep(delay)
        await step(label)

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    async def parent() -> None:
        await asyncio.gather(worker("a", 0.002), worker("b", 0.001))

    asyncio.run(parent())
    found = entries(telemetry)
    [root] = [e for e in found if e["skill"] == "parent"]
    workers = {e["inputs"]["label"]: e for e in found if e["skill"].endswith("worker")}
    steps = [e for e in found if e["skill"].endswith("step")]
    assert len(steps) == 4
    for worker_entry in workers.values():
        assert_child(worker_entry, root)
    for step_entry in steps:
        assert_child(step_entry, workers[step_entry["inputs"]["label"]])


def test_tasks_created_inside_a_run_are_its_children(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="background", telemetry=telemetry)
    async def background() -> None:
        await asyncio.sleep(0)

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    async def parent() -> None:
        await asyncio.create_task(background())

    asyncio.run(parent())
    found = by_skill(telemetry)
    assert_child(found["background"], found["parent"])


# -- generators --------------------------------------------------------------------------


def test_call_inside_a_generator_is_a_child_of_the_generator(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="fetch", telemetry=telemetry)
    def fetch() -> int:
        return 1

    @capture_telemetry(skill_name="stream", telemetry=telemetry)
    def stream() -> Iterator[int]:
        yield fetch()
        yield fetch()

    assert list(stream()) == [1, 1]
    found = entries(telemetry)
    [generator] = [e for e in found if e["skill"] == "stream"]
    fetches = [e for e in found if e["skill"] == "fetch"]
    assert len(fetches) == 2
    for fetch_entry in fetches:
        assert_child(fetch_entry, generator)


def test_consumer_code_between_items_is_outside_the_generator_span(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="handle", telemetry=telemetry)
    def handle(item: int) -> None:
        return None

    @capture_telemetry(skill_name="stream", telemetry=telemetry)
    def stream() -> Iterator[int]:
        yield 1

    @capture_telemetry(skill_name="consumer", telemetry=telemetry)
    def consumer() -> None:
        for item in stream():
            handle(item)

    consumer()
    found = by_skill(telemetry)
    assert_child(found["stream"], found["consumer"])
    assert_child(found["handle"], found["consumer"])


def test_consumer_code_between_items_is_outside_the_async_generator_span(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="handle", telemetry=telemetry)
    async def handle(item: int) -> None:
        await asyncio.sleep(0)

    @capture_telemetry(skill_name="fetch", telemetry=telemetry)
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 1

    @capture_telemetry(skill_name="stream", telemetry=telemetry)
    async def stream() -> AsyncIterator[int]:
        yield await fetch()

    @capture_telemetry(skill_name="consumer", telemetry=telemetry)
    async def consumer() -> None:
        async for item in stream():
            await handle(item)

    asyncio.run(consumer())
    found = by_skill(telemetry)
    assert_child(found["stream"], found["consumer"])
    assert_child(found["fetch"], found["stream"])
    assert_child(found["handle"], found["consumer"])


# -- threads -----------------------------------------------------------------------------


def test_thread_started_with_bind_context_runs_under_the_current_span(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="child", telemetry=telemetry)
    def child() -> None:
        return None

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    def parent() -> None:
        thread = threading.Thread(target=bind_context(child))
        thread.start()
        thread.join()

    parent()
    found = by_skill(telemetry)
    assert_child(found["child"], found["parent"])
    assert found["child"]["caller"] == "parent"


def test_thread_started_without_bind_context_starts_a_new_trace(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="child", telemetry=telemetry)
    def child() -> None:
        return None

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    def parent() -> None:
        thread = threading.Thread(target=child)
        thread.start()
        thread.join()

    parent()
    found = by_skill(telemetry)
    assert_root(found["child"])
    assert found["child"]["trace_id"] != found["parent"]["trace_id"]
    assert found["child"]["caller"] == "runtime"


def test_executor_submit_with_bind_context_runs_under_the_current_span(
    telemetry: TelemetryCapture,
) -> None:
    result = object()

    @capture_telemetry(skill_name="child", telemetry=telemetry)
    def child() -> object:
        return result

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    def parent() -> object:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(bind_context(child)).result()

    assert parent() is result
    found = by_skill(telemetry)
    assert_child(found["child"], found["parent"])


def test_one_bound_callable_runs_in_several_threads_at_once_under_the_span(
    telemetry: TelemetryCapture,
) -> None:
    workers = 4
    together = threading.Barrier(workers, timeout=10)

    @capture_telemetry(skill_name="child", telemetry=telemetry)
    def child(index: int) -> int:
        together.wait()  # every thread is inside the bound callable at the same time
        return index

    @capture_telemetry(skill_name="parent", telemetry=telemetry)
    def parent() -> list[int]:
        bound = bind_context(child)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(bound, range(workers)))

    assert parent() == [0, 1, 2, 3]
    found = entries(telemetry)
    [root] = [e for e in found if e["skill"] == "parent"]
    children = [e for e in found if e["skill"] == "child"]
    assert len(children) == workers
    for child_entry in children:
        assert_child(child_entry, root)
    assert len({e["span_id"] for e in children}) == workers


def test_bound_callable_passes_return_value_and_exception_through(
    telemetry: TelemetryCapture,
) -> None:
    result, error = object(), LookupError("nope")

    def give(fail: bool) -> object:
        if fail:
            raise error
        return result

    bound = bind_context(give)
    assert bound(False) is result
    with pytest.raises(LookupError) as excinfo:
        bound(True)
    assert excinfo.value is error


def test_bound_callable_keeps_name_doc_and_wrapped() -> None:
    def work() -> None:
        """Work docs."""

    bound = bind_context(work)
    assert (bound.__name__, bound.__doc__, bound.__wrapped__) == ("work", "Work docs.", work)  # type: ignore[attr-defined]


# -- TelemetryContext --------------------------------------------------------------------


def test_context_entry_is_a_root_span(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("ctx", telemetry=telemetry) as ctx:
        pass
    assert ctx.entry is not None
    assert_root(ctx.entry)
    assert ctx.entry == entries(telemetry)[0]


def test_run_inside_a_context_block_is_its_child(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="inside", telemetry=telemetry)
    def inside() -> None:
        return None

    with TelemetryContext("ctx", telemetry=telemetry):
        inside()
    found = by_skill(telemetry)
    assert_child(found["inside"], found["ctx"])
    assert found["inside"]["caller"] == "ctx"


def test_nested_contexts_nest(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("outer", telemetry=telemetry):  # noqa: SIM117 - two spans, on purpose
        with TelemetryContext("inner", telemetry=telemetry):
            pass
    found = by_skill(telemetry)
    assert_root(found["outer"])
    assert_child(found["inner"], found["outer"])
    assert found["inner"]["caller"] == "outer"


def test_context_inside_a_run_is_its_child(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="run", telemetry=telemetry)
    def run() -> None:
        with TelemetryContext("ctx", telemetry=telemetry):
            pass

    run()
    found = by_skill(telemetry)
    assert_child(found["ctx"], found["run"])
    assert found["ctx"]["caller"] == "run"


def test_context_with_explicit_caller_keeps_it_inside_a_span(telemetry: TelemetryCapture) -> None:
    with (
        TelemetryContext("outer", telemetry=telemetry),
        TelemetryContext("inner", caller="CLI", telemetry=telemetry),
    ):
        pass
    assert by_skill(telemetry)["inner"]["caller"] == "CLI"


def test_span_is_restored_after_a_context_block(telemetry: TelemetryCapture) -> None:
    seen: list[Any] = []

    @capture_telemetry(skill_name="run", telemetry=telemetry)
    def run() -> None:
        with TelemetryContext("ctx", telemetry=telemetry):
            pass
        seen.append(current_span())

    run()
    assert seen[0].span_id == by_skill(telemetry)["run"]["span_id"]
    assert current_span() is None


def test_span_is_restored_after_a_context_block_raised(telemetry: TelemetryCapture) -> None:
    with pytest.raises(RuntimeError), TelemetryContext("ctx", telemetry=telemetry):
        raise RuntimeError("block failed")
    assert current_span() is None


def test_async_with_context_is_a_span_across_await(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="child", telemetry=telemetry)
    async def child() -> None:
        await asyncio.sleep(0.001)

    async def main() -> None:
        async with TelemetryContext("ctx", telemetry=telemetry):
            await asyncio.sleep(0.001)
            await child()

    asyncio.run(main())
    found = by_skill(telemetry)
    assert_root(found["ctx"])
    assert_child(found["child"], found["ctx"])
    assert found["child"]["caller"] == "ctx"


def test_nested_async_with_contexts_nest(telemetry: TelemetryCapture) -> None:
    async def main() -> None:
        async with TelemetryContext("outer", telemetry=telemetry):
            await asyncio.sleep(0)
            async with TelemetryContext("inner", telemetry=telemetry):
                await asyncio.sleep(0)

    asyncio.run(main())
    found = by_skill(telemetry)
    assert_child(found["inner"], found["outer"])


# -- capture() ---------------------------------------------------------------------------


def test_capture_outside_any_span_has_exactly_the_spec_fields(
    telemetry: TelemetryCapture,
) -> None:
    entry = telemetry.capture(skill="deploy.run", status="success", duration_ms=5, caller="CI")
    assert list(entry) == SPEC_FIELDS
    assert list(entries(telemetry)[0]) == SPEC_FIELDS


def test_capture_inside_a_run_joins_its_trace(telemetry: TelemetryCapture) -> None:
    captured: list[dict[str, Any]] = []

    @capture_telemetry(skill_name="run", telemetry=telemetry)
    def run() -> None:
        captured.append(
            telemetry.capture(skill="deploy.run", status="success", duration_ms=5, caller="CI")
        )

    run()
    found = by_skill(telemetry)
    assert_child(found["deploy.run"], found["run"])
    assert captured[0] == found["deploy.run"]
    assert found["deploy.run"]["caller"] == "CI"


def test_capture_inside_a_context_block_joins_its_trace(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("ctx", telemetry=telemetry):
        telemetry.capture(skill="deploy.run", status="success", duration_ms=5, caller="CI")
    found = by_skill(telemetry)
    assert_child(found["deploy.run"], found["ctx"])


def test_capture_with_traceparent_joins_the_remote_trace(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")
    entry = telemetry.capture(skill="deploy.run", status="success", duration_ms=5, caller="CI")
    assert list(entry) == SPEC_FIELDS + TRACE_FIELDS
    assert (entry["trace_id"], entry["parent_id"]) == (REMOTE_TRACE, REMOTE_SPAN)
    assert SPAN_ID.match(entry["span_id"]), entry["span_id"]


def test_capture_with_invalid_traceparent_has_exactly_the_spec_fields(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"ff-{REMOTE_TRACE}-{REMOTE_SPAN}-01")
    entry = telemetry.capture(skill="deploy.run", status="success", duration_ms=5, caller="CI")
    assert list(entry) == SPEC_FIELDS


def test_capture_after_a_run_ended_has_exactly_the_spec_fields(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    entry = telemetry.capture(skill="deploy.run", status="success", duration_ms=5, caller="CI")
    assert list(entry) == SPEC_FIELDS


# -- child_env ---------------------------------------------------------------------------


def test_child_env_inside_a_run_names_the_run_as_parent_and_caller(
    telemetry: TelemetryCapture,
) -> None:
    envs: list[dict[str, str]] = []

    @capture_telemetry(skill_name="parent.run", telemetry=telemetry)
    def run() -> None:
        envs.append(child_env())

    run()
    [entry] = entries(telemetry)
    env = envs[0]
    assert env["TRACEPARENT"] == f"00-{entry['trace_id']}-{entry['span_id']}-01"
    assert TRACEPARENT.match(env["TRACEPARENT"])
    assert env["BETTY_TELEMETRY_CALLER"] == "parent.run"


def test_child_env_copies_os_environ_by_default(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TEST_MARKER", "kept")
    with TelemetryContext("ctx", telemetry=telemetry):
        env = child_env()
    assert env["BETTY_TEST_MARKER"] == "kept"
    added = ("TRACEPARENT", "BETTY_TELEMETRY_CALLER")
    assert {k: v for k, v in env.items() if k not in added} == dict(os.environ)


def test_child_env_copies_the_base_and_leaves_it_unchanged(telemetry: TelemetryCapture) -> None:
    base = {"PATH": "/bin", "TRACEPARENT": "stale"}
    with TelemetryContext("ctx", telemetry=telemetry) as ctx:
        span = current_span()
        env = child_env(base)
    assert span is not None
    assert env == {
        "PATH": "/bin",
        "TRACEPARENT": f"00-{span.trace_id}-{span.span_id}-01",
        "BETTY_TELEMETRY_CALLER": "ctx",
    }
    assert base == {"PATH": "/bin", "TRACEPARENT": "stale"}
    assert ctx.entry is not None
    assert ctx.entry["span_id"] == span.span_id


def test_child_env_outside_any_span_is_a_plain_copy_of_the_base() -> None:
    base = {"PATH": "/bin"}
    env = child_env(base)
    assert env == {"PATH": "/bin"}
    assert env is not base


def test_child_env_outside_any_span_passes_an_inherited_traceparent_through() -> None:
    inherited = f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"
    assert child_env({"TRACEPARENT": inherited}) == {"TRACEPARENT": inherited}


# -- child processes ---------------------------------------------------------------------

CHILD_SCRIPT = """\
from betty_telemetry import capture_telemetry


@capture_telemetry(skill_name="child.inner")
def inner():
    return None


@capture_telemetry(skill_name="child.work")
def work():
    inner()


work()
"""


@pytest.fixture
def child_script(tmp_path: Path, telemetry_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Python program whose decorated runs write to the `telemetry` fixture's file."""
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(telemetry_path))
    script = tmp_path / "child.py"
    script.write_text(CHILD_SCRIPT, encoding="utf-8")
    return script


def test_child_python_process_started_with_child_env_joins_the_parent_span(
    telemetry: TelemetryCapture, child_script: Path
) -> None:
    @capture_telemetry(skill_name="parent.run", telemetry=telemetry)
    def parent() -> None:
        result = run_python(str(child_script), env=child_env())
        assert result.returncode == 0, result.stderr

    parent()
    found = by_skill(telemetry)
    assert_root(found["parent.run"])
    assert_child(found["child.work"], found["parent.run"])
    assert found["child.work"]["caller"] == "parent.run"


def test_runs_nested_in_a_child_process_nest_under_the_childs_run(
    telemetry: TelemetryCapture, child_script: Path
) -> None:
    @capture_telemetry(skill_name="parent.run", telemetry=telemetry)
    def parent() -> None:
        result = run_python(str(child_script), env=child_env())
        assert result.returncode == 0, result.stderr

    parent()
    found = by_skill(telemetry)
    assert_child(found["child.inner"], found["child.work"])
    assert found["child.inner"]["caller"] == "child.work"


def test_child_python_process_without_child_env_starts_its_own_trace(
    telemetry: TelemetryCapture, child_script: Path
) -> None:
    @capture_telemetry(skill_name="parent.run", telemetry=telemetry)
    def parent() -> None:
        result = run_python(str(child_script))
        assert result.returncode == 0, result.stderr

    parent()
    found = by_skill(telemetry)
    assert_root(found["child.work"])
    assert found["child.work"]["trace_id"] != found["parent.run"]["trace_id"]
    assert found["child.work"]["caller"] == "runtime"


def test_child_cli_capture_started_with_child_env_joins_the_parent_span(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    printed: list[dict[str, Any]] = []

    @capture_telemetry(skill_name="parent.run", telemetry=telemetry)
    def parent() -> None:
        result = run_cli(
            "capture", "deploy.run", "success", "5", "CI", "--file", str(telemetry_path),
            env=child_env(),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        printed.append(json.loads(result.stdout.partition("\n\n")[0]))

    parent()
    found = by_skill(telemetry)
    assert_child(found["deploy.run"], found["parent.run"])
    assert found["deploy.run"]["caller"] == "CI"
    assert printed[0] == found["deploy.run"]


def test_child_cli_capture_outside_any_span_has_exactly_the_spec_fields(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    result = run_cli("deploy.run", "success", "5", "CI", "--file", str(telemetry_path))
    assert result.returncode == 0, result.stderr
    assert list(entries(telemetry)[0]) == SPEC_FIELDS


# -- TRACEPARENT -------------------------------------------------------------------------


def top_level_entry(telemetry: TelemetryCapture) -> dict[str, Any]:
    @capture_telemetry(skill_name="run", telemetry=telemetry)
    def run() -> None:
        return None

    run()
    [entry] = entries(telemetry)
    return entry


@pytest.mark.parametrize(
    "value",
    [
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01",
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-00",
        f"01-{REMOTE_TRACE}-{REMOTE_SPAN}-01",
        f"cc-{REMOTE_TRACE}-{REMOTE_SPAN}-01-what-the-future-will-be-like",
    ],
    ids=["version-00", "not-sampled", "future-version", "future-version-extra-fields"],
)
def test_valid_traceparent_makes_the_top_level_run_its_child(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRACEPARENT", value)
    entry = top_level_entry(telemetry)
    assert (entry["trace_id"], entry["parent_id"]) == (REMOTE_TRACE, REMOTE_SPAN)
    assert SPAN_ID.match(entry["span_id"]), entry["span_id"]
    assert entry["span_id"] != REMOTE_SPAN


@pytest.mark.parametrize(
    "value",
    [
        f"00-{REMOTE_TRACE.upper()}-{REMOTE_SPAN}-01",
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN.upper()}-01",
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-0A",
        f"00-{REMOTE_TRACE[:-1]}g-{REMOTE_SPAN}-01",
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN[:-1]}z-01",
        f"00-{REMOTE_TRACE[:-1]}-{REMOTE_SPAN}-01",
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN}0-01",
        f"00-{'0' * 32}-{REMOTE_SPAN}-01",
        f"00-{REMOTE_TRACE}-{'0' * 16}-01",
        f"ff-{REMOTE_TRACE}-{REMOTE_SPAN}-01",
        f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01-extra",
        f"cc-{REMOTE_TRACE}-{REMOTE_SPAN}-01.extra",
        f"0-{REMOTE_TRACE}-{REMOTE_SPAN}-01",
        f"00_{REMOTE_TRACE}_{REMOTE_SPAN}_01",
        "",
        "not a traceparent",
    ],
    ids=[
        "uppercase-trace-id",
        "uppercase-span-id",
        "uppercase-flags",
        "non-hex-trace-id",
        "non-hex-span-id",
        "short-trace-id",
        "long-span-id",
        "zero-trace-id",
        "zero-span-id",
        "version-ff",
        "version-00-extra-fields",
        "future-version-no-dash-before-extra",
        "short-version",
        "wrong-separator",
        "empty",
        "garbage",
    ],
)
def test_invalid_traceparent_is_ignored_and_the_run_starts_a_new_trace(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRACEPARENT", value)
    entry = top_level_entry(telemetry)
    assert_root(entry)
    assert entry["trace_id"] != REMOTE_TRACE


def test_invalid_traceparent_logs_no_warning(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    monkeypatch.setenv("TRACEPARENT", "not a traceparent")
    top_level_entry(telemetry)
    assert [r for r in caplog.records if r.name == "betty_telemetry"] == []


def test_run_under_a_remote_parent_is_the_parent_of_nested_runs(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")

    @capture_telemetry(skill_name="inner", telemetry=telemetry)
    def inner() -> None:
        return None

    @capture_telemetry(skill_name="outer", telemetry=telemetry)
    def outer() -> None:
        inner()

    outer()
    found = by_skill(telemetry)
    assert found["outer"]["parent_id"] == REMOTE_SPAN
    assert_child(found["inner"], found["outer"])


def test_traceparent_alone_leaves_the_caller_runtime(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")
    assert top_level_entry(telemetry)["caller"] == "runtime"


def test_changed_traceparent_is_read_again(
    telemetry: TelemetryCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_trace = "0af7651916cd43dd8448eb211c80319c"
    monkeypatch.setenv("TRACEPARENT", f"00-{REMOTE_TRACE}-{REMOTE_SPAN}-01")

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    monkeypatch.setenv("TRACEPARENT", f"00-{other_trace}-{REMOTE_SPAN}-01")
    run()
    first, second = entries(telemetry)
    assert (first["trace_id"], second["trace_id"]) == (REMOTE_TRACE, other_trace)


# --- ids stay unique whatever the host does with the random module ----------------------------


def test_seeding_the_global_random_module_does_not_repeat_trace_ids(
    telemetry: TelemetryCapture,
) -> None:
    import random

    @capture_telemetry(skill_name="seeded.run", telemetry=telemetry)
    def run() -> None:
        return None

    for _ in range(2):
        random.seed(7)  # a host making its own randomness reproducible
        run()
    first, second = entries(telemetry)
    assert first["trace_id"] != second["trace_id"]
    assert first["span_id"] != second["span_id"]


def test_a_forked_child_draws_other_ids_than_its_parent(tmp_path: Path) -> None:
    script = """
import os, sys
from betty_telemetry.capture.spans import new_span_id, new_trace_id
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, (new_trace_id() + new_span_id()).encode())
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(read, 48).decode()
print(child != new_trace_id() + new_span_id())
"""
    result = run_python("-c", script, check=True)
    assert result.stdout.strip() == "True"
