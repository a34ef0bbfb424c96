"""Values that used to break a capture or lose an entry: a user's metadata keys that the
library also writes, str Enum statuses, names of 50 MB, containers of ten million items,
through the API, the decorator, the context manager, background mode and the CLI."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, TelemetryContext, capture_telemetry
from tests.conftest import run_cli
from tests.stores import store_bytes, stored_lines

pytestmark = pytest.mark.every_store

MAX_ENTRY_BYTES = 64 * 1024
BIG = "z" * 100_000  # makes any entry larger than 64 KiB


class Status(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


def lines(path: Path) -> list[bytes]:
    """Each stored entry's JSON text (the lines of a file store, see ``stored_lines``)."""
    return [line.removesuffix(b",") for line in stored_lines(path)]


# -- the library's notes beside the caller's metadata keys -----------------------------------


@pytest.mark.parametrize("name", ["truncated", "redactions", "output"])
@pytest.mark.parametrize("value", [5, "x", {"a": 1}, ["y"], None])
def test_a_user_metadata_key_that_the_library_also_writes_never_breaks_a_large_entry(
    telemetry: TelemetryCapture, telemetry_path: Path, name: str, value: object
) -> None:
    entry = telemetry.capture(
        "notes",
        "success",
        1.0,
        "t",
        inputs={"big": BIG, "password": "pw-0451"},
        metadata={name: value},
    )
    [line] = lines(telemetry_path)
    assert len(line) <= MAX_ENTRY_BYTES
    stored = json.loads(line)
    assert stored == entry
    assert stored["metadata"][name] == value  # the caller's value, untouched
    assert "betty_telemetry.truncated" in stored["metadata"] or name != "truncated"
    if name == "redactions":
        assert stored["metadata"]["betty_telemetry.redactions"] == [
            {"path": "inputs.password", "rule": "key:password"}
        ]


def test_the_context_manager_keeps_its_entry_when_metadata_holds_truncated(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    with TelemetryContext("notes.ctx", telemetry=telemetry) as ctx:
        ctx.set_metadata(truncated=5, redactions="mine", output="also mine")
        ctx.set_inputs(big=BIG)
        ctx.set_output({"token": "t0k3n-v4lue"})
    assert ctx.entry is not None
    metadata = json.loads(lines(telemetry_path)[0])["metadata"]
    assert (metadata["truncated"], metadata["redactions"], metadata["output"]) == (
        5,
        "mine",
        "also mine",
    )
    assert metadata["betty_telemetry.output"] == {"token": "***REDACTED***"}
    assert "inputs.big" in metadata["betty_telemetry.truncated"]


def test_background_mode_writes_an_entry_whose_metadata_holds_truncated(
    telemetry_path: Path,
) -> None:
    telemetry = TelemetryCapture(telemetry_path, background=True)
    try:
        telemetry.capture(
            "notes.bg", "success", 1.0, "t", inputs={"big": BIG}, metadata={"truncated": 5}
        )
        assert telemetry.flush(10)
        assert telemetry.dropped == 0
    finally:
        telemetry.close()
    [entry] = TelemetryCapture(telemetry_path).query()
    assert entry["metadata"]["truncated"] == 5
    assert entry["metadata"]["betty_telemetry.truncated"]


# -- str Enum statuses ---------------------------------------------------------------------


def test_a_str_enum_status_is_stored_as_its_value_and_found_by_query(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entry = telemetry.capture("enum.api", Status.FAILURE, 1.0, "t")
    assert type(entry["status"]) is str
    assert entry["status"] == "failure"
    assert b'"status": "failure"' in b"\n".join(lines(telemetry_path))
    assert [e["skill"] for e in telemetry.query(status="failure")] == ["enum.api"]


def test_a_decorated_function_returning_a_str_enum_status_is_found_by_query(
    telemetry: TelemetryCapture,
) -> None:
    @capture_telemetry("enum.decorated", telemetry=telemetry)
    def step() -> dict[str, Any]:
        return {"status": Status.FAILURE, "error": "boom"}

    step()
    [entry] = telemetry.query(status="failure")
    assert (entry["skill"], entry["error_message"]) == ("enum.decorated", "boom")


def test_the_context_manager_takes_a_str_enum_status(telemetry: TelemetryCapture) -> None:
    with TelemetryContext("enum.ctx", telemetry=telemetry) as ctx:
        ctx.set_status(Status.FAILURE)
    assert ctx.entry is not None
    assert type(ctx.entry["status"]) is str
    assert telemetry.query(status="failure")[0]["skill"] == "enum.ctx"


def test_background_mode_stores_a_str_enum_status_as_its_value(telemetry_path: Path) -> None:
    telemetry = TelemetryCapture(telemetry_path, background=True)
    try:
        telemetry.capture("enum.bg", Status.SUCCESS, 1.0, "t")
        assert telemetry.flush(10)
    finally:
        telemetry.close()
    assert b'"status": "success"' in b"\n".join(lines(telemetry_path))


# -- huge names ------------------------------------------------------------------------------


def test_a_50_mb_skill_and_caller_are_cut_and_the_entry_stays_within_64_kib(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    huge = "s" * 50_000_000
    entry = telemetry.capture(huge, "success", 1.0, "c" * 50_000_000)
    [line] = lines(telemetry_path)
    assert len(line) <= MAX_ENTRY_BYTES
    assert entry["skill"].startswith("s" * 1024 + "...[truncated: 50000000 chars, sha256 ")
    assert entry["caller"].startswith("c" * 1024 + "...[truncated: 50000000 chars")
    assert entry["metadata"]["truncated"] == ["skill", "caller"]


def test_a_huge_skill_name_of_the_decorator_and_context_manager_is_cut(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("d" * 200_000, telemetry=telemetry)
    def work() -> None:
        pass

    work()
    with TelemetryContext("x" * 200_000, caller="y" * 200_000, telemetry=telemetry):
        pass
    stored = [json.loads(line) for line in lines(telemetry_path)]
    assert all(len(json.dumps(entry)) <= MAX_ENTRY_BYTES for entry in stored)
    assert [len(entry["skill"]) < 1200 for entry in stored] == [True, True]


def test_the_cli_cuts_a_huge_skill_name(tmp_path: Path, store_suffix: str) -> None:
    path = tmp_path / f"t{store_suffix}"
    result = run_cli("capture", "k" * 100_000, "success", "1", "CLI", "--file", str(path))
    assert result.returncode == 0, result.stderr
    [line] = lines(path)
    assert len(line) < 2_000


def test_a_token_used_as_a_skill_or_caller_is_redacted(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    token = "ghp_" + "Zq7vLm2pXw9kB4nR6tY8uI0oP1aS3dF5gH7j"
    entry = telemetry.capture(f"deploy {token}", "success", 1.0, f"https://u:{token}@h/x")
    assert token.encode() not in store_bytes(telemetry_path)
    assert entry["skill"] == "deploy ***REDACTED***"
    assert {n["path"] for n in entry["metadata"]["redactions"]} == {"skill", "caller"}


# -- bounded work ----------------------------------------------------------------------------


class CountingList(list[int]):
    """A list that counts how many of its items were read."""

    read = 0

    def __iter__(self) -> Iterator[int]:
        for item in super().__iter__():
            CountingList.read += 1
            yield item


def test_a_ten_million_item_list_is_read_up_to_the_item_limit(
    telemetry: TelemetryCapture,
) -> None:
    CountingList.read = 0
    huge = CountingList(range(10_000_000))
    entry = telemetry.capture("bounded", "success", 1.0, "t", inputs={"ids": huge})
    assert CountingList.read <= 1000
    assert entry["inputs"]["ids"][:3] == [0, 1, 2]
    assert entry["inputs"]["ids"][-1] == "<9999000 more items left out>"
    assert entry["metadata"]["truncated"] == ["inputs.ids"]


def test_the_whole_entry_walks_at_most_ten_thousand_values(telemetry: TelemetryCapture) -> None:
    many = {f"k{i}": list(range(900)) for i in range(30)}
    entry = telemetry.capture("bounded", "success", 1.0, "t", inputs={"many": many})
    kept = sum(
        sum(type(item) is int for item in value)
        for value in entry["inputs"]["many"].values()
        if isinstance(value, list)
    )
    assert kept <= 10_000
    assert "inputs.many" in " ".join(entry["metadata"]["truncated"])


def test_a_10000_level_nesting_is_stored_as_a_marker(telemetry: TelemetryCapture) -> None:
    nested: Any = "leaf"
    for _ in range(10_000):
        nested = [nested]
    entry = telemetry.capture("bounded", "success", 1.0, "t", inputs={"deep": nested})
    text = json.dumps(entry["inputs"])
    assert "<nested deeper than 64 levels>" in text
    assert text.count("[") <= 70


def test_a_decorated_function_given_ten_million_items_records_a_bounded_summary(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    @capture_telemetry("bounded.decorated", capture_inputs=True, telemetry=telemetry)
    def count(items: list[int]) -> int:
        return len(items)

    assert count(list(range(10_000_000))) == 10_000_000
    [line] = lines(telemetry_path)
    assert len(line) < 20_000


# -- what the limits leave out, and where the notes go ------------------------------------------


def test_more_than_a_hundred_redactions_are_reported_with_a_count(
    telemetry: TelemetryCapture,
) -> None:
    entry = telemetry.capture(
        "many.secrets", "success", 1.0, "t", inputs={f"password_{i}": "pw-0451" for i in range(130)}
    )
    report = entry["metadata"]["redactions"]
    assert len(report) == 101
    assert report[-1] == {"path": "*", "rule": "30 more redactions, not listed"}


def test_a_key_longer_than_1024_characters_is_cut(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    key = "k" * 100_000
    entry = telemetry.capture("long.key", "success", 1.0, "t", inputs={key: 1, "x": 2})
    [stored_key] = [name for name in entry["inputs"] if name != "x"]
    assert stored_key == "k" * 1024 + "...<100000 chars>"
    assert entry["metadata"]["truncated"] == [f"inputs.{stored_key}"]
    assert len(lines(telemetry_path)[0]) < 3000


def test_an_entry_of_a_thousand_long_keys_keeps_its_record_and_drops_the_detail(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    inputs = {f"{i:04d}" + "k" * 1000: i for i in range(1000)}
    entry = telemetry.capture("long.keys", "success", 1.0, "t", inputs=inputs)
    [line] = lines(telemetry_path)
    assert len(line) <= MAX_ENTRY_BYTES
    assert (entry["inputs"], entry["metadata"]) == ({}, {"truncated": ["inputs", "metadata"]})


def test_a_large_error_message_is_shrunk_first_when_it_is_the_largest_value(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    # 4,096 characters that each take 6 bytes as \\u escapes: the largest value by far
    inputs = {f"a{i}": "b" * 4000 for i in range(11)}
    entry = telemetry.capture(
        "big.error", "error", 1.0, "t", inputs=inputs, error_message="é" * 4096
    )
    [line] = lines(telemetry_path)
    assert len(line) <= MAX_ENTRY_BYTES
    assert entry["error_message"].startswith("<removed to fit the 64 KiB entry limit")
    assert entry["inputs"] == inputs


def test_an_oversized_entry_notes_its_cuts_beside_a_user_truncated_key(
    telemetry: TelemetryCapture,
) -> None:
    inputs = {f"v{i}": "w" * 4000 for i in range(20)}  # 80 KB, no string cut
    entry = telemetry.capture(
        "notes.fit", "success", 1.0, "t", inputs=inputs, metadata={"truncated": 5}
    )
    assert entry["metadata"]["truncated"] == 5
    assert entry["metadata"]["betty_telemetry.truncated"]


class Shifting(dict[str, int]):
    """A dict another thread changes while it is read."""

    def items(self) -> Any:
        raise RuntimeError("dictionary changed size during iteration")


def test_a_container_changed_while_it_is_read_is_stored_as_a_marker(
    telemetry: TelemetryCapture,
) -> None:
    entry = telemetry.capture("shifting", "success", 1.0, "t", inputs={"d": Shifting(a=1)})
    assert entry["inputs"] == {"d": "<changed while being read>"}


class Color(str, enum.Enum):
    RED = "red"


def test_a_str_subclass_key_is_stored_as_its_text(telemetry: TelemetryCapture) -> None:
    entry = telemetry.capture("enum.key", "success", 1.0, "t", inputs={"m": {Color.RED: 1}})
    assert entry["inputs"] == {"m": {"red": 1}}
