"""The in-memory store: a whole ``Store``, in this process, touching no file.

``open_store(":memory:")``, ``TelemetryCapture(":memory:")`` and ``TelemetryCapture(store=...)``
are tested here with it (and with a store a user wrote), as the read API sees them.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Collection, Generator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture, capture_telemetry, resolve_telemetry_path
from betty_telemetry.capture.build import build_entry, encoded
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import (
    Encoded,
    Follower,
    JsonArrayStore,
    JsonLinesStore,
    MemoryStore,
    Store,
    open_store,
)
from tests.conftest import run_python

EVERYTHING = EntryFilter()


def item(skill: str, status: str = "success", **inputs: Any) -> Encoded:
    return encoded(build_entry(skill, status, 1.5, "test", inputs))


def skills(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["skill"] for entry in entries]


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


# -- the Store protocol ------------------------------------------------------------------------


def test_a_memory_store_is_a_store_located_in_memory() -> None:
    store = MemoryStore()
    assert isinstance(store, Store)
    assert store.location == ":memory:"
    assert repr(store) == "<MemoryStore: 0 entries>"


def test_scan_gives_entries_newest_first_or_oldest_first() -> None:
    store = MemoryStore()
    store.write([item("a"), item("b")])
    store.write([item("c")])
    assert skills(list(store.scan(EVERYTHING))) == ["c", "b", "a"]
    assert skills(list(store.scan(EVERYTHING, newest_first=False))) == ["a", "b", "c"]
    assert len(store) == 3


def test_scan_and_count_apply_the_filter_exactly() -> None:
    store = MemoryStore()
    store.write([item("agent.plan"), item("agent.run", "error"), item("tool.grep", "error")])
    errors_of_agents = EntryFilter.build(skill="agent.*", status="error")
    assert skills(list(store.scan(errors_of_agents))) == ["agent.run"]
    assert store.count(errors_of_agents) == 1
    assert store.count(EntryFilter.build(status="error")) == 2


def test_entries_are_kept_as_stored_not_as_the_writer_changes_its_dict_later() -> None:
    store = MemoryStore()
    written = item("a", path="./plugin.yaml")
    store.write([written])
    written.entry["inputs"]["path"] = "changed"
    written.entry["skill"] = "changed"
    assert store.entries()[0]["inputs"] == {"path": "./plugin.yaml"}
    assert store.entries()[0] == json.loads(written.line)


def test_a_reader_changing_what_it_got_does_not_change_the_store() -> None:
    store = MemoryStore()
    store.write([item("a", path="./plugin.yaml")])
    next(store.scan(EVERYTHING))["inputs"]["path"] = "changed"
    store.entries()[0]["skill"] = "changed"
    assert store.entries()[0]["skill"] == "a"
    assert store.entries()[0]["inputs"] == {"path": "./plugin.yaml"}


def test_a_batch_with_a_line_that_is_not_an_object_is_refused_whole() -> None:
    store = MemoryStore()
    good = item("a")
    for bad_line in (b"[1, 2]", b"{not json", b""):
        with pytest.raises(ValueError, match="must be a JSON object"):
            store.write([good, Encoded({}, bad_line)])
    assert store.entries() == []


def test_a_scan_reads_a_copy_and_does_not_hold_writers_up() -> None:
    store = MemoryStore()
    store.write([item("a"), item("b")])
    with closing(store.scan(EVERYTHING, newest_first=False)) as entries:
        first = next(entries)
        store.write([item("c")])  # would deadlock if the scan held the lock
        rest = list(entries)
    assert skills([first, *rest]) == ["a", "b"]
    assert len(store) == 3


def test_follow_gives_the_backlog_then_only_what_is_stored_after_never_twice() -> None:
    store = MemoryStore()
    store.write([item("a"), item("b", "error"), item("c")])
    recent, follower = store.follow(EntryFilter.build(status="success"), backlog=1)
    assert isinstance(follower, Follower)
    assert skills(recent) == ["c"]
    assert follower.poll() == []
    store.write([item("d"), item("e", "error"), item("f")])
    assert skills(follower.poll()) == ["d", "f"]
    assert follower.poll() == []
    follower.close()


def test_follow_with_no_backlog_gives_no_entry_before_it() -> None:
    store = MemoryStore()
    store.write([item("a")])
    recent, follower = store.follow(EVERYTHING, backlog=0)
    assert recent == []
    store.write([item("b")])
    assert skills(follower.poll()) == ["b"]


def test_clear_forgets_every_entry_and_followers_go_on_with_what_comes_after() -> None:
    store = MemoryStore()
    store.write([item("a")])
    _, follower = store.follow(EVERYTHING, backlog=0)
    store.write([item("lost before the poll")])
    store.clear()
    assert store.entries() == []
    store.write([item("b")])
    assert skills(follower.poll()) == ["b"]
    store.clear()
    store.write([item("c"), item("d")])
    assert skills(follower.poll()) == ["c", "d"]


def test_flush_and_close_keep_the_entries() -> None:
    store = MemoryStore()
    store.write([item("a")])
    assert store.flush(0) is True
    store.close()
    store.write([item("b")])
    assert skills(store.entries()) == ["a", "b"]


def test_writers_on_many_threads_lose_no_entry() -> None:
    store = MemoryStore()
    threads_count, per_thread = 8, 200

    def write(thread: int) -> None:
        for i in range(per_thread):
            store.write([item("t", thread=thread, i=i)])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [(e["inputs"]["thread"], e["inputs"]["i"]) for e in store.entries()]
    assert sorted(stored) == [(t, i) for t in range(threads_count) for i in range(per_thread)]
    for thread in range(threads_count):  # each thread's entries in the order it wrote them
        assert [i for t, i in stored if t == thread] == list(range(per_thread))


def test_a_forked_child_can_write_even_if_the_parent_held_the_lock() -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from betty_telemetry.stores import MemoryStore
        from betty_telemetry.capture.build import build_entry, encoded
        store = MemoryStore()
        store._lock.acquire()  # as another thread of the parent would, at the fork
        pid = os.fork()
        if pid == 0:
            store.write([encoded(build_entry("child", "success", 1.0, "fork"))])
            os._exit(0 if len(store) == 1 else 3)
        store._lock.release()
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr


# -- open_store(":memory:") and TelemetryCapture(":memory:") -----------------------------------


def test_open_store_gives_a_new_memory_store_for_each_memory_location(tmp_path: Path) -> None:
    first, second = open_store(":memory:"), open_store(":memory:")
    assert isinstance(first, MemoryStore)
    assert first is not second
    assert isinstance(open_store(tmp_path / "t.json"), JsonArrayStore)
    assert isinstance(open_store(tmp_path / "t.jsonl"), JsonLinesStore)


def test_a_file_named_like_the_memory_location_is_spelled_with_a_folder(tmp_path: Path) -> None:
    assert isinstance(open_store("./:memory:"), JsonArrayStore)
    assert resolve_telemetry_path("./:memory:").path == str(tmp_path / ":memory:")


def test_the_memory_location_is_not_made_an_absolute_path() -> None:
    resolved = resolve_telemetry_path(":memory:")
    assert (resolved.path, resolved.rule) == (":memory:", "telemetry_file argument")


def test_a_memory_capture_records_and_reads_back_and_writes_no_file(tmp_path: Path) -> None:
    telemetry = TelemetryCapture(":memory:")
    assert telemetry.telemetry_file == Path(":memory:")
    assert repr(telemetry) == "TelemetryCapture(telemetry_file=':memory:')"
    telemetry.capture("plugin.build", "success", 320.5, "CLI", {"api_key": "sk-" + "x" * 40})
    telemetry.capture("plugin.build", "failure", 10.0, "CLI", error_message="Build failed")
    stored = telemetry.query()
    assert [entry["status"] for entry in stored] == ["failure", "success"]
    assert stored[1]["inputs"] == {"api_key": "***REDACTED***"}
    assert telemetry.stats()[0]["count"] == 2
    assert [entry["status"] for entry in telemetry.tail(5)] == ["success", "failure"]
    assert files_under(tmp_path) == []


def test_each_memory_capture_has_its_own_entries() -> None:
    first, second = TelemetryCapture(":memory:"), TelemetryCapture(telemetry_file=":memory:")
    first.capture("a", "success", 1.0, "test")
    assert second.query() == []


def test_the_environment_can_send_the_default_file_to_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", ":memory:")

    @capture_telemetry(skill_name="plugin.build")
    def build() -> str:
        return "built"

    assert build() == "built"
    assert build() == "built"
    assert files_under(tmp_path) == []
    assert TelemetryCapture().telemetry_file == Path(":memory:")


def test_traces_tail_and_follow_read_from_a_memory_capture() -> None:
    telemetry = TelemetryCapture(":memory:")

    @capture_telemetry(skill_name="child", telemetry=telemetry)
    def child() -> None:
        pass

    @capture_telemetry(skill_name="root", telemetry=telemetry)
    def root() -> None:
        child()

    root()
    trace_id = telemetry.last_trace_id()
    assert trace_id is not None
    [tree] = telemetry.trace(trace_id)
    assert tree["entry"]["skill"] == "root"
    assert [node["entry"]["skill"] for node in tree["children"]] == ["child"]
    with closing(telemetry.follow(backlog=1, poll_interval=0.01)) as followed:
        assert next(followed)["skill"] == "root"
        telemetry.capture("later", "success", 1.0, "test")
        assert next(followed)["skill"] == "later"


# -- TelemetryCapture(store=...) ---------------------------------------------------------------


def test_a_capture_records_into_the_store_it_is_given() -> None:
    store = MemoryStore()
    telemetry = TelemetryCapture(store=store)
    assert telemetry.store is store
    assert telemetry.telemetry_file == Path(":memory:")
    assert (telemetry.path_rule, telemetry.durability) == ("store argument", None)
    returned = telemetry.capture("plugin.build", "success", 1.0, "CLI")
    assert store.entries() == [returned]


def test_a_capture_given_a_file_store_records_into_its_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    telemetry = TelemetryCapture(store=open_store(path, lock_timeout=1.0))
    assert telemetry.telemetry_file == path
    telemetry.capture("plugin.build", "success", 1.0, "CLI")
    telemetry.close()
    assert [json.loads(line)["skill"] for line in path.read_text().splitlines()] == ["plugin.build"]


def test_a_background_capture_given_a_store_writes_to_it_on_flush() -> None:
    store = MemoryStore()
    telemetry = TelemetryCapture(store=store, background=True)
    telemetry.capture("queued", "success", 1.0, "test", {"password": "hunter2"})
    assert telemetry.flush(10)
    assert store.entries()[0]["inputs"] == {"password": "***REDACTED***"}
    telemetry.close()


def test_the_spec_constructor_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    for telemetry in (TelemetryCapture(path), TelemetryCapture(telemetry_file=path)):
        assert (telemetry.telemetry_file, telemetry.durability) == (path, "write")
    assert TelemetryCapture(None).path_rule == "default ./registry/telemetry.json"


def test_a_store_and_a_file_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="telemetry_file or store, not both"):
        TelemetryCapture(tmp_path / "t.json", store=MemoryStore())


def test_durability_with_a_store_is_refused_as_the_store_decides_it() -> None:
    with pytest.raises(ValueError, match="durability is the store's own"):
        TelemetryCapture(store=MemoryStore(), durability="fsync")


@pytest.mark.parametrize("not_a_store", ["t.json", Path("t.json"), object(), []])
def test_a_store_argument_that_is_not_a_store_is_refused(not_a_store: object) -> None:
    with pytest.raises(TypeError, match="store must be a Store"):
        TelemetryCapture(store=not_a_store)  # type: ignore[arg-type]


class ListStore:
    """A store a user might write: entries in a list, no file format, nothing more."""

    def __init__(self) -> None:
        self.stored: list[dict[str, Any]] = []

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
    ) -> Generator[dict[str, Any], None, None]:
        yield from reversed(self.stored) if newest_first else self.stored

    def follow(self, wanted: EntryFilter, backlog: int) -> tuple[list[dict[str, Any]], Follower]:
        raise NotImplementedError

    def count(self, wanted: EntryFilter) -> int:
        return sum(1 for entry in self.stored if wanted.matches(entry))


def test_a_capture_records_into_and_queries_a_store_a_user_wrote() -> None:
    store = ListStore()
    telemetry = TelemetryCapture(store=store)
    assert telemetry.telemetry_file == Path("list://tests")
    telemetry.capture("a", "success", 1.0, "test")
    telemetry.capture("b", "error", 1.0, "test", error_message="boom")
    assert skills(store.stored) == ["a", "b"]
    assert skills(telemetry.query(status="error")) == ["b"]
