"""SQL over a store (and its archives): DuckDB, an optional extra, reading a view ``entries``.

Each query gets a DuckDB database of its own, in memory, with the view over the files the
store hands over (see ``stores.base.EntryFilesStore``), and is gone with it: nothing the
query does is kept, and the store's files are only ever read (descriptors opened read-only,
or private copies). Times are in UTC. A ``COPY ... TO`` or ``ATTACH`` the query makes writes
where it says: the user's own business.

Values come back as DuckDB's Python API gives them (numbers, text, ``datetime`` in UTC,
lists, dicts for structs), but for JSON columns (``inputs``, ``metadata``, ``entry``,
``inputs->'path'``): those are parsed, so an entry's inputs read back as the dict they were.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from betty_telemetry.read.sql_view import (
    COLUMN_NAMES,
    VIEW,
    create_view,
    describe_columns,
    literal,
)
from betty_telemetry.stores.base import EntryFile, EntryFilesStore, Store

INSTALL_HINT = "pip install 'betty-telemetry[sql]'"
BATCH_ROWS = 1000
Parameters = Sequence[object] | Mapping[str, object] | None


class SqlError(ValueError):
    """DuckDB refused the query (syntax, an unknown column, a bad cast...)."""


@dataclass(frozen=True)
class SqlResult:
    """What a query gave: its column names and DuckDB types, and its rows as tuples."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts, column name -> value (a later column of the same name wins)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


class SqlRows:
    """The rows of a query still running, read a batch at a time (``batches``) or one by one
    (iterating): a large result never has to be held whole."""

    def __init__(self, connection: Any, files: Sequence[EntryFile]) -> None:
        self._connection = connection
        self._files = files
        description = connection.description  # every statement gives one (DDL: Count)
        self.columns: tuple[str, ...] = tuple(column[0] for column in description)
        self.types: tuple[str, ...] = tuple(str(column[1]) for column in description)
        self._json = [index for index, kind in enumerate(self.types) if kind == "JSON"]

    def batches(self, size: int = BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
        while True:
            with _explained(self._files):
                batch = self._connection.fetchmany(size)
            if not batch:
                return
            yield [self._parsed(row) for row in batch] if self._json else batch

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for batch in self.batches():
            yield from batch

    def _parsed(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for index in self._json:
            if isinstance(values[index], str):
                values[index] = json.loads(values[index])
        return tuple(values)


def run(store: Store, query: str, parameters: Parameters = None, *, archives: bool) -> SqlResult:
    """Every row of ``query`` (see ``rows``)."""
    with rows(store, query, parameters, archives=archives) as result:
        return SqlResult(result.columns, result.types, list(result))


@contextlib.contextmanager
def rows(
    store: Store, query: str, parameters: Parameters = None, *, archives: bool
) -> Iterator[SqlRows]:
    """The rows of ``query`` over the view ``entries`` of ``store`` (and, with ``archives``,
    its archives), while the context lasts.

    ImportError naming the extra without DuckDB; SqlError (a ValueError) for what DuckDB
    refuses; ValueError for a store that cannot hand its entries over.
    """
    duckdb = load_duckdb()
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query must be SQL text, such as 'SELECT count(*) FROM {VIEW}'")
    if not isinstance(store, EntryFilesStore):
        raise ValueError(f"{type(store).__name__} cannot hand its entries to SQL")
    with (
        store.entry_files(archives=archives) as files,
        tempfile.TemporaryDirectory(prefix="betty-telemetry-duckdb-") as spill,
    ):
        connection = duckdb.connect(":memory:")
        try:
            for setting in _settings(spill):
                connection.execute(setting)
            connection.execute(create_view(files))
            with _explained(files):
                connection.execute(query, parameters)
            yield SqlRows(connection, files)
        finally:
            connection.close()


def load_duckdb() -> ModuleType:
    """The ``duckdb`` module, or ImportError saying how to install it."""
    try:
        import duckdb
    except ImportError as error:
        raise ImportError(f"SQL queries need DuckDB, an optional extra: {INSTALL_HINT}") from error
    module: ModuleType = duckdb
    return module


def _settings(spill: str) -> list[str]:
    return [
        "SET TimeZone = 'UTC'",  # as the CLI's tables and every timestamp we write
        "SET enable_progress_bar = false",  # DuckDB's own would print on our output
        f"SET temp_directory = {literal(spill)}",  # a large sort spills here, not in the cwd
    ]


@contextlib.contextmanager
def _explained(files: Sequence[EntryFile]) -> Iterator[None]:
    """DuckDB's errors as SqlError: its message, with the files named as the user knows them
    (not ``/dev/fd/5``), and the view's columns."""
    duckdb = load_duckdb()
    try:
        yield
    except duckdb.Error as error:
        message = str(error)
        for file in files:
            message = message.replace(file.path, file.origin)
        raise SqlError(
            f"{message.rstrip()}\nThe view {VIEW} has the columns: {describe_columns()}"
        ) from None


__all__ = ["COLUMN_NAMES", "SqlError", "SqlResult", "SqlRows", "rows", "run"]
