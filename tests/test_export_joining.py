"""Our runs and the application's OpenTelemetry spans form one trace, both ways.

The application's side is the real SDK: a TracerProvider with an in-memory exporter. Ours is a
live export through that provider (``OtlpExport(provider=...)``), so every span, theirs and
ours, ends up in the same list, where parent links are checked.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry._config import LIVE_EXPORTS
from betty_telemetry.export import OtlpExport


class App:
    """An application instrumented with OpenTelemetry, and what it exported."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": "the-app"}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("the-app")

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.exporter.get_finished_spans()}


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def exporting(app: App, tmp_path: Path) -> Iterator[TelemetryCapture]:
    telemetry = TelemetryCapture(tmp_path / "t.json", export=OtlpExport(provider=app.provider))
    try:
        yield telemetry
    finally:
        telemetry.close()
    assert not LIVE_EXPORTS


@pytest.fixture
def local(tmp_path: Path) -> Iterator[TelemetryCapture]:
    telemetry = TelemetryCapture(tmp_path / "local.json", export=False)
    yield telemetry
    telemetry.close()


def hex_ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    assert span.context is not None
    parent = None if span.parent is None else f"{span.parent.span_id:016x}"
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}", parent


def entries_of(telemetry: TelemetryCapture) -> dict[str, dict[str, Any]]:
    return {entry["skill"]: entry for entry in telemetry.query()}


# -- the application's span around our runs (no export needed) -------------------------------


def test_a_decorated_run_inside_an_application_span_joins_its_trace(
    app: App, local: TelemetryCapture
) -> None:
    @capture_telemetry("skill.inner", telemetry=local)
    def inner() -> None:
        pass

    with app.tracer.start_as_current_span("app.request"):
        inner()
    trace_id, span_id, _ = hex_ids(app.spans()["app.request"])
    entry = entries_of(local)["skill.inner"]
    assert (entry["trace_id"], entry["parent_id"]) == (trace_id, span_id)


def test_a_context_and_a_capture_inside_an_application_span_join_it_too(
    app: App, local: TelemetryCapture
) -> None:
    with app.tracer.start_as_current_span("app.request"):
        with TelemetryContext("block", telemetry=local):
            pass
        local.capture("one.off", "success", 1.0, "CLI")
    trace_id, span_id, _ = hex_ids(app.spans()["app.request"])
    entries = entries_of(local)
    for skill in ("block", "one.off"):
        assert (entries[skill]["trace_id"], entries[skill]["parent_id"]) == (trace_id, span_id)


def test_without_an_application_span_runs_start_their_own_trace(local: TelemetryCapture) -> None:
    local.capture("one.off", "success", 1.0, "CLI")
    assert "trace_id" not in entries_of(local)["one.off"]  # the spec's fields, no more


def test_without_live_export_our_own_parent_wins_inside_our_run(
    app: App, local: TelemetryCapture
) -> None:
    """An application span started inside our run cannot be told from one around it: the run
    nests under ours (the application span was exported under its own parent)."""

    @capture_telemetry("outer", telemetry=local)
    def outer() -> None:
        with (
            app.tracer.start_as_current_span("app.step"),
            TelemetryContext("inner", telemetry=local),
        ):
            pass

    with app.tracer.start_as_current_span("app.request"):
        outer()
    entries = entries_of(local)
    assert entries["inner"]["parent_id"] == entries["outer"]["span_id"]
    assert hex_ids(app.spans()["app.step"])[2] == hex_ids(app.spans()["app.request"])[1]


# -- with live export: our runs are current spans, both kinds nest ---------------------------


def test_both_kinds_of_spans_nest_in_one_trace(app: App, exporting: TelemetryCapture) -> None:
    @capture_telemetry("skill.outer", telemetry=exporting)
    def outer() -> None:
        with (
            app.tracer.start_as_current_span("app.db"),
            TelemetryContext("skill.inner", telemetry=exporting),
            app.tracer.start_as_current_span("app.http"),
        ):
            pass

    with app.tracer.start_as_current_span("app.request"):
        outer()
    assert exporting.flush(10)
    spans = app.spans()
    assert set(spans) == {"app.request", "skill.outer", "app.db", "skill.inner", "app.http"}
    ids = {name: hex_ids(span) for name, span in spans.items()}
    assert len({trace_id for trace_id, _, _ in ids.values()}) == 1
    chain = ["app.request", "skill.outer", "app.db", "skill.inner", "app.http"]
    for parent, child in itertools.pairwise(chain):
        assert ids[child][2] == ids[parent][1], f"{child} should nest under {parent}"
    entries = entries_of(exporting)
    for skill in ("skill.outer", "skill.inner"):  # the exported span is the entry
        entry = entries[skill]
        assert ids[skill] == (entry["trace_id"], entry["span_id"], entry["parent_id"])
    assert spans["skill.outer"].resource.attributes["service.name"] == "the-app"


def test_an_exception_leaves_the_context_as_it_was(app: App, exporting: TelemetryCapture) -> None:
    @capture_telemetry("skill.fails", telemetry=exporting)
    def fails() -> None:
        raise KeyError("k")

    with app.tracer.start_as_current_span("app.request") as request:
        with pytest.raises(KeyError):
            fails()
        assert trace.get_current_span() is request
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert exporting.flush(10)
    assert app.spans()["skill.fails"].status.status_code is trace.StatusCode.ERROR


def test_a_generator_is_current_only_while_its_own_code_runs(
    app: App, exporting: TelemetryCapture
) -> None:
    @capture_telemetry("skill.items", telemetry=exporting)
    def items() -> Iterator[int]:
        with app.tracer.start_as_current_span("app.inside"):
            yield 1
        yield 2

    with app.tracer.start_as_current_span("app.request"):
        for _ in items():
            with app.tracer.start_as_current_span("app.consumer"):
                pass
    assert exporting.flush(10)
    ids = {name: hex_ids(span) for name, span in app.spans().items()}
    assert ids["app.inside"][2] == ids["skill.items"][1]
    assert ids["app.consumer"][2] == ids["app.request"][1]  # not under the generator


def test_concurrent_tasks_each_nest_their_own_spans(app: App, exporting: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=exporting)
    async def task(name: str) -> None:
        with app.tracer.start_as_current_span(f"app.{name}"):
            await asyncio.sleep(0.01)

    async def main() -> None:
        await asyncio.gather(task("a"), task("b"))

    asyncio.run(main())
    assert exporting.flush(10)
    spans = app.spans()
    (skill,) = {name for name in spans if name.endswith("task")}
    runs = [span for span in app.exporter.get_finished_spans() if span.name == skill]
    run_ids = {hex_ids(run)[1] for run in runs}
    assert {hex_ids(spans["app.a"])[2], hex_ids(spans["app.b"])[2]} == run_ids


def test_after_the_export_closes_runs_are_no_longer_current_spans(app: App, tmp_path: Path) -> None:
    telemetry = TelemetryCapture(tmp_path / "t.json", export=OtlpExport(provider=app.provider))
    telemetry.close()
    with TelemetryContext("skill", telemetry=telemetry):
        assert trace.get_current_span() is trace.INVALID_SPAN
    telemetry.close()


# -- the application's global provider, in a process of its own ------------------------------

APPLICATION = """
import json, os
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": "global-app"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from betty_telemetry import capture_telemetry, TelemetryCapture
from betty_telemetry.capture.defaults import default_capture

@capture_telemetry("skill.run")
def run():
    with trace.get_tracer("app").start_as_current_span("app.inside"):
        pass

run()
assert default_capture().flush(10)
print(json.dumps([
    [s.name, s.resource.attributes["service.name"], s.parent and f"{s.parent.span_id:016x}",
     f"{s.context.span_id:016x}"]
    for s in exporter.get_finished_spans()
]))
"""


def test_the_environment_switch_uses_the_application_provider(tmp_path: Path) -> None:
    env = {"BETTY_TELEMETRY_EXPORT": "otlp", "BETTY_TELEMETRY_FILE": str(tmp_path / "t.json")}
    result = run_python(APPLICATION, env)
    spans = {name: (service, parent, span) for name, service, parent, span in result}
    assert spans["skill.run"][0] == "global-app"
    assert spans["app.inside"][1] == spans["skill.run"][2]


BLOCKED = """
import sys, logging
logging.basicConfig(level=logging.WARNING, format="%(message)s")
sys.modules["opentelemetry"] = None  # as if the [otel] extra were not installed
from betty_telemetry import TelemetryCapture
telemetry = TelemetryCapture(sys.argv[1])  # asked by the environment: warn, go on
telemetry.capture("still.stored", "success", 1.0, "CLI")
try:
    TelemetryCapture(sys.argv[1], export="otlp")  # asked in code: fail
except ImportError as error:
    print("ImportError:", error)
"""


def test_without_the_extra_code_gets_an_import_error_and_the_environment_a_warning(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.json"
    process = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(path)],
        env={**base_env(), "BETTY_TELEMETRY_EXPORT": "otlp"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "pip install 'betty-telemetry[otel]'" in process.stdout
    assert "BETTY_TELEMETRY_EXPORT=otlp is ignored" in process.stderr
    assert [entry["skill"] for entry in json.loads(path.read_text())] == ["still.stored"]


def test_a_bad_environment_value_says_what_is_accepted(tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BETTY_TELEMETRY_EXPORT", "jaeger")
        with pytest.raises(ValueError, match="BETTY_TELEMETRY_EXPORT must be 'otlp' or 'none'"):
            TelemetryCapture(tmp_path / "t.json")


@pytest.mark.parametrize("export", [42, "zipkin", OtlpExport])
def test_a_bad_export_argument_is_refused(tmp_path: Path, export: object) -> None:
    with pytest.raises(TypeError, match="export must be an OtlpExport"):
        TelemetryCapture(tmp_path / "t.json", export=export)  # type: ignore[arg-type]


def test_a_provider_that_is_not_the_sdk_one_is_refused(tmp_path: Path) -> None:
    telemetry = TelemetryCapture(tmp_path / "t.json", export=OtlpExport(provider=object()))
    try:
        telemetry.capture("x", "success", 1.0, "CLI")  # stored; the export reports its failure
        telemetry.flush(10)
        assert telemetry.export is not None
        assert telemetry.export.dropped == 1
    finally:
        telemetry.close()
    assert [entry["skill"] for entry in telemetry.query()] == ["x"]


def base_env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if not key.startswith("BETTY_")}


def run_python(code: str, env: dict[str, str]) -> Any:
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.splitlines()[-1])
