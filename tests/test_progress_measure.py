"""How far a long operation got, as each store measures it: ``scan_measured`` and
``rotate(progress)`` report ``done`` of ``total`` (``stores.base.ProgressHook``), growing to
the whole; the read side adds the entries it counted. And an operation stopped by an
exception from inside it (Ctrl-C) leaves every file valid: nothing half-written is left."""

from __future__ import annotations

import contextlib
import gzip
import json
import math
from collections.abc import Collection, Generator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry.lifecycle.rotation import RotationPolicy, rotate
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.read import reading
from betty_telemetry.stores import MemoryStore, open_store
from betty_telemetry.stores._phases import step
from betty_telemetry.stores.base import Encoded, Follower, MeasuredStore, RotatingStore, Store
from tests.entries import numbered_entry, stamp
from tests.stores import SQLITE, encoded, kind_of, stored_entries, write_entries

pytestmark = pytest.mark.every_store

Entry = dict[str, Any]
START = datetime(2025, 10, 24, tzinfo=timezone.utc)
# ~2.4 MB: several blocks of each file store's reads (up to 1 MiB), several SQLite pages.
ENTRIES = [numbered_entry(n, timestamp=stamp(START + timedelta(seconds=n))) for n in range(8000)]


class Reports:
    """A ProgressHook that keeps what it is told."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.stop_after = stop_after

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if self.stop_after is not None and len(self.calls) > self.stop_after:
            raise KeyboardInterrupt  # Ctrl-C, in the middle of the work

    def check_grows_to_the_whole(self, steps: int = 3) -> None:
        assert len(self.calls) >= steps, self.calls  # several steps: a bar that moves
        totals = {total for _, total in self.calls}
        assert len(totals) == 1, totals
        [total] = totals
        done = [done for done, _ in self.calls]
        assert done == sorted(done)
        assert done[0] > 0
        assert done[-1] == total


@pytest.fixture
def filled(telemetry_path: Path) -> Path:
    write_entries(telemetry_path, ENTRIES)
    return telemetry_path


def opened(path: Path) -> MeasuredStore:
    store = open_store(path)
    assert isinstance(store, MeasuredStore)
    return store


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
def test_a_scan_measures_its_way_to_the_whole_store(filled: Path, newest_first: bool) -> None:
    store = opened(filled)
    reports = Reports()
    with contextlib.closing(
        store.scan_measured(EntryFilter(), reports, newest_first=newest_first)
    ) as scan:
        entries = list(scan)
    store.close()
    expected = ENTRIES[::-1] if newest_first else ENTRIES
    assert [entry["skill"] for entry in entries] == [entry["skill"] for entry in expected]
    reports.check_grows_to_the_whole()


def test_a_measured_scan_reads_what_a_scan_reads(filled: Path) -> None:
    store = opened(filled)
    wanted = EntryFilter.build(skill="skill.2*", since="2025-10-24T00:30:00Z")
    with contextlib.closing(store.scan(wanted)) as plain:
        expected = [entry for entry in plain if wanted.matches(entry)]
    with contextlib.closing(store.scan_measured(wanted, Reports())) as measured:
        assert [entry for entry in measured if wanted.matches(entry)] == expected
    store.close()
    assert expected


def test_a_scan_stopped_early_reports_no_further(filled: Path) -> None:
    store = opened(filled)
    reports = Reports()
    with contextlib.closing(store.scan_measured(EntryFilter(), reports)) as scan:
        next(scan)
    store.close()
    [(done, total)] = reports.calls
    assert 0 < done < total


def test_an_empty_or_missing_store_reports_nothing(telemetry_path: Path) -> None:
    store = opened(telemetry_path)
    reports = Reports()
    assert list(store.scan_measured(EntryFilter(), reports)) == []
    store.close()
    assert reports.calls == []


def test_select_tells_the_entries_read_with_the_measure(filled: Path) -> None:
    store = open_store(filled)
    told: list[tuple[int, int, int]] = []
    wanted = EntryFilter.build(status="success")
    entries = list(reading.select(store, wanted, progress=lambda *call: told.append(call)))
    store.close()
    assert len(entries) == len(ENTRIES)
    counts = [entries for entries, _, _ in told]
    assert counts == sorted(counts)
    assert told[-1][0] == len(ENTRIES)  # the last call: every entry, the whole store
    assert told[-1][1] == told[-1][2] > 0


def test_statistics_and_traces_tell_their_reads_too(filled: Path) -> None:
    store = open_store(filled)
    told: list[tuple[int, int, int]] = []
    reading.stats(store, EntryFilter(), "caller", "count", lambda *call: told.append(call))
    trace_id = reading.last_trace_id(store, lambda *call: told.append(call))
    assert trace_id is not None
    roots = reading.trace(store, trace_id, lambda *call: told.append(call))
    assert reading.tail(store, EntryFilter(), 5, lambda *call: told.append(call))
    store.close()
    assert len(roots) == len(ENTRIES)  # every entry is a root of the one trace
    assert told
    assert all(0 <= done <= total for _, done, total in told)


def test_select_over_a_store_that_cannot_measure_tells_the_count_at_the_end() -> None:
    store = _ListStore([numbered_entry(n) for n in range(5)])
    told: list[tuple[int, int, int]] = []
    entries = list(reading.select(store, EntryFilter(), progress=lambda *call: told.append(call)))
    assert len(entries) == 5
    assert told == [(5, 0, 0)]


def test_the_memory_store_measures_entries() -> None:
    store = MemoryStore()
    store.write([encoded(entry) for entry in ENTRIES])
    reports = Reports()
    assert len(list(store.scan_measured(EntryFilter(), reports, newest_first=False))) == len(
        ENTRIES
    )
    reports.check_grows_to_the_whole()
    assert reports.calls[-1] == (len(ENTRIES), len(ENTRIES))


# -- rotation ---------------------------------------------------------------------------------


def archived(path: str) -> list[Entry]:
    data = Path(path).read_bytes()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    if data.lstrip().startswith(b"["):
        entries: list[Entry] = json.loads(data)
        return entries
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_a_rotation_measures_the_copy_and_compression(filled: Path) -> None:
    store = open_store(filled)
    assert isinstance(store, RotatingStore)
    reports = Reports()
    rotation = rotate(store, RotationPolicy(), progress=reports)
    store.close()
    reports.check_grows_to_the_whole(steps=1)  # a block of 1 MiB compressed at a time
    assert rotation.archive is not None
    assert archived(rotation.archive) == ENTRIES
    assert stored_entries(filled) == []


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".partial"))


def test_a_rotation_interrupted_while_compressing_leaves_a_valid_staged_archive(
    filled: Path,
) -> None:
    store = open_store(filled)
    assert isinstance(store, RotatingStore)
    steps_before_compressing = 0
    if kind_of(filled) == SQLITE:  # its rows are copied out first, 2,000 at a time
        steps_before_compressing = math.ceil(len(ENTRIES) / 2000)
    with pytest.raises(KeyboardInterrupt):
        store.rotate(Reports(stop_after=steps_before_compressing))
    assert leftovers(filled.parent) == []  # the half-written archive went at once
    [staged] = store.archives()
    assert not staged.compressed  # the entries sit, whole, in the staged file: readable
    assert archived(staged.path) == ENTRIES
    assert stored_entries(filled) == []
    archive = store.rotate()  # the next rotation finishes it
    store.close()
    assert archive is None
    [finished] = list_paths(store)
    assert finished.endswith(".gz")
    assert archived(finished) == ENTRIES


def list_paths(store: RotatingStore) -> list[str]:
    return [archive.path for archive in store.archives()]


@pytest.mark.only_stores(SQLITE, reason="only a SQLite store copies its rows out first")
def test_a_sqlite_rotation_interrupted_while_copying_keeps_every_row(filled: Path) -> None:
    store = open_store(filled)
    assert isinstance(store, RotatingStore)
    with pytest.raises(KeyboardInterrupt):
        store.rotate(Reports(stop_after=0))
    assert leftovers(filled.parent) == []  # the copy went; the rows never left
    assert store.archives() == []
    assert stored_entries(filled) == ENTRIES
    store.close()


def test_steps_count_equally_in_one_measure_that_only_grows() -> None:
    told: list[tuple[int, int]] = []

    def hook(done: int, total: int) -> None:
        told.append((done, total))

    first, second = step(hook, 0, 2), step(hook, 1, 2)
    assert step(None, 0, 2) is None
    assert first is not None
    assert second is not None
    first(5, 10)
    first(10, 10)
    second(0, 4)
    second(2, 4)
    second(9, 4)  # past its total: no further than the whole
    whole = told[0][1]
    half = whole // 2
    assert told == [
        (half // 2, whole),
        (half, whole),
        (half, whole),
        (half + half // 2, whole),
        (whole, whole),
    ]
    told.clear()
    only = step(hook, 0, 1)
    assert only is not None
    only(0, 0)  # a step with nothing to do is done
    assert told == [(whole // 2, whole // 2)]


class _ListStore:
    """A store a user might write: no ``scan_measured``."""

    def __init__(self, entries: list[Entry]) -> None:
        self.stored = entries

    @property
    def location(self) -> str:
        return "list://tests"

    def write(self, batch: Sequence[Encoded]) -> None:
        self.stored.extend(json.loads(item.line) for item in batch)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass

    def scan(
        self,
        wanted: EntryFilter,
        *,
        newest_first: bool = True,
        fields: Collection[str] | None = None,
    ) -> Generator[Entry, None, None]:
        yield from reversed(self.stored) if newest_first else self.stored

    def follow(self, wanted: EntryFilter, backlog: int) -> tuple[list[Entry], Follower]:
        raise NotImplementedError

    def count(self, wanted: EntryFilter) -> int:
        return len(self.stored)


def test_a_store_of_ones_own_need_not_measure() -> None:
    store: Store = _ListStore([])
    assert isinstance(store, Store)
    assert not isinstance(store, MeasuredStore)
