"""The telemetry entry: its fields, validation, timestamps, safe values, legacy reads, encoding."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path, PurePosixPath
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betty_telemetry import ENTRY_FIELDS, VALID_STATUSES, TelemetryCapture
from betty_telemetry.capture.build import build_entry
from betty_telemetry.capture.encode import encode_entry
from betty_telemetry.model import entry as _entry
from betty_telemetry.model.entry import normalize_entry, utc_timestamp
from tests.conftest import SPEC_FIELDS
from tests.exotic import BadRepr, Color, Level, Thing

TIMESTAMP_FORMAT = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00\Z")
SPEC_STATUS_ERROR = (
    "Invalid status: invalid_status. Must be one of: success, failure, timeout, error, pending"
)
UTC = dt.timezone.utc


def capture_one(telemetry: TelemetryCapture, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "skill": "plugin.build",
        "status": "success",
        "duration_ms": 320.5,
        "caller": "CLI",
    }
    arguments.update(overrides)
    return telemetry.capture(**arguments)


def stored_entries(path: Path) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# -- fields ------------------------------------------------------------------------------


def test_entry_fields_constant_lists_the_spec_fields_in_order() -> None:
    assert list(ENTRY_FIELDS) == SPEC_FIELDS


def test_valid_statuses_are_the_spec_statuses_in_order() -> None:
    assert VALID_STATUSES == ("success", "failure", "timeout", "error", "pending")


def test_captured_entry_has_exactly_the_spec_fields_in_order(telemetry: TelemetryCapture) -> None:
    entry = capture_one(telemetry)
    assert list(entry) == SPEC_FIELDS


def test_stored_entry_has_exactly_the_spec_fields_in_order(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    capture_one(telemetry, inputs={"a": 1}, error_message="x", metadata={"b": 2})
    assert [list(entry) for entry in stored_entries(telemetry_path)] == [SPEC_FIELDS]


def test_capture_stores_the_spec_example_values(telemetry: TelemetryCapture) -> None:
    telemetry.capture(
        skill="plugin.build",
        status="success",
        duration_ms=320.5,
        caller="CLI",
        inputs={"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
        metadata={"user": "developer@example.com", "environment": "production"},
    )
    stored = telemetry.query(limit=1)[0]
    stored.pop("timestamp")
    assert stored == {
        "skill": "plugin.build",
        "status": "success",
        "duration_ms": 320.5,
        "caller": "CLI",
        "inputs": {"plugin_path": "./plugin.yaml", "output_format": "tar.gz"},
        "error_message": None,
        "metadata": {"user": "developer@example.com", "environment": "production"},
    }


def test_optional_fields_default_to_empty_mappings_and_null_error(
    telemetry: TelemetryCapture,
) -> None:
    entry = capture_one(telemetry)
    assert (entry["inputs"], entry["error_message"], entry["metadata"]) == ({}, None, {})


def test_capture_returns_the_entry_exactly_as_stored(telemetry: TelemetryCapture) -> None:
    entry = capture_one(
        telemetry, inputs={"a": [1, 2.5, None]}, error_message="boom", metadata={"m": True}
    )
    assert entry == telemetry.query(limit=1)[0]


def test_error_message_is_stored(telemetry: TelemetryCapture) -> None:
    capture_one(telemetry, status="failure", error_message="Validation failed at step 3")
    assert telemetry.query(limit=1)[0]["error_message"] == "Validation failed at step 3"


# -- timestamp ---------------------------------------------------------------------------


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the clock ``utc_timestamp`` reads, in nanoseconds since the epoch."""
    now = {"ns": 0}
    fake_time = SimpleNamespace(
        time_ns=lambda: now["ns"], strftime=time.strftime, gmtime=time.gmtime
    )
    monkeypatch.setattr(_entry, "time", fake_time)
    _entry._second_text.cache_clear()  # a second formatted by the real clock must not stay

    def set_ns(ns: int) -> None:
        now["ns"] = ns

    return set_ns


def test_utc_timestamp_has_microseconds_and_utc_offset() -> None:
    assert TIMESTAMP_FORMAT.match(utc_timestamp())


def test_utc_timestamp_is_the_current_utc_time() -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    parsed = dt.datetime.fromisoformat(utc_timestamp())
    after = dt.datetime.now(UTC)
    assert parsed.utcoffset() == dt.timedelta(0)
    assert before <= parsed <= after


def test_utc_timestamp_keeps_six_digits_when_microsecond_is_zero(
    fake_clock: Callable[[int], None],
) -> None:
    fake_clock(1_761_316_245_000_000_000)
    stamp = utc_timestamp()
    assert stamp == "2025-10-24T14:30:45.000000+00:00"
    assert dt.datetime.fromisoformat(stamp) == dt.datetime(2025, 10, 24, 14, 30, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    "ns",
    [0, 1_761_316_245_123_456_789, 1_761_316_245_000_001_000, 1_761_316_245_999_999_999],
)
def test_utc_timestamp_matches_datetime_isoformat(
    fake_clock: Callable[[int], None], ns: int
) -> None:
    fake_clock(ns)
    seconds, micros = divmod(ns // 1000, 1_000_000)
    expected = dt.datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    stamp = utc_timestamp()
    assert stamp == expected.isoformat(timespec="microseconds")
    assert dt.datetime.fromisoformat(stamp) == expected


def test_utc_timestamp_moves_on_to_the_next_second(fake_clock: Callable[[int], None]) -> None:
    fake_clock(1_761_316_245_999_999_000)
    first = utc_timestamp()
    fake_clock(1_761_316_246_000_001_000)
    second = utc_timestamp()
    assert (first, second) == (
        "2025-10-24T14:30:45.999999+00:00",
        "2025-10-24T14:30:46.000001+00:00",
    )


def test_captured_timestamp_is_utc_iso8601_with_microseconds(telemetry: TelemetryCapture) -> None:
    before = dt.datetime.now(UTC).replace(microsecond=0)
    stamp = capture_one(telemetry)["timestamp"]
    after = dt.datetime.now(UTC)
    assert TIMESTAMP_FORMAT.match(stamp)
    assert before <= dt.datetime.fromisoformat(stamp) <= after


def test_captured_timestamp_at_a_whole_second_keeps_microseconds(
    telemetry: TelemetryCapture, fake_clock: Callable[[int], None]
) -> None:
    fake_clock(1_761_316_245_000_000_000)
    capture_one(telemetry)
    assert telemetry.query(limit=1)[0]["timestamp"] == "2025-10-24T14:30:45.000000+00:00"


# -- validation --------------------------------------------------------------------------


def test_unknown_status_raises_the_spec_message(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match=re.escape(SPEC_STATUS_ERROR)) as excinfo:
        telemetry.capture(
            skill="test.skill", status="invalid_status", duration_ms=100, caller="CLI"
        )
    assert str(excinfo.value) == SPEC_STATUS_ERROR


@pytest.mark.parametrize("status", ["", "SUCCESS", "failed", "ok", None, 1])
def test_status_outside_the_spec_list_is_refused(
    telemetry: TelemetryCapture, status: object
) -> None:
    with pytest.raises(ValueError, match=r"^Invalid status: .*\. Must be one of: success, failure"):
        capture_one(telemetry, status=status)


@pytest.mark.parametrize("status", ["success", "failure", "timeout", "error", "pending"])
def test_each_spec_status_is_accepted(telemetry: TelemetryCapture, status: str) -> None:
    capture_one(telemetry, status=status)
    assert telemetry.query(limit=1)[0]["status"] == status


@pytest.mark.parametrize("field", ["skill", "caller"])
@pytest.mark.parametrize("value", ["", "   ", "\t\n", None, 42], ids=repr)
def test_names_must_be_non_empty_strings(
    telemetry: TelemetryCapture, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be a non-empty string"):
        capture_one(telemetry, **{field: value})


@pytest.mark.parametrize(
    "duration",
    [True, False, math.nan, math.inf, -math.inf, -1, -0.001, "320", None, 1j],
    ids=repr,
)
def test_invalid_duration_is_refused(telemetry: TelemetryCapture, duration: object) -> None:
    with pytest.raises(ValueError, match=r"^duration_ms must be a"):
        capture_one(telemetry, duration_ms=duration)


def test_duration_too_large_for_a_float_is_refused_with_value_error(
    telemetry: TelemetryCapture,
) -> None:
    with pytest.raises(ValueError, match=r"^duration_ms must be a"):
        capture_one(telemetry, duration_ms=10**400)


def test_int_duration_is_stored_as_float(telemetry: TelemetryCapture) -> None:
    entry = capture_one(telemetry, duration_ms=320)
    stored = telemetry.query(limit=1)[0]["duration_ms"]
    assert (entry["duration_ms"], type(entry["duration_ms"])) == (320.0, float)
    assert (stored, type(stored)) == (320.0, float)


def test_zero_duration_is_accepted(telemetry: TelemetryCapture) -> None:
    assert capture_one(telemetry, duration_ms=0)["duration_ms"] == 0.0


def test_negative_zero_duration_is_stored_as_positive_zero(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = capture_one(telemetry, duration_ms=-0.0)
    assert math.copysign(1.0, entry["duration_ms"]) == 1.0
    assert '"duration_ms": 0.0,' in telemetry_path.read_text()
    assert math.copysign(1.0, telemetry.query(limit=1)[0]["duration_ms"]) == 1.0


@pytest.mark.parametrize("field", ["inputs", "metadata"])
def test_none_mapping_becomes_empty_dict(telemetry: TelemetryCapture, field: str) -> None:
    capture_one(telemetry, **{field: None})
    assert telemetry.query(limit=1)[0][field] == {}


@pytest.mark.parametrize("field", ["inputs", "metadata"])
@pytest.mark.parametrize("value", [[], [("a", 1)], "a=1", 5], ids=repr)
def test_non_mapping_inputs_and_metadata_are_refused(
    telemetry: TelemetryCapture, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be a mapping"):
        capture_one(telemetry, **{field: value})


@pytest.mark.parametrize("field", ["inputs", "metadata"])
def test_non_dict_mapping_is_accepted_as_a_dict(telemetry: TelemetryCapture, field: str) -> None:
    entry = capture_one(telemetry, **{field: MappingProxyType({"a": 1, "b": [2]})})
    assert entry[field] == {"a": 1, "b": [2]}
    assert telemetry.query(limit=1)[0][field] == {"a": 1, "b": [2]}


@pytest.mark.parametrize("value", [42, b"bytes", ValueError("x")], ids=repr)
def test_non_string_error_message_is_refused(telemetry: TelemetryCapture, value: object) -> None:
    with pytest.raises(ValueError, match=r"^error_message must be a string or None"):
        capture_one(telemetry, error_message=value)


INVALID_CAPTURES = [
    {"status": "invalid_status"},
    {"skill": ""},
    {"caller": None},
    {"duration_ms": -1},
    {"inputs": ["a"]},
    {"metadata": "m"},
    {"error_message": 1},
]


@pytest.mark.parametrize("bad", INVALID_CAPTURES, ids=repr)
def test_failed_validation_leaves_an_existing_file_unchanged(
    telemetry: TelemetryCapture, telemetry_path: Path, bad: dict[str, Any]
) -> None:
    capture_one(telemetry)
    before = telemetry_path.read_bytes()
    with pytest.raises(ValueError, match=r"."):
        capture_one(telemetry, **bad)
    assert telemetry_path.read_bytes() == before


@pytest.mark.parametrize("bad", INVALID_CAPTURES, ids=repr)
def test_failed_validation_creates_no_file(
    telemetry: TelemetryCapture, telemetry_path: Path, bad: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"."):
        capture_one(telemetry, **bad)
    assert not telemetry_path.parent.exists()


# -- exotic values inside inputs and metadata --------------------------------------------


EXOTIC_VALUES: list[tuple[str, object, object]] = [
    ("set", {3, 1, 2}, [1, 2, 3]),
    ("frozenset", frozenset({"b", "a", "c"}), ["a", "b", "c"]),
    ("mixed-type set", {1, "a"}, ["a", 1]),
    ("utf-8 bytes", "héllo".encode(), "héllo"),
    ("non-utf-8 bytes", b"\xff\xfe\x00", "\\xff\\xfe\x00"),
    ("bytearray", bytearray(b"ab"), "ab"),
    (
        "aware datetime",
        dt.datetime(2025, 10, 24, 14, 30, 45, 123456, tzinfo=UTC),
        "2025-10-24T14:30:45.123456+00:00",
    ),
    ("naive datetime", dt.datetime(2025, 10, 24, 14, 30), "2025-10-24T14:30:00"),
    ("date", dt.date(2025, 10, 24), "2025-10-24"),
    ("decimal", Decimal("1.10"), "1.10"),
    (
        "uuid",
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "12345678-1234-5678-1234-567812345678",
    ),
    ("path", PurePosixPath("/srv/plugin.yaml"), "/srv/plugin.yaml"),
    ("enum", Color.RED, "red"),
    ("int enum", Level.HIGH, 3),
    ("tuple", (1, "a", None, (2.5,)), [1, "a", None, [2.5]]),
    ("nan", math.nan, "NaN"),
    ("inf", math.inf, "Infinity"),
    ("-inf", -math.inf, "-Infinity"),
    ("object", Thing(), "Thing()"),
    ("raising repr", BadRepr(), "<unrepresentable BadRepr: repr raised RuntimeError>"),
    (
        "nested exotic",
        {"when": [dt.date(2020, 1, 2), {Color.RED}]},
        {"when": ["2020-01-02", ["red"]]},
    ),
]


@pytest.mark.parametrize(
    ("value", "expected"), [case[1:] for case in EXOTIC_VALUES], ids=[c[0] for c in EXOTIC_VALUES]
)
@pytest.mark.parametrize("field", ["inputs", "metadata"])
def test_exotic_value_is_stored_as_safe_json(
    telemetry: TelemetryCapture, field: str, value: object, expected: object
) -> None:
    entry = capture_one(telemetry, **{field: {"v": value}})
    assert entry[field] == {"v": expected}
    assert entry == telemetry.query(limit=1)[0]


def test_every_exotic_value_at_once_round_trips(telemetry: TelemetryCapture) -> None:
    values = {name: value for name, value, _ in EXOTIC_VALUES}
    entry = capture_one(telemetry, inputs=values, metadata={"again": values})
    assert entry["inputs"] == {name: expected for name, _, expected in EXOTIC_VALUES}
    assert entry == telemetry.query(limit=1)[0]


def test_non_string_keys_become_json_key_text(telemetry: TelemetryCapture) -> None:
    entry = capture_one(
        telemetry, inputs={2: "int", None: "none", False: "bool", 1.5: "float", (1, 2): "tuple"}
    )
    assert entry["inputs"] == {
        "2": "int",
        "null": "none",
        "false": "bool",
        "1.5": "float",
        "(1, 2)": "tuple",
    }
    assert entry == telemetry.query(limit=1)[0]


def test_scalar_keys_are_spelled_as_json_dumps_spells_them(telemetry: TelemetryCapture) -> None:
    keys: dict[Any, str] = {2: "a", None: "b", True: "c", 1.5: "d"}
    entry = capture_one(telemetry, inputs=keys)
    assert entry["inputs"] == json.loads(json.dumps(keys))


def test_self_referencing_dict_is_stored_with_a_marker(telemetry: TelemetryCapture) -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    entry = capture_one(telemetry, inputs={"d": loop})
    assert entry["inputs"] == {"d": {"name": "loop", "self": "<circular reference>"}}
    assert entry == telemetry.query(limit=1)[0]


def test_self_referencing_list_is_stored_with_a_marker(telemetry: TelemetryCapture) -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    entry = capture_one(telemetry, metadata={"l": loop})
    assert entry["metadata"] == {"l": [1, "<circular reference>"]}
    assert entry == telemetry.query(limit=1)[0]


def test_self_referencing_inputs_mapping_is_stored_with_a_marker(
    telemetry: TelemetryCapture,
) -> None:
    inputs: dict[str, Any] = {"a": 1}
    inputs["me"] = inputs
    entry = capture_one(telemetry, inputs=inputs)
    assert entry["inputs"] == {"a": 1, "me": "<circular reference>"}
    assert entry == telemetry.query(limit=1)[0]


def _depth(value: object) -> int:
    depth = 0
    while isinstance(value, list):
        value = value[0]
        depth += 1
    return depth


def test_very_deep_nesting_is_cut_and_stored(telemetry: TelemetryCapture) -> None:
    nested: object = "leaf"
    for _ in range(10_000):
        nested = [nested]
    entry = capture_one(telemetry, inputs={"deep": nested})
    deep = entry["inputs"]["deep"]
    assert _depth(deep) == 63
    for _ in range(63):
        deep = deep[0]
    assert deep == "<nested deeper than 64 levels>"
    assert entry == telemetry.query(limit=1)[0]


# -- legacy entries, normalised on read ---------------------------------------------------


LEGACY = {
    "timestamp": "2025-10-24T14:30:45.123456+00:00",
    "skill": "agent.run",
    "status": "failed",
    "duration_ms": 5,
    "caller": "CLI",
}


def test_normalize_entry_fills_missing_fields() -> None:
    entry = normalize_entry(dict(LEGACY))
    assert entry == {**LEGACY, "inputs": {}, "error_message": None, "metadata": {}}
    assert list(entry) == SPEC_FIELDS


def test_normalize_entry_fills_missing_scalar_fields_with_none() -> None:
    entry = normalize_entry({"skill": "agent.run"})
    assert entry == {
        "timestamp": None,
        "skill": "agent.run",
        "status": None,
        "duration_ms": None,
        "caller": None,
        "inputs": {},
        "error_message": None,
        "metadata": {},
    }


def test_normalize_entry_keeps_extra_keys_after_the_spec_fields() -> None:
    raw = {"agent": "api.designer", **LEGACY, "run_id": "r-1", "inputs": {"x": 1}}
    entry = normalize_entry(raw)
    assert list(entry) == [*SPEC_FIELDS, "agent", "run_id"]
    assert (entry["agent"], entry["run_id"], entry["inputs"]) == ("api.designer", "r-1", {"x": 1})


def test_normalize_entry_does_not_alter_stored_values() -> None:
    entry = normalize_entry(dict(LEGACY))
    assert (entry["status"], entry["duration_ms"], type(entry["duration_ms"])) == ("failed", 5, int)


def test_legacy_file_is_read_with_every_spec_field(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    telemetry_path.parent.mkdir(parents=True)
    legacy = [dict(LEGACY), {**LEGACY, "skill": "plugin.build", "extra": [1]}]
    telemetry_path.write_text(json.dumps(legacy, indent=2))
    assert telemetry.query() == [
        {
            **LEGACY,
            "skill": "plugin.build",
            "inputs": {},
            "error_message": None,
            "metadata": {},
            "extra": [1],
        },
        {**LEGACY, "inputs": {}, "error_message": None, "metadata": {}},
    ]
    assert list(telemetry.query(limit=1)[0]) == [*SPEC_FIELDS, "extra"]


# -- encoding ----------------------------------------------------------------------------


def test_encode_entry_equals_json_dumps(telemetry: TelemetryCapture) -> None:
    entry = capture_one(telemetry, inputs={"a": [1, 2.5, None, True]}, metadata={"m": {"n": "o"}})
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_with_empty_mappings_equals_json_dumps() -> None:
    entry = build_entry("s", "pending", 0, "c")
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_with_extra_keys_equals_json_dumps() -> None:
    entry = {**build_entry("s", "success", 1.25, "c"), "run_id": "r-1", "tags": ["a", {"b": 2}]}
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_of_a_legacy_entry_equals_json_dumps() -> None:
    entry = normalize_entry({**LEGACY, "agent": "api.designer"})
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_with_non_ascii_text_equals_json_dumps() -> None:
    entry = build_entry(
        "plugin.構築", "failure", 2.0, "CLI-é", {"clé": "värde 🚀"}, "échec ✓", {"ü": ["ñ"]}
    )
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_with_lone_surrogates_equals_json_dumps() -> None:
    entry = build_entry(
        "a\ud800b", "error", 3.0, "\udc00", {"\udfff": "\ud83d"}, "bad \ud800", {"k": ["\udc80"]}
    )
    assert encode_entry(entry) == json.dumps(entry).encode()
    assert json.loads(encode_entry(entry)) == entry


_NOTE_TEXT = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(["inputs.k"])


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["redactions", "truncated", "other"]),
        st.lists(
            st.dictionaries(st.sampled_from(["path", "rule", "x"]), _NOTE_TEXT | st.integers())
            | st.fixed_dictionaries({"path": _NOTE_TEXT, "rule": _NOTE_TEXT})
            | st.fixed_dictionaries({"rule": _NOTE_TEXT, "path": _NOTE_TEXT}),
            max_size=3,
        )
        | _NOTE_TEXT,
        max_size=2,
    )
)
def test_encode_entry_of_metadata_shaped_like_notes_equals_json_dumps(
    metadata: dict[str, Any],
) -> None:
    # Redaction notes alone are written without the C encoder: anything merely like them
    # (keys in another order, other types, another key beside) must come out the same.
    entry = {**build_entry("s", "success", 1.0, "c"), "metadata": metadata}
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_with_the_notes_of_a_redaction_equals_json_dumps() -> None:
    entry = build_entry("s", "success", 1.0, "c", {"api_key": "k", "token": "t"})
    assert [note["path"] for note in entry["metadata"]["redactions"]] == [
        "inputs.api_key",
        "inputs.token",
    ]
    assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_of_trace_ids_in_any_order_equals_json_dumps() -> None:
    ids = {"trace_id": "a" * 32, "span_id": "b" * 16, "parent_id": None}
    for order in (["trace_id", "span_id", "parent_id"], ["span_id", "trace_id", "parent_id"]):
        for parent in (None, "c" * 16):
            entry = {**build_entry("s", "success", 1.0, "c")}
            entry.update((key, parent if key == "parent_id" else ids[key]) for key in order)
            assert encode_entry(entry) == json.dumps(entry).encode()


def test_encode_entry_is_one_ascii_line() -> None:
    entry = build_entry("s\nx", "success", 1.0, "c", {"t": "line1\nline2 ✓"}, "e\r\n")
    encoded = encode_entry(entry)
    assert b"\n" not in encoded
    assert encoded.isascii()


def test_entry_with_lone_surrogates_round_trips_through_the_file(
    telemetry: TelemetryCapture,
) -> None:
    entry = capture_one(telemetry, skill="s\ud800", inputs={"\udc00": "v\udfff"})
    assert entry == telemetry.query(limit=1)[0]


ANY_TEXT = st.text(st.characters(exclude_categories=()))
NAME_TEXT = ANY_TEXT.filter(lambda text: bool(text.strip()))
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    skill=NAME_TEXT,
    caller=NAME_TEXT,
    error_message=st.none() | ANY_TEXT,
    inputs=st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=5),
    metadata=st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3),
    status=st.sampled_from(VALID_STATUSES),
    duration=st.floats(min_value=0, allow_nan=False, allow_infinity=False),
)
def test_encoded_entry_decodes_to_the_same_entry(
    skill: str,
    caller: str,
    error_message: str | None,
    inputs: dict[str, Any],
    metadata: dict[str, Any],
    status: str,
    duration: float,
) -> None:
    entry = build_entry(skill, status, duration, caller, inputs, error_message, metadata)
    encoded = encode_entry(entry)
    assert json.loads(encoded) == entry
    assert encoded == json.dumps(entry).encode()


class ReadOnlyMapping(Mapping[str, int]):
    """A Mapping that is not a dict."""

    def __init__(self, items: dict[str, int]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> int:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def test_custom_mapping_inputs_are_stored_as_a_dict(telemetry: TelemetryCapture) -> None:
    entry = capture_one(telemetry, inputs=ReadOnlyMapping({"x": 1}))
    assert entry["inputs"] == {"x": 1}
    assert telemetry.query(limit=1)[0]["inputs"] == {"x": 1}
