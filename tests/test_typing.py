"""The types a user's type checker sees: a script using every documented interface passes
``mypy --strict`` with the results typed (``TypedDict``s, not ``Any``), wrong words and wrong
types are refused with the expected errors, the ``Literal``s hold the words the run-time checks
accept, and every type the API returns is exported."""

from __future__ import annotations

import functools
import inspect
import os
import re
import shutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import typing_extensions

import betty_telemetry
from betty_telemetry import TelemetryCapture
from tests.conftest import REPO

HERE = Path(__file__).parent / "typing"
SCRIPTS = ("user_script.py", "wrong_calls.py")
_MARK = re.compile(r"^\s*#\s*E:\s*(.+?)\s*$")
_ERROR = re.compile(r"^(?P<file>[\w.]+):(?P<line>\d+): error: (?P<message>.*)$")


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, str]]:
    """mypy --strict over the two scripts, as a user's project runs it: in a folder of its
    own (not this project's configuration, nor its src/ on a path), so betty_telemetry is the
    installed package and its types come from its py.typed. Errors per file, per line."""
    folder = tmp_path_factory.mktemp("typing")
    for name in SCRIPTS:
        shutil.copy(HERE / name, folder / name)
    (folder / "mypy.ini").write_text("[mypy]\n")
    command = [
        *(sys.executable, "-m", "mypy", "--strict", "--python-version", "3.10"),
        *("--config-file", "mypy.ini", "--cache-dir", str(folder / "cache")),
        *("--no-pretty", "--no-error-summary", "--hide-error-context", *SCRIPTS),
    ]
    environment = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    done = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, env=environment, timeout=300
    )
    assert done.returncode in (0, 1), done.stderr  # 2: mypy itself failed
    errors: dict[str, dict[int, str]] = {name: {} for name in SCRIPTS}
    for line in done.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors[match["file"]].setdefault(int(match["line"]), match["message"])
        else:
            assert ": note: " in line, f"unexpected mypy output: {line}"
    return errors


def test_a_script_using_every_documented_interface_passes_mypy_strict(
    mypy_errors: dict[str, dict[int, str]],
) -> None:
    # Its assert_type() calls fail the check if any result is Any or another type.
    assert mypy_errors["user_script.py"] == {}


def _expected_errors() -> dict[int, list[str]]:
    """The line (1-based) after each ``# E: ...`` comment, and the parts of its text."""
    lines = (HERE / "wrong_calls.py").read_text().splitlines()
    return {
        number + 1: match[1].split(" ... ")
        for number, text in enumerate(lines, 1)
        if (match := _MARK.match(text))
    }


def test_each_wrong_call_is_refused_with_its_error_and_nothing_else_is(
    mypy_errors: dict[str, dict[int, str]],
) -> None:
    expected = _expected_errors()
    assert len(expected) >= 15
    found = mypy_errors["wrong_calls.py"]
    assert sorted(found) == sorted(expected)
    for line, parts in expected.items():
        for part in parts:
            assert part in found[line], f"line {line}"


def test_the_users_script_also_runs(tmp_path: Path) -> None:
    # Every call the type check vouches for is a real one, with real files.
    environment = {**os.environ, "BETTY_TELEMETRY_FILE": str(tmp_path / "default.json")}
    done = subprocess.run(
        [sys.executable, str(HERE / "user_script.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("done")
    assert (tmp_path / "report.html").stat().st_size > 0


def test_the_literal_types_hold_the_words_the_run_time_checks_accept() -> None:
    from betty_telemetry._config import DURABILITIES
    from betty_telemetry.model.entry import VALID_STATUSES
    from betty_telemetry.model.filters import LEGACY_STATUSES
    from betty_telemetry.model.stats import GROUPINGS, SORTS

    assert typing.get_args(betty_telemetry.Status) == VALID_STATUSES
    assert typing.get_args(betty_telemetry.LegacyStatus) == LEGACY_STATUSES
    assert typing.get_args(betty_telemetry.StoredStatus) == VALID_STATUSES + LEGACY_STATUSES
    assert typing.get_args(betty_telemetry.StatsGrouping) == GROUPINGS
    assert typing.get_args(betty_telemetry.StatsSort) == SORTS
    assert set(typing.get_args(betty_telemetry.Durability)) == set(DURABILITIES)


def test_the_typed_dicts_have_the_keys_the_library_writes() -> None:
    import json
    from importlib import resources

    from betty_telemetry.model.entry import ENTRY_FIELDS
    from betty_telemetry.model.stats import STATS_KEYS

    entry = betty_telemetry.Entry
    schema = json.loads(
        resources.files("betty_telemetry.model").joinpath("entry.schema.json").read_text()
    )
    assert entry.__required_keys__ == set(ENTRY_FIELDS) == set(schema["required"])
    legacy_keys = set(schema["$defs"]["legacy_entry"]["properties"])
    assert entry.__optional_keys__ == set(schema["properties"]) - set(ENTRY_FIELDS) | {"error"}
    assert set(entry.__annotations__) - {"error"} <= legacy_keys
    assert list(betty_telemetry.StatsRow.__annotations__) == list(STATS_KEYS)
    assert betty_telemetry.StatsRow.__required_keys__ == set(STATS_KEYS)
    assert betty_telemetry.TraceNode.__required_keys__ == {"entry", "children"}


@pytest.mark.parametrize("name", ["telemetry.json", "telemetry.jsonl", "telemetry.db"])
def test_what_mypy_refuses_is_refused_at_run_time_too(tmp_path: Path, name: str) -> None:
    telemetry = TelemetryCapture(tmp_path / name)
    telemetry.capture("plugin.build", "success", 1.0, "CLI")
    with pytest.raises(
        ValueError, match=r"by must be one of skill, caller, status, day, hour, got 'weekly'"
    ):
        telemetry.stats(by="weekly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"sort must be one of count, key, got 'size'"):
        telemetry.stats(sort="size")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Unknown status 'failled': use one or more of success"):
        telemetry.query(status="failled")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Invalid status: failed\. Must be one of: success"):
        telemetry.capture("plugin.build", "failed", 1.0, "CLI")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"durability must be 'write' .* or 'fsync' .*'sometimes'"):
        TelemetryCapture(tmp_path / name, durability="sometimes")  # type: ignore[arg-type]
    telemetry.close()


def _hints_of(function: typing.Callable[..., object]) -> dict[str, object]:
    """The function's annotations, resolved: names imported only for type checkers are
    looked up among the package's exports and the modules they come from."""
    from betty_telemetry.model import filters
    from betty_telemetry.read import sql

    names = {name: getattr(betty_telemetry, name) for name in betty_telemetry.__all__}
    names.update(
        _sql=sql,
        Unpack=typing_extensions.Unpack,
        Filters=filters.Filters,
        TimeAndTextFilters=filters.TimeAndTextFilters,
        EntryFilter=filters.EntryFilter,
        Path=Path,
    )
    return typing.get_type_hints(function, globalns={**function.__globals__, **names})


def _public_callables() -> Iterator[tuple[str, typing.Callable[..., object]]]:
    from betty_telemetry import export, testing

    for cls in (betty_telemetry.TelemetryCapture, betty_telemetry.TelemetryContext):
        for name, member in vars(cls).items():
            if name.startswith("_"):
                continue
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, functools.cached_property):
                member = member.func
            if callable(member):
                yield f"{cls.__name__}.{name}", member
    for module in (betty_telemetry, export, testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isfunction(value):
                yield f"{module.__name__}.{name}", inspect.unwrap(value)


def _our_types(hint: object) -> Iterator[type]:
    """The classes of this package named anywhere inside ``hint``."""
    if isinstance(hint, type) and hint.__module__.startswith("betty_telemetry"):
        yield hint
    for argument in typing.get_args(hint):
        yield from _our_types(argument)


def test_every_type_the_api_returns_is_exported() -> None:
    exported = {id(getattr(betty_telemetry, name)) for name in betty_telemetry.__all__}
    missing = {
        f"{where} returns {kind.__module__}.{kind.__qualname__}"
        for where, function in _public_callables()
        for kind in _our_types(_hints_of(function).get("return"))
        if id(kind) not in exported
    }
    assert missing == set()
    returned = {
        kind.__name__
        for _, function in _public_callables()
        for kind in _our_types(_hints_of(function).get("return"))
    }
    # The walk does see them: it is no test if it finds nothing.
    assert {"Entry", "StatsRow", "TraceNode", "Rotation", "Pruned", "Replayed"} <= returned


@pytest.mark.parametrize("module", ["telemetry_capture", "telemetry_utils"])
def test_the_spec_modules_stubs_declare_what_the_modules_export(module: str) -> None:
    # A single-file module cannot carry py.typed: its types ship as a stub-only package
    # (PEP 561), which must name every name the module exports, and nothing else.
    import ast
    import importlib

    stub = REPO / "stubs" / f"{module}-stubs" / "__init__.pyi"
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    declared = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    exported = set(importlib.import_module(module).__all__)
    assert declared == exported
    stub_all = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
    )
    assert set(ast.literal_eval(stub_all)) == exported
