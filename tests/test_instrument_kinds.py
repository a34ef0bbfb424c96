"""``capture_telemetry`` on every kind of function: plain, ``async``, generators, async
generators, methods, classmethods and staticmethods; what each records, that the decorated
callable looks and behaves like the original, and that telemetry never breaks the host."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import betty_telemetry
from betty_telemetry import TelemetryCapture, capture_telemetry
from tests.conftest import SPEC_FIELDS
from tests.stores import corrupt_bytes, stored_lines

pytestmark = pytest.mark.every_store

TRACE_FIELDS = ["trace_id", "span_id", "parent_id"]
MAX_LINE_BYTES = 64 * 1024


def entries(telemetry: TelemetryCapture) -> list[dict[str, Any]]:
    """Every entry in the file, oldest first."""
    return list(reversed(telemetry.query()))


def only_entry(telemetry: TelemetryCapture) -> dict[str, Any]:
    found = entries(telemetry)
    assert len(found) == 1, found
    return found[0]


def raised_by(exc_type: type[BaseException], func: Callable[[], object]) -> BaseException:
    with pytest.raises(exc_type) as excinfo:
        func()
    return excinfo.value


def telemetry_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "betty_telemetry" and record.levelno == logging.WARNING
    ]


@pytest.fixture(autouse=True)
def default_redaction_rules() -> Iterator[None]:
    """Tests may add global redaction patterns; every test starts and ends with the defaults."""
    betty_telemetry.reset_redaction_rules()
    yield
    betty_telemetry.reset_redaction_rules()


# -- plain functions ---------------------------------------------------------------------


def test_sync_function_records_one_success_entry(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="sync.run", telemetry=telemetry)
    def run() -> int:
        return 1

    run()
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["status"], entry["error_message"], entry["metadata"]) == (
        "sync.run",
        "success",
        None,
        {},
    )


def test_sync_function_returns_the_same_object(telemetry: TelemetryCapture) -> None:
    result = object()

    @capture_telemetry(telemetry=telemetry)
    def run() -> object:
        return result

    assert run() is result


def test_sync_function_reraises_the_same_exception_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    error = LookupError("missing")

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        raise error

    assert raised_by(LookupError, run) is error
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("error", "LookupError: missing")


# -- async functions ---------------------------------------------------------------------


def test_async_function_records_one_success_entry(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="async.run", telemetry=telemetry)
    async def run() -> int:
        await asyncio.sleep(0)
        return 1

    assert asyncio.run(run()) == 1
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["status"], entry["error_message"], entry["metadata"]) == (
        "async.run",
        "success",
        None,
        {},
    )


def test_async_function_records_nothing_until_awaited(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    async def run() -> int:
        return 1

    coroutine = run()
    assert entries(telemetry) == []
    assert asyncio.run(coroutine) == 1
    assert len(entries(telemetry)) == 1


def test_async_function_duration_covers_the_awaited_sleep(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    async def run() -> None:
        await asyncio.sleep(0.05)

    asyncio.run(run())
    assert 50.0 <= only_entry(telemetry)["duration_ms"] < 5000.0


def test_async_function_returns_the_same_object(telemetry: TelemetryCapture) -> None:
    result = object()

    @capture_telemetry(telemetry=telemetry)
    async def run() -> object:
        await asyncio.sleep(0)
        return result

    assert asyncio.run(run()) is result


def test_async_function_reraises_the_same_exception_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    error = LookupError("missing")

    @capture_telemetry(telemetry=telemetry)
    async def run() -> None:
        await asyncio.sleep(0)
        raise error

    assert raised_by(LookupError, lambda: asyncio.run(run())) is error
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("error", "LookupError: missing")


def test_cancelled_async_function_records_error_and_stays_cancelled(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(telemetry=telemetry)
    async def run() -> None:
        await asyncio.sleep(10)

    async def main() -> bool:
        task = asyncio.ensure_future(run())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled()

    assert asyncio.run(main()) is True
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("error", "CancelledError")


# -- generators --------------------------------------------------------------------------


def test_exhausted_generator_records_success_with_the_item_count(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="gen.run", telemetry=telemetry)
    def numbers() -> Iterator[int]:
        yield from range(3)

    assert list(numbers()) == [0, 1, 2]
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["status"], entry["error_message"], entry["metadata"]) == (
        "gen.run",
        "success",
        None,
        {"items": 3},
    )


def test_generator_records_nothing_before_it_is_exhausted(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def numbers() -> Iterator[int]:
        yield from range(3)

    stream = numbers()
    assert [next(stream), next(stream), next(stream)] == [0, 1, 2]
    assert entries(telemetry) == []
    assert next(stream, "end") == "end"
    assert only_entry(telemetry)["metadata"] == {"items": 3}


def test_generator_yields_the_same_objects(telemetry: TelemetryCapture) -> None:
    items = [object(), object()]

    @capture_telemetry(telemetry=telemetry)
    def produce() -> Iterator[object]:
        yield from items

    produced = list(produce())
    assert len(produced) == 2
    assert produced[0] is items[0]
    assert produced[1] is items[1]


def test_generator_return_value_is_the_same_object(telemetry: TelemetryCapture) -> None:
    returned = object()

    @capture_telemetry(telemetry=telemetry)
    def produce() -> Iterator[int]:
        yield 1
        return returned  # type: ignore[misc]

    def delegate() -> Iterator[int]:
        value = yield from produce()
        results.append(value)

    results: list[object] = []
    assert list(delegate()) == [1]
    assert results[0] is returned


def test_generator_returning_a_status_dict_sets_the_status(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def produce() -> Iterator[int]:
        yield 1
        return {"status": "failure", "error": "partial batch"}  # type: ignore[misc]

    list(produce())
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "failure",
        "partial batch",
        {"items": 1},
    )


def test_generator_closed_after_break_records_closed_early_when_closed(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(telemetry=telemetry)
    def numbers() -> Iterator[int]:
        yield from range(10)

    stream = numbers()
    for _ in stream:
        break
    assert entries(telemetry) == []
    stream.close()
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "success",
        None,
        {"closed_early": True, "items": 1},
    )


def test_generator_dropped_after_break_records_closed_early(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def numbers() -> Iterator[int]:
        yield from range(10)

    stream = numbers()
    for value in stream:
        if value == 1:
            break
    del stream
    gc.collect()
    assert only_entry(telemetry)["metadata"] == {"closed_early": True, "items": 2}


def test_generator_closing_runs_its_finally_block(telemetry: TelemetryCapture) -> None:
    cleaned: list[bool] = []

    @capture_telemetry(telemetry=telemetry)
    def numbers() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            cleaned.append(True)

    stream = numbers()
    next(stream)
    stream.close()
    assert cleaned == [True]


def test_generator_error_while_closing_propagates_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    error = RuntimeError("cleanup failed")

    @capture_telemetry(telemetry=telemetry)
    def numbers() -> Iterator[int]:
        try:
            yield 1
        finally:
            raise error

    stream = numbers()
    next(stream)
    assert raised_by(RuntimeError, stream.close) is error
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "error",
        "RuntimeError: cleanup failed",
        {"closed_early": True, "items": 1},
    )


def test_generator_exception_mid_iteration_propagates_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    error = ValueError("row 3 is corrupt")

    @capture_telemetry(telemetry=telemetry)
    def rows() -> Iterator[int]:
        yield 1
        yield 2
        raise error

    received: list[int] = []

    def consume() -> None:
        for row in rows():
            received.append(row)

    assert raised_by(ValueError, consume) is error
    assert received == [1, 2]
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "error",
        "ValueError: row 3 is corrupt",
        {"items": 2},
    )


def test_generator_receives_sent_values_unchanged(telemetry: TelemetryCapture) -> None:
    received: list[object] = []

    @capture_telemetry(telemetry=telemetry)
    def echo() -> Any:
        value = yield "ready"
        while value is not None:
            received.append(value)
            value = yield value

    sent = object()
    stream = echo()
    assert next(stream) == "ready"
    assert stream.send(sent) is sent
    assert stream.send(5) == 5
    assert next(stream, "end") == "end"
    assert received[0] is sent
    assert received[1:] == [5]
    assert only_entry(telemetry)["metadata"] == {"items": 3}


def test_generator_receives_a_thrown_exception_unchanged(telemetry: TelemetryCapture) -> None:
    thrown = ValueError("skip this one")
    seen: list[BaseException] = []

    @capture_telemetry(telemetry=telemetry)
    def tolerant() -> Iterator[str]:
        try:
            yield "first"
        except ValueError as exc:
            seen.append(exc)
            yield "recovered"

    stream = tolerant()
    assert next(stream) == "first"
    assert stream.throw(thrown) == "recovered"
    assert seen[0] is thrown
    assert next(stream, "end") == "end"
    entry = only_entry(telemetry)
    assert (entry["status"], entry["metadata"]) == ("success", {"items": 2})


def test_generator_uncaught_thrown_exception_propagates_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    thrown = KeyError("stop")

    @capture_telemetry(telemetry=telemetry)
    def strict() -> Iterator[str]:
        yield "first"
        yield "second"

    stream = strict()
    next(stream)
    assert raised_by(KeyError, lambda: stream.throw(thrown)) is thrown
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "error",
        "KeyError: 'stop'",
        {"items": 1},
    )


# -- async generators --------------------------------------------------------------------


def test_exhausted_async_generator_records_success_with_the_item_count(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(skill_name="agen.run", telemetry=telemetry)
    async def numbers() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    async def main() -> list[int]:
        return [i async for i in numbers()]

    assert asyncio.run(main()) == [0, 1, 2]
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["status"], entry["error_message"], entry["metadata"]) == (
        "agen.run",
        "success",
        None,
        {"items": 3},
    )


def test_async_generator_duration_covers_the_awaited_sleep(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    async def slow() -> AsyncIterator[int]:
        await asyncio.sleep(0.05)
        yield 1

    async def main() -> list[int]:
        return [i async for i in slow()]

    asyncio.run(main())
    assert 50.0 <= only_entry(telemetry)["duration_ms"] < 5000.0


def test_async_generator_yields_the_same_objects(telemetry: TelemetryCapture) -> None:
    items = [object(), object()]

    @capture_telemetry(telemetry=telemetry)
    async def produce() -> AsyncIterator[object]:
        for item in items:
            yield item

    async def main() -> list[object]:
        return [i async for i in produce()]

    produced = asyncio.run(main())
    assert len(produced) == 2
    assert produced[0] is items[0]
    assert produced[1] is items[1]


def test_async_generator_closed_after_break_records_closed_early_on_aclose(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(telemetry=telemetry)
    async def numbers() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    async def main() -> list[dict[str, Any]]:
        stream = numbers()
        async for _ in stream:
            break
        before = entries(telemetry)
        await stream.aclose()
        return before

    assert asyncio.run(main()) == []
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "success",
        None,
        {"closed_early": True, "items": 1},
    )


def test_async_generator_dropped_after_break_records_closed_early(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(telemetry=telemetry)
    async def numbers() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    async def main() -> list[dict[str, Any]]:
        stream = numbers()
        async for value in stream:
            if value == 1:
                break
        del stream
        # asyncio's finalizer hook schedules aclose() with call_soon_threadsafe(create_task),
        # so the closing task takes its first step one loop iteration after that.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return entries(telemetry)

    [entry] = asyncio.run(main())
    assert entry["metadata"] == {"closed_early": True, "items": 2}


def test_async_generator_exception_mid_iteration_propagates_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    error = ValueError("row 3 is corrupt")

    @capture_telemetry(telemetry=telemetry)
    async def rows() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(0)
        yield 2
        raise error

    received: list[int] = []

    async def main() -> None:
        async for row in rows():
            received.append(row)

    assert raised_by(ValueError, lambda: asyncio.run(main())) is error
    assert received == [1, 2]
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "error",
        "ValueError: row 3 is corrupt",
        {"items": 2},
    )


def test_async_generator_receives_sent_values_unchanged(telemetry: TelemetryCapture) -> None:
    received: list[object] = []

    @capture_telemetry(telemetry=telemetry)
    async def echo() -> Any:
        value = yield "ready"
        while value is not None:
            received.append(value)
            value = yield value

    sent = object()

    async def main() -> list[object]:
        stream = echo()
        answers = [await stream.asend(None), await stream.asend(sent), await stream.asend(5)]
        with pytest.raises(StopAsyncIteration):
            await stream.asend(None)
        return answers

    answers = asyncio.run(main())
    assert answers[0] == "ready"
    assert answers[1] is sent
    assert answers[2] == 5
    assert received[0] is sent
    assert received[1:] == [5]
    assert only_entry(telemetry)["metadata"] == {"items": 3}


def test_async_generator_receives_a_thrown_exception_unchanged(
    telemetry: TelemetryCapture,
) -> None:
    thrown = ValueError("skip this one")
    seen: list[BaseException] = []

    @capture_telemetry(telemetry=telemetry)
    async def tolerant() -> AsyncIterator[str]:
        try:
            yield "first"
        except ValueError as exc:
            seen.append(exc)
            yield "recovered"

    async def main() -> list[str]:
        stream = tolerant()
        answers = [await stream.__anext__(), await stream.athrow(thrown)]
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
        return answers

    assert asyncio.run(main()) == ["first", "recovered"]
    assert seen[0] is thrown
    entry = only_entry(telemetry)
    assert (entry["status"], entry["metadata"]) == ("success", {"items": 2})


def test_async_generator_uncaught_thrown_exception_propagates_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    thrown = KeyError("stop")

    @capture_telemetry(telemetry=telemetry)
    async def strict() -> AsyncIterator[str]:
        yield "first"
        yield "second"

    async def main() -> None:
        stream = strict()
        await stream.__anext__()
        await stream.athrow(thrown)

    assert raised_by(KeyError, lambda: asyncio.run(main())) is thrown
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "error",
        "KeyError: 'stop'",
        {"items": 1},
    )


# -- methods, classmethods and staticmethods ---------------------------------------------
# Defined at module level, without a telemetry argument: entries go to the default file,
# ./registry/telemetry.json in the test's own folder, which is the `telemetry` fixture's file
# (the `default_store` fixture makes it so for every other store, naming its file in
# BETTY_TELEMETRY_FILE).


class Widget:
    @capture_telemetry(capture_inputs=True)
    def build(self, size: int, color: str = "red") -> Widget:
        """Build one."""
        return self

    @capture_telemetry(capture_inputs=True)
    @classmethod
    def create_above(cls, name: str, size: int = 3) -> type[Widget]:
        """Decorator above @classmethod."""
        return cls

    @classmethod
    @capture_telemetry(capture_inputs=True)
    def create_below(cls, name: str, size: int = 3) -> type[Widget]:
        """Decorator below @classmethod."""
        return cls

    @capture_telemetry(capture_inputs=True)
    @staticmethod
    def check_above(value: object, strict: bool = False) -> object:
        """Decorator above @staticmethod."""
        return value

    @staticmethod
    @capture_telemetry(capture_inputs=True)
    def check_below(value: object, strict: bool = False) -> object:
        """Decorator below @staticmethod."""
        return value

    @capture_telemetry
    @classmethod
    def bare_class(cls) -> type[Widget]:
        return cls

    @capture_telemetry
    @staticmethod
    def bare_static(value: object) -> object:
        return value

    @capture_telemetry(capture_inputs=True)
    async def fetch(self, key: str) -> str:
        await asyncio.sleep(0)
        return key

    @capture_telemetry(capture_inputs=True)
    @classmethod
    async def load(cls, key: str) -> type[Widget]:
        await asyncio.sleep(0)
        return cls

    @capture_telemetry(capture_inputs=True)
    def parts(self, count: int) -> Iterator[int]:
        yield from range(count)

    @capture_telemetry(capture_inputs=True)
    @staticmethod
    async def stream(count: int) -> AsyncIterator[int]:
        for i in range(count):
            yield i


class PlainWidget:
    """Widget's twin without the decorator: what every decorated member must look like."""

    def build(self, size: int, color: str = "red") -> Widget:
        """Build one."""
        raise NotImplementedError

    @classmethod
    def create_above(cls, name: str, size: int = 3) -> type[Widget]:
        """Decorator above @classmethod."""
        raise NotImplementedError

    @classmethod
    def create_below(cls, name: str, size: int = 3) -> type[Widget]:
        """Decorator below @classmethod."""
        raise NotImplementedError

    @staticmethod
    def check_above(value: object, strict: bool = False) -> object:
        """Decorator above @staticmethod."""
        raise NotImplementedError

    @staticmethod
    def check_below(value: object, strict: bool = False) -> object:
        """Decorator below @staticmethod."""
        raise NotImplementedError

    @classmethod
    def bare_class(cls) -> type[Widget]:
        raise NotImplementedError

    @staticmethod
    def bare_static(value: object) -> object:
        raise NotImplementedError

    async def fetch(self, key: str) -> str:
        raise NotImplementedError

    @classmethod
    async def load(cls, key: str) -> type[Widget]:
        raise NotImplementedError

    def parts(self, count: int) -> Iterator[int]:
        yield from range(count)

    @staticmethod
    async def stream(count: int) -> AsyncIterator[int]:
        yield count


class SubWidget(Widget):
    pass


MEMBERS = [
    "build",
    "create_above",
    "create_below",
    "check_above",
    "check_below",
    "bare_class",
    "bare_static",
    "fetch",
    "load",
    "parts",
    "stream",
]
CLASSMETHODS = ["create_above", "create_below"]
STATICMETHODS = ["check_above", "check_below"]


@pytest.mark.usefixtures("default_store")
def test_method_records_its_inputs_without_self_and_returns_self(
    telemetry: TelemetryCapture,
) -> None:
    widget = Widget()
    assert widget.build(2) is widget
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["inputs"]) == (
        f"{__name__}.Widget.build",
        {"size": 2, "color": "red"},
    )


@pytest.mark.usefixtures("default_store")
@pytest.mark.parametrize("name", CLASSMETHODS)
def test_classmethod_called_on_the_class_gets_the_class(
    telemetry: TelemetryCapture, name: str
) -> None:
    assert getattr(Widget, name)("x") is Widget
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["status"], entry["inputs"]) == (
        f"{__name__}.Widget.{name}",
        "success",
        {"name": "x", "size": 3},
    )


@pytest.mark.usefixtures("default_store")
@pytest.mark.parametrize("name", CLASSMETHODS)
def test_classmethod_called_on_an_instance_gets_the_class(
    telemetry: TelemetryCapture, name: str
) -> None:
    assert getattr(Widget(), name)("x", size=4) is Widget
    assert only_entry(telemetry)["inputs"] == {"name": "x", "size": 4}


@pytest.mark.usefixtures("default_store")
@pytest.mark.parametrize("name", CLASSMETHODS)
def test_classmethod_called_on_a_subclass_gets_the_subclass(
    telemetry: TelemetryCapture, name: str
) -> None:
    assert getattr(SubWidget, name)("x") is SubWidget
    assert only_entry(telemetry)["skill"] == f"{__name__}.Widget.{name}"


@pytest.mark.parametrize("name", CLASSMETHODS)
def test_classmethod_stays_a_classmethod(name: str) -> None:
    assert isinstance(Widget.__dict__[name], classmethod)


@pytest.mark.usefixtures("default_store")
@pytest.mark.parametrize("name", STATICMETHODS)
def test_staticmethod_records_its_inputs_and_returns_the_same_object(
    telemetry: TelemetryCapture, name: str
) -> None:
    value = object()
    assert getattr(Widget, name)(value) is value
    assert getattr(Widget(), name)(value, strict=True) is value
    first, second = entries(telemetry)
    assert first["skill"] == second["skill"] == f"{__name__}.Widget.{name}"
    assert first["inputs"]["strict"] is False
    assert second["inputs"]["strict"] is True
    assert list(first["inputs"]) == ["value", "strict"]


@pytest.mark.parametrize("name", STATICMETHODS)
def test_staticmethod_stays_a_staticmethod(name: str) -> None:
    assert isinstance(Widget.__dict__[name], staticmethod)


@pytest.mark.usefixtures("default_store")
def test_bare_decorator_above_classmethod_records_the_class_method(
    telemetry: TelemetryCapture,
) -> None:
    assert SubWidget.bare_class() is SubWidget
    assert isinstance(Widget.__dict__["bare_class"], classmethod)
    assert only_entry(telemetry)["skill"] == f"{__name__}.Widget.bare_class"


@pytest.mark.usefixtures("default_store")
def test_bare_decorator_above_staticmethod_records_the_static_method(
    telemetry: TelemetryCapture,
) -> None:
    value = object()
    assert Widget.bare_static(value) is value
    assert isinstance(Widget.__dict__["bare_static"], staticmethod)
    assert only_entry(telemetry)["skill"] == f"{__name__}.Widget.bare_static"


@pytest.mark.usefixtures("default_store")
def test_async_method_records_its_inputs_without_self(telemetry: TelemetryCapture) -> None:
    assert asyncio.run(Widget().fetch("k")) == "k"
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["inputs"]) == (f"{__name__}.Widget.fetch", {"key": "k"})


@pytest.mark.usefixtures("default_store")
def test_async_classmethod_records_its_inputs_without_cls(telemetry: TelemetryCapture) -> None:
    assert asyncio.run(SubWidget.load("k")) is SubWidget
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["inputs"]) == (f"{__name__}.Widget.load", {"key": "k"})


@pytest.mark.usefixtures("default_store")
def test_generator_method_records_its_items_and_inputs(telemetry: TelemetryCapture) -> None:
    assert list(Widget().parts(2)) == [0, 1]
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["inputs"], entry["metadata"]) == (
        f"{__name__}.Widget.parts",
        {"count": 2},
        {"items": 2},
    )


@pytest.mark.usefixtures("default_store")
def test_async_generator_staticmethod_records_its_items_and_inputs(
    telemetry: TelemetryCapture,
) -> None:
    async def main() -> list[int]:
        return [i async for i in Widget.stream(2)]

    assert asyncio.run(main()) == [0, 1]
    entry = only_entry(telemetry)
    assert (entry["skill"], entry["inputs"], entry["metadata"]) == (
        f"{__name__}.Widget.stream",
        {"count": 2},
        {"items": 2},
    )


@pytest.mark.parametrize("name", MEMBERS)
def test_decorated_member_has_the_signature_of_the_original(name: str) -> None:
    assert inspect.signature(getattr(Widget, name)) == inspect.signature(getattr(PlainWidget, name))
    assert inspect.signature(getattr(Widget(), name)) == inspect.signature(
        getattr(PlainWidget(), name)
    )


@pytest.mark.parametrize("name", MEMBERS)
def test_decorated_member_keeps_name_and_doc(name: str) -> None:
    decorated, plain = getattr(Widget, name), getattr(PlainWidget, name)
    assert (decorated.__name__, decorated.__doc__) == (plain.__name__, plain.__doc__)
    assert decorated.__qualname__ == f"Widget.{name}"


@pytest.mark.parametrize("name", MEMBERS)
def test_decorated_member_answers_the_kind_questions_like_the_original(name: str) -> None:
    def kinds(member: object) -> tuple[bool, bool, bool]:
        return (
            inspect.iscoroutinefunction(member),
            inspect.isasyncgenfunction(member),
            inspect.isgeneratorfunction(member),
        )

    assert kinds(getattr(Widget, name)) == kinds(getattr(PlainWidget, name))


# -- what the decorated function looks like ----------------------------------------------


def sync_original(path: str, *, retries: int = 3) -> str:
    """Sync docs."""
    return path


async def async_original(path: str, *, retries: int = 3) -> str:
    """Async docs."""
    return path


def generator_original(path: str, *, retries: int = 3) -> Iterator[str]:
    """Generator docs."""
    yield path


async def async_generator_original(path: str, *, retries: int = 3) -> AsyncIterator[str]:
    """Async generator docs."""
    yield path


ORIGINALS = [sync_original, async_original, generator_original, async_generator_original]
KIND_IDS = ["sync", "async", "generator", "async-generator"]


@pytest.mark.parametrize("original", ORIGINALS, ids=KIND_IDS)
def test_decorated_function_wraps_the_original(original: Callable[..., Any]) -> None:
    decorated = capture_telemetry(original)
    assert decorated.__wrapped__ is original  # type: ignore[attr-defined]


@pytest.mark.parametrize("original", ORIGINALS, ids=KIND_IDS)
def test_decorated_function_keeps_name_qualname_and_doc(original: Callable[..., Any]) -> None:
    decorated = capture_telemetry(skill_name="s")(original)
    assert (decorated.__name__, decorated.__qualname__, decorated.__doc__) == (
        original.__name__,
        original.__qualname__,
        original.__doc__,
    )


@pytest.mark.parametrize("original", ORIGINALS, ids=KIND_IDS)
def test_decorated_function_has_the_signature_of_the_original(
    original: Callable[..., Any],
) -> None:
    assert inspect.signature(capture_telemetry(original)) == inspect.signature(original)


@pytest.mark.parametrize(
    ("original", "answers"),
    [
        (sync_original, (False, False, False)),
        (async_original, (True, False, False)),
        (generator_original, (False, False, True)),
        (async_generator_original, (False, True, False)),
    ],
    ids=KIND_IDS,
)
def test_decorated_function_answers_the_kind_questions_like_the_original(
    original: Callable[..., Any], answers: tuple[bool, bool, bool]
) -> None:
    decorated = capture_telemetry(original)
    assert (
        inspect.iscoroutinefunction(decorated),
        inspect.isasyncgenfunction(decorated),
        inspect.isgeneratorfunction(decorated),
    ) == answers


@pytest.mark.usefixtures("default_store")  # the bare decorator writes there
@pytest.mark.parametrize("original", ORIGINALS, ids=KIND_IDS)
def test_default_skill_name_is_module_dot_qualname_for_every_kind(
    telemetry: TelemetryCapture, original: Callable[..., Any]
) -> None:
    run(capture_telemetry(original), "p")
    assert only_entry(telemetry)["skill"] == f"{__name__}.{original.__qualname__}"


@pytest.mark.usefixtures("default_store")  # the bare decorator writes there
@pytest.mark.parametrize("original", ORIGINALS, ids=KIND_IDS)
def test_every_kind_records_the_spec_fields_then_root_trace_ids(
    telemetry: TelemetryCapture, original: Callable[..., Any]
) -> None:
    run(capture_telemetry(original), "p")
    entry = only_entry(telemetry)
    assert list(entry) == SPEC_FIELDS + TRACE_FIELDS
    assert re.fullmatch(r"[0-9a-f]{32}", entry["trace_id"]), entry["trace_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", entry["span_id"]), entry["span_id"]
    assert entry["parent_id"] is None


def test_decorating_a_non_callable_raises_type_error() -> None:
    with pytest.raises(TypeError, match=r"^capture_telemetry decorates functions, got int$"):
        capture_telemetry()(5)


# -- driving every kind the same way -----------------------------------------------------


def run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` as its kind is used, to the end: the return value (the single item, for
    generators), or the exception it raised."""
    if inspect.isasyncgenfunction(func):

        async def drain() -> Any:
            [item] = [i async for i in func(*args, **kwargs)]
            return item

        return asyncio.run(drain())
    if inspect.iscoroutinefunction(func):
        return asyncio.run(func(*args, **kwargs))
    if inspect.isgeneratorfunction(func):
        [item] = list(func(*args, **kwargs))
        return item
    return func(*args, **kwargs)


def host_of_kind(kind: str, result: object, error: BaseException | None) -> Callable[..., Any]:
    """A host function of ``kind`` taking ``data``: it returns (or yields once) ``result``,
    or raises ``error``."""

    def sync(data: object) -> object:
        if error is not None:
            raise error
        return result

    async def coroutine(data: object) -> object:
        await asyncio.sleep(0)
        if error is not None:
            raise error
        return result

    def generator(data: object) -> Iterator[object]:
        if error is not None:
            raise error
        yield result

    async def async_generator(data: object) -> AsyncIterator[object]:
        await asyncio.sleep(0)
        if error is not None:
            raise error
        yield result

    hosts: dict[str, Callable[..., Any]] = {
        "sync": sync,
        "async": coroutine,
        "generator": generator,
        "async-generator": async_generator,
    }
    return hosts[kind]


KINDS = pytest.mark.parametrize("kind", KIND_IDS)


# -- inputs ------------------------------------------------------------------------------


def test_capture_inputs_true_records_every_argument_in_signature_order(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def deploy(service: str, region: str, replicas: int) -> None:
        return None

    deploy(replicas=2, region="eu", service="api")
    assert list(only_entry(telemetry)["inputs"].items()) == [
        ("service", "api"),
        ("region", "eu"),
        ("replicas", 2),
    ]


@KINDS
def test_capture_inputs_true_records_the_arguments_for_every_kind(
    telemetry: TelemetryCapture, kind: str
) -> None:
    run(
        capture_telemetry(capture_inputs=True, telemetry=telemetry)(host_of_kind(kind, 1, None)),
        [1],
    )
    assert only_entry(telemetry)["inputs"] == {"data": [1]}


def test_capture_inputs_names_records_only_those(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=["region", "replicas", "unknown"], telemetry=telemetry)
    def deploy(service: str, region: str, replicas: int = 1) -> None:
        return None

    deploy("api", "eu")
    assert only_entry(telemetry)["inputs"] == {"region": "eu", "replicas": 1}


def test_capture_inputs_false_records_no_inputs(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=False, telemetry=telemetry)
    def deploy(service: str) -> None:
        return None

    deploy("api")
    assert only_entry(telemetry)["inputs"] == {}


def test_exclude_inputs_leaves_those_arguments_out(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, exclude_inputs=["payload"], telemetry=telemetry)
    def upload(name: str, payload: bytes, size: int = 0) -> None:
        return None

    upload("a.bin", b"\x00" * 10)
    assert only_entry(telemetry)["inputs"] == {"name": "a.bin", "size": 0}


def test_exclude_inputs_wins_over_listed_names(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(
        capture_inputs=["name", "payload"], exclude_inputs=["payload"], telemetry=telemetry
    )
    def upload(name: str, payload: bytes) -> None:
        return None

    upload("a.bin", b"x")
    assert only_entry(telemetry)["inputs"] == {"name": "a.bin"}


def test_captured_inputs_apply_defaults(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def deploy(service: str, region: str = "eu", replicas: int = 1) -> None:
        return None

    deploy("api", replicas=3)
    assert only_entry(telemetry)["inputs"] == {"service": "api", "region": "eu", "replicas": 3}


def test_captured_inputs_leave_out_self_even_when_listed(telemetry: TelemetryCapture) -> None:
    class Service:
        @capture_telemetry(capture_inputs=["self", "name"], telemetry=telemetry)
        def start(self, name: str) -> None:
            return None

    Service().start("api")
    assert only_entry(telemetry)["inputs"] == {"name": "api"}


def test_captured_inputs_leave_out_cls_with_the_decorator_above_classmethod(
    telemetry: TelemetryCapture,
) -> None:
    class Service:
        @capture_telemetry(capture_inputs=True, telemetry=telemetry)
        @classmethod
        def start(cls, name: str) -> None:
            return None

    Service.start("api")
    assert only_entry(telemetry)["inputs"] == {"name": "api"}


def test_captured_inputs_name_var_args_and_var_kwargs(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    async def run_all(first: str, *rest: str, **options: int) -> None:
        return None

    asyncio.run(run_all("a", "b", "c", retries=2))
    assert only_entry(telemetry)["inputs"] == {
        "first": "a",
        "rest": ["b", "c"],
        "options": {"retries": 2},
    }


def test_captured_inputs_include_keyword_only_parameters_and_their_defaults(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def deploy(service: str, *, region: str, dry_run: bool = False) -> None:
        return None

    deploy("api", region="eu")
    assert only_entry(telemetry)["inputs"] == {
        "service": "api",
        "region": "eu",
        "dry_run": False,
    }


def test_captured_inputs_include_positional_only_parameters(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def scale(service: str, /, replicas: int = 1) -> None:
        return None

    scale("api", replicas=2)
    assert only_entry(telemetry)["inputs"] == {"service": "api", "replicas": 2}


def test_captured_inputs_are_taken_before_the_function_mutates_them(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def consume(queue: list[int]) -> None:
        queue.clear()

    consume([1, 2])
    assert only_entry(telemetry)["inputs"] == {"queue": [1, 2]}


@KINDS
def test_call_with_wrong_arguments_raises_the_functions_type_error_and_records_error(
    telemetry: TelemetryCapture, kind: str
) -> None:
    plain = host_of_kind(kind, 1, None)
    decorated = capture_telemetry(capture_inputs=True, telemetry=telemetry)(plain)
    expected = raised_by(TypeError, lambda: run(plain, 1, 2))
    actual = raised_by(TypeError, lambda: run(decorated, 1, 2))
    assert str(actual) == str(expected)
    entry = only_entry(telemetry)
    assert (entry["status"], entry["inputs"], entry["error_message"]) == (
        "error",
        {},
        f"TypeError: {expected}",
    )


def test_call_with_an_unknown_keyword_raises_type_error_and_records_error(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def deploy(service: str) -> None:
        return None

    raised_by(TypeError, lambda: deploy("api", colour="red"))  # type: ignore[call-arg]
    entry = only_entry(telemetry)
    assert (entry["status"], entry["inputs"]) == ("error", {})


# -- output ------------------------------------------------------------------------------


class Report:
    def __repr__(self) -> str:
        return "Report(pages=3)"


@pytest.mark.parametrize(
    ("returned", "recorded"),
    [
        ({"rows": [1, 2], "source": "db"}, {"rows": [1, 2], "source": "db"}),
        ([1, "two", None, 3.5], [1, "two", None, 3.5]),
        (Report(), "Report(pages=3)"),
    ],
    ids=["dict", "list", "object"],
)
def test_capture_output_records_the_return_value(
    telemetry: TelemetryCapture, returned: object, recorded: object
) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    def compute() -> object:
        return returned

    assert compute() is returned
    assert only_entry(telemetry)["metadata"] == {"output": recorded}


def test_capture_output_of_a_status_dict_sets_the_status_and_records_it(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    def compute() -> dict[str, str]:
        return {"status": "timeout", "error": "took too long"}

    compute()
    entry = only_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == (
        "timeout",
        "took too long",
        {"output": {"status": "timeout", "error": "took too long"}},
    )


def test_capture_output_of_an_async_function_records_the_awaited_value(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    async def compute() -> list[int]:
        await asyncio.sleep(0)
        return [1, 2]

    asyncio.run(compute())
    assert only_entry(telemetry)["metadata"] == {"output": [1, 2]}


def test_capture_output_of_a_generator_records_the_item_count(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    def produce() -> Iterator[int]:
        yield from range(4)

    list(produce())
    assert only_entry(telemetry)["metadata"] == {"items": 4, "output": 4}


def test_capture_output_of_a_generator_closed_early_records_the_item_count(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    def produce() -> Iterator[int]:
        yield from range(4)

    stream = produce()
    next(stream)
    stream.close()
    assert only_entry(telemetry)["metadata"] == {"closed_early": True, "items": 1, "output": 1}


def test_capture_output_of_an_async_generator_records_the_item_count(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    async def produce() -> AsyncIterator[int]:
        for i in range(2):
            yield i

    async def main() -> list[int]:
        return [i async for i in produce()]

    asyncio.run(main())
    assert only_entry(telemetry)["metadata"] == {"items": 2, "output": 2}


def test_output_is_not_recorded_by_default(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def compute() -> list[int]:
        return [1]

    compute()
    assert only_entry(telemetry)["metadata"] == {}


def test_captured_output_is_redacted(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_output=True, telemetry=telemetry)
    def login() -> dict[str, str]:
        return {"user": "bob", "password": "hunter2"}

    login()
    assert only_entry(telemetry)["metadata"] == {
        "output": {"user": "bob", "password": "***REDACTED***"},
        "redactions": [{"path": "metadata.output.password", "rule": "key:password"}],
    }


# -- never break the host ----------------------------------------------------------------


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def self_referencing() -> dict[str, Any]:
    data: dict[str, Any] = {"name": "loop", "items": []}
    data["self"] = data
    data["items"].append(data["items"])
    return data


def failing_pattern(text: str) -> str:
    raise RuntimeError("redaction pattern exploded")


@dataclass(frozen=True)
class Hazard:
    """Something that goes wrong in telemetry, never in the host."""

    name: str
    warnings: int  # how many warnings the betty_telemetry logger gives for it, in all
    calls: int  # calls made in the repeated-calls test (huge inputs are slow to clean)

    def prepare(self, tmp_path: Path, suffix: str) -> tuple[TelemetryCapture, object]:
        """The capture to decorate with (a store of the kind ``suffix`` names), and the
        argument to call the host with."""
        store = tmp_path / "registry" / f"telemetry{suffix}"
        data: object = "some input text"
        if self.name == "unwritable-store":
            (tmp_path / "blocker").write_text("a regular file, not a folder")
            store = tmp_path / "blocker" / f"telemetry{suffix}"
        elif self.name == "corrupt-store":
            store = tmp_path / f"corrupt{suffix}"
            store.write_bytes(corrupt_bytes(suffix))
        elif self.name == "raising-repr":
            data = BadRepr()
        elif self.name == "self-reference":
            data = self_referencing()
        elif self.name == "huge-string":
            data = "x" * 5_000_000
        elif self.name == "huge-dict":
            data = {f"key{i}": i for i in range(10_000)}
        elif self.name == "failing-pattern":
            betty_telemetry.add_redaction_pattern("boom", failing_pattern)
        return TelemetryCapture(store), data


HAZARDS = [
    Hazard("unwritable-store", warnings=1, calls=10),
    Hazard("corrupt-store", warnings=1, calls=10),
    Hazard("raising-repr", warnings=0, calls=10),
    Hazard("self-reference", warnings=0, calls=10),
    Hazard("huge-string", warnings=0, calls=1),
    Hazard("huge-dict", warnings=0, calls=2),
    Hazard("failing-pattern", warnings=1, calls=10),
]
EVERY_HAZARD = pytest.mark.parametrize("hazard", HAZARDS, ids=[h.name for h in HAZARDS])


@EVERY_HAZARD
@KINDS
def test_hazard_passes_the_return_value_through_unchanged(
    tmp_path: Path, hazard: Hazard, store_suffix: str, kind: str
) -> None:
    capture, data = hazard.prepare(tmp_path, store_suffix)
    result = object()
    plain = host_of_kind(kind, result, None)
    decorated = capture_telemetry(capture_inputs=True, telemetry=capture)(plain)
    assert run(plain, data) is result
    assert run(decorated, data) is result


@EVERY_HAZARD
@KINDS
def test_hazard_passes_the_exception_through_unchanged(
    tmp_path: Path, hazard: Hazard, store_suffix: str, kind: str
) -> None:
    capture, data = hazard.prepare(tmp_path, store_suffix)
    error = ConnectionError("host failure")
    plain = host_of_kind(kind, None, error)
    decorated = capture_telemetry(capture_inputs=True, telemetry=capture)(plain)
    assert raised_by(ConnectionError, lambda: run(plain, data)) is error
    assert raised_by(ConnectionError, lambda: run(decorated, data)) is error


@EVERY_HAZARD
def test_hazard_logs_one_warning_per_cause_across_many_calls(
    tmp_path: Path, hazard: Hazard, store_suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    capture, data = hazard.prepare(tmp_path, store_suffix)
    error = ConnectionError("host failure")
    for kind in KIND_IDS:
        succeeding = capture_telemetry(capture_inputs=True, telemetry=capture)(
            host_of_kind(kind, kind, None)
        )
        failing = capture_telemetry(capture_inputs=True, telemetry=capture)(
            host_of_kind(kind, None, error)
        )
        for _ in range(hazard.calls):
            assert run(succeeding, data) == kind
            assert raised_by(ConnectionError, lambda f=failing: run(f, data)) is error
    assert len(telemetry_warnings(caplog)) == hazard.warnings, caplog.text


def test_two_causes_log_two_warnings(
    tmp_path: Path, store_suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    betty_telemetry.add_redaction_pattern("boom", failing_pattern)
    (tmp_path / "blocker").write_text("a regular file, not a folder")
    broken = TelemetryCapture(tmp_path / "blocker" / f"telemetry{store_suffix}")

    @capture_telemetry(capture_inputs=True, telemetry=broken)
    def run_it(data: str) -> str:
        return data

    for _ in range(10):
        assert run_it("some input text") == "some input text"
    messages = [record.getMessage() for record in telemetry_warnings(caplog)]
    assert len(messages) == 2
    # The rule's own error text may quote the value it failed on: it is withheld.
    assert [m for m in messages if "Redaction rule 'boom' failed, value withheld" in m] != []
    assert not [m for m in messages if "redaction pattern exploded" in m]
    assert [m for m in messages if str(tmp_path / "blocker") in m] != []


@KINDS
def test_corrupt_store_stays_byte_for_byte_unchanged(
    tmp_path: Path, store_suffix: str, kind: str
) -> None:
    capture, data = Hazard("corrupt-store", 1, 1).prepare(tmp_path, store_suffix)
    decorated = capture_telemetry(capture_inputs=True, telemetry=capture)(
        host_of_kind(kind, 1, None)
    )
    for _ in range(5):
        run(decorated, data)
    assert capture.telemetry_file.read_bytes() == corrupt_bytes(store_suffix)


def test_unwritable_store_creates_nothing(tmp_path: Path, store_suffix: str) -> None:
    capture, data = Hazard("unwritable-store", 1, 1).prepare(tmp_path, store_suffix)
    run(capture_telemetry(telemetry=capture)(host_of_kind("sync", 1, None)), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    assert (tmp_path / "blocker").read_text() == "a regular file, not a folder"


def test_input_with_raising_repr_is_recorded_as_unrepresentable(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def handle(data: object) -> None:
        return None

    handle(BadRepr())
    assert only_entry(telemetry)["inputs"] == {
        "data": "<unrepresentable BadRepr: repr raised RuntimeError>"
    }


def test_self_referencing_input_is_recorded_with_circular_markers(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def handle(data: object) -> None:
        return None

    handle(self_referencing())
    assert only_entry(telemetry)["inputs"] == {
        "data": {
            "name": "loop",
            "items": ["<circular reference>"],
            "self": "<circular reference>",
        }
    }


def test_huge_string_input_is_written_in_one_line_within_64_kib(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def handle(data: str) -> int:
        return len(data)

    assert handle("x" * 5_000_000) == 5_000_000
    [line] = stored_lines(telemetry_path)
    assert len(line) <= MAX_LINE_BYTES
    entry = json.loads(line)
    assert entry["status"] == "success"
    assert entry["inputs"]["data"].startswith("x" * 4096 + "...[truncated: 5000000 chars")
    assert entry["metadata"] == {"truncated": ["inputs.data"]}


def test_huge_dict_input_is_written_in_one_line_within_64_kib(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def handle(data: dict[str, int]) -> int:
        return len(data)

    assert handle({f"key{i}": i for i in range(10_000)}) == 10_000
    [line] = stored_lines(telemetry_path)
    assert len(line) <= MAX_LINE_BYTES
    entry = json.loads(line)
    assert entry["status"] == "success"
    # Walked up to 1,000 keys; a marker says how many more there were.
    data = entry["inputs"]["data"]
    assert list(data.items())[:3] == [("key0", 0), ("key1", 1), ("key2", 2)]
    assert len(data) == 1001
    assert data["<left out>"] == "<9000 more keys left out>"
    assert entry["metadata"] == {"truncated": ["inputs.data"]}


def test_failing_redaction_pattern_drops_the_value_it_could_not_check(
    telemetry: TelemetryCapture,
) -> None:
    betty_telemetry.add_redaction_pattern("boom", failing_pattern)

    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def handle(data: str) -> str:
        return data

    assert handle("some input text") == "some input text"
    entry = only_entry(telemetry)
    assert (entry["inputs"], entry["metadata"]) == (
        {"data": "***REDACTED***"},
        {"redactions": [{"path": "inputs.data", "rule": "boom:failed"}]},
    )
