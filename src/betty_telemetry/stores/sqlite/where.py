"""An EntryFilter as SQL: exact for every row that is not odd, sound for every row.

Two conditions come out of one filter. ``exact`` selects exactly the rows that are not odd and
that ``EntryFilter.matches`` accepts (counts and statistics rely on it). ``sound`` also keeps
every odd row the bounds allow, whose body the reader judges (scans rely on it). The bounds
(trace id, since, until) are exact for odd rows too: their columns never hold a value that
compares differently from the stored one.

Globs become SQLite GLOB patterns when the two mean the same (``*``, ``?``, a plain set); any
other glob is tested by ``betty_match``, a Python function that runs ``NamePattern`` itself,
after a GLOB on its literal prefix that lets the index narrow the rows first.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from betty_telemetry.model.filters import EntryFilter, NamePattern
from betty_telemetry.stores.sqlite.columns import storable

_SET_UNSAFE = frozenset("-\\[^")  # ranges, escapes, nested brackets: left to betty_match


@dataclass(frozen=True)
class Where:
    """The two conditions (see the module's doc), each with its parameters in order."""

    exact: str
    exact_params: tuple[Any, ...]
    sound: str
    sound_params: tuple[Any, ...]


def where_for(wanted: EntryFilter) -> Where:
    bounds: list[str] = []
    bound_params: list[Any] = []
    if wanted.trace_id is not None:
        bounds.append("trace_id = ?")
        bound_params.append(wanted.trace_id)
    if wanted.since is not None:
        bounds.append("moment >= ?")
        bound_params.append(wanted.since)
    if wanted.until is not None:
        bounds.append("moment <= ?")
        bound_params.append(wanted.until)
    tests: list[str] = []
    params: list[Any] = []
    for column, pattern in (("skill", wanted.skill), ("caller", wanted.caller)):
        if pattern is not None:
            sql, values = name_test(column, pattern)
            tests.append(sql)
            params.extend(values)
    if wanted.statuses is not None:
        tests.append(f"status IN ({', '.join('?' * len(wanted.statuses))})")
        params.extend(sorted(wanted.statuses))
    if wanted.with_trace:
        tests.append("trace_id <> ''")
    if wanted.min_duration_ms is not None:
        tests.append("duration_ms >= ?")
        params.append(wanted.min_duration_ms)
    if wanted.text is not None:
        if storable(wanted.text):
            tests.append("instr(betty_casefold(error), ?) > 0")
            params.append(wanted.text)
        else:  # only an odd row can hold such text (see columns.storable)
            tests.append("0")
    exact = " AND ".join([*bounds, "NOT odd", *tests])
    if not tests:
        return Where(exact, tuple(bound_params), " AND ".join(bounds) or "1", tuple(bound_params))
    sound = " AND ".join([*bounds, f"(odd OR ({' AND '.join(tests)}))"])
    return Where(exact, (*bound_params, *params), sound, (*bound_params, *params))


def name_test(column: str, pattern: NamePattern) -> tuple[str, list[Any]]:
    """SQL testing ``column`` as ``pattern.matches`` tests a value (for rows not odd)."""
    text = pattern.text
    if not storable(text):  # SQL cannot hold it, nor any value it could match but odd ones
        return ("0", []) if pattern.exact else (f"betty_match(?, {column})", [json.dumps(text)])
    if pattern.exact:
        return f"{column} = ?", [text]
    glob = to_glob(text)
    if glob is not None:
        return f"{column} GLOB ?", [glob]
    test = f"betty_match(?, {column})"
    prefix = literal_prefix(text)
    if prefix:
        return f"{column} GLOB ? AND {test}", [prefix + "*", json.dumps(text)]
    return test, [json.dumps(text)]


def to_glob(pattern: str) -> str | None:
    """The SQLite GLOB pattern matching what ``fnmatch`` matches with ``pattern``, or None
    where the two read it differently (ranges, escapes and brackets inside a set)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char != "[":
            out.append(char)  # '*' and '?' mean the same; any other character is literal
            continue
        j = i + (i < n and pattern[i] == "!")
        j += j < n and pattern[j] == "]"
        while j < n and pattern[j] != "]":
            j += 1
        if j >= n:
            out.append("[[]")  # fnmatch: an unclosed '[' is literal
            continue
        members = pattern[i:j]
        negated = members.startswith("!")
        inside = members[1:] if negated else members
        if not inside or _SET_UNSAFE.intersection(inside):
            return None
        out.append("[" + ("^" if negated else "") + inside + "]")
        i = j + 1
    return "".join(out)


def literal_prefix(pattern: str) -> str:
    """The characters before the first wildcard (a glob has one): every match starts so."""
    return pattern[: min(pattern.find(char) % (len(pattern) + 1) for char in "*?[")]


@functools.lru_cache(maxsize=64)
def _pattern(encoded: str) -> NamePattern:
    return NamePattern(json.loads(encoded))


def _match(encoded: str, value: object) -> int:
    return int(_pattern(encoded).matches(value))


def _casefold(text: object) -> str | None:
    return text.casefold() if isinstance(text, str) else None


def add_functions(connection: sqlite3.Connection) -> None:
    """The Python functions the conditions call (queries only: no schema object uses them,
    so other programs read the database without them)."""
    connection.create_function("betty_match", 2, _match, deterministic=True)
    connection.create_function("betty_casefold", 1, _casefold, deterministic=True)
