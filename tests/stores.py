"""The stores every store-agnostic test runs over, and format-aware ways to seed and read them.

``STORES`` maps a store's test id to the extension that selects it in ``open_store``. The
SQLite store is in the matrix whenever ``open_store("x.db")`` answers with a store of its own
rather than a JSON array: it joined, when it landed, without a test being edited.

``write_entries`` and ``stored_entries`` are the tests' own ways in and out of a store, as
strict as each format allows: the JSON array is written and read as raw bytes (every test
written for the JSON array keeps checking exactly what it checked), a JSON Lines file is read
line by line (each line one whole object), and a store whose format the tests do not know is
written through its ``write`` and read through its ``scan`` (a SQLite database after SQLite's
own integrity check).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from betty_telemetry.model.filters import EntryFilter
from betty_telemetry.stores import open_store
from betty_telemetry.stores.base import Encoded

Entry = dict[str, Any]


def _sqlite_store_landed() -> bool:
    """Whether ``.db`` opens a store of its own (nothing is created until first use; the
    probe's folder is removed all the same)."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(os.path.join(folder, "probe.db"))
        try:
            return type(store).__name__ != "JsonArrayStore"
        finally:
            store.close()


STORES: dict[str, str] = {"json": ".json", "jsonl": ".jsonl"}
if _sqlite_store_landed():
    STORES["sqlite"] = ".db"

JSON_ARRAY = "json"
JSON_LINES = "jsonl"
SQLITE = "sqlite"


def kind_of(path: str | os.PathLike[str]) -> str:
    """The test id of the store ``open_store`` picks for ``path``: ``json`` for any extension
    no other store claims (as ``open_store`` does)."""
    name = os.fspath(path).lower()
    if name.endswith((".jsonl", ".ndjson")):
        return JSON_LINES
    for kind, suffix in STORES.items():
        if kind != JSON_ARRAY and name.endswith(suffix):
            return kind
    return JSON_ARRAY


def encoded(entry: Entry) -> Encoded:
    """``entry`` as the pipeline hands it to a store, made from the raw dict: any shape (a
    legacy entry, extra keys, fields left out) is stored as it is."""
    return Encoded(entry, json.dumps(entry).encode("ascii"))


def write_entries(path: Path, entries: list[Entry]) -> None:
    """Store ``entries``, oldest first, as our writer leaves them.

    A JSON-array file is written as raw bytes, one ``json.dumps`` line per entry (what the
    writer leaves, byte for byte); any other store gets them through its own ``write``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind_of(path) == JSON_ARRAY:
        lines = b",\n".join(json.dumps(e).encode() for e in entries)
        path.write_bytes(b"[\n" + lines + b"\n]\n")
        return
    store = open_store(path)
    try:
        if entries:
            store.write([encoded(entry) for entry in entries])
    finally:
        store.close()


def stored_entries(path: Path) -> list[Entry]:
    """Every entry in the store at ``path``, oldest first, as stored (extra keys, legacy
    shapes and key order kept). Fails unless the whole store is sound: a JSON-array file must
    parse as one array, each line of a JSON Lines file as one object."""
    kind = kind_of(path)
    if kind == JSON_ARRAY:
        entries: list[Entry] = json.loads(path.read_bytes())
        assert isinstance(entries, list), type(entries)
        return entries
    if kind == JSON_LINES:
        content = path.read_bytes()
        assert content == b"" or content.endswith(b"\n"), content[-200:]
        values = [json.loads(line) for line in content.split(b"\n")[:-1]]
        assert all(isinstance(value, dict) for value in values)
        return values
    if kind == SQLITE:
        assert sqlite_integrity(path) == "ok"
    store = open_store(path)
    try:
        with contextlib.closing(store.scan(EntryFilter(), newest_first=False)) as scan:
            return list(scan)
    finally:
        store.close()


def sqlite_integrity(path: Path) -> str:
    """What SQLite's own ``PRAGMA integrity_check`` says of the database at ``path``."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as database:
        return str(database.execute("PRAGMA integrity_check").fetchone()[0])


def corrupt_bytes(suffix: str, array: bytes = b'{"a": 1}') -> bytes:
    """What a file of ``suffix`` may hold that its store refuses as not its format (and so
    must leave untouched): ``array`` (a JSON object, say) where the JSON array's file must
    hold an array; a JSON array renamed ``.jsonl``; JSON text where any other store keeps a
    format of its own."""
    kind = kind_of(f"x{suffix}")
    if kind == JSON_ARRAY:
        return array
    if kind == JSON_LINES:
        return b'[{"a": 1}]\n'
    return b'{"a": 1}'


def stored_lines(path: Path) -> list[bytes]:
    """Each stored entry's JSON text, oldest first: the entry lines of a JSON-array file
    (checked to be canonical: brackets alone on the first and last lines) or of a JSON Lines
    file; for a store that keeps no text, ``json.dumps`` of each entry as stored, which is the
    line ``Encoded`` handed it."""
    kind = kind_of(path)
    if kind == JSON_ARRAY:
        lines = path.read_bytes().splitlines()
        assert (lines[0], lines[-1]) == (b"[", b"]")
        return lines[1:-1]
    if kind == JSON_LINES:
        content = path.read_bytes()
        assert content.endswith(b"\n")
        return content.split(b"\n")[:-1]
    return [json.dumps(entry).encode("ascii") for entry in stored_entries(path)]


def copy_store(source: Path, path: Path) -> None:
    """The entries of the JSON-array file ``source`` (the spec's fixture, say) in the store at
    ``path``: for a JSON-array path the file itself, byte for byte (its layout too); for any
    other store its entries, as they are, written through ``write_entries``."""
    if kind_of(path) == JSON_ARRAY:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        return
    write_entries(path, json.loads(source.read_bytes()))


def delete_store(path: Path) -> None:
    """Delete the store at ``path`` as its documentation says to: a SQLite database with its
    ``-wal`` and ``-shm`` files (SQLite finds them by name: left behind, they would be taken
    for the next database's at that path), any other store as its one file."""
    path.unlink()
    if kind_of(path) == SQLITE:
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


TEXT_STORES = (JSON_ARRAY, JSON_LINES)
"""Stores whose file is the entries' JSON text itself (ASCII), which a test may read as bytes."""


def store_bytes(path: Path) -> bytes:
    """Every byte the store at ``path`` keeps: its file, then any file beside it named after
    it (``telemetry.db-wal``, ``telemetry.db-journal``), for tests that check a secret was
    never written anywhere.

    A SQLite database is read by another process: closing a descriptor of it in this one
    would drop every POSIX lock this process holds on it, SQLite's own, while a capture here
    may have it open."""
    siblings = sorted(path.parent.glob(f"{glob.escape(path.name)}-*"))
    files = [str(file) for file in [path, *siblings] if file.is_file()]
    if kind_of(path) != SQLITE:
        return b"".join(Path(file).read_bytes() for file in files)
    return subprocess.run(["cat", *files], capture_output=True, check=True).stdout if files else b""


FORMAT_NAMES = {
    JSON_ARRAY: "a JSON array",
    JSON_LINES: "a JSON Lines file",
    "sqlite": "a SQLite database",
}
"""What each store says a refused file is not (``CorruptStoreError``'s ``expected``)."""


def not_its_format(path: Path) -> str:
    """The words of ``CorruptStoreError`` refusing ``path`` as not its store's format."""
    return f"{path} is not {FORMAT_NAMES[kind_of(path)]} of telemetry entries"
