"""The SQLite store's SQL against the Python it replaces, on generated entries.

``SqliteStore.stats`` must equal ``compute_stats`` over the same entries read newest first
(as the JSON store's readers give them), ``count`` and ``scan`` must agree with
``EntryFilter.matches``, and globs in SQL must match what ``NamePattern`` matches. Entries mix
our shapes with legacy and hostile ones: missing fields, ``failed``, integer durations (some
beyond 2**53 or a float's range), NaN and infinities, non-string names, lone surrogates, NUL,
non-canonical and unreadable timestamps, ties on a moment written two ways.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from betty_telemetry.model.filters import EntryFilter, NamePattern
from betty_telemetry.model.times import canonical_timestamp
from betty_telemetry.read.stats import GROUPINGS, SORTS, compute_stats
from betty_telemetry.stores import SqliteStore
from betty_telemetry.stores.base import Encoded
from betty_telemetry.stores.sqlite import rollup
from betty_telemetry.stores.sqlite.where import add_functions, name_test, to_glob

Entry = dict[str, Any]
MISSING: Any = object()
TRACES = ("4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c")
STAMPS = (
    "2025-10-24T14:30:45.123456+00:00",
    "2025-10-24T14:30:45.123456+00:00",
    "2025-10-24T16:30:45.123456+02:00",  # the same moment as the first, written otherwise
    "2025-10-24T14:30:45.123456Z",
    "2025-10-24T15:59:59.999999+00:00",
    "2025-10-25T00:00:00.000000+00:00",
    "2025-10-25 01:02:03",
    "2025-10-23",
    "not a time",
    "2025-13-45T99:99:99",
)
SKILLS = ("agent.run", "agent.build", "plugin.build", "ä.run", "a[b]", "x*y", "None")
NAMES = (*SKILLS, None, 5, ["agent.run"], "agent\x00run", "agent.\udc80", MISSING)
STATUSES = (
    "success",
    "failure",
    "error",
    "timeout",
    "pending",
    "failed",
    "None",
    None,
    7,
    "\udcff",
    MISSING,
)
DURATIONS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.5, 2.5, 10, 2**53, 2**53 + 1, 10**400, True, "12"]),
    st.sampled_from([None, MISSING, float("nan"), float("inf"), 1e301]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.integers(min_value=0, max_value=10**6),
)
ERRORS = ("Boom", "BOOM ß", "disk full: ss", "", None, 5, "nul\x00here", "\udc80")


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    fields = {
        "timestamp": draw(st.sampled_from((*STAMPS, None, 1729780245, MISSING))),
        "skill": draw(st.sampled_from(NAMES)),
        "status": draw(st.sampled_from(STATUSES)),
        "duration_ms": draw(DURATIONS),
        "caller": draw(st.sampled_from(NAMES)),
        "inputs": {"n": draw(st.integers(0, 9))},
        "error_message": draw(st.sampled_from((*ERRORS, MISSING))),
        "trace_id": draw(st.sampled_from((*TRACES, "", None, 5, MISSING))),
        "error": draw(st.sampled_from((*ERRORS, MISSING))),
    }
    return {name: value for name, value in fields.items() if value is not MISSING}


def patterns() -> st.SearchStrategy[str | None]:
    exact = (None, "agent.run", "a[b]", "agent.\udc80")
    globs = ("agent.*", "*.build", "?.run", "a[[]b]", "[!p]*", "*", "agent.\udc80*", "[a-c]*")
    return st.sampled_from((*exact, *globs, "plugin.[!a-c]*"))


@st.composite
def filters(draw: st.DrawFn) -> EntryFilter:
    if draw(st.booleans()):
        return EntryFilter(with_trace=True, skill=NamePattern(draw(st.sampled_from(SKILLS))))
    bounds = draw(st.lists(st.sampled_from(STAMPS[:7]), min_size=2, max_size=2))
    since, until = sorted(bounds, key=lambda text: canonical_timestamp(text) or "")
    return EntryFilter.build(
        skill=draw(patterns()),
        caller=draw(patterns()),
        status=draw(st.sampled_from((None, "success", ["failure", "failed"], ["error"]))),
        since=draw(st.sampled_from((None, since))),
        until=draw(st.sampled_from((None, until))),
        trace_id=draw(st.sampled_from((None, *TRACES))),
        min_duration_ms=draw(st.sampled_from((None, 0.0, 2.5, 2.0**53))),
        text=draw(st.sampled_from((None, "boom", "SS", "\udc80"))),
    )


def stored(entry: Entry) -> tuple[Entry, bytes]:
    line = json.dumps(entry).encode()
    return json.loads(line), line


def fill(
    path: Path, raw: list[Entry], batch_sizes: list[int], fold_every: int
) -> tuple[SqliteStore, list[Entry]]:
    """A store holding ``raw``, written in batches, folded every ``fold_every`` rows."""
    store = SqliteStore(str(path))
    kept = [stored(entry) for entry in raw]
    saved = rollup.FOLD_EVERY
    rollup.FOLD_EVERY = fold_every
    try:
        position, sizes = 0, iter(batch_sizes * (len(kept) + 1))
        while position < len(kept):
            size = next(sizes)
            store.write([Encoded(*item) for item in kept[position : position + size]])
            position += size
    finally:
        rollup.FOLD_EVERY = saved
    return store, [entry for entry, _ in kept]


def outcome(compute: Callable[[], list[dict[str, Any]]]) -> object:
    try:
        return compute()
    except (OverflowError, ValueError) as error:  # fsum's own, for hostile durations
        return type(error)


def same(got: object, want: object) -> bool:
    """Equal, but NaN equals NaN (a percentile of an infinite duration is NaN in both)."""
    if isinstance(got, float) and isinstance(want, float) and got != got:
        return want != want
    if isinstance(got, dict) and isinstance(want, dict):
        return list(got) == list(want) and all(same(got[key], want[key]) for key in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(same, got, want))
    return type(got) is type(want) and got == want


def lines(found: Iterator[Entry] | list[Entry]) -> list[str]:
    return [json.dumps(entry) for entry in found]  # NaN equals itself as text


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


COMMON = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@COMMON
@given(
    raw=st.lists(entries(), max_size=40),
    batch_sizes=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    fold_every=st.sampled_from([1, 2, 5, 1024]),
    wanted=filters(),
)
def test_stats_equal_compute_stats_over_the_same_entries(
    folder: Path, raw: list[Entry], batch_sizes: list[int], fold_every: int, wanted: EntryFilter
) -> None:
    path = folder / f"s{len(list(folder.iterdir()))}.db"
    store, kept = fill(path, raw, batch_sizes, fold_every)
    newest_first = kept[::-1]
    for chosen in (EntryFilter(), wanted):
        matching = [entry for entry in newest_first if chosen.matches(entry)]
        for by in GROUPINGS:
            for sort in SORTS:
                got = outcome(lambda: store.stats(chosen, by, sort))  # noqa: B023
                want = outcome(lambda: compute_stats(matching, by, sort))  # noqa: B023
                assert same(got, want), (chosen, by, sort, got, want)
    store.close()


@COMMON
@given(raw=st.lists(entries(), max_size=40), wanted=filters())
def test_count_and_scan_agree_with_matches(
    folder: Path, raw: list[Entry], wanted: EntryFilter
) -> None:
    path = folder / f"c{len(list(folder.iterdir()))}.db"
    store, kept = fill(path, raw, [3], 1024)
    matching = [entry for entry in kept if wanted.matches(entry)]
    assert store.count(wanted) == len(matching)
    with closing(store.scan(wanted)) as newest:
        assert lines(e for e in newest if wanted.matches(e)) == lines(matching[::-1])
    with closing(store.scan(wanted, newest_first=False)) as oldest:
        assert lines(e for e in oldest if wanted.matches(e)) == lines(matching)
    for trace_id in TRACES:
        want = [entry for entry in kept if entry.get("trace_id") == trace_id]
        assert lines(store.trace_entries(trace_id)) == lines(want)
    store.close()


GLOB_TEXT = st.text(alphabet="ab*?[]!-^\\é\n", max_size=8)


@settings(max_examples=500, deadline=None)
@given(pattern=GLOB_TEXT.filter(bool), values=st.lists(st.text(alphabet="ab]*?[!-^é\n")))
def test_globs_in_sql_match_what_name_patterns_match(pattern: str, values: list[str]) -> None:
    with closing(sqlite3.connect(":memory:")) as connection:
        add_functions(connection)
        connection.execute("CREATE TABLE t (skill TEXT)")
        connection.executemany("INSERT INTO t VALUES (?)", [(value,) for value in values])
        sql, params = name_test("skill", NamePattern(pattern))
        found = [row[0] for row in connection.execute(f"SELECT skill FROM t WHERE {sql}", params)]
    assert found == [value for value in values if NamePattern(pattern).matches(value)]


@pytest.mark.parametrize(
    ("pattern", "glob"),
    [
        ("agent.*", "agent.*"),
        ("a?c", "a?c"),
        ("[ab]x", "[ab]x"),
        ("[!ab]x", "[^ab]x"),
        ("[]a]", "[]a]"),
        ("a[", "a[[]"),
        ("[a-c]", None),
        ("[!]", "[[]!]"),
        ("[!]]", "[^]]"),
        ("[\\]", None),
    ],
)
def test_a_glob_becomes_sqlite_glob_only_where_both_read_it_alike(
    pattern: str, glob: str | None
) -> None:
    assert to_glob(pattern) == glob
