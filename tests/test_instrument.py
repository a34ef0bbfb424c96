"""The ``capture_telemetry`` decorator and ``TelemetryContext``: what they record, and that
telemetry never breaks the host program."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import REDACTED, TelemetryCapture, TelemetryContext, capture_telemetry
from tests.conftest import SPEC_FIELDS
from tests.stores import corrupt_bytes

pytestmark = pytest.mark.every_store

TRACE_FIELDS = ["trace_id", "span_id", "parent_id"]
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
SPEC_STATUS_ERROR = (
    "Invalid status: invalid_status. Must be one of: success, failure, timeout, error, pending"
)


def last_entry(telemetry: TelemetryCapture) -> dict[str, Any]:
    entries = telemetry.query(limit=1)
    assert len(entries) == 1
    return entries[0]


def call_expecting(exc_type: type[BaseException], func: Callable[[], object]) -> BaseException:
    """Run ``func`` and return the exception it raised (which must be an ``exc_type``)."""
    with pytest.raises(exc_type) as excinfo:
        func()
    return excinfo.value


# -- decorator: names and signature ------------------------------------------------------


def test_bare_decorator_names_the_skill_module_dot_qualname(telemetry_env: Path) -> None:
    @capture_telemetry
    def build() -> int:
        return 1

    build()
    entry = last_entry(TelemetryCapture(telemetry_env))
    expected = f"{__name__}.test_bare_decorator_names_the_skill_module_dot_qualname.<locals>.build"
    assert entry["skill"] == expected


def test_decorator_with_empty_parentheses_names_the_skill_module_dot_qualname(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(telemetry=telemetry)
    def build() -> None:
        return None

    build()
    assert last_entry(telemetry)["skill"] == (
        f"{__name__}.test_decorator_with_empty_parentheses_names_the_skill_module_dot_qualname"
        ".<locals>.build"
    )


def test_skill_name_overrides_the_default(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="agent.run", telemetry=telemetry)
    def build() -> None:
        return None

    build()
    assert last_entry(telemetry)["skill"] == "agent.run"


def test_default_caller_is_runtime(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def build() -> None:
        return None

    build()
    assert last_entry(telemetry)["caller"] == "runtime"


def test_decorator_accepts_the_spec_parameters_positionally(telemetry: TelemetryCapture) -> None:
    @capture_telemetry("auth.login", "CLI", True, ["password"], telemetry=telemetry)
    def login(user: str, password: str) -> None:
        return None

    login("bob", "pw")
    entry = last_entry(telemetry)
    assert (entry["skill"], entry["caller"], entry["inputs"]) == (
        "auth.login",
        "CLI",
        {"user": "bob", "password": REDACTED},
    )


def test_bare_decorator_records_the_spec_defaults(telemetry_env: Path) -> None:
    @capture_telemetry
    def build(path: str) -> None:
        return None

    build("./plugin.yaml")
    entry = last_entry(TelemetryCapture(telemetry_env))
    assert (entry["status"], entry["caller"], entry["inputs"], entry["error_message"]) == (
        "success",
        "runtime",
        {},
        None,
    )


@pytest.mark.parametrize("caller", ["", "  "])
def test_decorator_refuses_an_empty_caller(caller: Any) -> None:
    with pytest.raises(ValueError, match=r"^caller must be a non-empty string"):
        capture_telemetry(caller=caller)


def test_caller_none_at_top_level_records_runtime(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(caller=None, telemetry=telemetry)
    def build() -> None:
        return None

    build()
    assert last_entry(telemetry)["caller"] == "runtime"


@pytest.mark.parametrize("skill_name", ["", "  ", 5], ids=repr)
def test_decorator_refuses_an_empty_or_non_string_skill_name(skill_name: Any) -> None:
    with pytest.raises(ValueError, match=r"^skill_name must be a non-empty string"):
        capture_telemetry(skill_name=skill_name)


def test_decorator_keeps_the_function_metadata(telemetry: TelemetryCapture) -> None:
    def build(path: str) -> str:
        """Build a plugin."""
        return path

    wrapped = capture_telemetry(telemetry=telemetry)(build)
    assert wrapped.__name__ == "build"
    assert wrapped.__qualname__ == build.__qualname__
    assert wrapped.__doc__ == "Build a plugin."
    assert wrapped.__wrapped__ is build  # type: ignore[attr-defined]


def test_bare_decorator_keeps_the_function_metadata() -> None:
    def build() -> None:
        """Docs."""

    wrapped = capture_telemetry(build)
    assert (wrapped.__name__, wrapped.__doc__, wrapped.__wrapped__) == ("build", "Docs.", build)  # type: ignore[attr-defined]


def test_each_call_records_one_entry(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(skill_name="s", telemetry=telemetry)
    def build() -> None:
        return None

    for _ in range(3):
        build()
    assert len(telemetry.query()) == 3


# -- decorator: status from the outcome --------------------------------------------------


def test_return_value_is_passed_through_by_identity(telemetry: TelemetryCapture) -> None:
    result = {"status": "success", "result": [1, 2]}

    @capture_telemetry(telemetry=telemetry)
    def run() -> dict[str, Any]:
        return result

    assert run() is result


def test_plain_return_records_success(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> int:
        return 42

    run()
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["metadata"]) == ("success", None, {})


@pytest.mark.parametrize("status", ["success", "failure", "timeout", "error", "pending"])
def test_returned_dict_with_valid_status_sets_the_status(
    telemetry: TelemetryCapture, status: str
) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> dict[str, str]:
        return {"status": status}

    run()
    entry = last_entry(telemetry)
    assert (entry["status"], entry["metadata"]) == (status, {})


@pytest.mark.parametrize("returned", ["done", "SUCCESS", "failed", "", 5, None, ["x"]], ids=repr)
def test_returned_invalid_status_records_success_and_keeps_the_raw_value(
    telemetry: TelemetryCapture, returned: object
) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> dict[str, object]:
        return {"status": returned}

    run()
    entry = last_entry(telemetry)
    assert (entry["status"], entry["metadata"]) == ("success", {"returned_status": returned})


def test_returned_dict_without_status_records_success(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> dict[str, int]:
        return {"result": 1}

    run()
    assert (last_entry(telemetry)["status"], last_entry(telemetry)["metadata"]) == ("success", {})


def test_exception_records_error_with_type_and_message(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        raise ValueError("plugin.yaml is missing")

    call_expecting(ValueError, run)
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == (
        "error",
        "ValueError: plugin.yaml is missing",
    )


def test_exception_without_message_records_its_type(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        raise KeyError

    call_expecting(KeyError, run)
    assert last_entry(telemetry)["error_message"] == "KeyError"


def test_the_same_exception_object_is_re_raised(telemetry: TelemetryCapture) -> None:
    raised = RuntimeError("boom")

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        raise raised

    assert call_expecting(RuntimeError, run) is raised


def test_keyboard_interrupt_is_recorded_and_re_raised(telemetry: TelemetryCapture) -> None:
    raised = KeyboardInterrupt()

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        raise raised

    assert call_expecting(KeyboardInterrupt, run) is raised
    assert last_entry(telemetry)["status"] == "error"


@pytest.mark.parametrize("code", [0, None])
def test_system_exit_with_success_code_records_success(
    telemetry: TelemetryCapture, code: int | None
) -> None:
    raised = SystemExit(code)

    @capture_telemetry(telemetry=telemetry)
    def main() -> None:
        raise raised

    assert call_expecting(SystemExit, main) is raised
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("success", None)


@pytest.mark.parametrize(
    ("code", "message"), [(2, "SystemExit: 2"), ("bad usage", "SystemExit: bad usage")]
)
def test_system_exit_with_failure_code_records_failure(
    telemetry: TelemetryCapture, code: object, message: str
) -> None:
    raised = SystemExit(code)

    @capture_telemetry(telemetry=telemetry)
    def main() -> None:
        raise raised

    assert call_expecting(SystemExit, main) is raised
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("failure", message)


def test_wrong_call_arguments_record_error_and_raise_type_error(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def run(a: int) -> int:
        return a

    call_expecting(TypeError, lambda: run(1, 2))  # type: ignore[call-arg]
    entry = last_entry(telemetry)
    assert (entry["status"], entry["inputs"]) == ("error", {})
    assert entry["error_message"].startswith("TypeError: ")


def test_duration_measures_the_call(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def slow() -> None:
        time.sleep(0.05)

    slow()
    assert 50.0 <= last_entry(telemetry)["duration_ms"] < 5000.0


def test_duration_is_measured_when_the_function_raises(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def slow() -> None:
        time.sleep(0.05)
        raise ValueError("late")

    call_expecting(ValueError, slow)
    assert last_entry(telemetry)["duration_ms"] >= 50.0


def test_decorated_entry_has_the_spec_fields(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    entry = last_entry(telemetry)
    assert list(entry) == SPEC_FIELDS + TRACE_FIELDS
    assert TRACE_ID.match(entry["trace_id"]), entry["trace_id"]
    assert SPAN_ID.match(entry["span_id"]), entry["span_id"]
    assert entry["parent_id"] is None


# -- decorator: inputs -------------------------------------------------------------------


def test_inputs_are_not_captured_by_default(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(telemetry=telemetry)
    def run(secret: str) -> None:
        return None

    run("s3cret")
    assert last_entry(telemetry)["inputs"] == {}


def test_captured_inputs_include_defaults(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def run_agent(agent_path: str, task_context: str | None = None, retries: int = 3) -> None:
        return None

    run_agent("/agents/api.designer", retries=5)
    assert last_entry(telemetry)["inputs"] == {
        "agent_path": "/agents/api.designer",
        "task_context": None,
        "retries": 5,
    }


def test_captured_inputs_name_var_args_and_var_kwargs(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def run(a: int, *args: int, flag: bool = False, **kwargs: str) -> None:
        return None

    run(1, 2, 3, mode="fast")
    assert last_entry(telemetry)["inputs"] == {
        "a": 1,
        "args": [2, 3],
        "flag": False,
        "kwargs": {"mode": "fast"},
    }


def test_empty_var_args_and_var_kwargs_are_recorded_empty(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def run(*args: int, **kwargs: int) -> None:
        return None

    run()
    assert last_entry(telemetry)["inputs"] == {"args": [], "kwargs": {}}


def test_method_inputs_leave_out_self(telemetry: TelemetryCapture) -> None:
    class Builder:
        @capture_telemetry(capture_inputs=True, telemetry=telemetry)
        def build(self, path: str, fmt: str = "tar.gz") -> str:
            return path

    Builder().build("./plugin.yaml")
    assert last_entry(telemetry)["inputs"] == {"path": "./plugin.yaml", "fmt": "tar.gz"}


def test_classmethod_inputs_leave_out_cls(telemetry: TelemetryCapture) -> None:
    class Builder:
        @classmethod
        @capture_telemetry(capture_inputs=True, telemetry=telemetry)
        def create(cls, name: str, size: int = 3) -> type[Builder]:
            return cls

    assert Builder.create("x") is Builder
    assert last_entry(telemetry)["inputs"] == {"name": "x", "size": 3}


def test_method_skill_name_includes_the_class(telemetry: TelemetryCapture) -> None:
    class Builder:
        @capture_telemetry(telemetry=telemetry)
        def build(self) -> None:
            return None

    Builder().build()
    assert last_entry(telemetry)["skill"] == (
        f"{__name__}.test_method_skill_name_includes_the_class.<locals>.Builder.build"
    )


def test_sanitize_keys_mask_arguments(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(
        capture_inputs=True, sanitize_keys=["password", "api_key"], telemetry=telemetry
    )
    def login(username: str, password: str, api_key: str = "default-key") -> None:
        return None

    login("bob", "hunter2")
    assert last_entry(telemetry)["inputs"] == {
        "username": "bob",
        "password": REDACTED,
        "api_key": REDACTED,
    }


def test_sanitize_keys_mask_at_any_depth_and_ignore_case(telemetry: TelemetryCapture) -> None:
    # redact=False: only sanitize_keys apply, so every mask below is theirs.
    @capture_telemetry(
        capture_inputs=True, sanitize_keys=["Token"], redact=False, telemetry=telemetry
    )
    def call(config: dict[str, Any]) -> None:
        return None

    call({"servers": [{"host": "a", "TOKEN": "t1"}, {"host": "b", "auth": {"token": "t2"}}]})
    entry = last_entry(telemetry)
    assert entry["inputs"] == {
        "config": {
            "servers": [
                {"host": "a", "TOKEN": REDACTED},
                {"host": "b", "auth": {"token": REDACTED}},
            ]
        }
    }
    assert entry["metadata"] == {
        "redactions": [
            {"path": "inputs.config.servers[0].TOKEN", "rule": "sanitize_keys"},
            {"path": "inputs.config.servers[1].auth.token", "rule": "sanitize_keys"},
        ]
    }


def test_default_rules_mask_a_secret_named_key_whole_beside_sanitize_keys(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, sanitize_keys=["Token"], telemetry=telemetry)
    def call(config: dict[str, Any]) -> None:
        return None

    call({"servers": [{"host": "a", "TOKEN": "t1"}, {"host": "b", "auth": {"token": "t2"}}]})
    entry = last_entry(telemetry)
    assert entry["inputs"] == {
        "config": {"servers": [{"host": "a", "TOKEN": REDACTED}, {"host": "b", "auth": REDACTED}]}
    }
    assert entry["metadata"] == {
        "redactions": [
            {"path": "inputs.config.servers[0].TOKEN", "rule": "sanitize_keys"},
            {"path": "inputs.config.servers[1].auth", "rule": "key:auth"},
        ]
    }


def test_sanitize_keys_mask_var_kwargs(telemetry: TelemetryCapture) -> None:
    @capture_telemetry(capture_inputs=True, sanitize_keys=["password"], telemetry=telemetry)
    def call(**options: str) -> None:
        return None

    call(password="pw", user="bob")
    assert last_entry(telemetry)["inputs"] == {"options": {"password": REDACTED, "user": "bob"}}


def test_exotic_arguments_are_recorded_safely(telemetry: TelemetryCapture) -> None:
    class Opaque:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def call(data: object, tags: set[str], raw: bytes) -> str:
        return "ok"

    assert call(Opaque(), {"b", "a"}, b"\xff") == "ok"
    entry = last_entry(telemetry)
    assert entry["inputs"] == {
        "data": "<unrepresentable test_exotic_arguments_are_recorded_safely.<locals>.Opaque: "
        "repr raised RuntimeError>",
        "tags": ["a", "b"],
        "raw": "\\xff",
    }
    assert entry["status"] == "success"


# -- TelemetryContext --------------------------------------------------------------------


def test_context_records_success_by_default(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("plugin.build", telemetry=telemetry):
        pass
    entry = last_entry(telemetry)
    assert (entry["skill"], entry["status"], entry["caller"], entry["error_message"]) == (
        "plugin.build",
        "success",
        "runtime",
        None,
    )


def test_context_accepts_skill_caller_and_inputs_positionally(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("plugin.build", "CLI", {"plugin_path": "./p.yaml"}, telemetry=telemetry):
        pass
    entry = last_entry(telemetry)
    assert (entry["caller"], entry["inputs"]) == ("CLI", {"plugin_path": "./p.yaml"})


def test_context_entry_holds_the_stored_entry(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("plugin.build", inputs={"a": 1}, telemetry=telemetry) as ctx:
        ctx.set_metadata(user="dev")
    assert ctx.entry is not None
    assert ctx.entry == last_entry(telemetry)
    assert ctx.entry["metadata"] == {"user": "dev"}


def test_context_entry_is_none_inside_the_block(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("plugin.build", telemetry=telemetry) as ctx:
        assert ctx.entry is None


def test_context_set_inputs_merges(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("s", inputs={"a": 1, "b": 1}, telemetry=telemetry) as ctx:
        ctx.set_inputs({"b": 2, "c": 3})
        ctx.set_inputs(d=4)
    assert last_entry(telemetry)["inputs"] == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_context_set_metadata_merges(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("s", telemetry=telemetry) as ctx:
        ctx.set_metadata({"user": "dev", "env": "test"})
        ctx.set_metadata({"env": "prod"}, session_id="s-1", session_token="t-1")
    # session_id names a session (agent frameworks correlate runs by it); the token is secret
    assert last_entry(telemetry)["metadata"] == {
        "user": "dev",
        "env": "prod",
        "session_id": "s-1",
        "session_token": REDACTED,
        "redactions": [{"path": "metadata.session_token", "rule": "key:session"}],
    }


@pytest.mark.parametrize("status", ["success", "failure", "timeout", "error", "pending"])
def test_context_set_status_sets_the_status(telemetry: TelemetryCapture, status: str) -> None:
    with TelemetryContext("s", telemetry=telemetry) as ctx:
        ctx.set_status(status)
    assert last_entry(telemetry)["status"] == status


def test_context_set_status_refuses_an_unknown_status_with_the_spec_message() -> None:
    ctx = TelemetryContext("s")
    with pytest.raises(ValueError, match=re.escape(SPEC_STATUS_ERROR)) as excinfo:
        ctx.set_status("invalid_status")
    assert str(excinfo.value) == SPEC_STATUS_ERROR


def test_context_set_error_records_error_and_message(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("s", telemetry=telemetry) as ctx:
        ctx.set_error("Validation failed at step 3")
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("error", "Validation failed at step 3")


def test_context_set_error_with_an_exception_records_type_and_message(
    telemetry: TelemetryCapture,
) -> None:
    with TelemetryContext("s", telemetry=telemetry) as ctx:
        ctx.set_error(OSError("disk full"))
    assert last_entry(telemetry)["error_message"] == "OSError: disk full"


def test_context_exception_records_error_and_propagates_the_same_object(
    telemetry: TelemetryCapture,
) -> None:
    raised = RuntimeError("build broke")

    def block() -> None:
        with TelemetryContext("plugin.build", telemetry=telemetry) as ctx:
            ctx.set_status("success")
            raise raised

    assert call_expecting(RuntimeError, block) is raised
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"]) == ("error", "RuntimeError: build broke")


def test_context_spec_example_set_error_then_raise(telemetry: TelemetryCapture) -> None:
    raised = ValueError("archive failed")

    def build_plugin() -> None:
        with TelemetryContext(skill="plugin.build", caller="CLI", telemetry=telemetry) as ctx:
            ctx.set_inputs({"plugin_path": "./p.yaml"})
            try:
                raise raised
            except Exception as e:
                ctx.set_error(str(e))
                raise

    assert call_expecting(ValueError, build_plugin) is raised
    entry = last_entry(telemetry)
    assert (entry["status"], entry["error_message"], entry["inputs"]) == (
        "error",
        "archive failed",
        {"plugin_path": "./p.yaml"},
    )


def test_context_duration_measures_the_block(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("s", telemetry=telemetry):
        time.sleep(0.05)
    assert 50.0 <= last_entry(telemetry)["duration_ms"] < 5000.0


def test_context_uses_the_telemetry_file_variable(telemetry_env: Path) -> None:
    with TelemetryContext("s", caller="CLI") as ctx:
        pass
    assert ctx.entry == last_entry(TelemetryCapture(telemetry_env))


def test_context_refuses_an_empty_skill() -> None:
    with pytest.raises(ValueError, match=r"^skill must be a non-empty string"):
        TelemetryContext("")


def test_context_refuses_non_mapping_inputs() -> None:
    with pytest.raises(ValueError, match=r"^inputs must be a mapping"):
        TelemetryContext("s", inputs=["a"])  # type: ignore[arg-type]


# -- never break the host ----------------------------------------------------------------


# Each makes a store of the kind under test (named by ``suffix``) that cannot be written.


def unwritable_store(tmp_path: Path, suffix: str) -> Path:
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file, not a folder")
    return blocker / f"telemetry{suffix}"


def corrupt_store(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(corrupt_bytes(suffix))
    return path


def directory_store(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"store_dir{suffix}"
    path.mkdir()
    return path


BROKEN_STORES = pytest.mark.parametrize(
    "make_store",
    [unwritable_store, corrupt_store, directory_store],
    ids=["parent-is-a-file", "corrupt", "directory"],
)


def telemetry_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "betty_telemetry" and record.levelno == logging.WARNING
    ]


@BROKEN_STORES
def test_broken_store_passes_the_return_value_through(
    tmp_path: Path, make_store: Callable[[Path, str], Path], store_suffix: str
) -> None:
    result = {"status": "success", "data": [1]}

    @capture_telemetry(telemetry=TelemetryCapture(make_store(tmp_path, store_suffix)))
    def run() -> dict[str, Any]:
        return result

    assert run() is result


@BROKEN_STORES
def test_broken_store_passes_the_exception_through(
    tmp_path: Path, make_store: Callable[[Path, str], Path], store_suffix: str
) -> None:
    raised = LookupError("host failure")

    @capture_telemetry(telemetry=TelemetryCapture(make_store(tmp_path, store_suffix)))
    def run() -> None:
        raise raised

    assert call_expecting(LookupError, run) is raised


@BROKEN_STORES
def test_broken_store_passes_system_exit_through(
    tmp_path: Path, make_store: Callable[[Path, str], Path], store_suffix: str
) -> None:
    raised = SystemExit(3)

    @capture_telemetry(telemetry=TelemetryCapture(make_store(tmp_path, store_suffix)))
    def main() -> None:
        raise raised

    assert call_expecting(SystemExit, main) is raised


@BROKEN_STORES
def test_broken_store_logs_exactly_one_warning_across_many_calls(
    tmp_path: Path,
    make_store: Callable[[Path, str], Path],
    store_suffix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = make_store(tmp_path, store_suffix)

    @capture_telemetry(telemetry=TelemetryCapture(path))
    def run(fail: bool) -> int:
        if fail:
            raise ValueError("host")
        return 1

    for i in range(20):
        if i % 2:
            call_expecting(ValueError, lambda: run(True))
        else:
            assert run(False) == 1
    warnings = telemetry_warnings(caplog)
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()


@BROKEN_STORES
def test_broken_store_via_environment_logs_one_warning(
    tmp_path: Path,
    make_store: Callable[[Path, str], Path],
    store_suffix: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(make_store(tmp_path, store_suffix)))
    sentinel = object()

    @capture_telemetry
    def run() -> object:
        return sentinel

    assert [run() for _ in range(10)] == [sentinel] * 10
    assert len(telemetry_warnings(caplog)) == 1


def test_two_broken_stores_log_two_warnings(
    tmp_path: Path, store_suffix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")

    @capture_telemetry(telemetry=TelemetryCapture(unwritable_store(tmp_path, store_suffix)))
    def first() -> None:
        return None

    @capture_telemetry(telemetry=TelemetryCapture(directory_store(tmp_path, store_suffix)))
    def second() -> None:
        return None

    for _ in range(5):
        first()
        second()
    assert len(telemetry_warnings(caplog)) == 2


def test_corrupt_store_is_left_byte_for_byte_unchanged(tmp_path: Path, store_suffix: str) -> None:
    path = corrupt_store(tmp_path, store_suffix)

    @capture_telemetry(telemetry=TelemetryCapture(path))
    def run() -> None:
        return None

    for _ in range(5):
        run()
    assert path.read_bytes() == corrupt_bytes(store_suffix)


@BROKEN_STORES
def test_broken_store_context_manager_propagates_the_same_exception(
    tmp_path: Path, make_store: Callable[[Path, str], Path], store_suffix: str
) -> None:
    raised = RuntimeError("host failure")
    capture = TelemetryCapture(make_store(tmp_path, store_suffix))
    contexts: list[TelemetryContext] = []

    def block() -> None:
        with TelemetryContext("s", telemetry=capture) as ctx:
            contexts.append(ctx)
            raise raised

    assert call_expecting(RuntimeError, block) is raised
    assert contexts[0].entry is None


@BROKEN_STORES
def test_broken_store_context_manager_completes_normally(
    tmp_path: Path,
    make_store: Callable[[Path, str], Path],
    store_suffix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    capture = TelemetryCapture(make_store(tmp_path, store_suffix))
    for _ in range(5):
        with TelemetryContext("s", telemetry=capture) as ctx:
            ctx.set_status("failure")
        assert ctx.entry is None
    assert len(telemetry_warnings(caplog)) == 1


def test_working_store_logs_no_warning(
    telemetry: TelemetryCapture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")

    @capture_telemetry(telemetry=telemetry)
    def run() -> None:
        return None

    run()
    assert telemetry_warnings(caplog) == []
