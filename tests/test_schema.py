"""The shipped JSON Schema of an entry: valid draft 2020-12, printed by ``betty-telemetry
schema``, met by every entry the library writes, and applied by ``check`` without a JSON Schema
library exactly as a real validator (``jsonschema``) applies it, legacy shapes included."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from betty_telemetry import VALID_STATUSES, TelemetryCapture, TelemetryContext
from betty_telemetry.model.schema import SCHEMA_ID, deviations, schema_text
from tests.conftest import FIXTURE, REPO, SPEC_FIELDS

SCHEMA = json.loads(schema_text())
STRICT = jsonschema.Draft202012Validator(SCHEMA)
LEGACY = jsonschema.Draft202012Validator(
    {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": "#/$defs/legacy_entry"}
)
PROPERTIES = settings(max_examples=300, deadline=None)
WRITES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_the_schema_is_a_valid_draft_2020_12_schema_with_its_id() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == SCHEMA_ID
    assert SCHEMA["required"] == SPEC_FIELDS
    assert SCHEMA["$defs"]["status"]["enum"] == list(VALID_STATUSES)


def test_cli_schema_prints_the_shipped_file() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "betty_telemetry", "schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == SCHEMA
    shipped = REPO / "src" / "betty_telemetry" / "model" / "entry.schema.json"
    assert done.stdout == shipped.read_text()


@pytest.mark.slow
def test_the_schema_is_in_the_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("betty_telemetry/model/entry.schema.json").decode()
    assert json.loads(shipped) == SCHEMA


def test_the_fixture_entries_are_legacy_and_meet_the_legacy_schema() -> None:
    entries = json.loads(FIXTURE.read_text())
    for entry in entries:
        assert LEGACY.is_valid(entry)
        found = deviations(entry)
        assert all(deviation.legacy for deviation in found)
        assert STRICT.is_valid(entry) == (found == [])
    legacy = [entry for entry in entries if deviations(entry)]
    assert len(legacy) == 186
    assert any(entry["status"] == "failed" for entry in legacy)


# -- every entry the library writes meets the schema ------------------------------------------

names = st.text(min_size=1, max_size=30).filter(lambda text: text.strip() != "")
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
mappings = st.none() | st.dictionaries(st.text(max_size=12), json_values, max_size=5)
durations = st.floats(min_value=0, allow_infinity=False, allow_nan=False) | st.integers(0, 2**40)


def _written(path: Path) -> dict[str, Any]:
    """The newest entry, as the file holds it (one JSON line)."""
    last: dict[str, Any] = json.loads(path.read_bytes().splitlines()[-1])
    return last


@WRITES
@given(
    skill=names,
    status=st.sampled_from(VALID_STATUSES),
    duration=durations,
    caller=names,
    inputs=mappings,
    error=st.none() | st.text(max_size=60),
    metadata=mappings,
)
def test_every_entry_capture_writes_meets_the_schema(
    tmp_path: Path,
    skill: str,
    status: str,
    duration: float,
    caller: str,
    inputs: dict[str, Any] | None,
    error: str | None,
    metadata: dict[str, Any] | None,
) -> None:
    path = tmp_path / "writes.jsonl"
    telemetry = TelemetryCapture(path)
    telemetry.capture(skill, status, duration, caller, inputs, error, metadata)
    telemetry.close()
    entry = _written(path)
    assert list(STRICT.iter_errors(entry)) == []
    assert deviations(entry) == []


@WRITES
@given(skill=names, inputs=mappings, fails=st.booleans(), nested=st.booleans())
def test_every_entry_a_run_writes_with_its_trace_fields_meets_the_schema(
    tmp_path: Path, skill: str, inputs: dict[str, Any] | None, fails: bool, nested: bool
) -> None:
    path = tmp_path / "runs.jsonl"
    telemetry = TelemetryCapture(path)
    try:
        with (
            TelemetryContext("outer", telemetry=telemetry),
            TelemetryContext(skill, inputs=inputs, telemetry=telemetry),
        ):
            if nested:
                with TelemetryContext(skill, telemetry=telemetry):
                    pass
            if fails:
                raise KeyError(skill)
    except KeyError:
        pass
    telemetry.close()
    for line in path.read_bytes().splitlines():
        entry = json.loads(line)
        assert set(entry) >= {"trace_id", "span_id", "parent_id"}
        assert list(STRICT.iter_errors(entry)) == []
        assert deviations(entry) == []


# -- check's own rules agree with a JSON Schema validator --------------------------------------

GOOD = {
    "timestamp": "2025-10-24T14:30:45.123456+00:00",
    "skill": "plugin.build",
    "status": "success",
    "duration_ms": 320.5,
    "caller": "CLI",
    "inputs": {},
    "error_message": None,
    "metadata": {},
}
TRACE = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
odd_values = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.just(-0.0)
    | st.sampled_from(["", " ", "\t\n", "\u3000", "x", " x ", "failed", "FAILED", "success\n"])
    | st.sampled_from([*VALID_STATUSES, "bogus", "Success"])
    | st.sampled_from(
        [
            "2025-10-24T14:30:45.123456+00:00",
            "2025-10-24T14:30:45.123456+00:00\n",
            "2025-10-24T14:30:45+00:00",
            "2025-10-24T14:30:45.123Z",
            "2025-10-24 14:30:45",
            "2025-10-24T14:30:45.123456+0200",
            "2025-13-24T14:30:45.123456+00:00",
            "2025-10-24",
            "yesterday",
            "2025-10-24T14:30:45\n",
        ]
    )
    | st.sampled_from(
        [
            TRACE["trace_id"],
            TRACE["span_id"],
            TRACE["trace_id"].upper(),
            TRACE["span_id"] + "\n",
            TRACE["trace_id"][:-1],
        ]
    )
    | st.text(max_size=3)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
FIELDS = [*GOOD, "trace_id", "span_id", "parent_id"]


@st.composite
def entries(draw: st.DrawFn) -> Any:
    """An entry of the library's shape with some fields changed, dropped or added, or no
    entry at all: what a check meets in files written by anything."""
    if draw(st.integers(0, 30)) == 0:
        return draw(odd_values)
    entry: dict[str, Any] = dict(GOOD)
    if draw(st.booleans()):
        entry.update(TRACE, parent_id=draw(st.sampled_from([None, TRACE["span_id"]])))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "change", "change"]))
        if action == "drop":
            entry.pop(name, None)
        else:
            entry[name] = draw(odd_values)
    for name in draw(st.lists(st.sampled_from(["execution_id", "diff", "agent"]), max_size=2)):
        entry[name] = draw(odd_values)
    return entry


@PROPERTIES
@given(entries())
def test_check_rules_agree_with_the_schema_and_the_legacy_schema(entry: Any) -> None:
    found = deviations(entry)
    assert (found == []) == STRICT.is_valid(entry), (found, list(STRICT.iter_errors(entry)))
    legacy_only = all(deviation.legacy for deviation in found)
    assert legacy_only == LEGACY.is_valid(entry), (found, list(LEGACY.iter_errors(entry)))


def test_values_json_cannot_hold_are_violations_for_check() -> None:
    """Python's JSON reader takes NaN and Infinity, which JSON has not: check rejects them
    (a validator, comparing NaN with 0, would not)."""
    for value in (math.nan, math.inf):
        [found] = deviations({**GOOD, "duration_ms": value})
        assert not found.legacy
        assert found.message == "duration_ms is not a finite number"


def test_messages_name_the_field_and_quote_no_value() -> None:
    secret = "sk-live-0123456789abcdef"
    entry = {**GOOD, "status": secret, "skill": 7, "duration_ms": -1, "inputs": [secret]}
    entry["caller"] = " \t"
    messages = [deviation.message for deviation in deviations(entry)]
    assert messages == [
        "skill is a number, not a string",
        "status is not one of: success, failure, timeout, error, pending",
        "duration_ms is negative",
        "caller is empty or only blanks",
        "inputs is a JSON array, not an object",
    ]
    assert not any(secret in message for message in messages)
