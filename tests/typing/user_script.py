"""A user's script that uses every documented interface of betty-telemetry, with the types a
type checker must infer for what each returns.

tests/test_typing.py runs ``mypy --strict`` on it against the installed package (its
``py.typed``), as a user's project would, and also runs it, in a folder of its own: every
call here is a real one. ``assert_type`` fails the type check when a result is ``Any``, or
any other type than the one written.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

from typing_extensions import assert_type

import betty_telemetry
from betty_telemetry import (
    CheckReport,
    Conversion,
    Durability,
    Entry,
    LiveExport,
    Pruned,
    Replayed,
    ResolvedPath,
    Rotation,
    Span,
    SqlResult,
    StatsGrouping,
    StatsRow,
    Status,
    StoredStatus,
    TelemetryCapture,
    TelemetryContext,
    TraceNode,
    WrittenReport,
    bind_context,
    capture_telemetry,
    child_env,
    current_span,
)
from betty_telemetry.export import OtlpExport, export_otlp, write_otlp_json
from betty_telemetry.hooks.ids import trace_id as session_trace_id
from betty_telemetry.lifecycle.checking import check
from betty_telemetry.testing import MemoryStore, capture_entries, find, one

HERE = Path.cwd()  # the test runs the script in a folder of its own
telemetry = TelemetryCapture(HERE / "registry" / "telemetry.json")


# -- the decorator (the spec's form, both spellings of the skill, every kind of function) --


@capture_telemetry(skill_name="agent.run", caller="CLI", capture_inputs=True)
def run_agent(agent_path: str, task_context: str | None = None) -> dict[str, str]:
    return {"status": "success", "result": f"{agent_path}: {task_context}"}


@capture_telemetry(
    skill_name="auth.login", capture_inputs=True, sanitize_keys=["password", "api_key"]
)
def login(username: str, password: str) -> bool:
    return bool(username and password)


@capture_telemetry(skill="plugin.build", telemetry=telemetry, capture_output=True)
def build(plugin_path: str) -> int:
    return len(plugin_path)


@capture_telemetry
def bare(count: int) -> list[int]:
    return list(range(count))


@capture_telemetry(skill_name="deploy.run", pending=True, telemetry=telemetry)
def deploy() -> list[Entry]:
    return telemetry.running()


@capture_telemetry(skill_name="agent.think")
async def think(prompt: str) -> str:
    await asyncio.sleep(0)
    return prompt.upper()


@capture_telemetry(skill_name="agent.stream")
def stream(count: int) -> Iterator[int]:
    yield from range(count)


@capture_telemetry(skill_name="agent.astream")
async def astream(count: int) -> AsyncIterator[int]:
    for number in range(count):
        yield number


class Builder:
    @capture_telemetry(skill_name="builder.make")
    def make(self, name: str) -> str:
        return name

    @classmethod
    @capture_telemetry(skill_name="builder.create")
    def create(cls) -> Builder:
        return cls()


assert_type(run_agent("/agents/api.designer", "Design the auth API"), dict[str, str])
assert_type(login("me", password="hunter2"), bool)
assert_type(build("./plugin.yaml"), int)
assert_type(bare(3), list[int])
assert_type(deploy(), list[Entry])
assert_type(asyncio.run(think("plan")), str)
assert_type(list(stream(2)), list[int])
assert_type(Builder.create().make("x"), str)


async def consume() -> list[int]:
    return [number async for number in astream(2)]


assert_type(asyncio.run(consume()), list[int])


# -- the context manager ------------------------------------------------------------------


def build_plugin(plugin_path: str) -> int:
    with TelemetryContext(skill="plugin.build", caller="CLI") as ctx:
        ctx.set_inputs({"plugin_path": plugin_path})
        ctx.set_inputs(mode="fast")
        ctx.set_metadata(size=3)
        ctx.set_output({"archive": "plugin.tar.gz"})
        ctx.set_status("success")
        result = len(plugin_path)
    assert_type(ctx.entry, Entry | None)
    assert_type(ctx.status, Status | None)
    return result


def fail_plugin() -> None:
    with TelemetryContext("plugin.lint", skill_name="plugin.lint", telemetry=telemetry) as ctx:
        ctx.set_error("Validation failed at step 3")
        ctx.set_error(ValueError("bad"), status="failure")
    entry = ctx.entry
    if entry is not None:
        assert_type(entry["status"], StoredStatus)
        assert_type(entry["error_message"], str | None)


async def in_async_block() -> None:
    async with TelemetryContext("nightly.build", pending=True, telemetry=telemetry) as ctx:
        ctx.set_status("success")


build_plugin("./plugin.yaml")
fail_plugin()
asyncio.run(in_async_block())


# -- the programmatic API ------------------------------------------------------------------

entry = telemetry.capture(
    skill="plugin.build",
    status="success",
    duration_ms=320.5,
    caller="CLI",
    inputs={"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
    metadata={"user": "developer@example.com", "environment": "production"},
)
assert_type(entry, Entry)
assert_type(entry["timestamp"], str)
assert_type(entry["duration_ms"], float)
assert_type(entry["inputs"], dict[str, Any])
print(f"Captured: {entry['timestamp']}")
telemetry.capture("workflow.compose", "failure", 2800, "CLI", {"workflow": "api_first"}, "Boom")
status: Status = "timeout"
telemetry.capture("agent.run", status, 10.0, "API", error_message=None, metadata=None)
if "trace_id" in entry:  # the trace fields are there when the entry belongs to a trace
    assert_type(entry["trace_id"], str)
assert_type(entry.get("parent_id"), str | None)


# -- query, and the other reads --------------------------------------------------------------

failures = telemetry.query(status="failure", limit=10)
assert_type(failures, list[Entry])
agent_runs = telemetry.query(skill="agent.*", since="1h")
legacy = telemetry.query(status=["failure", "error", "timeout", "failed"], until="now")
slow = telemetry.query(min_duration_ms=2000, text="timeout", offset=0, archives=False)
wanted: list[StoredStatus] = ["failure", "failed"]
telemetry.query(status=wanted, caller="CLI", since=timedelta(days=7))
for found in failures + agent_runs + legacy + slow:
    print(f"{found['timestamp']}: {found['skill']} - {found['error_message']}")
    if found["status"] == "failed":  # the original framework's word
        print(found.get("error"))

with closing(telemetry.iter_entries(skill="plugin.*")) as entries:
    assert_type(entries, Generator[Entry, None, None])
    assert_type(next(entries, None), Entry | None)

assert_type(telemetry.tail(10), list[Entry])
assert_type(telemetry.tail(5, status="success"), list[Entry])
following = telemetry.follow(backlog=2, poll_interval=0.05, status=["success", "failure"])
with closing(following):
    for new in following:
        assert_type(new, Entry)
        break

assert_type(telemetry.running(), list[Entry])
assert_type(telemetry.sweep("1h", per_skill={"deploy.*": "12h"}), list[Entry])


# -- statistics ----------------------------------------------------------------------------

rows = telemetry.stats(by="skill", since="7d")
assert_type(rows, list[StatsRow])
for row in rows:
    assert_type(row["key"], str | None)
    assert_type(row["count"], int)
    assert_type(row["failure_rate"], float)
    assert_type(row["p95_ms"], float | None)
    assert_type(row["statuses"], dict[str, int])
    print(row["key"], row["count"], f"{row['failure_rate']:.1%}", row["p95_ms"])
grouping: StatsGrouping = "day"
telemetry.stats(grouping, sort="key", status="failure")
for by in ("skill", "caller", "status", "day", "hour"):
    telemetry.stats(by)  # a loop over literals keeps them literal


# -- traces as trees -----------------------------------------------------------------------


def show(node: TraceNode, depth: int = 0) -> None:
    run = node["entry"]
    assert_type(run, Entry)
    print("  " * depth + f"{run['skill']} {run['status']} {run['duration_ms']:.0f} ms")
    for child in node["children"]:
        show(child, depth + 1)


roots = telemetry.trace()
assert_type(roots, list[TraceNode])
for root in roots:
    show(root)
newest = telemetry.last_trace_id()
assert_type(newest, str | None)
if newest is not None:
    telemetry.trace(newest, archives=True)


# -- report, lifecycle, SQL ------------------------------------------------------------------

written = telemetry.report(HERE / "report.html", title="This week", since="7d")
assert_type(written, WrittenReport)
assert_type(betty_telemetry.convert(telemetry.telemetry_file, HERE / "copy.jsonl"), Conversion)
assert_type(check(telemetry.telemetry_file), CheckReport)
assert_type(telemetry.rotate(max_entries=1), Rotation)
assert_type(telemetry.prune("30d"), Pruned)
assert_type(telemetry.archives(), list[str])
assert_type(telemetry.remove_archives(keep=1), list[str])
result = telemetry.sql("SELECT skill, count(*) AS n FROM entries GROUP BY 1", archives=True)
assert_type(result, SqlResult)
print(result.columns, result.rows, result.dicts())
with telemetry.stream_sql("SELECT * FROM entries") as sql_rows:
    for sql_row in sql_rows:
        print(sql_row)


# -- background mode, durability, stores, `with` ---------------------------------------------

durability: Durability = "fsync"
with TelemetryCapture(HERE / "fast.jsonl", background=True, durability=durability) as fast:
    fast.capture("tool.call", "success", 1.2, "agent")
    assert_type(fast.flush(timeout=5), bool)
    assert_type(fast.dropped, int)
assert_type(fast.durability, Durability | None)
in_memory = TelemetryCapture(store=MemoryStore())
in_memory.capture("unit.test", "pending", 0.0, "pytest")
assert_type(TelemetryCapture(":memory:").query(), list[Entry])
where = betty_telemetry.resolve_telemetry_path()
assert_type(where, ResolvedPath)


# -- the testing helpers ---------------------------------------------------------------------

with capture_entries() as captured:
    build("./other.yaml")
assert_type(captured, list[Entry])
assert_type(one(captured, skill="plugin.build"), Entry)
assert_type(find(captured, status="success"), list[Entry])
by_hand: list[dict[str, object]] = [{"skill": "a.b", "status": "success"}]
assert_type(find(by_hand, skill="a.b"), list[dict[str, object]])


# -- traces across threads and processes, OpenTelemetry ------------------------------------

with TelemetryContext("outer", telemetry=telemetry):
    assert_type(current_span(), Span | None)
    environment = child_env()
    assert_type(environment, dict[str, str])
    worker = bind_context(build)
    assert_type(worker("./bound.yaml"), int)
assert_type(session_trace_id("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), str)
assert_type(telemetry.export, LiveExport | None)
assert_type(write_otlp_json(HERE / "spans.jsonl", telemetry.telemetry_file), Replayed)


def replay_to_collector() -> None:  # type-checked, not called: it would need a collector
    exporting = TelemetryCapture(HERE / "x.json", export=OtlpExport("http://collector:4318"))
    done = export_otlp(exporting.telemetry_file, "http://localhost:4318", since="7d")
    assert_type(done, Replayed)
    print(done.sent, done.skipped)


# -- the spec's own imports: the skill folder's modules, installed at top level -------------

import telemetry_capture  # noqa: E402
import telemetry_utils  # noqa: E402

spec_telemetry = telemetry_capture.TelemetryCapture(HERE / "registry" / "spec.json")
assert_type(spec_telemetry.capture("spec.skill", "success", 1.5, "CLI"), Entry)
with telemetry_utils.TelemetryContext(
    "spec.skill", caller="CLI", telemetry=spec_telemetry
) as spec_run:
    assert_type(spec_run.entry, Entry | None)
framework_entry = telemetry_capture.create_telemetry_entry(
    skill_name="spec.skill", inputs={"a": 1}, status="success", duration_ms=2.0
)
telemetry_utils.capture_telemetry(framework_entry)
assert_type(telemetry_capture.VALID_STATUSES, tuple[str, ...])


telemetry.close()
print("done", file=sys.stderr)
