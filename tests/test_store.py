"""The JSON-array store: byte layout, appends to foreign files, torn tails, corrupt files."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from betty_telemetry import CorruptStoreError, TelemetryCapture
from betty_telemetry.capture.build import build_entry
from betty_telemetry.capture.encode import encode_entry
from betty_telemetry.model.entry import ENTRY_FIELDS
from betty_telemetry.stores import JsonArrayStore
from tests.conftest import FIXTURE


@functools.cache
def line(n: int) -> bytes:
    """Entry ``n`` as one canonical line (the same bytes at every call)."""
    return encode_entry(build_entry(f"skill.{n}", "success", float(n), "test", {"n": n}))


def entries_in(path: Path) -> list[dict[str, object]]:
    value = json.loads(path.read_bytes())
    assert isinstance(value, list)
    return value


def test_layout_after_n_appends_is_one_entry_per_line(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = JsonArrayStore(str(path))
    lines = [line(n) for n in range(5)]
    for item in lines:
        store.append(item)
    assert path.read_bytes() == b"[\n" + b",\n".join(lines) + b"\n]\n"


def test_first_append_creates_folders_and_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "t.json"
    JsonArrayStore(str(path)).append(line(1))
    assert path.read_bytes() == b"[\n" + line(1) + b"\n]\n"
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "existing",
    [b"", b"   \n", b"[]", b"[ ]", b"[\n]\n", b"[]\n\n\n", b"[\n\n]", b"\xef\xbb\xbf[]"],
    ids=[
        "empty",
        "whitespace",
        "brackets",
        "spaced",
        "canonical",
        "trailing-ws",
        "blank-line",
        "bom",
    ],
)
def test_appends_to_an_empty_array_in_any_layout(tmp_path: Path, existing: bytes) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(existing)
    store = JsonArrayStore(str(path))
    store.append(line(1))
    store.append(line(2))
    assert [e["skill"] for e in entries_in(path)] == ["skill.1", "skill.2"]


@pytest.mark.parametrize("indent", [None, 2, 4, "\t"])
def test_appends_in_place_to_arrays_other_tools_wrote(tmp_path: Path, indent: object) -> None:
    path = tmp_path / "t.json"
    old = [{"skill": "old.1", "status": "success"}, {"skill": "old.2", "status": "failed"}]
    original = json.dumps(old, indent=indent).encode()  # type: ignore[arg-type]
    path.write_bytes(original)
    JsonArrayStore(str(path)).append(line(1))
    content = path.read_bytes()
    assert [e["skill"] for e in entries_in(path)] == ["old.1", "old.2", "skill.1"]
    # What was there is kept byte for byte, up to its last entry: no rewrite.
    last_entry_end = original.rstrip().rstrip(b"]").rstrip()
    assert content.startswith(last_entry_end)
    assert content.endswith(b"\n" + line(1) + b"\n]\n")


def test_appends_keep_trailing_whitespace_files_valid(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b"[\n" + line(0) + b"\n]\n" + b" \n" * 500)
    JsonArrayStore(str(path)).append(line(1))
    assert path.read_bytes() == b"[\n" + line(0) + b",\n" + line(1) + b"\n]\n"


def test_appends_to_the_legacy_fixture_and_reads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    shutil.copy(FIXTURE, path)
    before = json.loads(FIXTURE.read_bytes())
    telemetry = TelemetryCapture(telemetry_file=path)
    entry = telemetry.capture("plugin.build", "success", 320.5, "CLI", {"p": 1})
    after = entries_in(path)
    assert after[:-1] == before
    assert after[-1] == entry
    assert path.read_bytes().startswith(FIXTURE.read_bytes().rstrip().rstrip(b"]").rstrip())
    queried = telemetry.query()
    assert len(queried) == len(before) + 1
    assert queried[0] == entry
    assert [e["timestamp"] for e in queried[1:]] == [e["timestamp"] for e in reversed(before)]


def test_legacy_entries_read_with_every_spec_field_and_their_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    shutil.copy(FIXTURE, path)
    raw = json.loads(FIXTURE.read_bytes())
    for read, stored in zip(TelemetryCapture(path).query(), reversed(raw), strict=True):
        assert tuple(read)[:8] == ENTRY_FIELDS
        for key, value in stored.items():
            assert read[key] == value  # nothing altered: "failed" stays, ints stay ints
    failed = TelemetryCapture(path).query(status="failed")
    assert len(failed) == sum(1 for e in raw if e.get("status") == "failed")


def test_a_file_that_is_not_an_array_is_left_unchanged(tmp_path: Path) -> None:
    for content in [b'{"entries": []}', b"garbage", b'{"entries": [\n', b"\x00\x00\x00", b"123"]:
        path = tmp_path / "t.json"
        path.write_bytes(content)
        with pytest.raises(CorruptStoreError) as caught:
            TelemetryCapture(path).capture("s", "success", 1, "c")
        assert str(path) in str(caught.value)
        assert "left unchanged" in str(caught.value)
        assert path.read_bytes() == content


def test_corrupt_store_error_is_a_value_error_that_says_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b'{"not": "an array"}')
    with pytest.raises(ValueError, match=r"it starts with a JSON object\)"):
        TelemetryCapture(path).capture("s", "success", 1, "c")


def test_damage_before_the_last_line_of_a_torn_file_is_not_cut_away(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    content = b'[\n  {"a": 1},\n  {damaged},\n  {"b": 2},\n  {"c'  # cutting would lose "b"
    path.write_bytes(content)
    with pytest.raises(CorruptStoreError):
        JsonArrayStore(str(path)).append(line(3))
    assert path.read_bytes() == content


def test_reading_a_file_that_is_not_an_array_raises(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b'{"a": 1}')
    with pytest.raises(CorruptStoreError):
        TelemetryCapture(path).query()


def test_reading_a_missing_file_gives_nothing_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none" / "t.json"
    assert TelemetryCapture(path).query() == []
    assert not path.parent.exists()


# -- torn tails: every state a killed writer can leave behind ------------------------------


def _torn_states(before: bytes, new_line: bytes) -> list[tuple[int, bytes]]:
    """Every file a writer killed after k bytes of its append could leave.

    Two families: the write landed over the old bytes (what was not yet overwritten is still
    there), or the file was cut first (slow path, or lost blocks after a power failure).
    """
    scratch = Path(os.environ["PYTEST_TORN_DIR"]) / "scratch.json"
    scratch.write_bytes(before)
    JsonArrayStore(str(scratch)).append(new_line)
    after = scratch.read_bytes()
    offset = 0
    while offset < min(len(before), len(after)) and before[offset] == after[offset]:
        offset += 1
    data = after[offset:]
    over_old = [before[:offset] + data[:k] + before[offset + k :] for k in range(len(data) + 1)]
    cut_first = [after[:j] for j in range(offset, len(after) + 1)]
    return list(enumerate(over_old + cut_first))


@pytest.fixture
def torn_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTEST_TORN_DIR", str(tmp_path))
    return tmp_path


STARTING_FILES = {
    "canonical": b"[\n" + line(0) + b",\n" + line(1) + b"\n]\n",
    "canonical-one": b"[\n" + line(0) + b"\n]\n",
    "canonical-empty": b"[\n]\n",
    "brackets": b"[]",
    "empty": b"",
    "indented": json.dumps([{"skill": "old", "status": "success"}], indent=2).encode(),
    "indented-newline": json.dumps([{"skill": "old"}], indent=4).encode() + b"\n",
    "compact": b'[{"skill": "old"}, {"skill": "older", "args": [1, 2]}]',
}


@pytest.mark.parametrize("name", list(STARTING_FILES))
def test_every_torn_append_is_repaired_by_the_next_append(
    torn_dir: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    before = STARTING_FILES[name]
    kept = json.loads(before) if before.strip() else []
    torn_line = encode_entry(build_entry("torn.entry", "success", 1.0, "t", {"x": [1, {"y": 2}]}))
    for k, torn in _torn_states(before, torn_line):
        path = torn_dir / f"{name}-{k}.json"
        path.write_bytes(torn)
        # Readers tolerate the torn tail before any repair.
        readable = TelemetryCapture(path).query()
        assert len(readable) in (len(kept), len(kept) + 1)
        JsonArrayStore(str(path)).append(line(99))
        result = entries_in(path)
        complete = result[:-1]
        assert result[-1]["skill"] == "skill.99", (k, torn)
        # Every complete entry stays; the torn one is either whole or gone.
        assert complete in (kept, [*kept, json.loads(torn_line)]), (k, torn)
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_torn_first_entry_leaves_an_empty_array_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b'[\n{"timestamp": "2025-10-2')
    JsonArrayStore(str(path)).append(line(1))
    assert entries_in(path) == [json.loads(line(1))]
    assert "Repaired" in caplog.text
    assert str(path) in caplog.text


def test_a_torn_tail_keeps_every_complete_entry_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.json"
    complete = [line(n) for n in range(3)]
    path.write_bytes(b"[\n" + b",\n".join(complete) + b',\n{"timestamp": "20')
    store = JsonArrayStore(str(path))
    store.append(line(3))
    store.append(line(4))
    assert path.read_bytes() == b"[\n" + b",\n".join([*complete, line(3), line(4)]) + b"\n]\n"
    assert caplog.text.count("Repaired") == 1


def test_a_torn_tail_of_a_foreign_indented_rewrite_is_cut_at_the_last_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.json"
    full = json.dumps([{"skill": "a", "inputs": {"x": [1, 2]}}, {"skill": "b"}], indent=2)
    cut_inside_b = full.index('"b"') + 1
    path.write_text(full[:cut_inside_b])
    JsonArrayStore(str(path)).append(line(1))
    assert [e["skill"] for e in entries_in(path)] == ["a", "skill.1"]


# -- the file changes under us -------------------------------------------------------------


def test_a_replaced_file_is_followed(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = JsonArrayStore(str(path))
    store.append(line(1))
    replacement = tmp_path / "new.json"
    replacement.write_bytes(b"[\n" + line(2) + b"\n]\n")
    os.replace(replacement, path)  # rotation: the old inode is gone from the path
    store.append(line(3))
    assert [e["skill"] for e in entries_in(path)] == ["skill.2", "skill.3"]


def test_a_deleted_file_is_created_again(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = JsonArrayStore(str(path))
    store.append(line(1))
    path.unlink()
    store.append(line(2))
    assert [e["skill"] for e in entries_in(path)] == ["skill.2"]


def test_a_file_rewritten_in_place_by_another_tool_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = JsonArrayStore(str(path))
    store.append(line(1))
    data = [*entries_in(path), {"skill": "foreign"}]
    with path.open("r+") as handle:  # the original framework's way: rewrite the same inode
        json.dump(data, handle, indent=2)
        handle.truncate()
    store.append(line(2))
    assert [e["skill"] for e in entries_in(path)] == ["skill.1", "foreign", "skill.2"]


def test_close_then_append_reopens(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = JsonArrayStore(str(path))
    store.append(line(1))
    store.close()
    store.close()
    store.append(line(2))
    assert len(entries_in(path)) == 2


# -- reading -------------------------------------------------------------------------------


def test_query_with_a_small_limit_reads_only_the_end_of_a_large_file(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "t.json"
    lines = [line(n) for n in range(60_000)]
    path.write_bytes(b"[\n" + b",\n".join(lines) + b"\n]\n")
    size = path.stat().st_size
    telemetry = TelemetryCapture(path)
    tracemalloc.start()
    newest = telemetry.query(limit=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [e["skill"] for e in newest] == [f"skill.{n}" for n in range(59_999, 59_989, -1)]
    assert size > 10_000_000
    assert peak < 1_000_000, peak


def test_query_filters_match_exactly_and_newest_comes_first(telemetry: TelemetryCapture) -> None:
    for n in range(6):
        telemetry.capture(f"s.{n % 2}", ("success", "failure")[n % 3 == 0], n, f"c{n % 3}")
    assert [e["duration_ms"] for e in telemetry.query()] == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    assert [e["duration_ms"] for e in telemetry.query(skill="s.1")] == [5.0, 3.0, 1.0]
    assert [e["duration_ms"] for e in telemetry.query(status="failure")] == [3.0, 0.0]
    assert [e["duration_ms"] for e in telemetry.query(caller="c0")] == [3.0, 0.0]
    assert [e["duration_ms"] for e in telemetry.query(skill="s.1", caller="c0")] == [3.0]
    assert [e["duration_ms"] for e in telemetry.query(limit=2)] == [5.0, 4.0]
    assert telemetry.query(limit=0) == []
    assert telemetry.query(skill="s") == []


@pytest.mark.parametrize("limit", [-1, 1.5, "10", True])
def test_query_refuses_a_bad_limit(telemetry: TelemetryCapture, limit: object) -> None:
    with pytest.raises(ValueError, match="limit must be a whole number"):
        telemetry.query(limit=limit)  # type: ignore[arg-type]


def test_reading_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b"[\n" + line(0) + b",\n" + line(1) + b',\n{"timestamp": "2')
    assert [e["skill"] for e in TelemetryCapture(path).query()] == ["skill.1", "skill.0"]


def test_reading_a_mixed_file_gives_appended_then_legacy_entries(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"skill": "legacy.1"}, {"skill": "legacy.2"}], indent=2))
    telemetry = TelemetryCapture(path)
    telemetry.capture("new.1", "success", 1, "c")
    telemetry.capture("new.2", "success", 1, "c")
    skills = [e["skill"] for e in telemetry.query()]
    assert skills == ["new.2", "new.1", "legacy.2", "legacy.1"]
    assert [e["skill"] for e in telemetry.query(limit=3)] == ["new.2", "new.1", "legacy.2"]


# -- faults --------------------------------------------------------------------------------

FILE_SIZE_LIMIT_SCRIPT = """
import json, logging, resource, sys
from betty_telemetry import TelemetryCapture, capture_telemetry
logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
path = sys.argv[1]
telemetry = TelemetryCapture(path)
for n in range(3):
    telemetry.capture("before.limit", "success", n, "t")
size = len(open(path, "rb").read())
# Soft limit only, lifted again below: coverage writes its data file at exit.
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
try:
    telemetry.capture("over.limit", "success", 1, "t", {"pad": "x" * 300})
except OSError as error:
    print("api raised", error.errno)

sentinel = object()

@capture_telemetry(skill_name="decorated", telemetry=telemetry, capture_inputs=True)
def work(pad):
    return sentinel

results = [work("x" * 300) for _ in range(5)]
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
print("decorator passed through", all(r is sentinel for r in results))
print("entries", [e["skill"] for e in json.load(open(path))])
"""


def test_a_file_size_limit_mid_write_leaves_the_file_valid(tmp_path: Path) -> None:
    import errno

    from tests.conftest import run_python

    path = tmp_path / "t.json"
    result = run_python("-c", FILE_SIZE_LIMIT_SCRIPT, str(path))
    assert result.returncode == 0, result.stderr
    assert f"api raised {errno.EFBIG}" in result.stdout
    assert "decorator passed through True" in result.stdout
    assert "entries ['before.limit', 'before.limit', 'before.limit']" in result.stdout
    assert result.stderr.count("Telemetry was not recorded") == 1
    assert entries_in(path) == json.loads(path.read_bytes())
    assert path.read_bytes().endswith(b"}\n]\n")


def test_a_long_run_of_leading_whitespace_does_not_hide_the_array(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b" " * 200 + b"[\n" + line(0) + b"\n]")
    JsonArrayStore(str(path)).append(line(1))
    assert [e["skill"] for e in entries_in(path)] == ["skill.0", "skill.1"]


def test_an_array_of_other_values_is_appended_to_and_they_are_skipped_on_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b"[1, 2\n]")
    telemetry = TelemetryCapture(path)
    entry = telemetry.capture("s", "success", 1, "c")
    assert entries_in(path) == [1, 2, entry]
    assert telemetry.query() == [entry]


def test_a_torn_separator_after_a_value_that_is_not_an_entry_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b"[1, 2,")
    JsonArrayStore(str(path)).append(line(1))
    assert entries_in(path) == [1, 2, json.loads(line(1))]


@pytest.mark.parametrize(
    "content",
    [b'[{"a": 1} {"b": 2}]', b'[{"a": 1}] trailing', b'[\n  {"a": 1}\n  {"b": 2},\n'],
    ids=["missing-comma", "after-the-array", "missing-comma-torn"],
)
def test_damaged_arrays_are_refused_and_left_unchanged(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(content)
    with pytest.raises(CorruptStoreError, match=r"expected ',' or '\]'|after the end"):
        JsonArrayStore(str(path)).append(line(1))
    assert path.read_bytes() == content


def test_reading_a_damaged_region_written_by_another_tool_reads_on_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Readers never raise the good entries away: the damage is reported, and read past.
    path = tmp_path / "t.json"
    path.write_bytes(b'[\n  {"a": 1}\n  {"b": 2},\n' + line(0) + b"\n]\n")
    entries = TelemetryCapture(path).query()
    assert [(e["skill"], e.get("b"), e.get("a")) for e in entries] == [
        ("skill.0", None, None),
        (None, 2, None),
        (None, None, 1),
    ]
    [warning] = {r.getMessage() for r in caplog.records if r.name == "betty_telemetry"}
    assert str(path) in warning
    assert "line 3, column 3 (byte offset 15)" in warning
    assert "','" in warning


def test_a_store_dropped_without_close_releases_its_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    before = len(os.listdir("/proc/self/fd"))
    for n in range(300):
        TelemetryCapture(path).capture("dropped", "success", float(n), "test")
    assert len(os.listdir("/proc/self/fd")) - before < 10
    assert len(entries_in(path)) == 300


def _canonical_file(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"[\n" + b",\n".join(lines) + b"\n]\n")


def test_reading_skips_a_damaged_line_inside_the_file_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    lines = [line(n) for n in range(40)]
    lines[25] = lines[25][:30]  # a line cut short by a disk error, entries after it intact
    _canonical_file(path, lines)
    skills = [e["skill"] for e in TelemetryCapture(path).query()]
    assert skills == [f"skill.{n}" for n in reversed(range(40)) if n != 25]


def test_reading_a_line_holding_two_entries_gives_both(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    lines = [line(n) for n in range(10)]
    lines[4] = line(4) + b", " + line(40)  # written by another tool, two entries on one line
    _canonical_file(path, lines)
    skills = [e["skill"] for e in TelemetryCapture(path).query()]
    assert skills == [f"skill.{n}" for n in (9, 8, 7, 6, 5, 40, 4, 3, 2, 1, 0)]


def test_reading_an_entry_longer_than_the_first_block(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    big = encode_entry(build_entry("big", "success", 1.0, "test", {"text": "x" * 4000}))
    huge = big.replace(b'"text": "', b'"text": "' + b"y" * 60_000, 1)  # as another tool wrote it
    _canonical_file(path, [line(0), huge, line(1), huge])
    read = TelemetryCapture(path).query()
    assert [e["skill"] for e in read] == ["big", "skill.1", "big", "skill.0"]
    assert len(read[0]["inputs"]["text"]) == 64_000


def test_reading_skips_a_torn_last_line_longer_than_the_tail_probe(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    partial = line(2).replace(b'{"n": 2}', b'{"text": "' + b"z" * 15_000)  # cut mid-string
    path.write_bytes(b"[\n" + line(0) + b",\n" + line(1) + b",\n" + partial)
    assert [e["skill"] for e in TelemetryCapture(path).query()] == ["skill.1", "skill.0"]


@pytest.mark.parametrize("partial_bytes", [10, 3_000, 15_000])
def test_content_ends_after_the_last_complete_entry_before_a_torn_line(
    tmp_path: Path, partial_bytes: int
) -> None:
    from betty_telemetry.stores._snapshot import content_end

    path = tmp_path / "t.json"
    complete = b"[\n" + line(0) + b",\n" + line(1)
    partial = (b'{"timestamp": "2025' + b"z" * partial_bytes)[:partial_bytes]
    path.write_bytes(complete + b",\n" + partial)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert content_end(fd, path.stat().st_size) == len(complete)
    finally:
        os.close(fd)
