"""The JSON Lines store under many writers and under SIGKILL: real processes, one real file.

The kill harness is the JSON-array store's (``test_crash``): writers log an entry's id only
after ``capture()`` returned, and are killed at seeded moments, so every logged id must be in
the file exactly once whatever the kills tore.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from betty_telemetry import TelemetryCapture
from tests.stress.test_crash import Outcome, _check_writer_sequences, _kill_round

WRITERS, PER_WRITER = 4, 2000
MIN_KILLS = 24  # 8 rounds of 3 writers; more rounds only until a kill has torn an append
MAX_ROUNDS = 40

WRITER = """
import sys
from betty_telemetry import TelemetryCapture
path, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
telemetry = TelemetryCapture(telemetry_file=path)
for n in range(count):
    telemetry.capture("stress.write", "success", n, writer, {"id": f"{writer}-{n}"})
"""


def lines_of(path: Path) -> list[dict[str, Any]]:
    """Every line parsed on its own: fails on a line that is not one whole object."""
    content = path.read_bytes()
    assert content.endswith(b"\n")
    values = [json.loads(line) for line in content.split(b"\n")[:-1]]
    assert all(isinstance(value, dict) for value in values)
    return values


def ids_of(entries: list[dict[str, Any]]) -> list[str]:
    return [e["inputs"]["id"] for e in entries if "id" in (e.get("inputs") or {})]


def test_four_processes_times_two_thousand_captures_give_eight_thousand_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry" / "telemetry.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{w}", str(PER_WRITER)])
        for w in range(WRITERS)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0] * WRITERS
    ids = ids_of(lines_of(path))
    assert len(ids) == WRITERS * PER_WRITER
    assert set(ids) == {f"w{w}-{n}" for w in range(WRITERS) for n in range(PER_WRITER)}
    for w in range(WRITERS):  # each writer's entries in the order it made them
        mine = [int(i.rsplit("-", 1)[1]) for i in ids if i.startswith(f"w{w}-")]
        assert mine == list(range(PER_WRITER))
    assert path.read_bytes().count(b"\n") == len(ids)
    telemetry = TelemetryCapture(path)
    assert sum(group["count"] for group in telemetry.stats()) == len(ids)


def test_threads_sharing_one_capture_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    telemetry = TelemetryCapture(path)

    def write(writer: str) -> None:
        for n in range(500):
            telemetry.capture("stress.thread", "success", n, writer, {"id": f"{writer}-{n}"})

    threads = [threading.Thread(target=write, args=(f"t{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids_of(lines_of(path))) == sorted(
        f"t{t}-{n}" for t in range(4) for n in range(500)
    )


def test_a_follower_sees_every_entry_of_concurrent_writers_once(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    telemetry = TelemetryCapture(path)
    telemetry.capture("start", "success", 0, "test", {"id": "start-0"})
    stream = telemetry.follow(poll_interval=0.005)  # its start is taken here, not at next()
    seen: list[str] = []
    done = threading.Event()

    def follow() -> None:
        for entry in stream:
            seen.append(entry["inputs"]["id"])
            if len(seen) >= 2 * 1000:
                break
        done.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"f{w}", "1000"])
        for w in range(2)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    assert done.wait(60), f"the follower saw {len(seen)} of 2000 entries"
    stream.close()
    assert len(seen) == len(set(seen)) == 2000
    assert ids_of(lines_of(path))[1:] == seen  # in file order


def test_writers_killed_mid_capture_lose_no_recorded_entry_and_torn_lines_are_repaired(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry" / "telemetry.jsonl"
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(20251206)
    out = Outcome()
    round_no = 0
    while out.kills < MIN_KILLS or (not out.repairs and round_no < MAX_ROUNDS):
        _kill_round(path, logs, rng, round_no, out)
        round_no += 1
        out.torn_at_round_end += path.exists() and not path.read_bytes().endswith(b"}\n")
        newest = ids_of(TelemetryCapture(path).query(limit=20))  # on the file as left
        assert len(newest) == len(set(newest))

    # (a) On the file as the last kill left it, a reader sees each complete entry once.
    reader = TelemetryCapture(path)
    seen = ids_of(reader.query())
    assert len(seen) == len(set(seen))
    assert sum(group["count"] for group in reader.stats()) == len(seen)
    # (b) One more capture succeeds, cutting a torn line: then every line is a whole entry.
    TelemetryCapture(path).capture("stress.crash", "success", 0, "final", {"id": "final-0"})
    entries = lines_of(path)
    ids = ids_of(entries)
    assert len(ids) == len(entries)
    assert ids[-1] == "final-0"
    assert sorted(ids[:-1]) == sorted(seen), "the reader saw exactly what the repair kept"
    # (c) Every id whose capture returned is there exactly once; (d) no id is there twice.
    counts = Counter(ids)
    assert [entry_id for entry_id, count in counts.items() if count > 1] == []
    logged = [entry_id for prefix_ids in out.logged.values() for entry_id in prefix_ids]
    assert [entry_id for entry_id in logged if counts[entry_id] != 1] == []
    _check_writer_sequences(ids[:-1], out.logged)
    # (e) Kills tore appends, and the next appends repaired them.
    print(
        f"\n{out.kills} kills in {round_no} rounds: {len(ids)} entries ({len(logged)} logged), "
        f"{out.torn_at_round_end} rounds ended with a torn line, {len(out.repairs)} repairs "
        f"(bytes removed: {out.repairs}), file {path.stat().st_size >> 20} MiB"
    )
    assert out.kills >= MIN_KILLS
    assert out.repairs, "no kill tore an append: this run proved nothing"
    os.unlink(path)  # tens of MiB: pytest keeps the folders of its last runs
    shutil.rmtree(logs)
