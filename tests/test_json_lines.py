"""The JSON Lines store (``.jsonl``, ``.ndjson``): one entry per line, appended by one write.

Real files under ``tmp_path``, real processes where another process matters (a lock holder, a
file size limit, a capability-less child for permissions, strace for the syncs). Multi-process
and crash tests run on every store in ``tests/stress/test_concurrency.py`` and
``tests/stress/test_crash.py``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import (
    CorruptStoreError,
    LockTimeoutError,
    NotARegularFileError,
    TelemetryCapture,
)
from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import JsonArrayStore, JsonLinesStore, open_store
from betty_telemetry.stores._line_test import line_test_for
from betty_telemetry.stores.base import Encoded, Store
from betty_telemetry.stores.json_lines import follow as follow_module
from betty_telemetry.stores.json_lines import reader as reader_module
from betty_telemetry.stores.json_lines.follow import LinesFollower
from tests.conftest import CliHere, run_cli, run_python
from tests.entries import new_entry, numbered_entry
from tests.lock_holder import start_holder
from tests.tracing import strace_usable

Entry = dict[str, Any]
UTC = timezone.utc
SECRET = "sk-proj-FAKEfakeFAKE0123456789abcdefghijKLMNOPqrstuvWXYZ"
REPAIRED = re.compile(r"Repaired .*: removed (\d+) bytes of a partial entry")


# -- helpers ---------------------------------------------------------------------------------------


def encoded(entry: Entry) -> Encoded:
    """An entry as the pipeline hands it to a store: one line of ASCII JSON."""
    return Encoded(entry, json.dumps(entry).encode())


def line(entry: Entry) -> bytes:
    return json.dumps(entry).encode() + b"\n"


def write_lines(path: Path, entries: list[Entry]) -> bytes:
    """The file our writer would leave; returns its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = b"".join(line(entry) for entry in entries)
    path.write_bytes(content)
    return content


def file_entries(path: Path) -> list[Entry]:
    """Every line of the file parsed on its own: fails on any line that is not an object."""
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the file must end with a newline"
    values = [json.loads(text) for text in lines[:-1]]
    assert all(isinstance(value, dict) for value in values)
    return values


def scan(store: Store, wanted: EntryFilter | None = None, **options: Any) -> list[Entry]:
    with contextlib.closing(store.scan(wanted or EntryFilter(), **options)) as entries:
        return list(entries)


def skills(entries: list[Entry]) -> list[str]:
    return [entry["skill"] for entry in entries]


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "registry" / "telemetry.jsonl"


@pytest.fixture
def store(path: Path) -> Iterator[JsonLinesStore]:
    instance = JsonLinesStore(str(path))
    yield instance
    instance.close()


# -- choosing the store ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.jsonl", "t.ndjson", "T.JSONL", "t.NdJson", "a.json.jsonl"])
def test_open_store_gives_a_json_lines_store_for_jsonl_and_ndjson_in_any_case(
    name: str, tmp_path: Path
) -> None:
    store = open_store(tmp_path / name, lock_timeout=2.5, fsync=True)
    assert isinstance(store, JsonLinesStore)
    assert (store.location, store.lock_timeout, store.fsync) == (str(tmp_path / name), 2.5, True)
    assert isinstance(store, Store)  # the protocol, checked at run time
    assert repr(store) == f"JsonLinesStore({str(tmp_path / name)!r})"


@pytest.mark.parametrize("name", ["t.json", "t.jsonl.json", "t.jsonlines", "t.txt", "t"])
def test_other_extensions_stay_json_arrays(name: str, tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path / name), JsonArrayStore)


def test_telemetry_capture_on_a_jsonl_path_uses_the_json_lines_store(path: Path) -> None:
    telemetry = TelemetryCapture(path)
    assert isinstance(telemetry.store, JsonLinesStore)
    entry = telemetry.capture("agent.run", "success", 1.5, "test", {"k": "v"})
    assert file_entries(path) == [entry]
    assert path.read_bytes().startswith(b'{"timestamp": "')


# -- writing ---------------------------------------------------------------------------------------


def test_the_first_capture_creates_the_folders_and_a_file_only_its_owner_can_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a" / "b" / "t.jsonl"
    old_umask = os.umask(0o022)
    try:
        TelemetryCapture(path).capture("s", "success", 1.0, "c")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(file_entries(path)) == 1


def test_a_file_made_under_a_strict_umask_is_still_readable_and_writable_by_its_owner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.jsonl"
    old_umask = os.umask(0o277)
    try:
        JsonLinesStore(str(path)).write([encoded(new_entry(at=datetime.now(UTC)))])
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_relative_path_without_a_folder_is_created_in_the_working_folder(
    tmp_path: Path,
) -> None:
    store = JsonLinesStore("relative.jsonl", fsync=True)  # conftest: cwd is tmp_path
    store.write([encoded(numbered_entry(1))])
    store.close()
    assert file_entries(tmp_path / "relative.jsonl") == [numbered_entry(1)]


def test_each_entry_is_one_line_in_the_order_written(store: JsonLinesStore, path: Path) -> None:
    entries = [numbered_entry(n) for n in range(5)]
    store.write([encoded(entries[0])])
    store.write([encoded(entry) for entry in entries[1:4]])  # a batch
    store.write([])  # nothing, and no file change
    store.write([encoded(entries[4])])
    assert path.read_bytes() == b"".join(line(entry) for entry in entries)


def test_entries_round_trip_with_extra_keys_and_unicode(store: JsonLinesStore) -> None:
    entries = [
        numbered_entry(1, extra={"nested": [1, {"deep": None}]}, émoji="😀 ünïcödé ✓"),
        new_entry("агент.запуск", at="not even a timestamp", caller="東京", note="\u2028"),
        {"skill": "legacy", "duration_ms": 1000, "status": "failed"},  # the original's shape
    ]
    store.write([encoded(entry) for entry in entries])
    assert scan(store) == entries[::-1]
    assert scan(store, newest_first=False) == entries


def test_captured_unicode_reads_back_exactly_as_capture_returned_it(path: Path) -> None:
    telemetry = TelemetryCapture(path)
    entry = telemetry.capture("skill.ü", "success", 2.0, "caller ✓", {"text": "naïve 😀 日本"})
    assert path.read_bytes().isascii()  # one line of ASCII: JSON escapes
    assert telemetry.query() == [entry]


def test_background_mode_writes_batches_as_lines(path: Path) -> None:
    telemetry = TelemetryCapture(path, background=True)
    for n in range(300):
        telemetry.capture("bg", "success", float(n), "test", {"n": n})
    assert telemetry.flush(30)
    telemetry.close()
    assert [entry["inputs"]["n"] for entry in file_entries(path)] == list(range(300))


def test_a_closed_store_opens_the_file_again_on_the_next_write(
    store: JsonLinesStore, path: Path
) -> None:
    store.write([encoded(numbered_entry(1))])
    store.close()
    store.close()  # twice is harmless
    store.write([encoded(numbered_entry(2))])
    assert file_entries(path) == [numbered_entry(1), numbered_entry(2)]


def test_a_store_dropped_without_close_releases_its_file(path: Path) -> None:
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    fd = store._fd
    assert fd >= 0
    del store
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)


def test_a_store_dropped_after_its_descriptor_was_closed_elsewhere_does_not_raise(
    path: Path,
) -> None:
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    os.close(store._fd)  # a host's careless os.closerange, say
    store.__del__()
    assert store._fd == -1


def test_a_file_another_process_created_first_is_kept_as_it_is(path: Path) -> None:
    from betty_telemetry.stores.json_lines.store import _create_private

    content = write_lines(path, [numbered_entry(1)])
    _create_private(str(path))  # lost the race: theirs stays
    assert path.read_bytes() == content


def test_a_forked_child_opens_its_own_file_and_neither_loses_an_entry(path: Path) -> None:
    # After fork, parent and child would share one open file description, and so one flock.
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(0))])
    unopened = JsonLinesStore(str(path))  # nothing to forget in the child
    children = []
    for c in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                assert store._fd == -1
                for n in range(100):
                    store.write([encoded(numbered_entry(1000 * (c + 1) + n))])
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    for n in range(1, 101):
        store.write([encoded(numbered_entry(n))])
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0, 0]
    numbers = sorted(entry["inputs"]["n"] for entry in file_entries(path))
    assert numbers == list(range(101)) + list(range(1000, 1100)) + list(range(2000, 2100))
    assert len(scan(unopened)) == 301


def test_a_file_replaced_by_os_replace_is_followed_by_the_next_write(
    store: JsonLinesStore, path: Path
) -> None:
    store.write([encoded(numbered_entry(1))])
    new = path.with_suffix(".new")
    new.write_bytes(line(numbered_entry(2)))
    os.replace(new, path)
    store.write([encoded(numbered_entry(3))])
    assert file_entries(path) == [numbered_entry(2), numbered_entry(3)]


def test_a_deleted_file_is_created_again_by_the_next_write(
    store: JsonLinesStore, path: Path
) -> None:
    store.write([encoded(numbered_entry(1))])
    path.unlink()
    store.write([encoded(numbered_entry(2))])
    assert file_entries(path) == [numbered_entry(2)]


def test_appends_by_another_store_in_between_are_kept(path: Path) -> None:
    first, second = JsonLinesStore(str(path)), JsonLinesStore(str(path))
    for n in range(6):
        (first if n % 2 else second).write([encoded(numbered_entry(n))])
    assert file_entries(path) == [numbered_entry(n) for n in range(6)]


def test_a_file_rewritten_as_an_array_behind_a_writers_back_is_refused(
    store: JsonLinesStore, path: Path
) -> None:
    store.write([encoded(numbered_entry(1)), encoded(numbered_entry(2))])
    array = b'[{"skill": "x"}]\n'  # shorter than what the writer left: it looks again
    path.write_bytes(array)
    with pytest.raises(CorruptStoreError, match="it starts with a JSON array"):
        store.write([encoded(numbered_entry(3))])
    assert path.read_bytes() == array


@pytest.mark.parametrize(
    "existing",
    [b"", b"\n", b"\n\n  \n", b"   ", b"\xef\xbb\xbf", b" " * 5000],
    ids=["empty", "newline", "blank-lines", "blanks-no-newline", "bom", "long-blanks"],
)
def test_appends_to_empty_and_blank_files(path: Path, existing: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(existing)
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    assert path.read_bytes().startswith(existing)
    assert path.read_bytes().endswith(line(numbered_entry(1)))
    assert scan(store) == [numbered_entry(1)]


def test_appends_to_files_other_tools_wrote(path: Path) -> None:
    # CRLF endings, blank lines, spaces around objects, a BOM, key order of their own.
    existing = b'\xef\xbb\xbf{"skill": "a", "status": "success"}\r\n\r\n  {"skill": "b"}  \n'
    path.parent.mkdir(parents=True)
    path.write_bytes(existing)
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    assert path.read_bytes() == existing + line(numbered_entry(1))
    assert skills(scan(store)) == ["skill.1", "b", "a"]
    assert skills(scan(store, newest_first=False)) == ["a", "b", "skill.1"]


def test_a_whole_last_object_without_its_newline_is_kept_and_the_newline_added(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"skill": "a"}\n{"skill": "b"}')  # JSON Lines allows it
    store = JsonLinesStore(str(path))
    assert skills(scan(store)) == ["b", "a"]
    store.write([encoded(numbered_entry(1))])
    assert path.read_bytes() == b'{"skill": "a"}\n{"skill": "b"}\n' + line(numbered_entry(1))
    assert warnings_in(caplog) == []


def test_a_whole_object_without_newline_as_the_only_content_is_kept(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"skill": "only"}')
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    assert skills(file_entries(path)) == ["only", "skill.1"]


# -- torn last lines -------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 20, 100, -2], ids=["brace", "20", "100", "all-but-brace"])
def test_a_torn_last_line_is_cut_by_the_next_write_which_warns_once(
    path: Path, caplog: pytest.LogCaptureFixture, cut: int
) -> None:
    kept = write_lines(path, [numbered_entry(1), numbered_entry(2)])
    partial = line(numbered_entry(3))[:cut]  # -2: only the closing brace and newline missing
    path.write_bytes(kept + partial)
    store = JsonLinesStore(str(path))
    assert scan(store) == [numbered_entry(2), numbered_entry(1)]  # read past, quietly
    assert warnings_in(caplog) == []
    store.write([encoded(numbered_entry(4))])
    assert path.read_bytes() == kept + line(numbered_entry(4))
    messages = warnings_in(caplog)
    assert len(messages) == 1
    assert REPAIRED.search(messages[0])
    assert str(path) in messages[0]
    assert f"removed {len(partial)} bytes" in messages[0]
    store.write([encoded(numbered_entry(5))])
    assert len(warnings_in(caplog)) == 1  # repaired once


def test_a_torn_first_line_leaves_only_the_next_entry(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"timestamp": "2025-')
    store = JsonLinesStore(str(path))
    assert scan(store) == []
    store.write([encoded(numbered_entry(1))])
    assert file_entries(path) == [numbered_entry(1)]
    assert "removed 20 bytes" in warnings_in(caplog)[0]


def test_zeroes_a_crash_of_the_machine_left_at_the_end_are_cut(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kept = write_lines(path, [numbered_entry(1)])
    path.write_bytes(kept + b"\0" * 300)
    store = JsonLinesStore(str(path))
    assert scan(store) == [numbered_entry(1)]
    store.write([encoded(numbered_entry(2))])
    assert file_entries(path) == [numbered_entry(1), numbered_entry(2)]
    assert "removed 300 bytes" in warnings_in(caplog)[0]


def test_a_torn_line_longer_than_the_probes_is_cut_whole(path: Path) -> None:
    kept = write_lines(path, [numbered_entry(1)])
    partial = b'{"timestamp": "2025-10-24T14:00:00.000000+00:00", "pad": "' + b"x" * 300_000
    path.write_bytes(kept + partial)
    store = JsonLinesStore(str(path))
    assert scan(store) == [numbered_entry(1)]
    store.write([encoded(numbered_entry(2))])
    assert file_entries(path) == [numbered_entry(1), numbered_entry(2)]


def test_a_last_line_no_append_leaves_is_refused_and_readers_report_it(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content = write_lines(path, [numbered_entry(1)]) + f"OPENAI_API_KEY={SECRET}".encode()
    path.write_bytes(content)
    store = JsonLinesStore(str(path))
    with pytest.raises(CorruptStoreError) as caught:
        store.write([encoded(numbered_entry(2))])
    message = str(caught.value)
    assert message.startswith(f"{path} is not a JSON Lines file of telemetry entries")
    assert "its last line, at byte offset" in message
    assert "text that is not JSON, which no interrupted append leaves" in message
    assert SECRET[:12] not in message
    assert path.read_bytes() == content
    caplog.clear()
    assert scan(store) == [numbered_entry(1)]
    (warning,) = warnings_in(caplog)
    assert "a damaged line that is not a telemetry entry, at line 2, column 1" in warning
    assert SECRET[:12] not in warning


# -- files that are not JSON Lines -----------------------------------------------------------------

NOT_JSON_LINES = {
    "json-array": (b'[\n{"skill": "a"},\n{"skill": "b"}\n]\n', "it starts with a JSON array"),
    "compact-array": (b'[{"skill": "a"}]', "it starts with a JSON array"),
    "binary": (b"\x00\x01\x02\xff\xfe" + SECRET.encode(), "it starts with binary data"),
    "env": (f"OPENAI_API_KEY={SECRET}\n".encode(), "it starts with text that is not JSON"),
    "indented-object": (
        f'{{\n  "api_key": "{SECRET}"\n}}\n'.encode(),
        "its first line is not one whole JSON object: an entry cut short or damaged",
    ),
    "two-objects-on-the-first-line": (
        f'{{"a": 1}} {{"key": "{SECRET}"}}\n'.encode(),
        "its first line is not one whole JSON object",
    ),
    "binary-after-a-brace": (
        b"{\x00\x01\x02" + SECRET.encode() + b"\n",
        "its first line is not one whole JSON object: binary data",
    ),
}


@pytest.mark.parametrize("name", list(NOT_JSON_LINES))
def test_a_file_that_is_not_json_lines_is_refused_by_writers_and_readers_untouched(
    tmp_path: Path, name: str
) -> None:
    content, found = NOT_JSON_LINES[name]
    path = tmp_path / "t.jsonl"
    path.write_bytes(content)
    telemetry = TelemetryCapture(path)
    for action in (
        lambda: telemetry.capture("s", "success", 1.0, "c"),
        telemetry.query,
        telemetry.stats,
        lambda: telemetry.follow(),
    ):
        with pytest.raises(CorruptStoreError) as caught:
            action()
        message = str(caught.value)
        assert isinstance(caught.value, ValueError)
        assert message.startswith(f"{path} is not a JSON Lines file of telemetry entries ({found}")
        assert "It was left unchanged" in message
        assert SECRET[:8] not in message
    assert path.read_bytes() == content


def test_a_first_line_longer_than_the_head_probe_is_checked_whole(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"pad": "' + b"x" * 10_000 + b'"\n  "more": 1}\n')
    with pytest.raises(CorruptStoreError, match="first line is not one whole JSON object"):
        JsonLinesStore(str(path)).write([encoded(numbered_entry(1))])


def test_a_first_line_nested_too_deep_for_python_is_not_refused(tmp_path: Path) -> None:
    # Only another tool writes one; it may be whole, so it is kept, and readers report it.
    path = tmp_path / "t.jsonl"
    deep = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    path.write_bytes(deep + b"\n")
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    assert path.read_bytes() == deep + b"\n" + line(numbered_entry(1))
    assert scan(store) == [numbered_entry(1)]


def test_a_fifo_is_refused_at_once_for_writes_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    os.mkfifo(path)
    telemetry = TelemetryCapture(path)
    started = time.monotonic()
    with pytest.raises(NotARegularFileError, match="a FIFO") as caught:
        telemetry.capture("s", "success", 1.0, "c")
    assert caught.value.errno == errno.EINVAL
    assert caught.value.filename == str(path)
    assert "the entry was not recorded" in str(caught.value)
    with pytest.raises(NotARegularFileError, match="nothing was read"):
        telemetry.query()
    with pytest.raises(NotARegularFileError):
        telemetry.follow()
    assert time.monotonic() - started < 5
    assert stat.S_ISFIFO(path.stat().st_mode)


def test_a_device_behind_the_path_is_refused_and_nothing_is_written_to_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.symlink_to("/dev/null")  # a capture there would vanish without a trace
    telemetry = TelemetryCapture(path)
    with pytest.raises(NotARegularFileError, match="a character device"):
        telemetry.capture("s", "success", 1.0, "c")
    with pytest.raises(NotARegularFileError, match="a character device"):
        telemetry.query()


def test_a_folder_at_the_path_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.mkdir()
    telemetry = TelemetryCapture(path)
    with pytest.raises(IsADirectoryError, match="the path is a folder") as caught:
        telemetry.capture("s", "success", 1.0, "c")
    assert caught.value.filename == str(path)
    with pytest.raises(IsADirectoryError, match="nothing was read"):
        telemetry.query()
    assert list(path.iterdir()) == []


def test_a_file_as_a_folder_of_the_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a regular file\n")
    with pytest.raises(NotADirectoryError, match="should be a folder is a file"):
        TelemetryCapture(tmp_path / "blocker" / "t.jsonl").capture("s", "success", 1.0, "c")


def test_reading_a_missing_file_gives_nothing_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "t.jsonl"
    telemetry = TelemetryCapture(path)
    assert telemetry.query() == []
    assert telemetry.stats() == []
    assert telemetry.last_trace_id() is None
    assert telemetry.store.count(EntryFilter()) == 0
    assert scan(telemetry.store, newest_first=False) == []
    assert not path.parent.exists()


PERMISSIONS_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from betty_telemetry import TelemetryCapture
    path = sys.argv[1]
    try:  # the control: without capabilities, permission bits hold for this process
        open(path, "r+b").close()
        print(json.dumps({"control": False}))
        sys.exit(0)
    except PermissionError:
        pass
    telemetry = TelemetryCapture(path)
    report = {"control": True, "read": [e["skill"] for e in telemetry.query()]}
    try:
        telemetry.capture("refused", "success", 1.0, "child")
    except PermissionError as error:
        report["error"] = [error.errno, error.filename, str(error)]
    print(json.dumps(report))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="setpriv is util-linux")
def test_a_read_only_file_is_read_but_not_written_with_a_clear_error(tmp_path: Path) -> None:
    import shutil

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("util-linux setpriv is missing: root ignores permission bits without it")
    path = tmp_path / "t.jsonl"
    content = write_lines(path, [numbered_entry(1)])
    path.chmod(0o444)
    drop = ["--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]
    result = subprocess.run(
        [setpriv, *drop, sys.executable, "-c", PERMISSIONS_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["control"], "the child could still write: the fault was not made"
    assert report["read"] == ["skill.1"]
    code, filename, message = report["error"]
    assert (code, filename) == (errno.EACCES, str(path))
    assert "this process lacks permission on the file" in message
    assert "the entry was not recorded" in message
    assert path.read_bytes() == content


# -- faults: a full disk, a size limit, a stuck lock -----------------------------------------------

SIZE_LIMIT_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys
    from betty_telemetry.stores import JsonLinesStore
    from betty_telemetry.stores.base import Encoded
    path, room = sys.argv[1], int(sys.argv[2])
    def enc(n):
        entry = {"skill": f"big.{n}", "pad": "x" * 200}
        return Encoded(entry, json.dumps(entry).encode())
    store = JsonLinesStore(path)
    before = open(path, "rb").read()
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + room, hard))
    report = {}
    try:
        store.write([enc(1), enc(2), enc(3)])
    except OSError as error:
        report["error"] = [type(error).__name__, error.errno, error.filename, str(error)]
    report["unchanged"] = open(path, "rb").read() == before
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    store.write([enc(4)])
    print(json.dumps(report))
    """
)


@pytest.mark.parametrize("room", [0, 100, 400])
def test_a_write_past_the_file_size_limit_is_cut_back_and_explained(
    tmp_path: Path, room: int
) -> None:
    # room 100 and 400: part of the batch gets in (a short write), then EFBIG: it is cut back.
    path = tmp_path / "t.jsonl"
    before = write_lines(path, [numbered_entry(1), numbered_entry(2)])
    result = run_python("-c", SIZE_LIMIT_CHILD, str(path), str(room))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    kind, code, filename, message = report["error"]
    assert (kind, code, filename) == ("OSError", errno.EFBIG, str(path))
    assert "the file reached this process's file size limit (ulimit -f)" in message
    assert "the entry was not recorded" in message
    assert report["unchanged"]
    assert path.read_bytes().startswith(before)
    assert skills(file_entries(path)) == ["skill.1", "skill.2", "big.4"]


def test_the_store_write_explains_a_full_disk(tmp_path: Path) -> None:
    # /dev/full is a disk that is always full: the store's descriptor points there for a write.
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    path = tmp_path / "t.jsonl"
    store = JsonLinesStore(str(path))
    store.write([encoded(numbered_entry(1))])
    full = os.open("/dev/full", os.O_RDWR)
    saved = os.dup(store._fd)
    os.dup2(full, store._fd)
    # The store checks, before each write, that its descriptor is still the file at its path
    # (else it follows the path): tell it the swapped one is, as if the file lived on it.
    store._name_at_open = os.readlink(f"/proc/self/fd/{store._fd}".encode())
    try:
        with pytest.raises(OSError, match="free some space or rotate the file") as caught:
            store.write([encoded(numbered_entry(2))])
    finally:
        os.dup2(saved, store._fd)
        os.close(saved)
        os.close(full)
    assert caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value.__cause__, OSError)
    assert file_entries(path) == [numbered_entry(1)]


def test_a_stuck_lock_holder_costs_a_write_the_timeout_and_writes_nothing(path: Path) -> None:
    before = write_lines(path, [numbered_entry(1)])
    holder = start_holder(path)
    try:
        store = JsonLinesStore(str(path), lock_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught:
            store.write([encoded(numbered_entry(2))])
        waited = time.monotonic() - started
        assert 0.3 <= waited < 5
        assert str(path) in str(caught.value)
        assert "stayed locked by another process for 0.3 s" in str(caught.value)
        assert path.read_bytes() == before
        # Readers take no lock: they are not held up by a stuck writer.
        started = time.monotonic()
        assert scan(store) == [numbered_entry(1)]
        assert TelemetryCapture(path, lock_timeout=0.3).stats()[0]["count"] == 1
        assert time.monotonic() - started < 0.3
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    store.write([encoded(numbered_entry(2))])  # free again
    assert file_entries(path) == [numbered_entry(1), numbered_entry(2)]


def test_a_zero_lock_timeout_fails_at_once_on_a_held_lock(path: Path) -> None:
    write_lines(path, [numbered_entry(1)])
    holder = start_holder(path)
    try:
        with pytest.raises(LockTimeoutError, match="lock_timeout=0: no waiting"):
            TelemetryCapture(path, lock_timeout=0).capture("s", "success", 1.0, "c")
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


# -- durability ------------------------------------------------------------------------------------

FSYNC_CHILD = textwrap.dedent(
    """
    import json, sys
    from betty_telemetry.stores import JsonLinesStore
    from betty_telemetry.stores.base import Encoded
    path, fsync = sys.argv[1], sys.argv[2] == "fsync"
    def enc(n):
        entry = {"skill": f"s.{n}"}
        return Encoded(entry, json.dumps(entry).encode())
    store = JsonLinesStore(path, fsync=fsync)
    store.write([enc(1), enc(2), enc(3)])
    store.write([enc(4)])
    """
)
SYSCALL = re.compile(r"\b(write|flock|fdatasync|fsync)\(\d+<([^>]*)>(.*)$", re.MULTILINE)

needs_strace = pytest.mark.skipif(
    not strace_usable(), reason="strace is not installed (or cannot trace here)"
)


def traced_calls(tmp_path: Path, path: Path, mode: str) -> list[tuple[str, str, str]]:
    """(call, path behind the descriptor, the rest of strace's line) of the child's calls on
    ``path`` and its folders, in order."""
    log = tmp_path / "strace.log"
    subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-y",
            "-s",
            "4096",
            "-o",
            str(log),
            "-e",
            "trace=write,flock,fdatasync,fsync",
            sys.executable,
            "-c",
            FSYNC_CHILD,
            str(path),
            mode,
        ],
        check=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
    )
    calls = []
    for found in SYSCALL.finditer(log.read_text()):
        call, target, rest = found.groups()
        if target == str(path) or str(path).startswith(target + os.sep):
            calls.append((call, target, rest))
    return calls


@needs_strace
def test_fsync_mode_syncs_each_batch_after_unlocking_and_the_new_files_folders(
    tmp_path: Path,
) -> None:
    path = tmp_path / "made" / "t.jsonl"
    calls = traced_calls(tmp_path, path, "fsync")
    on_file = [(call, rest) for call, target, rest in calls if target == str(path)]
    # One write per batch, under the lock; the sync after the lock is released.
    assert [call for call, _ in on_file] == ["flock", "write", "flock", "fdatasync"] * 2
    assert [rest.startswith(", LOCK_EX|LOCK_NB)") for call, rest in on_file if call == "flock"] == [
        True,
        False,
        True,
        False,
    ]
    first_batch, second_batch = [rest for call, rest in on_file if call == "write"]
    assert all(f"s.{n}" in first_batch for n in (1, 2, 3))
    assert "s.4" in second_batch
    folders = [target for call, target, _ in calls if call == "fsync"]
    assert folders == [str(tmp_path), str(path.parent)]  # the made folder's name, then the file's
    assert skills(file_entries(path)) == ["s.1", "s.2", "s.3", "s.4"]


@needs_strace
def test_without_fsync_nothing_is_synced(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    calls = traced_calls(tmp_path, path, "write")
    assert [call for call, _, _ in calls if call in ("fsync", "fdatasync")] == []
    assert [call for call, _, _ in calls if call == "write"] == ["write", "write"]


def test_the_durability_setting_reaches_the_json_lines_store(path: Path) -> None:
    telemetry = TelemetryCapture(path, durability="fsync")
    assert isinstance(telemetry.store, JsonLinesStore)
    assert telemetry.store.fsync
    telemetry.capture("s", "success", 1.0, "c")
    assert telemetry.flush()
    assert len(file_entries(path)) == 1


# -- reading: the same answers as the JSON-array store ---------------------------------------------

T1 = "4bf92f3577b34da6a3ce929d0e0e4736"
T2 = "0af7651916cd43dd8448eb211c80319c"
BASE = datetime(2025, 10, 24, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def corpus() -> list[Entry]:
    """Entries of every shape readers meet: two traces, legacy shapes, extra keys, unicode,
    missing durations, a few timestamps out of order (as concurrent writers leave them), and
    padding so that the file spans many blocks."""
    names = ["agent.run", "agent.plan", "plugin.build", "tool.call", "ünï.cödé"]
    statuses = ["success", "failure", "error", "timeout", "success", "failed"]
    entries: list[Entry] = []
    roots: dict[str, str] = {}
    for n in range(150):
        at = BASE + timedelta(seconds=30 * n - (20 if n % 17 == 0 else 0))
        status = statuses[n % len(statuses)]
        extra: Entry = {}
        if n % 5 == 0:
            trace = T1 if n < 75 else T2
            span = f"{n + 1:016x}"
            extra = {"trace_id": trace, "span_id": span, "parent_id": roots.get(trace)}
            roots.setdefault(trace, span)
        if n % 23 == 0:  # the original framework's shape: some fields missing, an int duration
            entry: Entry = {
                "timestamp": iso(at),
                "skill": names[n % 5],
                "inputs": {"param": n},
                "status": "failed",
                "duration_ms": n,
                "caller": "framework",
            }
        else:
            entry = new_entry(
                names[n % 5],
                status,
                at=at,
                duration_ms=None if n % 31 == 0 else float(n * 7 % 200),
                caller=["cli", "ci", "agent"][n % 3],
                error_message=None if status == "success" else f"Boom {n}: DISK full ✗",
                **extra,
            )
            entry["inputs"] = {"n": n, "pad": "é" * (n % 7) * 300}
        if n % 13 == 0:
            entry["extra_key"] = {"kept": [n, "😀"]}
        entries.append(entry)
    return entries


@pytest.fixture(params=["default-blocks", "tiny-blocks"])
def both(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The corpus in a .jsonl and a .json file, as captures on each; with tiny blocks, every
    block boundary case of the reader (lines longer than a block among them) is met."""
    if request.param == "tiny-blocks":
        monkeypatch.setattr(reader_module, "FIRST_BLOCK_BYTES", 256)
        monkeypatch.setattr(reader_module, "MAX_BLOCK_BYTES", 1024)
    entries = corpus()
    lines_path, array_path = tmp_path / "t.jsonl", tmp_path / "t.json"
    JsonLinesStore(str(lines_path)).write([encoded(entry) for entry in entries])
    JsonArrayStore(str(array_path)).write([encoded(entry) for entry in entries])
    return TelemetryCapture(lines_path), TelemetryCapture(array_path)


QUERIES: list[dict[str, Any]] = [
    {},
    {"skill": "agent.run"},
    {"skill": "agent.*"},
    {"skill": "*.call"},
    {"skill": "ünï.cödé"},
    {"status": "failure"},
    {"status": ["failure", "error", "timeout"]},
    {"status": "failed"},
    {"caller": "ci"},
    {"caller": "frame*"},
    {"since": iso(BASE + timedelta(minutes=40))},
    {"until": iso(BASE + timedelta(minutes=20))},
    {"since": iso(BASE + timedelta(minutes=10)), "until": iso(BASE + timedelta(minutes=50))},
    {"trace_id": T1},
    {"min_duration_ms": 150},
    {"text": "disk FULL"},
    {"limit": 7},
    {"limit": 7, "offset": 5},
    {"skill": "agent.*", "status": "success", "since": iso(BASE + timedelta(minutes=30))},
    {"skill": "nothing.matches"},
]


@pytest.mark.parametrize("filters", QUERIES, ids=lambda f: ",".join(f) or "all")
def test_query_gives_what_the_json_array_gives(both: Any, filters: dict[str, Any]) -> None:
    lines, array = both
    expected = array.query(**filters)
    assert lines.query(**filters) == expected
    wanted = EntryFilter.build(**{k: v for k, v in filters.items() if k not in ("limit", "offset")})
    assert lines.store.count(wanted) == array.store.count(wanted)


@pytest.mark.parametrize("by", ["skill", "caller", "status", "day", "hour"])
@pytest.mark.parametrize("sort", ["count", "key"])
def test_stats_give_what_the_json_array_gives(both: Any, by: str, sort: str) -> None:
    lines, array = both
    assert lines.stats(by, sort=sort) == array.stats(by, sort=sort)
    since = iso(BASE + timedelta(minutes=35))
    assert lines.stats(by, sort=sort, skill="agent.*", since=since) == array.stats(
        by, sort=sort, skill="agent.*", since=since
    )


def test_traces_tail_iteration_and_the_last_trace_give_what_the_json_array_gives(
    both: Any,
) -> None:
    lines, array = both
    for trace_id in (T1, T2, "f" * 32):
        assert lines.trace(trace_id) == array.trace(trace_id)
    assert lines.trace(T1)  # not both empty
    assert lines.last_trace_id() == array.last_trace_id() == T2
    for n, filters in ((5, {}), (4, {"skill": "tool.call"}), (0, {}), (500, {"status": "error"})):
        assert lines.tail(n, **filters) == array.tail(n, **filters)
    assert list(lines.iter_entries()) == list(array.iter_entries())
    assert list(lines.iter_entries(status="failure")) == list(array.iter_entries(status="failure"))


def test_scans_oldest_first_give_what_the_json_array_gives(both: Any) -> None:
    lines, array = both
    for filters in QUERIES:
        wanted = EntryFilter.build(
            **{k: v for k, v in filters.items() if k not in ("limit", "offset")}
        )
        expected = scan(array.store, wanted, newest_first=False)
        assert scan(lines.store, wanted, newest_first=False) == expected
    summaries = scan(lines.store, fields=("skill", "status"))
    assert [(e["skill"], e["status"]) for e in summaries] == [
        (e["skill"], e["status"]) for e in scan(array.store)
    ]


def test_follow_gives_what_the_json_array_gives(both: Any) -> None:
    lines, array = both
    new = [numbered_entry(n, skill=f"agent.{n}") for n in range(200, 206)]
    streams = [
        telemetry.follow(backlog=4, poll_interval=0.01, skill="agent.*") for telemetry in both
    ]
    try:
        backlogs = [[next(stream) for _ in range(4)] for stream in streams]
        assert backlogs[0] == backlogs[1]
        for telemetry in (lines, array):
            telemetry.store.write([encoded(entry) for entry in new])
        following = [[next(stream) for _ in range(len(new))] for stream in streams]
        assert following[0] == following[1]
        assert skills(following[0]) == [f"agent.{n}" for n in range(200, 206)]
    finally:
        for stream in streams:
            stream.close()


# -- reading: damage, blocks, memory ---------------------------------------------------------------


def test_damaged_lines_are_skipped_and_reported_once_per_read_without_their_content(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = line(numbered_entry(1))
    damaged = [
        f"OPENAI_API_KEY={SECRET}\n".encode(),
        f'{{"key": "{SECRET}", "cut\n'.encode(),
        b"[1, 2]\n",
        b'{"a": 1} {"b": 2}\n',  # two objects: not one entry
        b'{"a": 1},\n',
        b'{"a": 1}, {"b": 2}\n',  # a JSON array's inside: one entry too many
        b"\x00\x00\x00\n",
        b"   \n",  # blank: not damage
        b"\n",
    ]
    content = first + b"".join(d + line(numbered_entry(n)) for n, d in enumerate(damaged, 2))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    store = JsonLinesStore(str(path))
    for newest_first in (True, False):
        caplog.clear()
        found = scan(store, newest_first=newest_first)
        expected = [numbered_entry(n) for n in range(1, 11)]
        assert found == (expected[::-1] if newest_first else expected)
        (warning,) = warnings_in(caplog)
        assert warning.startswith(f"{path}: skipped 7 damaged lines that are not telemetry entries")
        offset = len(first)
        assert (
            f"the first at line 2, column 1 (byte offset {offset}): text that is not JSON"
            in warning
        )
        assert SECRET[:8] not in warning
    caplog.clear()
    assert sum(group["count"] for group in TelemetryCapture(path).stats()) == 10
    assert "skipped 7 damaged lines" in warnings_in(caplog)[0]
    assert scan(store, EntryFilter.build(skill="skill.3")) == [numbered_entry(3)]


def test_stats_over_lines_cut_short_count_the_others_and_report_them(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cut = b'{"timestamp": "2025-10-24T14:00:00.000000+00:00", "skill": "cut'
    other_order = b'{"skill": "z", "timestamp": "2025-10-24T14:00:00.000000+00:00", '
    other_order += b'"status": "success", "duration_ms": 1.0, "caller": "c", "inputs": {broken'
    path.parent.mkdir(parents=True)
    for text in (cut, other_order):
        caplog.clear()
        path.write_bytes(line(numbered_entry(1)) + text + b"\n" + line(numbered_entry(2)))
        assert sum(group["count"] for group in TelemetryCapture(path).stats()) == 2
        assert "a damaged line that is not a telemetry entry, at line 2" in warnings_in(caplog)[0]


def test_a_line_holding_two_entries_is_damage_not_two_entries(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(line(numbered_entry(1)) + b'{"a": 1}, {"b": 2}\n' + line(numbered_entry(2)))
    assert scan(JsonLinesStore(str(path))) == [numbered_entry(2), numbered_entry(1)]
    assert "a damaged line that is not a telemetry entry, at line 2" in warnings_in(caplog)[0]


def test_a_line_too_deep_for_python_is_skipped_and_reported(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deep = b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"\n"
    content = line(numbered_entry(1)) + deep + line(numbered_entry(2))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert scan(JsonLinesStore(str(path))) == [numbered_entry(2), numbered_entry(1)]
    assert "nested deeper than Python's JSON reader can read" in warnings_in(caplog)[0]


def test_a_line_damaged_after_its_summary_counts_in_stats_unless_zeroed(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    summary = b'{"timestamp": "2025-10-24T14:00:00.000000+00:00", "skill": "x", "status": '
    summary += b'"success", "duration_ms": 1.0, "caller": "c", "inputs": '
    content = line(numbered_entry(1)) + summary + b"{broken\n" + line(numbered_entry(2))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    telemetry = TelemetryCapture(path)
    # stats() reads the first five fields of each line only: the damage after them is unseen.
    assert sum(group["count"] for group in telemetry.stats()) == 3
    assert warnings_in(caplog) == []
    assert len(telemetry.query()) == 2
    assert "1 damaged line" not in warnings_in(caplog)[0]  # one, said in the singular
    assert "a damaged line that is not a telemetry entry, at line 2" in warnings_in(caplog)[0]
    # NUL bytes (a crash of the machine) in the block: lines are parsed whole, and it shows.
    caplog.clear()
    path.write_bytes(line(numbered_entry(1)) + summary + b"\0\0\0\0}\n" + line(numbered_entry(2)))
    assert sum(group["count"] for group in telemetry.stats()) == 2
    assert "a damaged line" in warnings_in(caplog)[0]


def test_a_summary_read_of_lines_in_another_key_order_parses_them_whole(path: Path) -> None:
    other = {"skill": "z", "timestamp": "2025-10-24T14:00:00.000000+00:00", "status": "success"}
    other |= {"duration_ms": 2.0, "caller": "c", "inputs": {"k": 1}}
    path.parent.mkdir(parents=True)
    path.write_bytes(line(numbered_entry(1)) + line(other))
    found = scan(JsonLinesStore(str(path)), fields=("skill", "duration_ms"))
    assert found == [other, {k: numbered_entry(1)[k] for k in list(numbered_entry(1))[:5]}]


def test_filtered_reads_pass_over_blocks_that_cannot_match_and_still_find_every_match(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "FIRST_BLOCK_BYTES", 512)
    monkeypatch.setattr(reader_module, "MAX_BLOCK_BYTES", 2048)
    entries = [
        numbered_entry(n, skill="needle" if n in (3, 250, 499) else "hay") for n in range(500)
    ]
    write_lines(path, entries)
    store = JsonLinesStore(str(path))
    wanted = EntryFilter.build(skill="needle")
    assert [e["inputs"]["n"] for e in scan(store, wanted)] == [499, 250, 3]
    assert [e["inputs"]["n"] for e in scan(store, wanted, newest_first=False)] == [3, 250, 499]


def test_a_since_window_stops_a_newest_first_read_at_the_first_older_line(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Lines older than the window are not parsed: a damaged one there is never met.
    monkeypatch.setattr(reader_module, "FIRST_BLOCK_BYTES", 512)
    path.parent.mkdir(parents=True)
    old = b"".join(line(numbered_entry(n)) for n in range(100))
    path.write_bytes(
        line(numbered_entry(0)) + b"damage, never read\n" + old + line(numbered_entry(3000))
    )
    wanted = EntryFilter.build(since="2025-10-24T14:50:00+00:00")
    test = line_test_for(wanted)
    assert test is not None
    assert test.stop is not None
    store = JsonLinesStore(str(path))
    assert scan(store, wanted) == [numbered_entry(3000)]
    assert warnings_in(caplog) == []


def test_a_line_longer_than_a_block_is_read_from_either_end(path: Path) -> None:
    long_entry = numbered_entry(2, inputs={"pad": "y" * 3_000_000})
    write_lines(path, [numbered_entry(1), long_entry, numbered_entry(3)])
    store = JsonLinesStore(str(path))
    assert scan(store) == [numbered_entry(3), long_entry, numbered_entry(1)]
    assert scan(store, newest_first=False) == [numbered_entry(1), long_entry, numbered_entry(3)]


def test_a_query_with_a_small_limit_reads_only_the_end_of_a_large_file(path: Path) -> None:
    import tracemalloc

    write_lines(path, [numbered_entry(n, inputs={"pad": "p" * 150}) for n in range(60_000)])
    assert path.stat().st_size > 10_000_000
    telemetry = TelemetryCapture(path)
    tracemalloc.start()
    newest = telemetry.query(limit=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert skills(newest) == [f"skill.{n}" for n in range(59_999, 59_989, -1)]
    assert peak < 1_000_000, peak


def test_a_full_read_oldest_first_holds_a_block_at_a_time(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracemalloc

    monkeypatch.setattr(reader_module, "MAX_BLOCK_BYTES", 64 * 1024)
    write_lines(path, [numbered_entry(n, inputs={"pad": "p" * 150}) for n in range(20_000)])
    store = JsonLinesStore(str(path))
    tracemalloc.start()
    count = 0
    with contextlib.closing(store.scan(EntryFilter(), newest_first=False)) as entries:
        for count, entry in enumerate(entries, 1):  # noqa: B007 - the last count is the total
            assert entry["inputs"]["pad"]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 20_000
    assert path.stat().st_size > 4_000_000
    assert peak < 1_000_000, peak


# -- reading while the file changes ----------------------------------------------------------------


def big_file(path: Path, count: int = 2000, first: int = 0) -> list[Entry]:
    entries = [numbered_entry(n, inputs={"pad": "p" * 100}) for n in range(first, first + count)]
    write_lines(path, entries)
    return entries


def test_appends_during_a_read_are_not_read_and_do_not_disturb_it(path: Path) -> None:
    big_file(path)
    store = JsonLinesStore(str(path))
    for newest_first in (True, False):
        entries = file_entries(path)
        found = []
        with contextlib.closing(store.scan(EntryFilter(), newest_first=newest_first)) as reading:
            for entry in reading:
                if not found:
                    store.write([encoded(numbered_entry(9999))])
                    with path.open("ab") as appending:
                        appending.write(b'{"torn": ')  # an append in progress
                found.append(entry)
        assert found == (entries[::-1] if newest_first else entries)
        store.write([encoded(numbered_entry(9998))])  # repairs the torn line


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
@pytest.mark.parametrize("refill", [False, True], ids=["truncated", "truncated-and-refilled"])
def test_a_file_truncated_during_a_read_ends_the_read_cleanly_with_a_warning(
    path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    newest_first: bool,
    refill: bool,
) -> None:
    monkeypatch.setattr(reader_module, "MAX_BLOCK_BYTES", 16 * 1024)
    entries = big_file(path)
    store = JsonLinesStore(str(path))
    found = []
    with contextlib.closing(store.scan(EntryFilter(), newest_first=newest_first)) as reading:
        for entry in reading:
            if not found:  # logrotate's copytruncate, say, and captures going on
                os.truncate(path, 0)
                if refill:
                    big_file(path, 3000, first=5000)  # longer than before, all new
            found.append(entry)
    expected = entries[::-1] if newest_first else entries
    assert 0 < len(found) < len(entries)
    assert found == expected[: len(found)]
    (warning,) = warnings_in(caplog)
    assert warning.startswith(f"{path} was truncated or rewritten in place while being read")


def test_a_file_replaced_during_a_read_is_read_to_its_end(path: Path) -> None:
    entries = big_file(path)
    found = []
    with contextlib.closing(JsonLinesStore(str(path)).scan(EntryFilter())) as reading:
        for entry in reading:
            if not found:  # rotation: the reader keeps the file it opened
                new = path.with_suffix(".new")
                new.write_bytes(line(numbered_entry(5000)))
                os.replace(new, path)
            found.append(entry)
    assert found == entries[::-1]


# -- follow ----------------------------------------------------------------------------------------


@pytest.fixture
def follower(path: Path) -> Iterator[LinesFollower]:
    instance = LinesFollower(str(path))
    yield instance
    instance.close()


def append(path: Path, *entries: Entry) -> None:
    JsonLinesStore(str(path)).write([encoded(entry) for entry in entries])


def test_follow_gives_new_entries_once_in_order_and_none_from_before(
    path: Path, follower: LinesFollower
) -> None:
    append(path, numbered_entry(1), numbered_entry(2))
    assert follower.start_at_end() == []
    assert follower.poll() == []
    append(path, numbered_entry(3))
    append(path, numbered_entry(4), numbered_entry(5))
    assert follower.poll() == [numbered_entry(3), numbered_entry(4), numbered_entry(5)]
    assert follower.poll() == []


def test_the_backlog_is_the_last_wanted_entries_oldest_first(
    path: Path, follower: LinesFollower
) -> None:
    append(path, *[numbered_entry(n, skill="even" if n % 2 == 0 else "odd") for n in range(10)])
    wanted = EntryFilter.build(skill="even", min_duration_ms=3)  # durations: not pre-tested
    recent = follower.start_at_end(4, line_test_for(wanted), wanted.matches)
    assert [e["inputs"]["n"] for e in recent] == [4, 6, 8]
    append(path, numbered_entry(10))
    assert follower.poll() == [numbered_entry(10)]


def test_a_backlog_larger_than_the_file_gives_every_entry(
    path: Path, follower: LinesFollower
) -> None:
    append(path, numbered_entry(1), numbered_entry(2))
    assert follower.start_at_end(50) == [numbered_entry(1), numbered_entry(2)]


def test_a_file_truncated_while_the_backlog_is_read_is_read_again_from_its_start(
    path: Path, follower: LinesFollower
) -> None:
    big_file(path, 1000)

    def truncating(entry: Entry) -> bool:
        if path.stat().st_size > 10_000:
            os.truncate(path, 0)
        return True

    recent = follower.start_at_end(1000, None, truncating)
    assert 0 < len(recent) < 1000
    append(path, numbered_entry(7000))
    assert follower.poll() == [numbered_entry(7000)]


def test_a_file_that_does_not_exist_yet_is_followed_from_its_creation(
    path: Path, follower: LinesFollower
) -> None:
    assert follower.start_at_end(10) == []
    assert follower.poll() == []
    append(path, numbered_entry(1), numbered_entry(2))
    assert follower.poll() == [numbered_entry(1), numbered_entry(2)]


def test_rotation_gives_the_rest_of_the_old_file_then_the_new_file(
    path: Path, follower: LinesFollower
) -> None:
    append(path, numbered_entry(1))
    follower.start_at_end()
    append(path, numbered_entry(2))
    new = path.with_suffix(".new")
    new.write_bytes(line(numbered_entry(3)) + line(numbered_entry(4)))
    os.replace(new, path)
    assert follower.poll() == [numbered_entry(2)]  # the old file first
    assert follower.poll() == [numbered_entry(3), numbered_entry(4)]
    append(path, numbered_entry(5))
    assert follower.poll() == [numbered_entry(5)]


def test_a_deleted_file_created_again_is_followed_from_its_start(
    path: Path, follower: LinesFollower
) -> None:
    append(path, numbered_entry(1))
    follower.start_at_end()
    append(path, numbered_entry(2))
    path.unlink()
    assert follower.poll() == [numbered_entry(2)]  # written just before the deletion
    assert follower.poll() == []
    append(path, numbered_entry(3))
    assert follower.poll() == [numbered_entry(3)]


def test_truncation_to_empty_then_captures_give_only_the_new_entries(
    path: Path, follower: LinesFollower
) -> None:
    append(path, numbered_entry(1), numbered_entry(2))
    follower.start_at_end()
    os.truncate(path, 0)
    assert follower.poll() == []
    append(path, numbered_entry(3))
    assert follower.poll() == [numbered_entry(3)]


def test_truncation_then_more_captures_than_before_the_next_poll_are_all_given(
    path: Path, follower: LinesFollower
) -> None:
    append(path, numbered_entry(1), numbered_entry(2))
    follower.start_at_end()
    os.truncate(path, 0)
    append(path, *[numbered_entry(n) for n in range(10, 15)])  # past the old offset
    assert follower.poll() == [numbered_entry(n) for n in range(10, 15)]


def test_a_file_cut_back_at_its_end_repeats_nothing(path: Path, follower: LinesFollower) -> None:
    # A write that failed half way is cut back off by its writer: the start is as it was.
    append(path, numbered_entry(1))
    follower.start_at_end()
    append(path, numbered_entry(2), numbered_entry(3))
    assert follower.poll() == [numbered_entry(2), numbered_entry(3)]
    os.truncate(path, len(line(numbered_entry(1))) + len(line(numbered_entry(2))))
    assert follower.poll() == []
    append(path, numbered_entry(4))
    assert follower.poll() == [numbered_entry(4)]


def test_a_line_is_given_once_its_newline_is_there(path: Path, follower: LinesFollower) -> None:
    append(path, numbered_entry(1))
    follower.start_at_end()
    whole = line(numbered_entry(2))
    with path.open("ab") as file:
        file.write(whole[:50])
        file.flush()
        assert follower.poll() == []
        file.write(whole[50:-1])  # all but the newline: "}" ends it, and it is the last line
        file.flush()
        assert follower.poll() == [numbered_entry(2)]
        file.write(b"\n")
    append(path, numbered_entry(3))
    assert follower.poll() == [numbered_entry(3)]


def test_a_torn_line_repaired_by_the_next_writer_is_never_given(
    path: Path, follower: LinesFollower, caplog: pytest.LogCaptureFixture
) -> None:
    append(path, numbered_entry(1))
    follower.start_at_end()
    with path.open("ab") as file:
        file.write(line(numbered_entry(2))[:40])
    assert follower.poll() == []
    append(path, numbered_entry(3))  # cuts the partial line
    assert follower.poll() == [numbered_entry(3)]
    assert len(warnings_in(caplog)) == 1  # the repair's; nothing from the follower


def test_a_whole_last_object_without_newline_is_given_once(
    path: Path, follower: LinesFollower, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(line(numbered_entry(1)))
    follower.start_at_end()
    with path.open("ab") as file:
        file.write(json.dumps(numbered_entry(2)).encode() + b"  ")  # another tool's last line
    assert follower.poll() == [numbered_entry(2)]
    append(path, numbered_entry(3))  # writes the newline first
    assert follower.poll() == [numbered_entry(3)]
    assert warnings_in(caplog) == []


def test_a_burst_larger_than_one_read_comes_over_several_polls(
    path: Path, follower: LinesFollower, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follow_module, "READ_BYTES", 4096)
    follower.start_at_end()
    burst = [numbered_entry(n) for n in range(200)]
    append(path, *burst)
    found: list[Entry] = []
    polls = 0
    while len(found) < len(burst):
        found += follower.poll()
        polls += 1
        assert polls < 100
    assert found == burst
    assert polls > 5


def test_a_line_longer_than_one_read_is_given_whole(
    path: Path, follower: LinesFollower, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follow_module, "READ_BYTES", 4096)
    follower.start_at_end()
    long_entry = numbered_entry(1, inputs={"pad": "z" * 20_000})
    append(path, long_entry, numbered_entry(2))
    assert follower.poll() + follower.poll() == [long_entry, numbered_entry(2)]


def test_damaged_lines_met_while_following_are_skipped_and_reported(
    path: Path, follower: LinesFollower, caplog: pytest.LogCaptureFixture
) -> None:
    append(path, numbered_entry(1))
    follower.start_at_end()
    with path.open("ab") as file:
        file.write(b"garbage\n" + line(numbered_entry(2)))
    assert follower.poll() == [numbered_entry(2)]
    (warning,) = warnings_in(caplog)
    assert "a damaged line that is not a telemetry entry, at line 2, column 1" in warning


def test_the_follow_iterator_yields_captures_of_another_process(path: Path) -> None:
    telemetry = TelemetryCapture(path)
    telemetry.capture("before", "success", 1.0, "test")
    stream = telemetry.follow(backlog=1, poll_interval=0.01)
    try:
        assert next(stream)["skill"] == "before"
        code = (
            "import sys\nfrom betty_telemetry import TelemetryCapture\n"
            "t = TelemetryCapture(sys.argv[1])\n"
            "for n in range(20): t.capture(f'child.{n}', 'success', 1.0, 'child')\n"
        )
        result = run_python("-c", code, str(path))
        assert result.returncode == 0, result.stderr
        assert [next(stream)["skill"] for _ in range(20)] == [f"child.{n}" for n in range(20)]
    finally:
        stream.close()


# -- the command line ------------------------------------------------------------------------------


def test_the_cli_captures_queries_and_summarizes_a_jsonl_file(
    cli_here: CliHere, tmp_path: Path
) -> None:
    path = tmp_path / "cli" / "t.jsonl"
    file = ("--file", str(path))
    for n in range(3):
        done = cli_here(
            "capture", f"deploy.{n}", "success", str(10 * n), "CI", '{"env": "prod"}', *file
        )
        assert done.returncode == 0, done.stderr
        assert f"Telemetry captured to {path}" in done.stdout
    assert skills(file_entries(path)) == ["deploy.0", "deploy.1", "deploy.2"]
    query = cli_here("query", "--json", *file)
    assert skills(json.loads(query.stdout)) == ["deploy.2", "deploy.1", "deploy.0"]
    stats = cli_here("stats", "--json", "--sort", "key", *file)
    assert [(row["key"], row["count"]) for row in json.loads(stats.stdout)] == [
        ("deploy.0", 1),
        ("deploy.1", 1),
        ("deploy.2", 1),
    ]
    tail = cli_here("tail", "-n", "2", "--jsonl", *file)
    assert [json.loads(text)["skill"] for text in tail.stdout.splitlines()] == [
        "deploy.1",
        "deploy.2",
    ]


def test_the_cli_shows_a_trace_from_a_jsonl_file(cli_here: CliHere, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    root = numbered_entry(1, parent_id=None)
    child = numbered_entry(2, parent_id=root["span_id"])
    write_lines(path, [child, root])
    shown = cli_here("trace", "--last", "--json", "--file", str(path))
    assert shown.returncode == 0, shown.stderr
    (node,) = json.loads(shown.stdout)
    assert node["entry"]["skill"] == "skill.1"
    assert [c["entry"]["skill"] for c in node["children"]] == ["skill.2"]
    text = cli_here("trace", T1, "--file", str(path))
    assert text.returncode == 0, text.stderr
    assert "skill.1" in text.stdout
    assert "skill.2" in text.stdout


def test_the_cli_refuses_a_json_array_named_jsonl_and_exits_1(
    cli_here: CliHere, tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'[\n{"skill": "a"}\n]\n')
    for args in (("capture", "s", "success", "1", "c"), ("query",), ("stats",), ("tail",)):
        done = cli_here(*args, "--file", str(path))
        assert done.returncode == 1, args
        assert done.stderr.startswith(f"Error: {path}")
        assert "is not a JSON Lines file of telemetry entries (it starts with a JSON array)" in (
            done.stderr
        )
    assert path.read_bytes() == b'[\n{"skill": "a"}\n]\n'


def test_the_cli_prints_a_repair_as_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(line(numbered_entry(1)) + b'{"timestamp": "2025')
    done = run_cli("capture", "s", "success", "1", "c", "--file", str(path))
    assert done.returncode == 0, done.stderr
    assert "Warning: Repaired" in done.stderr
    assert "removed 19 bytes" in done.stderr
    assert skills(file_entries(path)) == ["skill.1", "s"]
