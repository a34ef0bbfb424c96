"""Oldest-first scans of the JSON-array store (``stores/json_array/forward.py``).

``scan(wanted, newest_first=False)`` is what converting between stores and replaying to OTLP
read, over files of a million entries. It must give exactly the entries a newest-first scan
gives, reversed, in the same stored form, for every file either can meet (ours, another
tool's head before our lines, damage, a torn tail); hold a few megabytes whatever the file's
size; block writers only while a block is read; survive another program rewriting the file in
place; and report damage once per read.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import CorruptStoreError, TelemetryCapture
from betty_telemetry.model.entry import SUMMARY_FIELDS
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores.json_array import forward
from betty_telemetry.stores.json_array.batch import parse_each
from betty_telemetry.stores.json_array.store import JsonArrayStore
from tests.conftest import FIXTURE
from tests.entries import TRACE, UTC, new_entry, stamp
from tests.original_framework import APPEND_SCRIPT
from tests.test_damaged_lines import CASES as DAMAGED
from tests.test_damaged_lines import NOT_DAMAGE
from tests.test_snapshot_reads import (
    CAPTURE_ONE,
    FRAMEWORK_ENTRY,
    HOLD_EXCLUSIVE_LOCK,
    PRUNE_TO_NEWEST_TEN,
    SAME_SHAPE,
    SLOW_FRAMEWORK_APPEND,
    bulk_line,
    run_script,
    wait_for_line,
)

Entry = dict[str, Any]
EVERYTHING = EntryFilter()
START = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
SKILLS = ("agent.run", "plugin.build", "skill.validate", "workflow.compose")
DEEP = b"[" * 10_000 + b"]" * 10_000
TIMEOUT = 20.0


def scan(path: Path, wanted: EntryFilter = EVERYTHING, **options: Any) -> list[Entry]:
    entries = JsonArrayStore(str(path)).scan(wanted, **options)
    try:
        return list(entries)
    finally:
        entries.close()


def both_ways(
    path: Path, wanted: EntryFilter = EVERYTHING, fields: tuple[str, ...] | None = None
) -> tuple[list[Entry], list[Entry]]:
    """The oldest-first scan, and the newest-first scan reversed."""
    oldest_first = scan(path, wanted, newest_first=False, fields=fields)
    newest_first = scan(path, wanted, fields=fields)
    newest_first.reverse()
    return oldest_first, newest_first


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "betty_telemetry" and record.levelno == logging.WARNING
    ]


# -- generated files -------------------------------------------------------------------------


def generated_entry(rng: random.Random, n: int) -> Entry:
    """Entry ``n``, 37 s after entry ``n - 1``: files are in time order, as appends leave them."""
    failed = rng.random() < 0.3
    extra: dict[str, Any] = {}
    if rng.random() < 0.5:
        extra.update(trace_id=TRACE, span_id=f"{n + 1:016x}", parent_id=None)
    if rng.random() < 0.2:
        extra["pad"] = "x" * rng.randint(0, 600)
    return new_entry(
        rng.choice(SKILLS),
        "failure" if failed else "success",
        at=START + timedelta(seconds=37 * n),
        duration_ms=float(n),
        caller=rng.choice(("cli", "api")),
        error_message="boom" if failed else None,
        **extra,
    )


def line_of(entry: Entry) -> bytes:
    return json.dumps(entry).encode()


def damaged_line(rng: random.Random, kind: str, entry: Entry) -> bytes:
    """A line that is not one entry in our layout, of the given kind."""
    line = line_of(entry)
    if kind == "garbage":
        return b"this line is garbage: api_key=sk-GARBAGE"
    if kind == "cut-short":
        return line[: rng.randint(2, len(line) - 2)]
    if kind == "cut-after-summary":  # the summary fields are sound, the rest is not
        return line[: line.index(b'"inputs": ') + rng.randint(10, 14)]
    if kind == "zeroed":  # a crash of the machine zeroed a stretch of it
        start = rng.randint(1, len(line) - 2)
        end = rng.randint(start + 1, len(line))
        return line[:start] + b"\0" * (end - start) + line[end:]
    if kind == "number":
        return b"42"
    if kind == "deep":
        return b'{"skill": "deep", "payload": ' + DEEP + b"}"
    raise AssertionError(kind)


DAMAGE_KINDS = ("garbage", "cut-short", "cut-after-summary", "zeroed", "number", "deep")


def our_lines(rng: random.Random, first: int, count: int, damage: float) -> list[bytes]:
    """Lines of ours for entries ``first`` on, with damage and other writers' lines mixed in
    after the first (our first append wrote it)."""
    lines: list[bytes] = []
    for n in range(first, first + count):
        entry = generated_entry(rng, n)
        roll = rng.random() if lines else 1.0
        if roll < damage:
            lines.append(damaged_line(rng, rng.choice(DAMAGE_KINDS), entry))
        elif roll < damage + 0.03:  # two entries on one line: another tool's compact layout
            lines.append(line_of(entry) + b", " + line_of(generated_entry(rng, n)))
        elif roll < damage + 0.06:  # one entry indented, by hand or by another tool
            lines.append(b"    " + line_of(entry))
        elif roll < damage + 0.08:  # keys in another order: no timestamp to test, no summary
            lines.append(json.dumps(dict(reversed(list(entry.items())))).encode())
        elif roll < damage + 0.1:
            lines.append(b"")  # a blank line: a lone "," once joined
        else:
            lines.append(line_of(entry))
    return lines


def legacy_head(rng: random.Random, kind: str, count: int) -> bytes:
    """The file as another tool left it, cut after its last element (where our first append
    goes), or b"" for a file that is ours from the start."""
    if kind == "ours":
        return b""
    if kind == "fixture":
        text = FIXTURE.read_bytes()
    else:
        older = [generated_entry(rng, n - count) for n in range(count)]
        text = json.dumps(older, indent=2 if kind == "indented" else None).encode()
    return text[: text.rfind(b"}") + 1] if b"}" in text else b""


TAILS = (
    b"\n]\n",
    b"\n]\n",
    b"\n]\n",  # most files end as our appends leave them
    b"",
    b",",
    b",]\n",
    b",\n\n",
    b',\n{"timestamp": "2025-11-0',
    b',\n{"skill": "x"} garb',
    b"\n]\n]\n",
    b"\n]\ngarbage\n",
)


def generated_file(seed: int, *, large: bool = False) -> bytes:
    """File number ``seed``: a few hundred lines at most, unless ``large`` (then some hold a
    couple of megabytes, several real blocks)."""
    rng = random.Random(seed)
    head = legacy_head(rng, rng.choice(("ours", "ours", "indented", "compact", "fixture")), 5)
    count = rng.choice((0, 1, 2, 5, 30, 80, 3000 if large and seed % 10 == 0 else 200))
    lines = our_lines(rng, 0, count, damage=rng.choice((0.0, 0.02, 0.1, 0.3)))
    body = b",\n".join(lines)
    tail = rng.choice(TAILS)
    if head:
        return head + (b",\n" + body if lines else b"") + tail
    return b"[\n" + body + tail


def filters() -> dict[str, EntryFilter]:
    middle = stamp(START + timedelta(seconds=37 * 40))
    return {
        "none": EVERYTHING,
        "status": EntryFilter.build(status="failure"),
        "skill": EntryFilter.build(skill="agent.run"),
        "skill-glob": EntryFilter.build(skill="*.build"),
        "caller": EntryFilter.build(caller="api"),
        "trace": EntryFilter.build(trace_id=TRACE),
        "in-a-trace": EntryFilter(with_trace=True),
        "since": EntryFilter.build(since=middle),
        "until": EntryFilter.build(until=middle),
        "window-and-status": EntryFilter.build(
            since=stamp(START + timedelta(seconds=37 * 10)), until=middle, status="success"
        ),
        "text": EntryFilter.build(text="boom"),
    }


FILTERS = filters()
BLOCK_SIZES = {"tiny-blocks": 64, "small-blocks": 1500, "real-blocks": forward.BLOCK_BYTES}


def assert_same_entries(path: Path, wanted: EntryFilter, fields: tuple[str, ...] | None) -> None:
    oldest_first, newest_first = both_ways(path, wanted, fields)
    if wanted.since is None:
        assert oldest_first == newest_first
    else:
        # The newest-first scan stops at the first line older than since by the out-of-order
        # tolerance, so it does not reach lines older than that one (nor another tool's head);
        # the oldest-first scan reads them, and the exact filter rejects them.
        matches = wanted.matches
        assert [e for e in oldest_first if matches(e)] == [e for e in newest_first if matches(e)]


@pytest.mark.parametrize("blocks", list(BLOCK_SIZES))
@pytest.mark.parametrize("seed", range(48))
def test_an_oldest_first_scan_gives_the_newest_first_entries_reversed(
    seed: int, blocks: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forward, "BLOCK_BYTES", BLOCK_SIZES[blocks])
    path = tmp_path / "telemetry.json"
    path.write_bytes(generated_file(seed, large=blocks == "real-blocks"))
    for wanted in FILTERS.values():
        assert_same_entries(path, wanted, None)
        if wanted.fields() <= set(SUMMARY_FIELDS):
            assert_same_entries(path, wanted, SUMMARY_FIELDS)


@pytest.mark.parametrize("seed", range(48))
def test_an_oldest_first_scan_reports_the_damage_a_newest_first_scan_reports(
    seed: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(generated_file(seed))
    for fields in (None, SUMMARY_FIELDS):
        scan(path, newest_first=False, fields=fields)
        oldest_first = warnings_of(caplog)
        caplog.clear()
        scan(path, fields=fields)
        assert oldest_first == warnings_of(caplog)  # the same place, the same count, once
        assert len(oldest_first) <= 1
        caplog.clear()


def first_line_odd(kind: str) -> bytes:
    """A file whose first line is not one entry of ours, and the lines after it are."""
    rng = random.Random(kind)
    entry = generated_entry(rng, 0)
    if kind == "two-entries":
        first = line_of(entry) + b", " + line_of(generated_entry(rng, 0))
    else:
        first = damaged_line(rng, kind, entry)
    return b"[\n" + b",\n".join([first, *our_lines(rng, 1, 5, damage=0.0)]) + b"\n]\n"


SHAPES: dict[str, bytes] = {
    "missing": b"",  # replaced by no file at all below
    "empty": b"",
    "blanks": b"  \n\t\n",
    "open-bracket": b"[",
    "empty-array": b"[]",
    "empty-array-on-lines": b"[\n]\n",
    "bom": b"\xef\xbb\xbf[\n" + line_of(generated_entry(random.Random(1), 1)) + b"\n]\n",
    "fixture": FIXTURE.read_bytes(),
    "fixture-torn": FIXTURE.read_bytes()[: FIXTURE.read_bytes().rindex(b'"skill"') + 5],
    "fixture-then-ours": (
        legacy_head(random.Random(2), "fixture", 0)
        + b",\n"
        + b",\n".join(our_lines(random.Random(3), 0, 40, damage=0.1))
        + b"\n]\n"
    ),
    "one-deep-line-last": b'[\n{"a": 1},\n{"skill": "deep", "payload": ' + DEEP + b"}\n]\n",
    "a-deep-line-alone": b'[\n{"skill": "deep", "payload": ' + DEEP + b"}\n]\n",
    "torn-object-ending-in-a-brace": b'[\n{"skill": "x", "inputs": {"a": 1}',
    "multi-line-object-after-a-head": b'[\n  {"a": 1},\n{"skill": "outer", "in":\n{"b": 2}}\n]',
    **{f"first-line-{kind}": first_line_odd(kind) for kind in (*DAMAGE_KINDS, "two-entries")},
    **{f"damaged-{name}": content for name, (content, *_) in DAMAGED.items()},
    **{f"not-damage-{name}": content for name, (content, _) in NOT_DAMAGE.items()},
}


@pytest.mark.parametrize("blocks", list(BLOCK_SIZES))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_of_file_reads_the_same_both_ways(
    shape: str, blocks: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forward, "BLOCK_BYTES", BLOCK_SIZES[blocks])
    path = tmp_path / "telemetry.json"
    if shape != "missing":
        path.write_bytes(SHAPES[shape])
    for wanted in FILTERS.values():
        assert_same_entries(path, wanted, None)
    assert_same_entries(path, EVERYTHING, SUMMARY_FIELDS)


@pytest.mark.parametrize("case", list(DAMAGED))
def test_damage_in_the_middle_is_skipped_and_reported_once(
    case: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content, expected, *_ = DAMAGED[case]
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    path = tmp_path / "telemetry.json"
    path.write_bytes(content)
    assert scan(path, newest_first=False) == expected
    [warning] = warnings_of(caplog)
    caplog.clear()
    scan(path)
    assert warnings_of(caplog) == [warning]
    assert path.read_bytes() == content, "a reader changed the file"


def test_a_file_in_another_layout_is_refused_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(b'{"skill": "not an array"}\n')
    with pytest.raises(CorruptStoreError):
        scan(path, newest_first=False)
    with pytest.raises(CorruptStoreError):
        scan(path)


def test_the_fixture_reads_oldest_first_in_its_order(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(FIXTURE.read_bytes())
    assert scan(path, newest_first=False) == json.loads(FIXTURE.read_bytes())


def test_our_appends_after_the_original_frameworks_file_follow_its_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry.json"
    path.write_bytes(FIXTURE.read_bytes())
    telemetry = TelemetryCapture(path)
    ours = [telemetry.capture(f"after.{n}", "success", 1.0, "test") for n in range(3)]
    run_script(APPEND_SCRIPT, str(path), FRAMEWORK_ENTRY)  # rewrites it all, indented
    ours += [telemetry.capture(f"later.{n}", "success", 1.0, "test") for n in range(3)]
    assert path.read_bytes().startswith(b"[\n  {")
    framework = json.loads(FRAMEWORK_ENTRY)
    expected = [*json.loads(FIXTURE.read_bytes()), *ours[:3], framework, *ours[3:]]
    assert scan(path, newest_first=False) == expected


# -- time windows ----------------------------------------------------------------------------


def test_since_finds_an_entry_older_lines_follow_by_more_than_the_tolerance(
    tmp_path: Path,
) -> None:
    # A newest-first scan stops at the first line older than since - 10 minutes: what lies
    # before it in the file is taken to be older still. Going forwards nothing is taken.
    wanted_one = new_entry("wanted", at=START + timedelta(hours=3))
    older = new_entry("older", at=START)
    path = tmp_path / "telemetry.json"
    path.write_bytes(b"[\n" + line_of(wanted_one) + b",\n" + line_of(older) + b"\n]\n")
    since = EntryFilter.build(since=stamp(START + timedelta(hours=2)))
    assert [e for e in scan(path, since, newest_first=False) if since.matches(e)] == [wanted_one]


def test_until_does_not_end_an_oldest_first_scan(tmp_path: Path) -> None:
    later = new_entry("later", at=START + timedelta(hours=3))
    wanted_one = new_entry("wanted", at=START)
    path = tmp_path / "telemetry.json"
    path.write_bytes(b"[\n" + line_of(later) + b",\n" + line_of(wanted_one) + b"\n]\n")
    until = EntryFilter.build(until=stamp(START + timedelta(hours=1)))
    assert [e for e in scan(path, until, newest_first=False) if until.matches(e)] == [wanted_one]


# -- parsing does not depend on block boundaries ----------------------------------------------


@pytest.mark.parametrize("summaries", [False, True])
def test_each_line_parses_as_it_would_alone_whatever_shares_its_batch(summaries: bool) -> None:
    # Block boundaries differ between the two directions: an entry's form must not follow them.
    rng = random.Random(7)
    lines = [line + b"," for line in our_lines(rng, 0, 300, damage=0.2)]  # as in the file
    alone = [parse_each([line], summaries=summaries)[0] for line in lines]
    assert alone.count(None) > 30  # damaged lines among them
    for size in (2, 9, 50, len(lines)):
        batches = [lines[i : i + size] for i in range(0, len(lines), size)]
        together = [entry for batch in batches for entry in parse_each(batch, summaries=summaries)]
        assert together == alone


def test_a_line_damaged_past_its_summary_gives_its_summary_only_when_summaries_are_asked() -> None:
    rng = random.Random(8)
    line = damaged_line(rng, "cut-after-summary", generated_entry(rng, 1))
    [summary] = parse_each([line, line], summaries=True)[:1]
    assert summary is not None
    assert tuple(summary) == SUMMARY_FIELDS
    assert parse_each([line, line]) == [None, None]


# -- bounded memory --------------------------------------------------------------------------

LARGE = 120_000  # about 28 MB


@pytest.fixture
def large_file(tmp_path: Path) -> Path:
    path = tmp_path / "large.json"
    with path.open("w", encoding="ascii") as out:
        out.write("[\n")
        for start in range(0, LARGE, 10_000):
            chunk = ",\n".join(bulk_line(n) for n in range(start, min(start + 10_000, LARGE)))
            out.write((",\n" if start else "") + chunk)
        out.write("\n]\n")
    return path


def test_a_full_oldest_first_scan_holds_a_few_megabytes_whatever_the_file_size(
    large_file: Path,
) -> None:
    store = JsonArrayStore(str(large_file))
    tracemalloc.start()
    try:
        entries = store.scan(EVERYTHING, newest_first=False)
        first = next(entries)
        count = 1 + sum(1 for _ in entries)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, first["skill"]) == (LARGE, "bulk.0")
    # Reversing a newest-first scan held every entry: several hundred megabytes here.
    assert peak < 4_000_000, f"peak {peak / 1e6:.1f} MB for a {large_file.stat().st_size} B file"


# -- writers are not blocked -----------------------------------------------------------------

MEDIUM = 5_000
FRAMEWORK = json.loads(FRAMEWORK_ENTRY)


def bulk_file(path: Path, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\n" + ",\n".join(bulk_line(n) for n in range(count)) + "\n]\n")
    return path


def oldest_first(count: int) -> list[Entry]:
    return [json.loads(bulk_line(n)) for n in range(count)]


@pytest.fixture
def medium_file(telemetry_path: Path) -> Path:
    return bulk_file(telemetry_path, MEDIUM)


@pytest.fixture
def paused(medium_file: Path) -> Iterator[Iterator[Entry]]:
    entries = JsonArrayStore(str(medium_file)).scan(EVERYTHING, newest_first=False)
    yield entries
    entries.close()


def test_a_paused_oldest_first_scan_holds_no_lock(medium_file: Path, paused: Any) -> None:
    read = list(itertools.islice(paused, 10))
    other = os.open(medium_file, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise if the scan held it
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
    assert read + list(paused) == oldest_first(MEDIUM)


@pytest.mark.parametrize("read_first", [3, 25_000], ids=["at-the-start", "half-way"])
def test_a_capture_in_another_process_completes_while_an_oldest_first_scan_is_paused(
    telemetry_path: Path, read_first: int
) -> None:
    bulk_file(telemetry_path, 50_000)
    entries = JsonArrayStore(str(telemetry_path)).scan(EVERYTHING, newest_first=False)
    try:
        read = [entry["skill"] for entry in itertools.islice(entries, read_first)]
        assert read == [f"bulk.{n}" for n in range(read_first)]
        result = subprocess.run(
            [sys.executable, "-c", CAPTURE_ONE, str(telemetry_path), "during.scan"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, "BETTY_TELEMETRY_LOCK_TIMEOUT": "2"},
        )
        assert result.returncode == 0, result.stderr
        rest = [entry["skill"] for entry in entries]
    finally:
        entries.close()
    # The capture is not in the scan: it reads the file as it was when the scan began.
    assert rest == [f"bulk.{n}" for n in range(read_first, 50_000)]
    assert TelemetryCapture(telemetry_path).query(limit=1)[0]["skill"] == "during.scan"


def test_each_block_of_an_oldest_first_scan_is_read_under_the_shared_lock(
    medium_file: Path, paused: Any
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_EXCLUSIVE_LOCK, str(medium_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        read = list(itertools.islice(paused, 5))
        wait_for_line(holder, "locked")
        started = time.monotonic()
        read += list(paused)  # the next block waits until the writer lets go
        waited = time.monotonic() - started
        assert holder.wait(timeout=TIMEOUT) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert waited >= 0.3
    assert read == oldest_first(MEDIUM)


# -- the file rewritten in place by another program ------------------------------------------


@pytest.mark.parametrize("read_first", [1, 100, 2000, MEDIUM - 1, MEDIUM])
def test_a_framework_rewrite_during_an_oldest_first_scan_neither_repeats_nor_skips(
    medium_file: Path, paused: Any, read_first: int
) -> None:
    read = list(itertools.islice(paused, read_first))
    run_script(APPEND_SCRIPT, str(medium_file), FRAMEWORK_ENTRY)
    assert medium_file.read_bytes().startswith(b"[\n  {")  # rewritten, indented
    read += list(paused)
    # Blocks already read are read to their end; the next block finds the file rewritten, is
    # read again under the lock from the entry after the last one yielded, to the file's end:
    # the rewrite's own entry comes last.
    expected = oldest_first(MEDIUM)
    assert read in (expected, [*expected, FRAMEWORK])
    if read_first < MEDIUM // 2:
        assert read == [*expected, FRAMEWORK]


def test_an_oldest_first_scan_waits_for_a_rewrite_in_progress(
    medium_file: Path, paused: Any
) -> None:
    rewriter = subprocess.Popen(
        [sys.executable, "-c", SLOW_FRAMEWORK_APPEND, str(medium_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        read = list(itertools.islice(paused, 5))
        wait_for_line(rewriter, "half written")  # the file is half a JSON array right now
        read += list(paused)
        assert rewriter.wait(timeout=TIMEOUT) == 0
    finally:
        if rewriter.poll() is None:
            rewriter.kill()
            rewriter.wait()
        if rewriter.stdout is not None:
            rewriter.stdout.close()
    assert read == [*oldest_first(MEDIUM), FRAMEWORK]


def test_a_rewrite_that_dropped_the_entries_read_ends_the_scan_with_a_warning(
    medium_file: Path, paused: Any, caplog: pytest.LogCaptureFixture
) -> None:
    read = list(itertools.islice(paused, 20))
    run_script(PRUNE_TO_NEWEST_TEN, str(medium_file))
    with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
        read += list(paused)
    assert 20 <= len(read) < MEDIUM
    assert read == oldest_first(MEDIUM)[: len(read)]  # a prefix of the snapshot, in order
    assert "rewritten by another program" in caplog.text


def test_a_rewrite_during_an_oldest_first_scan_of_identical_entries_yields_each_once(
    telemetry_path: Path,
) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_text("[\n" + ",\n".join([bulk_line(7)] * 3000) + "\n]\n")
    entries = JsonArrayStore(str(telemetry_path)).scan(EVERYTHING, newest_first=False)
    try:
        read = list(itertools.islice(entries, 100))
        run_script(APPEND_SCRIPT, str(telemetry_path), FRAMEWORK_ENTRY)
        read += list(entries)
    finally:
        entries.close()
    assert read == [json.loads(bulk_line(7))] * 3000 + [FRAMEWORK]


def test_an_oldest_first_scan_of_a_file_truncated_and_refilled_yields_only_its_snapshot(
    telemetry_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_script(SAME_SHAPE, str(telemetry_path), "3000")
    snapshot = scan(telemetry_path, newest_first=False)
    entries = JsonArrayStore(str(telemetry_path)).scan(EVERYTHING, newest_first=False)
    try:
        read = list(itertools.islice(entries, 5))
        os.truncate(telemetry_path, 0)  # logrotate's copytruncate, or `: > telemetry.json`
        run_script(SAME_SHAPE, str(telemetry_path), "3000")
        with caplog.at_level(logging.WARNING, logger="betty_telemetry"):
            read += list(entries)
    finally:
        entries.close()
    assert read == snapshot[: len(read)]
    assert len(read) < len(snapshot)
    assert "rewritten by another program" in caplog.text


# -- stopping early --------------------------------------------------------------------------


def test_an_oldest_first_scan_closed_early_reports_only_the_damage_it_met(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="betty_telemetry")
    lines = [bulk_line(n).encode() for n in range(3000)]
    path = tmp_path / "telemetry.json"
    path.write_bytes(b"[\n" + b",\n".join([*lines[:2990], b"garbage", *lines[2990:]]) + b"\n]\n")
    entries = JsonArrayStore(str(path)).scan(EVERYTHING, newest_first=False)
    assert [e["skill"] for e in itertools.islice(entries, 3)] == ["bulk.0", "bulk.1", "bulk.2"]
    entries.close()
    assert warnings_of(caplog) == []  # the damage is blocks away: never reached
    assert len(scan(path, newest_first=False)) == 3000
    [warning] = warnings_of(caplog)
    assert "line 2992, column 1" in warning
