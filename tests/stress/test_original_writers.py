"""Our writers and readers beside the original framework's writers, on one file, at once.

The original framework locks the data file, loads the whole array, appends and rewrites it
with ``indent=2``; ours append in place. Whoever writes, every entry of either kind must end
up in the file exactly once, ours with all their fields, and the original's ``json.load`` must
never fail: our layout is a valid array whenever the lock is free.

The two kinds of writer must run at the same time, or the test proves nothing. Left alone,
they do not always: the original's ``flock`` blocks, so the kernel hands the lock straight
from one original writer to the other waiting for it, while ours poll for it and get it only
in the gaps. From the legacy fixture each original rewrite is slow (it loads and dumps the
whole, growing file), so under load (a full ``make test`` on two shared cores) the originals
kept the lock nearly all the time, and ours wrote almost everything after they finished
(5 to 7 switches between kinds, where 10 are required). So writers pace themselves: neither
kind gets more than ``SLACK`` of its entries ahead of the other's share (each counts its
entries in a progress file), which makes them interleave on any machine without changing
what is written or checked.
"""

from __future__ import annotations

import inspect
import itertools
import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.stores import JsonArrayStore
from tests.conftest import FIXTURE, run_python
from tests.original_framework import APPEND_SCRIPT, framework_append

pytestmark = pytest.mark.serial  # writers of both kinds need the machine's cores at once

ORIGINALS, ORIGINAL_ENTRIES = 2, 60
OURS, OUR_ENTRIES = 2, 200
TIMEOUT = 120.0
SLACK = 0.05  # how far (a share of its entries) a kind of writer may run ahead of the other
PACING_LIMIT = 60.0  # seconds: past this, writers stop waiting (the switch count then tells)

# Shared by both kinds of writer (stdlib only: the original writers run none of our code).
PACING = f"""
TOTALS = {{"o": {ORIGINALS * ORIGINAL_ENTRIES}, "w": {OURS * OUR_ENTRIES}}}
SLACK, PACING_LIMIT = {SLACK}, {PACING_LIMIT}


def share(progress, kind):
    try:
        return os.path.getsize(progress + kind) / TOTALS[kind]
    except FileNotFoundError:
        return 0.0


def wait_for_the_other_kind(progress, kind, started):
    other = "o" if kind == "w" else "w"
    while (
        share(progress, kind) - share(progress, other) > SLACK
        and share(progress, other) < 1
        and time.monotonic() - started < PACING_LIMIT
    ):
        time.sleep(0.001)


def written_one(progress, kind):
    fd = os.open(progress + kind, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, b".")
    os.close(fd)
"""
# The original writers run none of our code: measuring coverage in them would only slow their
# pure-Python json.dump(indent=2) down, until ours finished before they got going.
UNMEASURED = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}

ORIGINAL = (
    "import fcntl, json, os, random, sys, time\nfrom datetime import datetime, timezone\n"
    "from typing import Any\n"
    + inspect.getsource(framework_append)
    + PACING
    + """
path, writer, count, progress = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(writer)
os.write(1, b"R")
os.read(0, 1)  # "go": every writer starts at once
started = time.monotonic()
# The original framework needs an array to load: it starts once the file has one. (While a file
# is being created, it can find it empty: see the xfail test below.)
while not os.path.exists(path) or not os.path.getsize(path):
    time.sleep(0.001)
for n in range(count):
    wait_for_the_other_kind(progress, "o", started)
    entry = {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "skill": "original.write",
        "inputs": {"id": f"{writer}-{n}"},
        "status": "success",
        "duration_ms": n,
        "caller": writer,
    }
    framework_append(path, entry)  # a failed json.load raises: the process fails loudly
    written_one(progress, "o")
    time.sleep(rng.uniform(0, 0.010))
"""
)

OURS_SCRIPT = (
    "import json, os, random, sys, time\n"
    + PACING
    + """
from betty_telemetry import TelemetryCapture
path, writer, count, side, progress = sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:6]
rng = random.Random(writer)
telemetry = TelemetryCapture(path)
out = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(1, b"R")
os.read(0, 1)
started = time.monotonic()
for n in range(count):
    wait_for_the_other_kind(progress, "w", started)
    entry = telemetry.capture(
        "ours.write",
        "success" if n % 5 else "failure",
        n + 0.25,
        writer,
        {"id": f"{writer}-{n}", "text": "h\\u00e9llo \\U0001f600", "deep": {"l": [1, 2.5, None]}},
        error_message=None if n % 5 else "boom",
        metadata={"n": n, "kind": "ours"},
    )
    os.write(out, json.dumps(entry).encode() + b"\\n")  # the entry as capture() stored it
    written_one(progress, "w")
    time.sleep(rng.uniform(0, 0.010))
"""
)

READER = """
import json, os, sys
from betty_telemetry import TelemetryCapture
path, stop, legacy = sys.argv[1], sys.argv[2], int(sys.argv[3])
reader = TelemetryCapture(path)
reads, seen, counted, short_stats = 0, set(), 0, 0
os.write(1, b"R")
os.read(0, 1)
while not os.path.exists(stop):
    entries = reader.query()
    ids = [e["inputs"]["id"] for e in entries if "id" in (e.get("inputs") or {})]
    if len(ids) != len(set(ids)):
        sys.exit(f"a duplicate in one query: {sorted(i for i in ids if ids.count(i) > 1)}")
    if len(entries) - len(ids) != legacy:
        sys.exit(f"{len(entries) - len(ids)} entries without id, not the {legacy} legacy ones")
    if not seen <= set(ids):
        sys.exit(f"entries read before are gone: {sorted(seen - set(ids))[:5]}")
    seen = set(ids)
    total = sum(group["count"] for group in reader.stats())
    # Fewer than query() just read: see the xfail test on stats() below.
    short_stats += total < len(entries)
    counted = max(counted, total)
    reads += 1
print(json.dumps({"reads": reads, "most_counted": counted, "short_stats": short_stats}))
"""


@contextmanager
def _processes(
    commands: list[tuple[list[str], dict[str, str] | None]],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start the commands (each with its environment), wait until each is ready, say "go" to
    all at once; kill leftovers."""
    pipe = subprocess.PIPE
    procs = [
        subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=pipe, env=env)
        for command, env in commands
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert select.select([proc.stdout], [], [], TIMEOUT)[0], "a process did not start"
            assert proc.stdout.read(1) == b"R", proc.communicate()[1].decode()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"G")
            proc.stdin.flush()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def _finish(proc: subprocess.Popen[bytes]) -> str:
    """Its output, once it exited; it must have succeeded."""
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, f"process {proc.pid} exited {proc.returncode}:\n{err.decode()}"
    return out.decode()


def _id(entry: dict[str, Any]) -> str | None:
    inputs = entry.get("inputs")
    return inputs.get("id") if isinstance(inputs, dict) else None


def _initial(start: str, path: Path) -> list[dict[str, Any]]:
    """Lay out the file the run starts from; return its entries."""
    path.parent.mkdir()
    if start == "missing":
        return []
    if start == "empty":
        path.touch()
        return []
    if start == "legacy":
        shutil.copyfile(FIXTURE, path)
    else:
        ours = TelemetryCapture(path)
        for n in range(50):
            ours.capture("ours.before", "success", n, "before", {"id": f"before-{n}"})
    entries: list[dict[str, Any]] = json.loads(path.read_bytes())
    return entries


@pytest.mark.parametrize("start", ["missing", "empty", "ours", "legacy"])
def test_original_and_our_writers_on_one_file_keep_every_entry_once_and_readers_never_fail(
    tmp_path: Path, start: str
) -> None:
    path = tmp_path / "registry" / "telemetry.json"
    initial = _initial(start, path)
    stop = tmp_path / "stop"
    legacy = sum(_id(entry) is None for entry in initial)
    reader_cmd = [sys.executable, "-c", READER, str(path), str(stop), str(legacy)]
    originals = [f"o{w}" for w in range(ORIGINALS)]
    ours = [f"w{w}" for w in range(OURS)]
    commands: list[tuple[list[str], dict[str, str] | None]] = [(reader_cmd, None)]
    progress = str(tmp_path / "progress-")  # + "o" or "w": one byte per entry written
    for o in originals:
        original = [sys.executable, "-c", ORIGINAL, str(path), o, str(ORIGINAL_ENTRIES)]
        commands.append(([*original, progress], UNMEASURED))
    for w in ours:
        side = str(tmp_path / w)
        our = [sys.executable, "-c", OURS_SCRIPT, str(path), w, str(OUR_ENTRIES), side]
        commands.append(([*our, progress], None))
    with _processes(commands) as (reader, *writers):
        for writer in writers:
            _finish(writer)
        stop.touch()
        reads = json.loads(_finish(reader))

    final: list[dict[str, Any]] = json.loads(path.read_bytes())
    assert final[: len(initial)] == initial
    added = final[len(initial) :]
    ids = [_id(entry) for entry in added]
    expected = [f"{o}-{n}" for o in originals for n in range(ORIGINAL_ENTRIES)]
    expected += [f"{w}-{n}" for w in ours for n in range(OUR_ENTRIES)]
    assert sorted(map(str, ids)) == sorted(expected), "an entry is missing, doubled or foreign"
    by_id = {_id(entry): entry for entry in added}
    for w in ours:
        returned = [json.loads(line) for line in (tmp_path / w).read_text().splitlines()]
        assert len(returned) == OUR_ENTRIES
        for entry in returned:
            # every field, with its value and in its place, through the original's rewrites
            assert list(by_id[entry["inputs"]["id"]].items()) == list(entry.items())
    for name in [*originals, *ours]:
        numbers = [int(str(i).rsplit("-", 1)[1]) for i in ids if str(i).startswith(f"{name}-")]
        assert numbers == sorted(numbers), f"{name}'s entries are out of order"
    kinds = [str(i)[0] for i in ids]
    switches = sum(a != b for a, b in itertools.pairwise(kinds))
    print(f"\n{start}: {switches} switches between kinds of writer; reader: {reads}")
    assert switches >= 10, "the two kinds of writer did not run at the same time"
    assert reads["reads"] >= 3
    assert reads["most_counted"] <= len(final), "stats() counted an entry twice"


def test_stats_read_across_a_rewrite_by_the_original_counts_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    ours = TelemetryCapture(path)
    for n in range(300):  # ~60 KiB: more than the reader's first block
        ours.capture("ours.write", "success", n, "w", {"id": f"w-{n}", "pad": "x" * 100})
    # What stats() runs: newest first, summaries of our lines. Between two blocks, an original
    # writer rewrites the file with indent=2 (same entries, plus its own).
    entries = JsonArrayStore(str(path)).iter_newest_first(summaries=True)
    newest = next(entries)
    entry = {"skill": "original.write", "status": "success", "inputs": {"id": "o-0"}}
    run_python("-c", APPEND_SCRIPT, str(path), json.dumps(entry), check=True)
    read = [newest, *entries]
    assert len(read) == 300  # read: 53, and a warning that the entries read are gone


# Our writer in a process whose flock() calls are held back (strace delays them): a stand-in
# for being descheduled between creating the file and locking it, which can happen anywhere.
CAPTURE_WITH_SLOW_FLOCK = [
    "strace", "-f", "-qq", "-o", os.devnull,
    "-e", "trace=flock", "-e", "inject=flock:delay_enter=300000",
]  # fmt: skip
ORIGINAL_ONCE = (
    "import fcntl, json, os, sys, time\nfrom typing import Any\n"
    + inspect.getsource(framework_append)
    + """
os.write(1, b"R")
while True:  # an original writer that runs while ours creates the file
    try:
        framework_append(sys.argv[1], {"skill": "original.write", "status": "success"})
        break
    except FileNotFoundError:
        time.sleep(0.0005)
"""
)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to widen the race")
def test_the_original_never_finds_an_empty_file_while_ours_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.json"
    original = subprocess.Popen(
        [sys.executable, "-c", ORIGINAL_ONCE, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if original.stdout is None or original.stdout.read(1) != b"R":
            raise RuntimeError("the original writer did not start")
        script = "from betty_telemetry import TelemetryCapture as T\n"
        script += "T(__import__('sys').argv[1]).capture('ours.write', 'success', 1, 'w')"
        ours = subprocess.run(
            [*CAPTURE_WITH_SLOW_FLOCK, sys.executable, "-c", script, str(path)],
            capture_output=True,
            timeout=TIMEOUT,
        )
        if ours.returncode != 0:  # not the bug: strace could not run it (ptrace refused?)
            pytest.skip(f"strace could not run our writer: {ours.stderr.decode()[-300:]}")
        _, err = original.communicate(timeout=TIMEOUT)
    finally:
        if original.poll() is None:
            original.kill()
            original.communicate()
    assert original.returncode == 0, err.decode()  # JSONDecodeError: Expecting value ...
    assert len(json.loads(path.read_bytes())) == 2
