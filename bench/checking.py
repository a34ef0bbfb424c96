"""Benchmark: ``check`` and ``repair`` of a 1,000,000-entry store.

Run by ``make bench`` after bench/stores.py, whose cached 1,000,000-entry files (JSON array,
JSON Lines, SQLite) it copies into a temporary folder. Each copy is checked as it is; then
(the JSON stores) ten lines spread over it are overwritten with garbage, and the copy is
repaired (a walk writing the new file, a second walk checking it, a copy kept as a backup,
all under the store's lock) and checked again.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from betty_telemetry.lifecycle.checking import check, repair
from read_fixture import cached_read_file
from stores import ENTRIES, cached_database, cached_json_lines

DAMAGED_LINES = 10


def damage(path: Path) -> None:
    """Overwrite ``DAMAGED_LINES`` lines spread over the file with garbage of their length."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        for n in range(1, DAMAGED_LINES + 1):
            file.seek(size * n // (DAMAGED_LINES + 2))
            file.readline()  # to the start of the next line
            start = file.tell()
            length = len(file.readline()) - 2  # keep its "," and newline
            file.seek(start)
            file.write(b"#" * length)


def timed(label: str, action: object) -> object:
    started = time.perf_counter()
    result = action()  # type: ignore[operator]
    print(f"  {label:<28} {time.perf_counter() - started:6.1f} s")
    return result


def main() -> int:
    json_path, _ = cached_read_file(ENTRIES)
    db_path, _ = cached_database(json_path)
    jsonl_path, _ = cached_json_lines(json_path)
    print("betty-telemetry benchmark: check and repair")
    print(f"command : {sys.executable} bench/checking.py\n")
    with tempfile.TemporaryDirectory(prefix="betty-check-bench-", dir=json_path.parent) as tmp:
        for name, source in (("json_array", json_path), ("jsonl", jsonl_path), ("sqlite", db_path)):
            copy = Path(tmp) / source.name
            shutil.copyfile(source, copy)
            print(f"{name} ({copy.stat().st_size / 2**20:.0f} MB, {ENTRIES:,} entries)")
            report = timed("check", lambda copy=copy: check(copy))
            assert report.entries == ENTRIES, report  # type: ignore[attr-defined]
            if name != "sqlite":
                damage(copy)
                done = timed(f"repair ({DAMAGED_LINES} damaged lines)", lambda c=copy: repair(c))
                assert len(done.fixed) == DAMAGED_LINES, done  # type: ignore[attr-defined]
                assert timed("check after", lambda c=copy: check(c)).clean  # type: ignore[attr-defined]
            for leftover in Path(tmp).iterdir():
                leftover.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
