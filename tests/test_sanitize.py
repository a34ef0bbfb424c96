"""Redaction of secret keys, and conversion of arbitrary values into fresh safe JSON values."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import pytest

from betty_telemetry import REDACTED, TelemetryCapture, TelemetryContext, capture_telemetry
from betty_telemetry.redaction import NO_KEYS, redaction_keys, to_json_safe
from tests.exotic import BadRepr, Color, Level, Thing


class LongRepr:
    def __repr__(self) -> str:
        return "x" * 5000


class Count(int):
    pass


class Ratio(float):
    pass


class Name(str):
    def __str__(self) -> str:
        return "not the value"


# -- redaction ---------------------------------------------------------------------------


def test_redacted_marker_is_the_spec_text() -> None:
    assert REDACTED == "***REDACTED***"


def test_matching_key_value_is_replaced() -> None:
    safe = to_json_safe({"user": "bob", "password": "hunter2"}, redaction_keys(["password"]))
    assert safe == {"user": "bob", "password": "***REDACTED***"}


@pytest.mark.parametrize("key", ["password", "PASSWORD", "Password", "pAsSwOrD"])
def test_key_matching_ignores_case_of_the_data_key(key: str) -> None:
    assert to_json_safe({key: "pw"}, redaction_keys(["password"])) == {key: REDACTED}


def test_key_matching_ignores_case_of_the_sanitize_name() -> None:
    assert to_json_safe({"api_key": "k"}, redaction_keys(["API_Key"])) == {"api_key": REDACTED}


def test_matching_keys_are_redacted_at_any_depth() -> None:
    data = {
        "token": "t0",
        "config": {
            "servers": [
                {"name": "a", "api_key": "k1"},
                {"name": "b", "nested": {"API_KEY": "k2", "port": 1}},
            ],
            "pairs": ({"token": "t1"},),
        },
    }
    safe = to_json_safe(data, redaction_keys(["api_key", "token"]))
    assert safe == {
        "token": REDACTED,
        "config": {
            "servers": [
                {"name": "a", "api_key": REDACTED},
                {"name": "b", "nested": {"API_KEY": REDACTED, "port": 1}},
            ],
            "pairs": [{"token": REDACTED}],
        },
    }


def test_container_value_of_a_matching_key_is_replaced_whole() -> None:
    safe = to_json_safe({"secret": {"a": [1, 2]}}, redaction_keys(["secret"]))
    assert safe == {"secret": REDACTED}


def test_lone_string_names_one_key_not_its_characters() -> None:
    keys = redaction_keys("password")
    assert keys == frozenset({"password"})
    assert to_json_safe({"password": "x", "p": "y", "a": "z"}, keys) == {
        "password": REDACTED,
        "p": "y",
        "a": "z",
    }


def test_none_means_no_redaction() -> None:
    assert redaction_keys(None) == NO_KEYS
    assert to_json_safe({"password": "pw"}, redaction_keys(None)) == {"password": "pw"}


def test_non_matching_keys_are_untouched() -> None:
    data = {"password_hint": "pet", "user": "bob", "passwords": ["a"], "nested": {"pw": 1}}
    assert to_json_safe(data, redaction_keys(["password"])) == data


def test_non_string_keys_are_matched_by_the_text_they_are_stored_as() -> None:
    # Redaction judges the key as written to the file: a bytes key b"api_key" is as secret
    # as "api_key", so the rules see every key's stored text.
    assert to_json_safe({1: "one", 2: "two"}, redaction_keys(["1"])) == {
        "1": "***REDACTED***",
        "2": "two",
    }


def test_redaction_does_not_change_the_input() -> None:
    data = {"password": "pw", "deep": [{"password": "pw2"}]}
    to_json_safe(data, redaction_keys(["password"]))
    assert data == {"password": "pw", "deep": [{"password": "pw2"}]}


@pytest.mark.parametrize("redact", [True, False], ids=["default-rules", "no-default-rules"])
def test_decorator_with_lone_string_sanitize_keys_redacts_that_key(
    telemetry: TelemetryCapture, redact: bool
) -> None:
    @capture_telemetry(
        capture_inputs=True,
        sanitize_keys="password",  # type: ignore[arg-type]
        redact=redact,
        telemetry=telemetry,
    )
    def login(p: str, password: str) -> None:
        return None

    login("alice", "hunter2")
    stored = telemetry.query(limit=1)[0]
    assert stored["inputs"] == {"p": "alice", "password": REDACTED}
    assert stored["metadata"] == {
        "redactions": [{"path": "inputs.password", "rule": "sanitize_keys"}]
    }


def test_context_manager_sanitize_keys_redact_inputs_and_metadata(
    telemetry: TelemetryCapture,
) -> None:
    with TelemetryContext(
        "auth.login", inputs={"user": "bob"}, telemetry=telemetry, sanitize_keys=["Secret"]
    ) as ctx:
        ctx.set_inputs({"SECRET": "s1", "opts": [{"secret": "s2"}]})
        ctx.set_metadata(secret="s3", env="prod")
    stored = telemetry.query(limit=1)[0]
    assert stored["inputs"] == {"user": "bob", "SECRET": REDACTED, "opts": [{"secret": REDACTED}]}
    assert stored["metadata"] == {
        "secret": REDACTED,
        "env": "prod",
        "redactions": [
            {"path": "inputs.SECRET", "rule": "sanitize_keys"},
            {"path": "inputs.opts[0].secret", "rule": "sanitize_keys"},
            {"path": "metadata.secret", "rule": "sanitize_keys"},
        ],
    }


# -- to_json_safe, type by type -----------------------------------------------------------


CONVERSIONS: list[tuple[str, object, object]] = [
    ("str", "text", "text"),
    ("int", 7, 7),
    ("big int", 10**30, 10**30),
    ("bool", True, True),
    ("none", None, None),
    ("float", 1.5, 1.5),
    ("nan", math.nan, "NaN"),
    ("inf", math.inf, "Infinity"),
    ("-inf", -math.inf, "-Infinity"),
    ("int subclass", Count(4), 4),
    ("float subclass", Ratio(0.5), 0.5),
    ("float subclass inf", Ratio(math.inf), "Infinity"),
    ("str subclass", Name("real"), "real"),
    ("set", {3, 1, 2}, [1, 2, 3]),
    ("frozenset", frozenset({"b", "a"}), ["a", "b"]),
    ("empty set", set(), []),
    ("tuple", (1, (2, "x")), [1, [2, "x"]]),
    ("list", [1, [2]], [1, [2]]),
    ("utf-8 bytes", "é✓".encode(), "é✓"),
    ("non-utf-8 bytes", b"\xff\xfe\x00", "\\xff\\xfe\x00"),
    ("bytearray", bytearray(b"ab"), "ab"),
    ("memoryview", memoryview(b"mv"), "mv"),
    ("long bytes", b"a" * 2000, "a" * 1024 + "...<2000 bytes>"),
    (
        "aware datetime",
        dt.datetime(2025, 10, 24, 14, 30, 45, tzinfo=dt.timezone.utc),
        "2025-10-24T14:30:45+00:00",
    ),
    ("naive datetime", dt.datetime(2025, 1, 2, 3, 4, 5, 6), "2025-01-02T03:04:05.000006"),
    ("date", dt.date(2025, 10, 24), "2025-10-24"),
    ("time", dt.time(14, 30), "14:30:00"),
    ("timedelta", dt.timedelta(seconds=1, milliseconds=500), 1.5),
    ("decimal", Decimal("1.10"), "1.10"),
    ("decimal nan", Decimal("NaN"), "NaN"),
    (
        "uuid",
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "12345678-1234-5678-1234-567812345678",
    ),
    ("path", PurePosixPath("/srv/a b.yaml"), "/srv/a b.yaml"),
    ("enum", Color.RED, "red"),
    ("enum with tuple value", Color.BLUE, ["b", 1]),
    ("int enum", Level.HIGH, 3),
    ("object", Thing(), "Thing()"),
    ("raising repr", BadRepr(), "<unrepresentable BadRepr: repr raised RuntimeError>"),
    ("long repr", LongRepr(), "x" * 1024 + "...<5000 chars>"),
]


@pytest.mark.parametrize(
    ("value", "expected"), [case[1:] for case in CONVERSIONS], ids=[c[0] for c in CONVERSIONS]
)
def test_to_json_safe_converts_each_type(value: object, expected: object) -> None:
    converted = to_json_safe(value)
    assert converted == expected
    assert type(converted) is type(expected)


def test_to_json_safe_sorts_a_mixed_set_by_repr() -> None:
    # repr("a") is "'a'", which sorts before "1" and "None".
    assert to_json_safe({1, "a", None}) == ["a", 1, None]


def test_to_json_safe_spells_scalar_keys_as_json_does() -> None:
    data = {2: "int", None: "none", False: "bool", 1.5: "float", math.inf: "inf"}
    assert to_json_safe(data) == json.loads(json.dumps(data))


def test_to_json_safe_uses_repr_for_other_keys() -> None:
    assert to_json_safe({(1, "a"): 1, Thing(): 2}) == {"(1, 'a')": 1, "Thing()": 2}


def test_to_json_safe_marks_a_self_referencing_dict() -> None:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    assert to_json_safe(loop) == {"a": 1, "self": "<circular reference>"}


def test_to_json_safe_marks_a_self_referencing_list() -> None:
    loop: list[Any] = ["a"]
    loop.append(loop)
    assert to_json_safe(loop) == ["a", "<circular reference>"]


def test_to_json_safe_marks_a_longer_cycle() -> None:
    first: dict[str, Any] = {}
    second: list[Any] = [first]
    first["next"] = second
    assert to_json_safe(first) == {"next": ["<circular reference>"]}


def test_to_json_safe_copies_a_shared_value_each_time_it_appears() -> None:
    shared = [1, {"x": 2}]
    assert to_json_safe({"a": shared, "b": shared}) == {"a": [1, {"x": 2}], "b": [1, {"x": 2}]}


def test_to_json_safe_cuts_nesting_at_64_levels() -> None:
    nested: object = "leaf"
    for _ in range(100):
        nested = [nested]
    safe = to_json_safe(nested)
    for _ in range(64):
        assert isinstance(safe, list)
        safe = safe[0]
    assert safe == "<nested deeper than 64 levels>"


def test_to_json_safe_handles_nesting_deeper_than_the_recursion_limit() -> None:
    nested: object = {}
    for _ in range(50_000):
        nested = {"n": nested}
    json.dumps(to_json_safe(nested), allow_nan=False)


def test_to_json_safe_result_is_strict_json() -> None:
    loop: list[Any] = []
    loop.append(loop)
    value = {
        "values": [value for _, value, _ in CONVERSIONS],
        "keys": {None: 1, (1,): 2},
        "loop": loop,
    }
    text = json.dumps(to_json_safe(value), allow_nan=False)
    assert json.loads(text) == to_json_safe(value)


# -- fresh copies ------------------------------------------------------------------------


def test_to_json_safe_returns_a_new_flat_dict() -> None:
    data = {"a": 1}
    safe = to_json_safe(data)
    data["b"] = 2
    assert safe == {"a": 1}


def test_to_json_safe_returns_new_nested_containers() -> None:
    data: dict[str, Any] = {"list": [1], "dict": {"k": "v"}}
    safe = to_json_safe(data)
    data["list"].append(2)
    data["dict"]["k2"] = "v2"
    assert safe == {"list": [1], "dict": {"k": "v"}}


def test_mutating_inputs_after_capture_does_not_change_the_entry(
    telemetry: TelemetryCapture,
) -> None:
    inputs: dict[str, Any] = {"tags": ["a"], "opts": {"x": 1}, "flat": "v"}
    entry = telemetry.capture("s", "success", 1.0, "CLI", inputs=inputs)
    inputs["tags"].append("b")
    inputs["opts"]["y"] = 2
    inputs["new"] = True
    assert entry["inputs"] == {"tags": ["a"], "opts": {"x": 1}, "flat": "v"}
    assert entry == telemetry.query(limit=1)[0]


def test_mutating_flat_metadata_after_capture_does_not_change_the_entry(
    telemetry: TelemetryCapture,
) -> None:
    metadata = {"user": "dev"}
    entry = telemetry.capture("s", "success", 1.0, "CLI", metadata=metadata)
    metadata["user"] = "other"
    assert entry["metadata"] == {"user": "dev"}
    assert entry == telemetry.query(limit=1)[0]


def test_arguments_mutated_by_the_function_are_recorded_as_passed(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry(capture_inputs=True, telemetry=telemetry)
    def consume(items: list[int]) -> None:
        items.clear()

    consume([1, 2, 3])
    assert telemetry.query(limit=1)[0]["inputs"] == {"items": [1, 2, 3]}
