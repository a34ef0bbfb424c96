"""A file store writes to the file at its path, whatever happened to the one it opened.

Before each write it checks that its open file is still the one at the path: on Linux with one
readlink of /proc/self/fd (the kernel's name for the open file), elsewhere, or when that name
changed, with fstat and stat. Renamed away, deleted or replaced, the file is left as it is
and the write goes to the path, as ``tail -F`` follows it; a file that is still at the path
under another name (a folder on the way became a symlink) is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from betty_telemetry.stores import _file_store, open_store
from betty_telemetry.stores.base import Store
from tests.entries import numbered_entry
from tests.stores import encoded, stored_entries, write_entries

pytestmark = [
    pytest.mark.every_store,
    pytest.mark.only_stores(
        "json", "jsonl", reason="the file stores' own check; SQLite keeps its database open"
    ),
]


@pytest.fixture(params=["proc", "no-proc"])
def proc(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """With Linux's /proc/self/fd, or as on a system without it (readlink fails there)."""
    if request.param == "no-proc":
        monkeypatch.setattr(_file_store, "_PROC_FD", b"/no/such/proc/fd/")
    elif not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd here")
    return str(request.param)


@pytest.fixture
def store(telemetry_path: Path, proc: str) -> Iterator[Store]:
    opened = open_store(telemetry_path)
    yield opened
    opened.close()


def skills(path: Path) -> list[str]:
    return [entry["skill"] for entry in stored_entries(path)]


def write(store: Store, n: int) -> None:
    store.write([encoded(numbered_entry(n))])


def test_a_file_renamed_away_keeps_its_entries_and_the_next_write_starts_a_new_one(
    store: Store, telemetry_path: Path
) -> None:
    write(store, 1)
    moved = telemetry_path.with_name("moved" + telemetry_path.suffix)
    os.rename(telemetry_path, moved)
    write(store, 2)
    write(store, 3)
    assert skills(moved) == ["skill.1"]
    assert skills(telemetry_path) == ["skill.2", "skill.3"]


def test_a_file_renamed_away_and_replaced_by_another_is_left_for_the_new_one(
    store: Store, telemetry_path: Path
) -> None:
    write(store, 1)
    moved = telemetry_path.with_name("moved" + telemetry_path.suffix)
    os.rename(telemetry_path, moved)
    write_entries(telemetry_path, [numbered_entry(10)])
    write(store, 2)
    assert skills(moved) == ["skill.1"]
    assert skills(telemetry_path) == ["skill.10", "skill.2"]


def test_a_deleted_file_is_created_again_by_the_next_write(
    store: Store, telemetry_path: Path
) -> None:
    write(store, 1)
    telemetry_path.unlink()
    write(store, 2)
    assert skills(telemetry_path) == ["skill.2"]


def test_a_file_reached_through_a_folder_moved_and_linked_back_is_still_the_same_file(
    tmp_path: Path, store_suffix: str, proc: str
) -> None:
    folder = tmp_path / "registry"
    path = folder / ("telemetry" + store_suffix)
    store = open_store(path)
    try:
        write(store, 1)
        # The kernel's name for the open file changes; the path still leads to it.
        os.rename(folder, tmp_path / "real-registry")
        os.symlink(tmp_path / "real-registry", folder)
        write(store, 2)
        write(store, 3)  # the new name is remembered: back on the short check
    finally:
        store.close()
    assert skills(path) == ["skill.1", "skill.2", "skill.3"]
    assert sorted(os.listdir(tmp_path / "real-registry")) == [path.name]


def test_a_file_replaced_by_another_process_is_followed(store: Store, telemetry_path: Path) -> None:
    write(store, 1)
    replacement = telemetry_path.with_name("replacement" + telemetry_path.suffix)
    write_entries(replacement, [numbered_entry(10)])
    os.replace(replacement, telemetry_path)
    write(store, 2)
    assert skills(telemetry_path) == ["skill.10", "skill.2"]


def test_a_file_renamed_between_its_open_and_the_naming_of_its_descriptor_is_not_written_to(
    store: Store, telemetry_path: Path
) -> None:
    # A rotation in another process may rename the file in the instant between a writer's
    # open and its readlink of /proc/self/fd: the name read then is the staged file's. Taken
    # for the file's own, it would let every later append into the archive-to-be.
    write(store, 1)
    # Named as a rotation names it, but with the store's extension, for the test's reader.
    staged = telemetry_path.with_name("staged" + telemetry_path.suffix)
    os.rename(telemetry_path, staged)
    store._remember_name(store._fd)  # type: ignore[attr-defined] # the name read in that instant
    write(store, 2)
    assert skills(staged) == ["skill.1"]
    assert skills(telemetry_path) == ["skill.2"]
