"""The same 10,000 entries in every store give the same answers to every read.

About a thousand entries are really captured (nested decorated runs and contexts, failures
with messages, returned statuses, redacted secrets, unicode) into a scratch JSON array; the
rest are made by hand over three weeks: every status and the legacy ``failed``, traces of many
spans, entries in the original framework's shape (no ``error_message`` or ``metadata``, an
``error`` key, integer durations), extra keys, ``Z``, offset and naive timestamps, missing
and odd durations, unicode names. The same entries, as stored, are then written into each
store of ``STORES`` through its own ``write`` (``Encoded`` made from the raw dicts), in the
same order, in batches as the background writer would.

Each test asks every store the same question (``query`` with every filter kind, ``stats`` for
every ``by`` and both sorts, ``trace``, ``tail``, ``last_trace_id``, ``iter_entries``) and
requires the very same answer of each, and an answer that is not trivially empty.

Entries are in time order give or take a few minutes, as captures are: a file store's
newest-first read may stop at an entry older than ``since`` by more than ten minutes (see
``model/filters.OUT_OF_ORDER``), which a store that looks entries up by time need not do.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    VALID_STATUSES,
    TelemetryCapture,
    TelemetryContext,
    capture_telemetry,
)
from betty_telemetry.stores import open_store
from tests.entries import stamp
from tests.stores import STORES, encoded, stored_entries

Entry = dict[str, Any]
UTC = timezone.utc
TOTAL = 10_000
BATCH = 500
START = datetime(2025, 10, 1, tzinfo=UTC)
STATUSES = [*VALID_STATUSES, "failed"]
FAILING = {"failure", "error", "timeout", "failed"}
SKILLS = [
    "agent.run",
    "agent.plan",
    "workflow.compose",
    "plugin.build",
    "registry.update",
    "dé.jà.vu",
    "tool/search",
    'say "hi"',
]
CALLERS = ["cli", "CLI", "api", "agent.run", "svc/α", "ci"]
ERRORS = [
    "Timeout talking to the model",
    "disk FULL",
    "Validation failed at step 3",
    "Ünïcode FAILURE ✗",
    "connection reset by peer",
]
HANDMADE_TRACES = [f"{n:032x}" for n in range(0xA0, 0xA0 + 40)]


# -- the entries -----------------------------------------------------------------------------


def captured_entries(folder: Path) -> list[Entry]:
    """Entries really captured (decorator, context manager, capture()) into a scratch JSON
    array, read back as stored."""
    path = folder / "captured.json"
    telemetry = TelemetryCapture(path)

    @capture_telemetry("eq.leaf", telemetry=telemetry, capture_inputs=True)
    def leaf(i: int) -> int:
        if i % 7 == 0:
            raise ValueError(f"leaf {i} failed ✗")
        return i

    @capture_telemetry("eq.step", "api", telemetry=telemetry, capture_inputs=True)
    def step(i: int) -> dict[str, Any]:
        for j in range(3):
            with contextlib.suppress(ValueError):  # a failed leaf, recorded
                leaf(i * 3 + j)
        return {"status": VALID_STATUSES[i % len(VALID_STATUSES)]}

    @capture_telemetry("eq.pipeline", telemetry=telemetry)
    def pipeline(k: int) -> None:
        for i in range(4):
            step(k * 4 + i)

    for k in range(45):  # 17 entries each: 765
        pipeline(k)
    for n in range(120):  # 240 more: contexts with a child, secrets, unicode
        with TelemetryContext("eq.context", caller="CLI", telemetry=telemetry) as outer:
            outer.set_inputs(n=n, password=f"hunter{n}", note="naïve ☃")
            with TelemetryContext("eq.context.child", telemetry=telemetry) as inner:
                inner.set_metadata(attempt=n % 3, api_key=f"sk-{n:040d}")
                if n % 5 == 0:
                    inner.set_error(f"child {n} gave up: Ünïcode")
            outer.set_status(STATUSES[n % len(VALID_STATUSES)])
    for n in range(15):  # and plain captures of every status, outside any trace
        status = VALID_STATUSES[n % len(VALID_STATUSES)]
        error = ERRORS[n % len(ERRORS)] if status in FAILING else None
        telemetry.capture("eq.plain", status, float(n), "api", {"n": n}, error, {"k": n})
    telemetry.close()
    return stored_entries(path)


def handmade_entry(n: int, moment: datetime, rng: random.Random, spans: dict[str, str]) -> Entry:
    """Entry ``n``: one of ten shapes, by ``n % 10``."""
    shape = n % 10
    status = STATUSES[(n // 10 + shape) % len(STATUSES)]
    entry: Entry = {
        "timestamp": stamp(moment),
        "skill": SKILLS[(n * 7) % len(SKILLS)],
        "status": status,
        "duration_ms": round(rng.uniform(0, 6000), 3),
        "caller": CALLERS[(n * 5) % len(CALLERS)],
        "inputs": {"n": n},
        "error_message": rng.choice(ERRORS) if status in FAILING else None,
        "metadata": {},
    }
    if shape in (0, 7):  # a span of one of 40 traces, child of that trace's previous span
        trace_id = HANDMADE_TRACES[(n // 10) % len(HANDMADE_TRACES)]
        span_id = f"{n + 1:016x}"
        entry |= {"trace_id": trace_id, "span_id": span_id, "parent_id": spans.get(trace_id)}
        spans[trace_id] = span_id
    elif shape == 1:  # the original framework's shape
        entry = {
            "timestamp": entry["timestamp"],
            "skill": entry["skill"],
            "inputs": {"param": n},
            "status": "failed" if status in FAILING else "success",
            "duration_ms": rng.randint(0, 5000),
            "caller": entry["caller"],
        }
        if entry["status"] == "failed":
            entry["error"] = rng.choice(ERRORS)
    elif shape == 2:  # extra keys after the spec's
        entry |= {"host": f"node-{n % 3}", "tags": ["a", n % 4], "nested": {"deep": {"n": n}}}
    elif shape == 3:  # Z and milliseconds
        entry["timestamp"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    elif shape == 4:  # another offset
        entry["timestamp"] = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    elif shape == 5:  # unicode everywhere
        entry["inputs"] = {"text": "日本語 ✓ émoji 😀", "n": n}
        entry["skill"] = "ünïcode.skill"
    elif shape == 6:  # a duration no percentile counts
        entry["duration_ms"] = rng.choice([None, "9", True])
    elif shape == 8:  # naive timestamp (UTC), no duration at all
        entry["timestamp"] = moment.replace(tzinfo=None).isoformat()
        del entry["duration_ms"]
    return entry


def handmade_entries(count: int) -> list[Entry]:
    """``count`` entries two minutes apart from START (three weeks), each up to a minute late:
    in time order give or take a minute, as captures are."""
    rng = random.Random(20251201)
    spans: dict[str, str] = {}
    return [
        handmade_entry(n, START + timedelta(minutes=2 * n, seconds=rng.uniform(0, 60)), rng, spans)
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    captured = captured_entries(tmp_path_factory.mktemp("captured"))
    made = handmade_entries(TOTAL - len(captured))
    return [*made, *captured]  # oldest first: the captures are today's


@pytest.fixture(scope="module")
def captures(
    entries: list[Entry], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, TelemetryCapture]]:
    """A capture on each store, every store holding ``entries`` in the same order."""
    folder = tmp_path_factory.mktemp("stores")
    made = {}
    for kind, suffix in STORES.items():
        path = folder / f"telemetry{suffix}"
        store = open_store(path)
        for start in range(0, len(entries), BATCH):
            store.write([encoded(entry) for entry in entries[start : start + BATCH]])
        store.close()
        made[kind] = TelemetryCapture(path)
    yield made
    for capture in made.values():
        capture.close()


def same_everywhere(
    captures: dict[str, TelemetryCapture], read: Callable[[TelemetryCapture], Any]
) -> Any:
    """``read`` on every store; fails unless every store answered as the JSON array did."""
    answers = {kind: read(capture) for kind, capture in captures.items()}
    reference = answers.pop("json")
    for kind, answer in answers.items():
        assert answer == reference, f"{kind} answers differently from the JSON array"
    return reference


# -- the stores hold the same entries ----------------------------------------------------------


def test_every_store_holds_the_ten_thousand_entries_as_they_were_written(
    entries: list[Entry], captures: dict[str, TelemetryCapture]
) -> None:
    assert len(entries) == TOTAL
    for capture in captures.values():
        assert stored_entries(capture.telemetry_file) == entries


def test_the_entries_are_varied(entries: list[Entry]) -> None:
    statuses = {entry.get("status") for entry in entries}
    assert statuses >= set(STATUSES)
    assert sum(1 for entry in entries if "error_message" not in entry) > 800  # legacy shape
    assert sum(1 for entry in entries if "error" in entry) > 100
    assert sum(1 for entry in entries if "host" in entry) > 800  # extra keys
    assert sum(1 for entry in entries if entry.get("parent_id")) > 2000  # nested spans
    assert sum(1 for entry in entries if entry.get("skill") == "eq.leaf") > 400  # captured


# -- query, iter_entries, tail: every filter kind ---------------------------------------------

WINDOW = {"since": "2025-10-05T00:00:00Z", "until": "2025-10-09T12:00:00+02:00"}
QUERIES: dict[str, dict[str, Any]] = {
    "everything": {},
    "newest-20": {"limit": 20},
    "page": {"limit": 50, "offset": 120},
    "offset-past-the-end": {"offset": TOTAL + 1},
    "skill": {"skill": "agent.run"},
    "skill-unicode": {"skill": "dé.jà.vu"},
    "skill-quote": {"skill": 'say "hi"'},
    "skill-glob": {"skill": "agent.*"},
    "skill-glob-class": {"skill": "[pr]*"},
    "skill-captured": {"skill": "eq.leaf"},
    "status": {"status": "failure"},
    "status-legacy": {"status": "failed"},
    "statuses": {"status": ["error", "timeout", "failed"]},
    "caller": {"caller": "CLI"},
    "caller-glob": {"caller": "svc/*"},
    "since": {"since": "2025-10-18"},
    "since-relative": {"since": "1h"},
    "until": {"until": "2025-10-03T06:00:00Z"},
    "window": WINDOW,
    "trace": {"trace_id": HANDMADE_TRACES[3]},
    "trace-upper": {"trace_id": HANDMADE_TRACES[7].upper()},
    "min-duration": {"min_duration_ms": 4500},
    "text": {"text": "timeout"},
    "text-unicode": {"text": "ünïcode"},
    "text-legacy-error": {"text": "DISK"},
    "combined": {"skill": "agent.*", "status": ["failure", "failed"], "caller": "c*"},
    "combined-window": {**WINDOW, "min_duration_ms": 1000, "text": "reset", "limit": 7},
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_query_gives_the_same_entries_in_every_store(
    captures: dict[str, TelemetryCapture], name: str
) -> None:
    filters = QUERIES[name]
    found = same_everywhere(captures, lambda capture: capture.query(**filters))
    assert found or name == "offset-past-the-end"


ITERATED = ["everything", "skill-glob", "statuses", "window", "trace", "text", "combined"]


@pytest.mark.parametrize("name", ITERATED)
def test_iter_entries_gives_the_same_stream_in_every_store(
    captures: dict[str, TelemetryCapture], name: str
) -> None:
    filters = QUERIES[name]
    assert same_everywhere(captures, lambda capture: list(capture.iter_entries(**filters)))


TAILS: dict[str, tuple[int, dict[str, Any]]] = {
    "last-10": (10, {}),
    "last-200": (200, {}),
    "last-failures": (25, {"status": ["failure", "failed"]}),
    "last-of-a-skill": (15, {"skill": "workflow.*"}),
    "last-in-a-window": (30, WINDOW),
}


@pytest.mark.parametrize("name", list(TAILS))
def test_tail_gives_the_same_entries_in_every_store(
    captures: dict[str, TelemetryCapture], name: str
) -> None:
    count, filters = TAILS[name]
    assert same_everywhere(captures, lambda capture: capture.tail(count, **filters))


# -- stats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["count", "key"])
@pytest.mark.parametrize("by", ["skill", "caller", "status", "day", "hour"])
def test_stats_are_the_same_in_every_store(
    captures: dict[str, TelemetryCapture], by: str, sort: str
) -> None:
    rows = same_everywhere(captures, lambda capture: capture.stats(by, sort=sort))
    assert sum(row["count"] for row in rows) == TOTAL


@pytest.mark.parametrize("name", ["status-legacy", "window", "text", "combined", "trace"])
def test_filtered_stats_are_the_same_in_every_store(
    captures: dict[str, TelemetryCapture], name: str
) -> None:
    filters = {k: v for k, v in QUERIES[name].items() if k not in ("limit", "offset")}
    assert same_everywhere(captures, lambda capture: capture.stats("skill", **filters))


# -- traces -----------------------------------------------------------------------------------


def test_last_trace_id_is_the_same_in_every_store(captures: dict[str, TelemetryCapture]) -> None:
    assert same_everywhere(captures, lambda capture: capture.last_trace_id()) is not None


def trace_ids(entries: list[Entry], skill: str) -> list[str]:
    return sorted({entry["trace_id"] for entry in entries if entry.get("skill") == skill})


@pytest.mark.parametrize("which", ["pipeline-0", "pipeline-22", "pipeline-44", "context-7"])
def test_a_captured_trace_is_the_same_tree_in_every_store(
    entries: list[Entry], captures: dict[str, TelemetryCapture], which: str
) -> None:
    kind, index = which.split("-")
    skill = {"pipeline": "eq.pipeline", "context": "eq.context"}[kind]
    roots = [entry for entry in entries if entry.get("skill") == skill]
    trace_id = roots[int(index)]["trace_id"]
    tree = same_everywhere(captures, lambda capture: capture.trace(trace_id))
    assert len(tree) == 1
    assert tree[0]["entry"]["skill"] == skill
    assert tree[0]["children"]


@pytest.mark.parametrize("index", [0, 13, 39])
def test_a_handmade_trace_is_the_same_tree_in_every_store(
    captures: dict[str, TelemetryCapture], index: int
) -> None:
    tree = same_everywhere(captures, lambda capture: capture.trace(HANDMADE_TRACES[index]))
    assert tree


def test_an_unknown_trace_is_empty_in_every_store(captures: dict[str, TelemetryCapture]) -> None:
    assert same_everywhere(captures, lambda capture: capture.trace("f" * 32)) == []
