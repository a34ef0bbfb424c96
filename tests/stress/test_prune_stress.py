"""Pruning under load, proved as rotation is (see test_rotation_stress): while four writer
processes append, a pruner moves the entries older than a moment ago into archives, over and
over, and is SIGKILLed at random moments; afterwards the archives and the live store hold
every acknowledged entry exactly once, each writer's in order, and every file is valid.

``serial``: the writers and the pruner need the machine's cores; kills are timed to the ms.
"""

from __future__ import annotations

import os
import random
import re
import time
import traceback
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from betty_telemetry import TelemetryCapture
from betty_telemetry.model.times import utc_text
from tests.stress.test_rotation_stress import (
    STAMP,
    WRITER_PAUSE,
    archive_format,
    archive_names,
    check_exactly_once,
    check_writer_order,
    create_store,
    kill_rotator,
    parse,
    read_archive,
    read_everything,
    start_writers,
    written_skills,
)

pytestmark = [pytest.mark.every_store, pytest.mark.serial]

PRUNE_PAUSE = 0.005  # seconds the pruner sleeps between two prunes
AGE = timedelta(milliseconds=3)  # each prune moves the entries older than this
KILL_DELAYS = (0.001, 0.08)
MIN_KILLS, MAX_KILLS = 15, 60
UNFINISHED = (".rotating", ".partial", ".kept", ".pruning")
FAR_FUTURE = "2999-01-01"


def fork_pruner(path: Path, logs: Path) -> int:
    """A pruner forked from this process: it prunes in a loop until it is killed (or, given
    a stop file, until that exists), logging each archive it made."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            telemetry = TelemetryCapture(path)
            while not (logs / "stop").exists():
                cut = utc_text(datetime.now(timezone.utc) - AGE)
                pruned = telemetry.prune(before=cut)
                if pruned.archive is not None:
                    with open(logs / "prunes.log", "a") as log:
                        log.write(f"{pruned.moved}\n")
                time.sleep(PRUNE_PAUSE)
        except BaseException:
            with open(logs / f"rotator-{os.getpid()}.err", "w") as err:
                traceback.print_exc(file=err)
            code = 1
        os._exit(code)
    return pid


def check_left_files(path: Path, store_kind: str) -> list[str]:
    """Right after a kill: archives whole, staged files parse; what is unfinished may be
    torn (a ``.partial``, a ``.kept`` being written). Returns the unfinished files' names."""
    folder = path.parent
    unfinished = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(UNFINISHED):
            unfinished.append(name)
            if name.endswith(".rotating"):
                parse((folder / name).read_bytes(), archive_format(store_kind), name)
    for name in archive_names(path, store_kind):
        read_archive(folder / name, archive_format(store_kind))
    return unfinished


def run_writers_and(path: Path, tmp_path: Path, act: object) -> set[str]:
    """Start four writers, call ``act(logs)`` while they write, stop them; the skills they
    wrote, every one acknowledged."""
    create_store(path)
    logs = tmp_path / "logs"
    logs.mkdir()
    stop = logs / "writers-stop"
    writers = start_writers(path, logs, stop, count=0, background=False, pause=WRITER_PAUSE)
    try:
        for writer in writers:
            writer.wait_ready()
        for writer in writers:
            writer.go()
        act(logs)  # type: ignore[operator]
        stop.touch()
        outcomes = [writer.finish() for writer in writers]
    finally:
        for writer in writers:
            writer.close()
    return written_skills(outcomes)


def prune_all(path: Path) -> None:
    telemetry = TelemetryCapture(path)
    try:
        telemetry.prune(before=FAR_FUTURE)  # finishes what a kill left, and moves the rest
    finally:
        telemetry.close()


def test_pruning_in_a_loop_while_four_processes_write_loses_and_doubles_nothing(
    tmp_path: Path, telemetry_path: Path, store_kind: str
) -> None:
    def prune_for_a_while(logs: Path) -> None:
        pruner = fork_pruner(telemetry_path, logs)
        time.sleep(1.0)
        (logs / "stop").touch()
        _, status = os.waitpid(pruner, 0)
        err = logs / f"rotator-{pruner}.err"
        assert os.waitstatus_to_exitcode(status) == 0, err.read_text() if err.exists() else ""

    expected = run_writers_and(telemetry_path, tmp_path, prune_for_a_while)
    prunes = (tmp_path / "logs" / "prunes.log").read_text().split()
    prune_all(telemetry_path)
    sources = read_everything(telemetry_path, store_kind)
    print(f"\n{len(prunes)} prunes moved {sum(map(int, prunes))} entries of {len(expected)}")
    check_exactly_once(sources, expected)
    check_writer_order(sources)
    assert len(prunes) > 3, f"the pruner pruned {len(prunes)} times: this proved little"
    assert sources[-1][1] == [], "the final prune left entries in the store"


def test_a_pruner_killed_at_random_moments_loses_nothing_and_leaves_every_file_valid(
    tmp_path: Path, telemetry_path: Path, store_kind: str
) -> None:
    rng = random.Random(20261207)
    left: Counter[str] = Counter()
    kills = [0, 0]  # kills, kills that left something unfinished

    def kill_pruners(logs: Path) -> None:
        while kills[0] < MIN_KILLS or (kills[1] == 0 and kills[0] < MAX_KILLS):
            pruner = fork_pruner(telemetry_path, logs)
            try:
                time.sleep(rng.uniform(*KILL_DELAYS))
            finally:
                kill_rotator(pruner, logs)
            kills[0] += 1
            unfinished = check_left_files(telemetry_path, store_kind)
            kills[1] += bool(unfinished)
            left.update(re.sub(rf"^.*\.{STAMP}", "NAME.STAMP", name) for name in unfinished)

    expected = run_writers_and(telemetry_path, tmp_path, kill_pruners)
    prune_all(telemetry_path)
    print(f"\n{kills[0]} kills, {kills[1]} left an unfinished prune ({dict(left)})")
    sources = read_everything(telemetry_path, store_kind, killed=True)
    check_exactly_once(sources, expected)
    check_writer_order(sources)
    assert sources[-1][1] == [], "the final prune left entries in the store"
    assert kills[1], f"no kill of {kills[0]} interrupted a prune: this proved little"
