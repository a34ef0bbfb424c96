"""Reading with filters: query, iter_entries and tail, their arguments, and the raw-line pre-test.

Expectations are computed here, by brute force over ``json.load`` of the file, never by the
library. The pre-test on raw line bytes (``stores._line_test``) must never reject a line the exact
filter keeps: the property tests below write the same entries in every layout a telemetry file
can hold and compare every filter combination with the brute force.

The reading tests run over every store; those that write a JSON array's own bytes (torn tails,
indented entries, layouts of the array) stay on it.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import math
import random
import tempfile
import tracemalloc
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from betty_telemetry import CorruptStoreError, TelemetryCapture
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import JsonArrayStore, open_store
from betty_telemetry.stores._line_test import KEEP, line_test_for
from betty_telemetry.stores.base import Encoded
from tests.conftest import FIXTURE, SPEC_FIELDS
from tests.entries import MISSING, UTC, Entry, moment_of, new_entry, stamp, write_entries
from tests.stores import JSON_ARRAY, copy_store, encoded, kind_of

pytestmark = pytest.mark.every_store

PLUS_TWO = timezone(timedelta(hours=2))
MINUS_FIVE = timezone(timedelta(hours=-5))
BASE = datetime(2025, 10, 24, 12, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=10)  # the documented out-of-order tolerance of ``since``
TRACE_A = "0af7651916cd43dd8448eb211c80319c"
TRACE_B = "4bf92f3577b34da6a3ce929d0e0e4736"
FAILURE_STATUSES = ("failure", "error", "timeout", "failed")


# -- building files ------------------------------------------------------------------------------


make_entry = functools.partial(new_entry, at=BASE)


def skills_of(entries: list[Entry]) -> list[Any]:
    return [entry["skill"] for entry in entries]


def items_of(entries: list[Entry]) -> list[list[tuple[str, Any]]]:
    """Entries as ordered (key, value) lists: equality then checks the key order too."""
    return [list(entry.items()) for entry in entries]


# -- the brute force -----------------------------------------------------------------------------


def is_canonical_stamp(value: object) -> bool:
    """The writer's own timestamp form, the only one the early stop looks at."""
    return (
        isinstance(value, str)
        and len(value) == 32
        and value[10] == "T"
        and value.endswith("+00:00")
        and moment_of(value) is not None
    )


def normalized(raw: Entry) -> Entry:
    """An entry as read: spec fields first (None, or {} for inputs/metadata), then extras."""
    entry: Entry = {}
    for field in SPEC_FIELDS:
        entry[field] = raw.get(field, {} if field in ("inputs", "metadata") else None)
    for key, value in raw.items():
        if key not in entry:
            entry[key] = value
    return entry


def name_matches(pattern: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    if any(char in pattern for char in "*?["):
        return fnmatch.fnmatchcase(value, pattern)
    return value == pattern


def error_text(raw: Entry) -> str | None:
    message = raw.get("error_message")
    if isinstance(message, str):
        return message
    legacy = raw.get("error")
    return legacy if isinstance(legacy, str) else None


def brute_matches(raw: Entry, filters: dict[str, Any]) -> bool:
    """Every filter holds for ``raw``; since/until are aware datetimes here."""
    skill, caller, status = filters.get("skill"), filters.get("caller"), filters.get("status")
    if skill is not None and not name_matches(skill, raw.get("skill")):
        return False
    if caller is not None and not name_matches(caller, raw.get("caller")):
        return False
    if status is not None:
        wanted = {status} if isinstance(status, str) else set(status)
        if not (isinstance(raw.get("status"), str) and raw.get("status") in wanted):
            return False
    trace_id = filters.get("trace_id")
    if trace_id is not None and raw.get("trace_id") != trace_id.lower():
        return False
    minimum = filters.get("min_duration_ms")
    if minimum is not None:
        duration = raw.get("duration_ms")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool):
            return False
        if not duration >= minimum:
            return False
    since, until = filters.get("since"), filters.get("until")
    if since is not None or until is not None:
        moment = moment_of(raw.get("timestamp"))
        if moment is None or (since is not None and moment < since):
            return False
        if until is not None and moment > until:
            return False
    text = filters.get("text")
    if text is not None:
        message = error_text(raw)
        if message is None or text.casefold() not in message.casefold():
            return False
    return True


def brute_query(rows: list[tuple[Entry, bool]], filters: dict[str, Any]) -> list[Entry]:
    """What ``query(**filters)`` must return for the file whose entries are ``rows``.

    ``rows`` are (entry, on_our_line) in file order; ``on_our_line`` marks entries written as
    one ``json.dumps`` line with the canonical timestamp first: with ``since``, the newest-first
    read stops at the first such entry older than ``since - 10 minutes``.
    """
    since = filters.get("since")
    result = []
    for raw, on_our_line in reversed(rows):
        if since is not None and on_our_line:
            moment = moment_of(raw["timestamp"])
            assert moment is not None
            if moment < since - TOLERANCE:
                break
        if brute_matches(raw, filters):
            result.append(normalized(raw))
    offset = filters.get("offset", 0)
    limit = filters.get("limit")
    return result[offset:] if limit is None else result[offset : offset + limit]


def library_arguments(filters: dict[str, Any], bound_forms: dict[str, str]) -> dict[str, Any]:
    """The brute force's filters as the library takes them (bounds in the drawn form)."""
    arguments = dict(filters)
    for bound, form in bound_forms.items():
        moment = filters.get(bound)
        if moment is not None:
            arguments[bound] = bound_in_form(moment, form)
    return arguments


def bound_in_form(moment: datetime, form: str) -> object:
    if form == "naive":
        return moment.astimezone(UTC).replace(tzinfo=None)
    if form == "z":
        return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if form == "plus_two":
        return moment.astimezone(PLUS_TWO).isoformat(timespec="microseconds")
    return moment


# -- reading basics ------------------------------------------------------------------------------


def test_query_returns_entries_newest_first(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(f"s.{n}") for n in range(4)])
    assert skills_of(telemetry.query()) == ["s.3", "s.2", "s.1", "s.0"]


def test_query_of_a_missing_file_is_empty_and_creates_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    assert telemetry.query(skill="agent.*", status="failure", since="1h") == []
    assert not telemetry_path.parent.exists()


def test_iter_entries_of_a_missing_file_yields_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    assert list(telemetry.iter_entries(status="failed")) == []
    assert not telemetry_path.parent.exists()


@pytest.mark.json_only(
    "what is not an array (a JSON object, say) may be JSON Lines; each store's own refusal "
    "is in test_stats and test_cli"
)
@pytest.mark.parametrize(
    "content",
    [b'{"skill": "a"}\n', b"not json at all\n", b'"text"', b"42"],
    ids=["object", "text", "string", "number"],
)
def test_reading_a_file_that_is_not_an_array_raises_and_leaves_it_unchanged(
    telemetry: TelemetryCapture, telemetry_path: Path, content: bytes
) -> None:
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(content)
    with pytest.raises(CorruptStoreError):
        telemetry.query(status="failure")
    assert telemetry_path.read_bytes() == content


def test_corrupt_store_error_is_a_value_error() -> None:
    assert issubclass(CorruptStoreError, ValueError)


@pytest.mark.json_only("writes a JSON array's torn tail itself")
def test_readers_skip_a_torn_last_line(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    complete = [make_entry("s.0"), make_entry("s.1")]
    torn = b"[\n" + b",\n".join(json.dumps(e).encode() for e in complete)
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(torn + b',\n{"timestamp": "2')
    assert skills_of(telemetry.query()) == ["s.1", "s.0"]


@pytest.mark.json_only("writes a JSON array's torn tail itself")
def test_reading_a_torn_file_does_not_change_it(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    content = b"[\n" + json.dumps(make_entry()).encode() + b',\n{"timestamp": "2025-10'
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(content)
    telemetry.query(status="success", since=BASE - timedelta(days=1))
    assert telemetry_path.read_bytes() == content


def test_read_entries_put_spec_fields_first_then_extra_keys(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    legacy = {
        "timestamp": stamp(BASE),
        "execution_id": "e-1",
        "skill": "registry.update",
        "inputs": {"a": 1},
        "status": "failed",
        "duration_ms": 3,
        "caller": "cli",
        "error": "boom",
    }
    write_entries(telemetry_path, [legacy])
    assert items_of(telemetry.query()) == [
        [
            ("timestamp", stamp(BASE)),
            ("skill", "registry.update"),
            ("status", "failed"),
            ("duration_ms", 3),
            ("caller", "cli"),
            ("inputs", {"a": 1}),
            ("error_message", None),
            ("metadata", {}),
            ("execution_id", "e-1"),
            ("error", "boom"),
        ]
    ]


# -- skill and caller ----------------------------------------------------------------------------

NAMES = ["agent", "agent.run", "agent.run.step", "agent_run", "Agent.run", "tool.run", "x.agent"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("agent.run", ["agent.run"]),
        ("agent", ["agent"]),
        ("agent.*", ["agent.run", "agent.run.step"]),
        ("*.run", ["agent.run", "tool.run", "Agent.run"]),
        ("agent*", ["agent", "agent.run", "agent.run.step", "agent_run"]),
        ("agent?run", ["agent.run", "agent_run"]),
        ("[At]*.run", ["tool.run", "Agent.run"]),
        ("*agent*", ["agent", "agent.run", "agent.run.step", "agent_run", "x.agent"]),
        ("AGENT.RUN", []),
    ],
    ids=[
        "exact",
        "exact-no-prefix",
        "star",
        "suffix",
        "star-across",
        "question",
        "set",
        "middle",
        "case",
    ],
)
def test_skill_is_an_exact_name_or_a_case_sensitive_glob(
    telemetry: TelemetryCapture, telemetry_path: Path, pattern: str, expected: list[str]
) -> None:
    write_entries(telemetry_path, [make_entry(name) for name in NAMES])
    assert sorted(skills_of(telemetry.query(skill=pattern))) == sorted(expected)


def test_glob_star_matches_dots_and_slashes(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry("plugins/a.b/run"), make_entry("plugins")])
    assert skills_of(telemetry.query(skill="plugins/*")) == ["plugins/a.b/run"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("cli", ["a"]), ("CLI", ["b"]), ("agent.*", ["c", "d"]), ("*/α", ["e"])],
)
def test_caller_is_an_exact_name_or_a_glob(
    telemetry: TelemetryCapture, telemetry_path: Path, pattern: str, expected: list[str]
) -> None:
    callers = {"a": "cli", "b": "CLI", "c": "agent.run", "d": "agent.plan", "e": "svc/α"}
    write_entries(telemetry_path, [make_entry(s, caller=c) for s, c in callers.items()])
    assert sorted(skills_of(telemetry.query(caller=pattern))) == expected


@pytest.mark.parametrize("layout", ["ours", "compact", "unicode"])
@pytest.mark.parametrize("name", ["a/b", "dé.jà", 'say "hi"', "back\\slash", "tab\there"])
def test_names_json_may_escape_are_found_in_every_layout(
    telemetry: TelemetryCapture, telemetry_path: Path, layout: str, name: str
) -> None:
    others = [make_entry("other", caller="x"), make_entry(name, caller=name)]
    store = open_store(telemetry_path)
    for entry in others:
        store.write([Encoded(entry, encode_line(entry, layout))])
    store.close()
    assert skills_of(telemetry.query(skill=name, caller=name)) == [name]


@pytest.mark.parametrize("value", ["", 5, b"agent"])
@pytest.mark.parametrize("field", ["skill", "caller"])
def test_empty_or_non_string_names_are_rejected(
    telemetry: TelemetryCapture, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=field):
        telemetry.query(**{field: value})  # type: ignore[arg-type]


def test_entries_with_non_string_names_never_match_a_name_filter(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry(7), make_entry(None), make_entry(["x"])])
    assert telemetry.query(skill="*") == []


# -- status --------------------------------------------------------------------------------------

STATUS_FILE = ["success", "failure", "failed", "error", "timeout", "pending", "failed"]


def write_statuses(path: Path) -> None:
    write_entries(path, [make_entry(f"s.{n}", status) for n, status in enumerate(STATUS_FILE)])


def test_status_failure_does_not_match_legacy_failed(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_statuses(telemetry_path)
    assert skills_of(telemetry.query(status="failure")) == ["s.1"]


def test_status_failed_matches_only_legacy_failed(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_statuses(telemetry_path)
    assert skills_of(telemetry.query(status="failed")) == ["s.6", "s.2"]


STATUS_CONTAINERS: dict[str, Callable[[list[str]], Iterable[str]]] = {
    "list": list,
    "tuple": tuple,
    "set": set,
    "generator": lambda statuses: (status for status in statuses),
}


@pytest.mark.parametrize("container", list(STATUS_CONTAINERS))
def test_status_iterable_matches_any_of_them(
    telemetry: TelemetryCapture, telemetry_path: Path, container: str
) -> None:
    write_statuses(telemetry_path)
    found = telemetry.query(status=STATUS_CONTAINERS[container](["failure", "failed"]))
    assert skills_of(found) == ["s.6", "s.2", "s.1"]


@pytest.mark.parametrize("bad", ["failing", "Failure", "SUCCESS", "", ["success", "nope"], [1]])
def test_unknown_status_raises_naming_the_valid_ones(
    telemetry: TelemetryCapture, bad: object
) -> None:
    with pytest.raises(ValueError, match="status") as raised:
        telemetry.query(status=bad)  # type: ignore[arg-type]
    for valid in ("success", "failure", "timeout", "error", "pending", "failed"):
        assert valid in str(raised.value)


def test_a_status_that_is_neither_text_nor_iterable_is_rejected(
    telemetry: TelemetryCapture,
) -> None:
    with pytest.raises(ValueError, match="status") as raised:
        telemetry.query(status=1)  # type: ignore[arg-type]
    assert "success, failure, timeout, error, pending" in str(raised.value)


def test_empty_status_list_is_rejected(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="status"):
        telemetry.query(status=[])


def test_entries_with_a_non_string_status_never_match_a_status_filter(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry("a", None), make_entry("b", ["success"])])
    assert telemetry.query(status=["success", "failure"]) == []


# -- since and until: accepted values ------------------------------------------------------------


def write_moments(path: Path, moments: list[datetime]) -> None:
    """One entry per moment, in the given (file) order, skill = the canonical stamp."""
    write_entries(path, [make_entry(stamp(m), at=m) for m in moments])


def test_since_and_until_are_inclusive(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    tick = timedelta(microseconds=1)
    moments = [BASE - tick, BASE, BASE + timedelta(hours=1), BASE + timedelta(hours=1) + tick]
    write_moments(telemetry_path, moments)
    found = telemetry.query(since=BASE, until=BASE + timedelta(hours=1))
    assert skills_of(found) == [stamp(moments[2]), stamp(moments[1])]


def test_since_equal_to_until_selects_that_instant(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    tick = timedelta(microseconds=1)
    write_moments(telemetry_path, [BASE - tick, BASE, BASE + tick])
    assert skills_of(telemetry.query(since=BASE, until=BASE)) == [stamp(BASE)]


@pytest.mark.parametrize(
    "bound",
    [
        datetime(2025, 10, 24, 12, 30),
        datetime(2025, 10, 24, 14, 30, tzinfo=PLUS_TWO),
        datetime(2025, 10, 24, 7, 30, tzinfo=MINUS_FIVE),
        "2025-10-24T12:30:00Z",
        "2025-10-24T12:30:00+00:00",
        "2025-10-24 14:30+02:00",
        "2025-10-24T07:30:00.000000-05:00",
        "2025-10-24T12:30",
        "  2025-10-24T12:30:00Z  ",
    ],
    ids=[
        "naive-datetime",
        "aware-datetime",
        "negative-offset-datetime",
        "iso-z",
        "iso-offset",
        "iso-space-minutes-offset",
        "iso-negative-offset",
        "iso-naive",
        "iso-padded",
    ],
)
@pytest.mark.parametrize("name", ["since", "until"])
def test_time_bounds_name_the_same_utc_moment_in_every_form(
    telemetry: TelemetryCapture, telemetry_path: Path, name: str, bound: object
) -> None:
    moment = datetime(2025, 10, 24, 12, 30, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    write_moments(telemetry_path, [moment - tick, moment, moment + tick])
    found = skills_of(telemetry.query(**{name: bound}))  # type: ignore[arg-type]
    expected = [moment + tick, moment] if name == "since" else [moment, moment - tick]
    assert found == [stamp(m) for m in expected]


@pytest.mark.parametrize("bound", [date(2025, 10, 24), "2025-10-24"], ids=["date", "iso-date"])
def test_a_date_since_is_utc_midnight(
    telemetry: TelemetryCapture, telemetry_path: Path, bound: date | str
) -> None:
    midnight = datetime(2025, 10, 24, tzinfo=UTC)
    write_moments(telemetry_path, [midnight - timedelta(microseconds=1), midnight])
    assert skills_of(telemetry.query(since=bound)) == [stamp(midnight)]


@pytest.mark.parametrize("bound", [date(2025, 10, 24), "2025-10-24"], ids=["date", "iso-date"])
def test_a_date_until_includes_that_days_midnight(
    telemetry: TelemetryCapture, telemetry_path: Path, bound: date | str
) -> None:
    midnight = datetime(2025, 10, 24, tzinfo=UTC)
    before = midnight - timedelta(microseconds=1)
    write_moments(telemetry_path, [before, midnight])
    assert skills_of(telemetry.query(until=bound)) == [stamp(midnight), stamp(before)]


@pytest.mark.parametrize(
    "bound", [date(2025, 10, 24), "2025-10-24", " 2025-10-24 "], ids=["date", "iso-date", "padded"]
)
def test_a_date_until_includes_the_whole_day_and_nothing_after(
    telemetry: TelemetryCapture, telemetry_path: Path, bound: date | str
) -> None:
    next_midnight = datetime(2025, 10, 25, tzinfo=UTC)
    last_moment = next_midnight - timedelta(microseconds=1)
    noon = datetime(2025, 10, 24, 12, tzinfo=UTC)
    write_moments(telemetry_path, [noon, last_moment, next_midnight])
    assert skills_of(telemetry.query(until=bound)) == [stamp(last_moment), stamp(noon)]


def test_until_yesterday_ends_where_today_begins(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    write_moments(telemetry_path, [today - timedelta(microseconds=1), today])
    assert skills_of(telemetry.query(until="yesterday")) == [
        stamp(today - timedelta(microseconds=1))
    ]


def test_a_datetime_until_is_that_instant_even_at_midnight(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    midnight = datetime(2025, 10, 24, tzinfo=UTC)
    write_moments(telemetry_path, [midnight, midnight + timedelta(microseconds=1)])
    assert skills_of(telemetry.query(until=midnight)) == [stamp(midnight)]
    assert skills_of(telemetry.query(until="2025-10-24T00:00:00Z")) == [stamp(midnight)]


def test_a_timedelta_since_is_that_long_before_now(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    now = datetime.now(UTC)
    recent, old = now - timedelta(minutes=30), now - timedelta(minutes=90)
    write_moments(telemetry_path, [old, recent])
    assert skills_of(telemetry.query(since=timedelta(hours=1))) == [stamp(recent)]


@pytest.mark.parametrize(
    "text",
    [
        "1h",
        "1H",
        "60m",
        "60 min",
        "60mins",
        "1 hr",
        "3600s",
        "3600 secs",
        "3600000ms",
        "1h ago",
        "  1h ago ",
        "0.05d",
        "1.0h",
    ],
)
def test_relative_since_counts_back_from_now(
    telemetry: TelemetryCapture, telemetry_path: Path, text: str
) -> None:
    now = datetime.now(UTC)
    recent, old = now - timedelta(minutes=30), now - timedelta(minutes=90)
    write_moments(telemetry_path, [old, recent])
    assert skills_of(telemetry.query(since=text)) == [stamp(recent)]


@pytest.mark.parametrize("text", ["7d", "1w", "1 w ago", "168h", "7 d"])
def test_relative_days_and_weeks(
    telemetry: TelemetryCapture, telemetry_path: Path, text: str
) -> None:
    now = datetime.now(UTC)
    recent, old = now - timedelta(days=6), now - timedelta(days=8)
    write_moments(telemetry_path, [old, recent])
    assert skills_of(telemetry.query(since=text)) == [stamp(recent)]


def test_relative_until_keeps_only_older_entries(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    now = datetime.now(UTC)
    recent, old = now - timedelta(minutes=30), now - timedelta(minutes=90)
    write_moments(telemetry_path, [old, recent])
    assert skills_of(telemetry.query(until="1h")) == [stamp(old)]


def utc_midnight_today() -> datetime:
    return datetime.combine(datetime.now(UTC).date(), time(), UTC)


@pytest.mark.parametrize("word", ["today", "TODAY", " today "])
def test_since_today_is_utc_midnight(
    telemetry: TelemetryCapture, telemetry_path: Path, word: str
) -> None:
    midnight = utc_midnight_today()
    write_moments(telemetry_path, [midnight - timedelta(seconds=1), midnight])
    assert skills_of(telemetry.query(since=word)) == [stamp(midnight)]


def test_yesterday_is_the_utc_midnight_before_today(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    midnight = utc_midnight_today()
    yesterday = midnight - timedelta(days=1)
    moments = [yesterday - timedelta(seconds=1), yesterday, midnight - timedelta(seconds=1)]
    write_moments(telemetry_path, moments)
    found = telemetry.query(since="yesterday", until="today")
    assert skills_of(found) == [stamp(moments[2]), stamp(moments[1])]


def test_until_now_leaves_out_entries_stamped_in_the_future(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    now = datetime.now(UTC)
    write_moments(telemetry_path, [now - timedelta(hours=1), now + timedelta(hours=1)])
    assert skills_of(telemetry.query(until="now")) == [stamp(now - timedelta(hours=1))]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "  ",
        "soon",
        "15 minutes",
        "-5m",
        "1y",
        "5",
        "2025-13-01",
        "2025-10-24T25:00",
        "99999999d",
        12345,
        1.5,
        True,
        ["1h"],
    ],
)
@pytest.mark.parametrize("name", ["since", "until"])
def test_a_bad_time_bound_raises_naming_the_bound_and_what_is_accepted(
    telemetry: TelemetryCapture, name: str, bad: object
) -> None:
    with pytest.raises(ValueError, match=f"^{name}: ") as raised:
        telemetry.query(**{name: bad})  # type: ignore[arg-type]
    message = str(raised.value)
    assert "15m" in message
    assert "ISO" in message


def test_since_after_until_raises(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="since"):
        telemetry.query(since="2025-10-25", until="2025-10-24T23:59:59Z")


def test_since_after_until_raises_even_with_relative_bounds(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="until"):
        telemetry.query(since="1h", until="2h")


# -- since and until: the entries' timestamps ----------------------------------------------------


def test_non_canonical_timestamps_are_compared_by_their_real_moment(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    stored = {
        "z": "2025-10-24T12:30:00Z",
        "plus-two": "2025-10-24T14:30:00+02:00",
        "naive": "2025-10-24T12:30:00",
        "millis-z": "2025-10-24T12:45:00.250Z",
        "earlier-despite-text": "2025-10-24T13:00:00+02:00",  # 11:00 UTC
        "later-despite-text": "2025-10-24T09:00:00-05:00",  # 14:00 UTC
        "minus-five-in": "2025-10-24T07:59:59.999999-05:00",  # 12:59:59.999999 UTC
    }
    write_entries(telemetry_path, [make_entry(name, at=text) for name, text in stored.items()])
    found = telemetry.query(since="2025-10-24T12:30:00Z", until="2025-10-24T13:00:00Z")
    assert sorted(skills_of(found)) == ["millis-z", "minus-five-in", "naive", "plus-two", "z"]


UNUSABLE = [MISSING, None, 12345, "", "not a time", "yesterday", "1h", "2025-10-24T99:00:00Z"]


@pytest.mark.parametrize(
    "bounds",
    [{"since": "2000-01-01"}, {"until": "2100-01-01"}, {"since": "1d", "until": "now"}],
    ids=["since", "until", "both"],
)
def test_entries_without_a_usable_timestamp_never_match_a_time_filter(
    telemetry: TelemetryCapture, telemetry_path: Path, bounds: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    entries = [make_entry(f"bad.{n}", at=value) for n, value in enumerate(UNUSABLE)]
    write_entries(telemetry_path, [*entries, make_entry("good", at=now - timedelta(hours=1))])
    assert skills_of(telemetry.query(**bounds)) == ["good"]  # type: ignore[arg-type]


def test_entries_without_a_usable_timestamp_are_read_without_a_time_filter(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entries = [make_entry(f"bad.{n}", at=value) for n, value in enumerate(UNUSABLE)]
    write_entries(telemetry_path, entries)
    assert len(telemetry.query(skill="bad.*")) == len(UNUSABLE)


# -- since: the early stop -----------------------------------------------------------------------

EARLY_STOP = pytest.mark.only_stores(
    "json",
    "jsonl",
    reason="a file store read newest first stops at an entry older than since by more than "
    "the tolerance (OUT_OF_ORDER); SQLite finds entries by time, and finds them all",
)


def test_since_finds_an_entry_out_of_order_by_less_than_the_tolerance(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    # The later line is 9 minutes older than since: within the tolerance, reading goes on.
    target = make_entry("target", at=BASE + timedelta(minutes=1))
    write_entries(telemetry_path, [target, make_entry("late", at=BASE - timedelta(minutes=9))])
    assert skills_of(telemetry.query(since=BASE)) == ["target"]


def test_since_stops_at_a_line_exactly_at_the_tolerance_only_past_it(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    target = make_entry("target", at=BASE + timedelta(minutes=1))
    write_entries(telemetry_path, [target, make_entry("edge", at=BASE - TOLERANCE)])
    assert skills_of(telemetry.query(since=BASE)) == ["target"]


@EARLY_STOP
@pytest.mark.parametrize("with_skill", [False, True], ids=["since-only", "since-and-skill"])
def test_since_does_not_read_entries_behind_a_line_older_than_the_tolerance(
    telemetry: TelemetryCapture, telemetry_path: Path, with_skill: bool
) -> None:
    target = make_entry("target", at=BASE + timedelta(minutes=1))
    past = make_entry("past", at=BASE - TOLERANCE - timedelta(microseconds=1))
    write_entries(telemetry_path, [target, past])
    assert skills_of(telemetry.query(skill="target")) == ["target"]  # it is in the file
    skill = "target" if with_skill else None
    assert telemetry.query(since=BASE, skill=skill) == []


@EARLY_STOP
def test_since_reads_on_past_lines_newer_than_the_stop(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    entries = [
        make_entry("hidden", at=BASE + timedelta(minutes=3)),
        make_entry("past", at=BASE - timedelta(hours=1)),
        make_entry("found", at=BASE + timedelta(minutes=2)),
        make_entry("near", at=BASE - timedelta(minutes=5)),
        make_entry("newest", at=BASE + timedelta(minutes=1)),
    ]
    write_entries(telemetry_path, entries)
    assert skills_of(telemetry.query(since=BASE)) == ["newest", "found"]


@pytest.mark.json_only("writes a JSON array's entry layouts (indented too) itself")
@pytest.mark.parametrize(
    ("layout", "stored"),
    [
        ("compact", stamp(BASE - timedelta(days=1))),
        ("indented", stamp(BASE - timedelta(days=1))),
        ("default", "2025-10-23T12:00:00Z"),
        ("default", "2025-10-23T14:00:00.000000+02:00"),
        ("timestamp-not-first", stamp(BASE - timedelta(days=1))),
    ],
    ids=["compact-line", "indented-line", "z-suffix", "offset", "timestamp-not-first"],
)
def test_only_lines_in_our_layout_stop_the_read(
    telemetry: TelemetryCapture, telemetry_path: Path, layout: str, stored: str
) -> None:
    target = make_entry("target", at=BASE + timedelta(minutes=1))
    past = make_entry("past", at=stored)
    if layout == "timestamp-not-first":
        past = {"skill": "past", **past}
    encoded = {
        "compact": json.dumps(past, separators=(",", ":")),
        "indented": json.dumps(past, indent=2),
    }.get(layout, json.dumps(past))
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_bytes(
        b"[\n" + json.dumps(target).encode() + b",\n" + encoded.encode() + b"\n]\n"
    )
    assert skills_of(telemetry.query(since=BASE)) == ["target"]


def test_until_alone_never_stops_the_read(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    old = make_entry("old", at=BASE - timedelta(hours=1))
    write_entries(telemetry_path, [old, make_entry("older", at=BASE - timedelta(days=3))])
    assert skills_of(telemetry.query(until=BASE)) == ["older", "old"]


# -- trace_id, min_duration_ms, text -------------------------------------------------------------


@pytest.mark.parametrize("given_id", [TRACE_A, TRACE_A.upper(), f"  {TRACE_A}  "])
def test_trace_id_matches_the_stored_lowercase_id(
    telemetry: TelemetryCapture, telemetry_path: Path, given_id: str
) -> None:
    entries = [
        make_entry("a1", trace_id=TRACE_A, span_id="a" * 16, parent_id=None),
        make_entry("b1", trace_id=TRACE_B, span_id="b" * 16, parent_id=None),
        make_entry("none"),
        make_entry("a2", trace_id=TRACE_A, span_id="c" * 16, parent_id="a" * 16),
    ]
    write_entries(telemetry_path, entries)
    assert skills_of(telemetry.query(trace_id=given_id)) == ["a2", "a1"]


@pytest.mark.parametrize(
    "bad", ["", "xyz", TRACE_A[:-1], TRACE_A + "0", "g" * 32, "0x" + TRACE_A[2:], 12345]
)
def test_a_trace_id_that_is_not_32_hex_digits_is_rejected(
    telemetry: TelemetryCapture, bad: object
) -> None:
    with pytest.raises(ValueError, match="trace_id"):
        telemetry.query(trace_id=bad)  # type: ignore[arg-type]


DURATIONS: list[object] = [0, 5, 10, 10.0, 10.5, 1e9, True, "20", None, MISSING, [11]]


@pytest.mark.parametrize(
    ("minimum", "expected"),
    [
        (10, [10, 10.0, 10.5, 1e9]),
        (10.25, [10.5, 1e9]),
        (0, [0, 5, 10, 10.0, 10.5, 1e9]),
        (1e10, []),
    ],
)
def test_min_duration_keeps_numeric_durations_at_or_above_it(
    telemetry: TelemetryCapture, telemetry_path: Path, minimum: float, expected: list[float]
) -> None:
    entries = [make_entry(f"d.{n}", duration_ms=d) for n, d in enumerate(DURATIONS)]
    write_entries(telemetry_path, entries)
    found = telemetry.query(min_duration_ms=minimum)
    assert [entry["duration_ms"] for entry in reversed(found)] == expected


@pytest.mark.parametrize("bad", [True, False, -1, -0.001, math.nan, math.inf, "5", [5]])
def test_a_bad_min_duration_is_rejected(telemetry: TelemetryCapture, bad: object) -> None:
    with pytest.raises(ValueError, match="min_duration_ms"):
        telemetry.query(min_duration_ms=bad)  # type: ignore[arg-type]


def write_errors(path: Path) -> None:
    entries = [
        make_entry("message", error_message="Connection RESET by peer"),
        make_entry("legacy", error_message=MISSING, error="Path does not exist: x.yaml"),
        make_entry("both", error_message="alpha failed", error="beta failed"),
        make_entry("non-string", error_message=5, error="gamma failed"),
        make_entry("null-message", error_message=None, error="delta failed"),
        make_entry("none"),
        make_entry("unicode", error_message="Straße GESPERRT"),
        make_entry("error-not-string", error_message=MISSING, error={"text": "reset"}),
    ]
    write_entries(path, entries)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reset", ["message"]),
        ("CONNECTION reset BY", ["message"]),
        ("path does not", ["legacy"]),
        ("alpha", ["both"]),
        ("beta", []),
        ("gamma", ["non-string"]),
        ("delta", ["null-message"]),
        ("FAILED", ["null-message", "non-string", "both"]),
        ("gesperrt", ["unicode"]),
        ("straße", ["unicode"]),
        ("zzz", []),
    ],
)
def test_text_is_a_case_insensitive_substring_of_the_error(
    telemetry: TelemetryCapture, telemetry_path: Path, text: str, expected: list[str]
) -> None:
    write_errors(telemetry_path)
    assert skills_of(telemetry.query(text=text)) == expected


@pytest.mark.parametrize("bad", ["", 5, b"reset"])
def test_empty_or_non_string_text_is_rejected(telemetry: TelemetryCapture, bad: object) -> None:
    with pytest.raises(ValueError, match="text"):
        telemetry.query(text=bad)  # type: ignore[arg-type]


# -- limit, offset, combinations, iter_entries, tail ---------------------------------------------


def write_numbered(path: Path, count: int) -> None:
    statuses = ["success", "failure"]
    write_entries(path, [make_entry(f"s.{n}", statuses[n % 2]) for n in range(count)])


def test_limit_keeps_the_newest_matches(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    write_numbered(telemetry_path, 7)
    assert skills_of(telemetry.query(limit=3)) == ["s.6", "s.5", "s.4"]


def test_limit_zero_returns_nothing(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    write_numbered(telemetry_path, 3)
    assert telemetry.query(limit=0) == []


def test_offset_skips_matches_not_entries(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_numbered(telemetry_path, 10)
    assert skills_of(telemetry.query(status="failure", offset=1, limit=2)) == ["s.7", "s.5"]


def test_offset_past_the_last_match_returns_nothing(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_numbered(telemetry_path, 4)
    assert telemetry.query(status="failure", offset=2) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"limit": -1},
        {"limit": True},
        {"limit": 1.5},
        {"limit": "3"},
        {"offset": -1},
        {"offset": None},
        {"offset": False},
        {"offset": 2.0},
    ],
)
def test_a_bad_limit_or_offset_is_rejected(
    telemetry: TelemetryCapture, arguments: dict[str, object]
) -> None:
    (name,) = arguments
    with pytest.raises(ValueError, match=name):
        telemetry.query(**arguments)  # type: ignore[arg-type]


def test_filters_combine_with_and(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    day_before = BASE - timedelta(days=1)
    entries = [
        make_entry("agent.plan", "failure", at=day_before, duration_ms=99, error_message="Boom"),
        make_entry("agent.run", "failure", caller="cli", duration_ms=50, error_message="Boom"),
        make_entry("agent.run", "failure", caller="cli", duration_ms=50, error_message="fine"),
        make_entry("agent.run", "failure", caller="api", duration_ms=50, error_message="Boom"),
        make_entry("agent.run", "success", caller="cli", duration_ms=50, error_message="Boom"),
        make_entry("tool.run", "failure", caller="cli", duration_ms=50, error_message="Boom"),
        make_entry("agent.run", "failure", caller="cli", duration_ms=49, error_message="Boom"),
        make_entry("agent.plan", "failure", caller="cli", duration_ms=99, error_message="BOOM 2"),
    ]
    write_entries(telemetry_path, entries)
    found = telemetry.query(
        skill="agent.*",
        status="failure",
        caller="cli",
        since=BASE - timedelta(hours=1),
        min_duration_ms=50,
        text="boom",
    )
    assert [(e["skill"], e["error_message"]) for e in found] == [
        ("agent.plan", "BOOM 2"),
        ("agent.run", "Boom"),
    ]


def test_iter_entries_streams_the_same_entries_as_query(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_numbered(telemetry_path, 9)
    streamed = telemetry.iter_entries(skill="s.*", status="failure", since=BASE)
    assert skills_of(list(streamed)) == ["s.7", "s.5", "s.3", "s.1"]


def test_iter_entries_checks_its_filters_before_iterating(telemetry: TelemetryCapture) -> None:
    with pytest.raises(ValueError, match="since: "):
        telemetry.iter_entries(since="whenever")


def test_iter_entries_yields_the_newest_entry_first(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_numbered(telemetry_path, 5)
    assert next(telemetry.iter_entries())["skill"] == "s.4"


def test_tail_returns_the_last_matches_oldest_first(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_numbered(telemetry_path, 9)
    assert skills_of(telemetry.tail(3, status="failure")) == ["s.3", "s.5", "s.7"]


def test_tail_defaults_to_ten_entries(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    write_numbered(telemetry_path, 12)
    assert skills_of(telemetry.tail()) == [f"s.{n}" for n in range(2, 12)]


def test_tail_of_zero_is_empty(telemetry: TelemetryCapture, telemetry_path: Path) -> None:
    write_numbered(telemetry_path, 3)
    assert telemetry.tail(0) == []


@pytest.mark.parametrize("bad", [-1, True, 2.5, None])
def test_tail_rejects_a_bad_count(telemetry: TelemetryCapture, bad: object) -> None:
    with pytest.raises(ValueError, match="n must"):
        telemetry.tail(bad)  # type: ignore[arg-type]


# -- the original framework's file ---------------------------------------------------------------


@pytest.fixture
def fixture_copy(tmp_path: Path, store_suffix: str) -> Path:
    """The spec's fixture in the store under test (the file itself in a JSON array)."""
    copy = tmp_path / "legacy" / f"telemetry{store_suffix}"
    copy_store(FIXTURE, copy)
    return copy


def legacy_rows(path: Path) -> list[tuple[Entry, bool]]:
    """The fixture's rows for the brute force: in a JSON-array copy the file is indented, so no
    line is in our layout; a copy in another store holds one ``json.dumps`` line per entry."""
    entries = json.loads(FIXTURE.read_bytes())
    in_the_array = kind_of(path) == JSON_ARRAY
    return [(entry, not in_the_array and on_our_line(entry, "ours")) for entry in entries]


FIXTURE_FILTERS: list[dict[str, Any]] = [
    {},
    {"skill": "registry.update"},
    {"skill": "workflow.compose"},
    {"skill": "test.concurrent.*"},
    {"skill": "test.concurrent.skill.?"},
    {"skill": "*.skill"},
    {"skill": "workflow.[cv]*"},
    {"skill": "no.such.skill"},
    {"status": "failed"},
    {"status": "failure"},
    {"status": ["failure", "failed"]},
    {"status": "success", "limit": 5, "offset": 3},
    {"caller": "cli"},
    {"caller": "*test"},
    {"caller": "workflow.compose", "status": "failed"},
    {"since": datetime(2025, 10, 25, tzinfo=UTC)},
    {"until": datetime(2025, 10, 24, 23, 59, 59, tzinfo=UTC)},
    {
        "since": datetime(2025, 10, 25, 10, tzinfo=UTC),
        "until": datetime(2025, 10, 25, 20, tzinfo=UTC),
    },
    {"since": datetime(2025, 11, 1, tzinfo=UTC), "skill": "registry.*"},
    {"min_duration_ms": 1000},
    {"min_duration_ms": 150.5},
    {"text": "does not exist"},
    {"text": "TEST ERROR"},
    {"text": "exited with code"},
    {"trace_id": TRACE_A},
    {"skill": "registry.update", "status": "failed", "caller": "cli", "text": "path"},
    {"limit": 10},
    {"offset": 220},
]


@pytest.mark.parametrize("filters", FIXTURE_FILTERS, ids=[str(f) for f in FIXTURE_FILTERS])
def test_query_on_the_original_frameworks_file_matches_brute_force(
    fixture_copy: Path, filters: dict[str, Any]
) -> None:
    found = TelemetryCapture(fixture_copy).query(**filters)
    assert items_of(found) == items_of(brute_query(legacy_rows(fixture_copy), filters))


def test_query_on_the_original_frameworks_file_reads_all_225_entries_newest_first(
    fixture_copy: Path,
) -> None:
    raw = json.loads(FIXTURE.read_bytes())
    found = TelemetryCapture(fixture_copy).query()
    assert len(found) == 225
    assert [e["timestamp"] for e in found] == [e["timestamp"] for e in reversed(raw)]


def test_query_legacy_failures_need_both_statuses(fixture_copy: Path) -> None:
    capture = TelemetryCapture(fixture_copy)
    assert len(capture.query(status="failure")) == 3
    assert len(capture.query(status=["failure", "failed"])) == 25


def test_reading_the_original_frameworks_file_leaves_it_unchanged(fixture_copy: Path) -> None:
    before = fixture_copy.read_bytes()  # FIXTURE's bytes, in a JSON array
    capture = TelemetryCapture(fixture_copy)
    for filters in FIXTURE_FILTERS:
        capture.query(**filters)
    list(capture.iter_entries(status="failed"))
    capture.tail(5, skill="registry.*")
    assert fixture_copy.read_bytes() == before


def test_entries_appended_to_the_original_frameworks_file_are_read_first(
    fixture_copy: Path,
) -> None:
    store = open_store(fixture_copy)
    new = make_entry("new.skill", "failure", at=datetime(2025, 11, 3, tzinfo=UTC))
    store.write([encoded(new)])
    store.close()
    found = TelemetryCapture(fixture_copy).query(status=["failure", "failed"])
    assert len(found) == 26
    assert found[0] == new


# -- large files ---------------------------------------------------------------------------------

BIG_COUNT = 200_000
BIG_START = datetime(2025, 10, 1, tzinfo=UTC)


def big_entries() -> list[Entry]:
    """One entry a second, oldest first; every 997th was written 5 minutes late (out of order)."""
    entries = []
    for n in range(BIG_COUNT):
        moment = BIG_START + timedelta(seconds=n, microseconds=n % 1000)
        if n % 997 == 0:
            moment -= timedelta(minutes=5)
        status = "failure" if n % 20_000 == 7 else ("failed" if n % 50 == 0 else "success")
        entries.append(
            make_entry(f"skill.{n % 40}", status, at=moment, duration_ms=float(n % 700), n=n)
        )
    return entries


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[Entry]]]:
    """The big store of each kind, made once for the module when a test first asks for it."""
    return {}


@pytest.fixture
def big_file(
    big_files: dict[str, tuple[Path, list[Entry]]],
    tmp_path_factory: pytest.TempPathFactory,
    store_suffix: str,
) -> tuple[Path, list[Entry]]:
    if store_suffix not in big_files:
        path = tmp_path_factory.mktemp("big") / f"telemetry{store_suffix}"
        entries = big_entries()
        write_entries(path, entries)
        big_files[store_suffix] = path, entries
    return big_files[store_suffix]


def test_status_query_with_a_limit_on_200k_entries_uses_little_memory(
    big_file: tuple[Path, list[Entry]],
) -> None:
    path, entries = big_file
    capture = TelemetryCapture(path)
    tracemalloc.start()
    try:
        found = capture.query(status="failure", limit=10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = [e for e in reversed(entries) if e["status"] == "failure"][:10]
    assert found == expected
    assert peak < 5 * 1024 * 1024


def test_since_query_on_200k_entries_returns_exactly_the_last_hour(
    big_file: tuple[Path, list[Entry]],
) -> None:
    path, entries = big_file
    newest = max(moment_of(e["timestamp"]) or BIG_START for e in entries)
    since = newest - timedelta(hours=1)
    found = TelemetryCapture(path).query(since=since, limit=None)
    expected = [e for e in reversed(entries) if (moment_of(e["timestamp"]) or BIG_START) >= since]
    assert 3500 < len(expected) < 3700
    assert found == expected


# -- property: query equals the brute force in every layout --------------------------------------

SKILLS = ["agent.run", "agent.plan", "tool.search", "a/b.run", "dé.jà.vu", 'say "hi"', "x"]
CALLERS = ["cli", "CLI", "agent.run", "svc/α", "tester"]
STATUSES = ["success", "failure", "failed", "error", "timeout", "pending"]
ERRORS = ["Boom", "connection RESET by peer", "timeout after 30s", "Ünïcode FAILURE", "a/b gone"]
TRACES = [TRACE_A, TRACE_B, "00000000000000000000000000000abc"]
SKILL_PATTERNS = [*SKILLS, "agent.*", "*.run", "*", "a/*", "?gent.run", "[at]*", "dé*", "*hi*"]
CALLER_PATTERNS = [*CALLERS, "c*", "*.run", "svc/*", "[cC]LI", "*er"]
TEXTS = ["boom", "RESET", "timeout", "ünïcode", "failure", "/b ", "zzz"]
LAYOUTS = ["ours", "compact", "unicode"]
FILTER_KINDS = [
    "skill",
    "caller",
    "status",
    "since",
    "until",
    "trace_id",
    "min_duration_ms",
    "text",
]
FILTER_KINDS += ["since", "skill", "status"]  # drawn more often
FILTERS_PER_FILE = 8  # writing the file costs more than a query: check several on each
limits = st.none() | st.integers(0, 6)


def encode_line(entry: Entry, layout: str) -> bytes:
    if layout == "compact":
        return json.dumps(entry, separators=(",", ":")).encode()
    if layout == "unicode":
        return json.dumps(entry, ensure_ascii=False).encode()
    return json.dumps(entry).encode()


def on_our_line(entry: Entry, layout: str) -> bool:
    """Written as ``{"timestamp": "<canonical>", ...`` on one line (what the early stop reads)."""
    first = next(iter(entry), None)
    return (
        layout in ("ours", "unicode")
        and first == "timestamp"
        and is_canonical_stamp(entry["timestamp"])
    )


@st.composite
def stored_timestamps(draw: st.DrawFn, spread_minutes: int = 90) -> object:
    moment = BASE + timedelta(
        minutes=draw(st.integers(-spread_minutes, spread_minutes)),
        microseconds=draw(st.integers(0, 999_999)),
    )
    # Not drawn: the 32-character forms str(datetime) and a comma decimal sign, which the
    # pre-test mistakes for canonical ones (see the xfail tests at the end of this file).
    form = draw(
        st.sampled_from(
            ["canonical"] * 6 + ["z", "plus_two", "minus_five", "naive", "garbage", "none", "int"]
        )
    )
    if form == "canonical":
        return stamp(moment)
    if form == "z":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if form == "plus_two":
        return moment.astimezone(PLUS_TWO).isoformat(timespec="microseconds")
    if form == "minus_five":
        return moment.astimezone(MINUS_FIVE).isoformat(timespec="seconds")
    if form == "naive":
        return moment.replace(tzinfo=None).isoformat(timespec="seconds")
    return {"garbage": "not a time", "none": None, "int": 1761307200}[form]


@st.composite
def raw_entries(draw: st.DrawFn) -> Entry:
    entry: Entry = {
        "timestamp": draw(stored_timestamps()),
        "skill": draw(st.sampled_from([*SKILLS, *SKILLS, None, 7])),
        "status": draw(st.sampled_from([*STATUSES, *STATUSES, None])),
        "duration_ms": draw(
            st.integers(0, 5000)
            | st.floats(0, 5000, allow_nan=False)
            | st.sampled_from([True, None, "12"])
        ),
        "caller": draw(st.sampled_from([*CALLERS, *CALLERS, 3])),
        "inputs": draw(st.sampled_from([{}, {"q": "agent.run"}, {"n": 1, "s": "failure"}])),
        "error_message": None,
        "metadata": {},
    }
    errors = draw(st.sampled_from(["none", "message", "legacy", "both", "non-string"]))
    if errors in ("message", "both"):
        entry["error_message"] = draw(st.sampled_from(ERRORS))
    if errors == "non-string":
        entry["error_message"] = 404
    if errors == "legacy":
        del entry["error_message"]
    if errors in ("legacy", "both", "non-string"):
        entry["error"] = draw(st.sampled_from(ERRORS))
    if draw(st.booleans()):
        entry["trace_id"] = draw(st.sampled_from(TRACES))
        entry["span_id"] = "ab" * 8
        entry["parent_id"] = None
    order = draw(st.sampled_from(["spec", "spec", "legacy", "shuffled"]))
    if order == "legacy":
        keys = ["timestamp", "execution_id", "skill", "inputs", "status", "duration_ms"]
        entry["execution_id"] = "run-1"
        entry = {key: entry[key] for key in keys} | entry
    elif order == "shuffled":
        entry = {key: entry[key] for key in draw(st.permutations(list(entry)))}
    dropped = draw(st.sets(st.sampled_from(["timestamp", "status", "duration_ms", "inputs"])))
    if draw(st.integers(0, 4)) == 0:
        for key in dropped:
            entry.pop(key, None)
    return entry


def name_patterns(name: str) -> st.SearchStrategy[str]:
    """Patterns that match ``name``: itself, or a glob made from it."""
    return st.builds(
        lambda kind, at: {
            "exact": name,
            "prefix": name[:at] + "*",
            "suffix": "*" + name[at:],
            "star": name[:at] + "*" + name[at + 1 :],
            "question": name[:at] + "?" + name[at + 1 :],
            "set": name[:at] + "[" + name[at] + "Q]" + name[at + 1 :],
        }[kind],
        st.sampled_from(["exact", "exact", "prefix", "suffix", "star", "question", "set"]),
        st.integers(0, len(name) - 1),
    )


def some_moment(spread_minutes: int) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda minutes, micros: BASE + timedelta(minutes=minutes, microseconds=micros),
        st.integers(-spread_minutes, spread_minutes),
        st.integers(0, 999_999),
    )


@st.composite
def filter_sets(
    draw: st.DrawFn, entries: list[Entry], spread_minutes: int = 100
) -> tuple[dict[str, Any], dict[str, str]]:
    """Brute-force filters (bounds as aware datetimes) and the form each bound is passed in.

    Half the time each filter is drawn around one of ``entries`` (the anchor), so that it
    matches the anchor and filters are seldom empty-handed.
    """
    use_anchor = bool(entries) and draw(st.integers(0, 3)) > 0
    anchor: Entry = draw(st.sampled_from(entries)) if use_anchor else {}
    kinds = draw(st.sets(st.sampled_from(FILTER_KINDS), min_size=1, max_size=3))
    filters: dict[str, Any] = {}
    for field, patterns in (("skill", SKILL_PATTERNS), ("caller", CALLER_PATTERNS)):
        if field in kinds:
            value = anchor.get(field)
            around = name_patterns(value) if isinstance(value, str) else st.nothing()
            filters[field] = draw(around | st.sampled_from(patterns))
    if "status" in kinds:
        value = anchor.get("status")
        one = st.sampled_from(STATUSES)
        some = st.lists(one, min_size=1, max_size=4, unique=True)
        if isinstance(value, str):
            some = some.map(lambda others: sorted({*others, str(value)}))
            one = st.just(value)
        filters["status"] = draw(one | some)
    moment = moment_of(anchor.get("timestamp"))
    slack = st.timedeltas(timedelta(0), timedelta(minutes=30))
    since = draw(some_moment(spread_minutes) if moment is None else slack.map(lambda d: moment - d))
    until = draw(some_moment(spread_minutes) if moment is None else slack.map(lambda d: moment + d))
    since, until = sorted([since, until])
    if "since" in kinds:
        filters["since"] = since
    if "until" in kinds:
        filters["until"] = until
    if "trace_id" in kinds:
        value = anchor.get("trace_id")
        candidates = [*TRACES, TRACE_A.upper(), "f" * 32]
        if isinstance(value, str):
            candidates = [value, value.upper()]
        filters["trace_id"] = draw(st.sampled_from(candidates))
    if "min_duration_ms" in kinds:
        value = anchor.get("duration_ms")
        below: st.SearchStrategy[float] = st.integers(0, 5000) | st.floats(0, 5000)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            below = st.just(value) | st.floats(0, value)
        filters["min_duration_ms"] = draw(below)
    if "text" in kinds:
        message = error_text(anchor) if anchor else None
        texts = st.sampled_from(TEXTS)
        if message:
            start = draw(st.integers(0, len(message) - 1))
            end = draw(st.integers(start + 1, len(message)))
            case = draw(st.sampled_from(["upper", "lower", "swapcase", "same"]))
            piece = message[start:end]
            texts = st.just(piece if case == "same" else getattr(piece, case)())
        filters["text"] = draw(texts)
    forms = {
        bound: draw(st.sampled_from(["aware", "naive", "z", "plus_two"]))
        for bound in ("since", "until")
    }
    return filters, forms


@pytest.mark.json_only("an indented JSON array, then one-line entries in it")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(entries=st.lists(raw_entries(), min_size=1, max_size=20), data=st.data())
def test_query_equals_brute_force_over_a_file_in_mixed_layouts(
    entries: list[Entry], data: st.DataObject
) -> None:
    indented = data.draw(st.integers(0, len(entries)), label="entries in the indented file")
    write_indented_file = indented > 0 or data.draw(st.booleans(), label="write []")
    layouts = data.draw(
        st.lists(st.sampled_from(LAYOUTS), min_size=len(entries), max_size=len(entries))
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "telemetry.json"
        rows: list[tuple[Entry, bool]] = [(entry, False) for entry in entries[:indented]]
        if write_indented_file:
            path.write_text(json.dumps(entries[:indented], indent=2), encoding="utf-8")
        store = JsonArrayStore(str(path))
        for entry, layout in zip(entries[indented:], layouts, strict=False):
            store.append(encode_line(entry, layout))
            rows.append((entry, on_our_line(entry, layout)))
        store.close()
        if path.exists():  # one read block: the early stop follows its rule exactly
            assume(path.stat().st_size < 16 * 1024)
            assert [e for e, _ in rows] == json.loads(path.read_bytes())
        capture = TelemetryCapture(path)
        for _ in range(FILTERS_PER_FILE):
            filters, forms = data.draw(filter_sets(entries), label="filters")
            filters |= {"limit": data.draw(limits), "offset": data.draw(st.integers(0, 3))}
            found = capture.query(**library_arguments(filters, forms))
            assert items_of(found) == items_of(brute_query(rows, filters)), filters


# store_suffix is a plain string, the same for every example: safe to share between them.
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(20, 400), data=st.data())
def test_query_equals_brute_force_over_a_file_of_many_blocks(
    seed: int, count: int, data: st.DataObject, store_suffix: str
) -> None:
    """Files of one-line entries spanning many read blocks, in time order give or take 9 minutes
    (so the early stop may hide nothing that matches)."""
    rng = random.Random(seed)
    start = BASE - timedelta(minutes=400)
    step = timedelta(minutes=800) / count
    rows: list[tuple[Entry, bool]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"telemetry{store_suffix}"
        store = open_store(path)
        for n in range(count):
            moment = start + step * n + timedelta(seconds=rng.uniform(0, 9 * 60))
            entry = make_entry(
                rng.choice(SKILLS),
                rng.choice(STATUSES),
                at=moment,
                duration_ms=rng.choice([rng.randint(0, 5000), rng.uniform(0, 5000)]),
                caller=rng.choice(CALLERS),
                error_message=rng.choice([None, *ERRORS]),
                inputs={"pad": "p" * rng.randint(0, 3000)},
            )
            if rng.random() < 0.3:
                entry |= {"trace_id": rng.choice(TRACES), "span_id": "cd" * 8, "parent_id": None}
            if rng.random() < 0.1:
                entry["timestamp"] = moment.isoformat(timespec="milliseconds").replace(
                    "+00:00", "Z"
                )
            layout = rng.choice(LAYOUTS)
            store.write([Encoded(entry, encode_line(entry, layout))])
            rows.append((entry, on_our_line(entry, layout)))
        store.close()
        capture = TelemetryCapture(path)
        for _ in range(FILTERS_PER_FILE):
            filters, forms = data.draw(filter_sets([e for e, _ in rows], spread_minutes=400))
            filters |= {"limit": data.draw(st.none() | st.integers(0, 30))}
            found = capture.query(**library_arguments(filters, forms))
            assert items_of(found) == items_of(brute_query(rows, filters)), filters


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(raw_entries(), min_size=1, max_size=10), data=st.data())
def test_line_pre_test_keeps_every_line_whose_entry_matches(
    entries: list[Entry], data: st.DataObject
) -> None:
    for _ in range(FILTERS_PER_FILE):
        filters, forms = data.draw(filter_sets(entries))
        line_test = line_test_for(EntryFilter.build(**library_arguments(filters, forms)))
        for entry in entries:
            if line_test is None or not brute_matches(entry, filters):
                continue
            for layout in LAYOUTS:
                line = encode_line(entry, layout) + b","
                assert line_test.verdict(line) == KEEP, (layout, filters)
                assert line_test.block_may_match(line), (layout, filters)


# -- bugs ----------------------------------------------------------------------------------------


def test_since_finds_entries_stamped_like_str_of_a_utc_datetime(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    late = datetime(2025, 10, 24, 23, 0, 0, 123456, tzinfo=UTC)
    assert len(str(late)) == 32
    write_entries(
        telemetry_path,
        [make_entry("earlier", at=BASE + timedelta(hours=1)), make_entry("late", at=str(late))],
    )
    assert skills_of(telemetry.query(since=BASE)) == ["late", "earlier"]


@pytest.mark.json_only("writes an indented JSON array itself")
def test_query_finds_an_indented_entry_that_straddles_a_read_block(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    large = make_entry("needle.skill", "failed", inputs={f"k{n}": n for n in range(2000)})
    telemetry_path.parent.mkdir(parents=True)
    telemetry_path.write_text(json.dumps([large], indent=2), encoding="utf-8")
    assert telemetry_path.stat().st_size > 32 * 1024
    assert skills_of(telemetry.query(skill="needle.skill")) == ["needle.skill"]


def test_a_narrower_filter_never_returns_an_entry_a_wider_one_misses(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    in_window = BASE + timedelta(hours=1)
    entries = [make_entry("x", at=BASE + timedelta(minutes=1))]
    entries += [make_entry("y", at=in_window) for _ in range(200)]
    entries += [make_entry("y", at=BASE - timedelta(days=1))]  # a stop line
    entries += [make_entry("y", at=in_window) for _ in range(20)]
    write_entries(telemetry_path, entries)
    wider = telemetry.query(since=BASE)
    narrower = telemetry.query(since=BASE, skill="x")
    assert all(entry in wider for entry in narrower)


def test_an_impossible_canonical_looking_timestamp_never_matches_a_time_filter(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry("bad", at="2025-13-45T99:99:99.999999+00:00")])
    assert telemetry.query(since="2025-01-01") == []


def test_a_comma_decimal_timestamp_is_compared_by_its_real_moment(
    telemetry: TelemetryCapture, telemetry_path: Path
) -> None:
    write_entries(telemetry_path, [make_entry("half", at="2025-10-24T12:00:00,500000+00:00")])
    assert skills_of(telemetry.query(since="2025-10-24T12:00:00.100Z")) == ["half"]
