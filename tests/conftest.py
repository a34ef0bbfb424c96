"""Shared fixtures: every test runs in its own folder with a clean environment."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from betty_telemetry import TelemetryCapture, _config
from betty_telemetry.cli.main import main as cli_main
from tests.stores import JSON_ARRAY, STORES

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.backend.phoenix import Phoenix
    from tests.browser import WatchedPage
    from tests.otlp_peer import OtlpPeer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Written out, not imported from the package: the tests hold the library to the spec's order.
SPEC_FIELDS = [
    "timestamp",
    "skill",
    "status",
    "duration_ms",
    "caller",
    "inputs",
    "error_message",
    "metadata",
]
DATA = REPO / "tests" / "data"


def pytest_configure(config: pytest.Config) -> None:
    """Give Ctrl-C back to the tests' children. A process started in the background by a
    non-interactive shell (``make test &``, some CI runners) ignores SIGINT, and an ignored
    signal stays ignored across exec: every ``tail -f`` the tests stop with Ctrl-C would
    then run on until killed. A handler, unlike SIG_IGN, is reset to the default by exec."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def shared_or_copy(relative: str) -> Path:
    """The project's shared file (spec, fixture) when the checkout sits beside shared/,
    else the copy kept in tests/data (test_shared_copies checks they are identical)."""
    shared = SHARED / relative
    return shared if shared.exists() else DATA / Path(relative).name


FIXTURE = shared_or_copy("fixtures/betty-registry-telemetry.json")
SPEC = shared_or_copy("spec/telemetry.capture.SKILL.md")
SKILL_DIR = REPO / "skills" / "telemetry.capture"


@pytest.fixture(autouse=True)
def utc_zone() -> Iterator[None]:
    """Every test (and the commands it starts) in the UTC time zone, whatever the machine's:
    tables show local times; a test of another zone sets TZ in its child's environment."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's telemetry settings (ours, OpenTelemetry's), or another
    test's warnings."""
    for name in list(os.environ):
        if name.startswith(("BETTY_", "OTEL_")) or name == "TRACEPARENT":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    _config.forget_reports()
    _config.forget_shared_captures()
    _config.forget_skill_folder()
    _config.forget_settings_files()
    yield
    for capture in _config.forget_shared_captures():
        capture.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test marked ``every_store`` once per store of ``STORES`` (ids ``json``,
    ``jsonl``, ``sqlite``), if it uses a store fixture. In such a module, ``json_only(reason)``
    keeps a test on the JSON array, and ``only_stores(*kinds, reason=...)`` on those stores
    (the ones of them in ``STORES``). Tests left unmarked use the JSON array, the spec's."""
    if "store_kind" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    json_only = definition.get_closest_marker("json_only")
    only = definition.get_closest_marker("only_stores")
    if json_only is not None:
        assert json_only.args or "reason" in json_only.kwargs, "json_only needs a reason"
        return
    if definition.get_closest_marker("every_store") is None:
        assert only is None, "only_stores narrows every_store: mark the module every_store"
        return
    kinds = list(STORES)
    if only is not None:
        assert only.args, "only_stores needs the kinds of store"
        assert "reason" in only.kwargs, "only_stores needs a reason"
        assert set(only.args) <= {JSON_ARRAY, "jsonl", "sqlite"}, only.args
        kinds = [kind for kind in kinds if kind in only.args]
    metafunc.parametrize("store_kind", kinds, ids=kinds, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``store_bug(kind, reason=..., where={param: value})``: the test fails on that store (for
    those parameters) because of a bug of the store, named in ``reason``. It still runs, as a
    strict xfail: the day the bug is fixed it passes, fails the run, and the mark goes."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        for bug in item.iter_markers("store_bug"):
            [kind] = bug.args
            assert "reason" in bug.kwargs, "store_bug needs a reason"
            where = bug.kwargs.get("where", {})
            if params.get("store_kind") == kind and all(
                params.get(name) == value for name, value in where.items()
            ):
                reason = f"known bug of the {kind} store: {bug.kwargs['reason']}"
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store under test: ``json`` unless the test is marked ``every_store``."""
    kind: str = getattr(request, "param", JSON_ARRAY)
    return kind


@pytest.fixture
def store_suffix(store_kind: str) -> str:
    """The extension that makes ``open_store`` pick the store under test."""
    return STORES[store_kind]


@pytest.fixture
def telemetry_path(tmp_path: Path, store_suffix: str) -> Path:
    """``registry/telemetry.json`` in the test's folder, or ``telemetry.jsonl`` etc. for
    the store under test."""
    return tmp_path / "registry" / f"telemetry{store_suffix}"


@pytest.fixture
def telemetry_env(telemetry_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``telemetry_path``, named by BETTY_TELEMETRY_FILE (child processes inherit it)."""
    monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(telemetry_path))
    return telemetry_path


@pytest.fixture
def default_store(store_kind: str, telemetry_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where code that names no file writes, for the store under test: the real default,
    ``./registry/telemetry.json`` with no variable set, for the JSON array; for another
    store, its file named by BETTY_TELEMETRY_FILE, as a user of that store would."""
    if store_kind != JSON_ARRAY:
        monkeypatch.setenv("BETTY_TELEMETRY_FILE", str(telemetry_path))
    return telemetry_path


@pytest.fixture
def telemetry(telemetry_path: Path) -> Iterator[TelemetryCapture]:
    capture = TelemetryCapture(telemetry_file=telemetry_path)
    yield capture
    capture.close()


def run_python(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run this interpreter in a child process (coverage follows it)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=check,
        timeout=120,
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``betty-telemetry ARGS`` as a real process."""
    return run_python("-m", "betty_telemetry", *args, env=env, cwd=cwd)


# -- the CLI run in this process ---------------------------------------------------------------
# A child process costs about half a second to start (a second under coverage). Tests of what
# the CLI prints and its exit code run ``main`` here instead; tests of the process itself (each
# entry point starting, signals, pipes, terminals, crashes, environments children inherit) keep
# starting one with run_cli/run_python.

CliEntry = Callable[[Sequence[str]], int]


def in_process(
    capsys: pytest.CaptureFixture[str], *args: str, entry: CliEntry = cli_main
) -> tuple[int, str, str]:
    """``betty-telemetry ARGS`` run by ``main`` (or ``entry``) here: the exit code a process
    would have (``--help``, ``--version`` and usage errors raise SystemExit), its stdout and
    its stderr, and nothing printed before the call."""
    capsys.readouterr()
    try:
        code = entry(list(args))
    except SystemExit as exited:
        code = exit_status(exited.code)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exit_status(code: object) -> int:
    """The status ``raise SystemExit(code)`` gives a process (a text is printed, then 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


class CliHere:
    """``run_cli`` in this process: same arguments, same result, no child."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        entry: CliEntry = cli_main,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``entry(ARGS)`` with ``env`` added to the environment and in ``cwd``, both for
        this call only, as a child would have them."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            if cwd is not None:
                patch.chdir(cwd)
            code, out, err = in_process(self._capsys, *args, entry=entry)
        return subprocess.CompletedProcess(list(args), code, out, err)


@pytest.fixture
def cli_here(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliHere]:
    """The CLI run in this process, from the state a fresh process starts in: the default
    redaction rules, and the library's logger with no handler, level or ``disabled`` left by
    another test (the CLI adds its own handler to print warnings, and removes it)."""
    logger = logging.getLogger("betty_telemetry")
    level = logger.level
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "disabled", False)
    logger.setLevel(logging.NOTSET)  # setLevel, not setattr: it clears the loggers' caches
    _config.reset_redaction_rules()
    yield CliHere(capsys)
    _config.reset_redaction_rules()
    logger.setLevel(level)


# -- OpenTelemetry peers -----------------------------------------------------------------------
# Imported when used: the proto modules cost the many tests that never export nothing.


@pytest.fixture
def otlp_peer() -> Iterator[OtlpPeer]:
    """A real OTLP/HTTP receiver on a free loopback port, for this test alone (tests/otlp_peer.py):
    ``otlp_peer.endpoint`` is its traces URL, ``otlp_peer.spans`` what it accepted."""
    from tests.otlp_peer import OtlpPeer

    with OtlpPeer() as peer:
        yield peer


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test that uses Phoenix is a ``backend`` test, marked or not: ``make unit`` leaves them
    to ``make backend-test`` by that marker, and none can slip into the parallel run. One that
    uses the browser is a ``browser`` test (``-m "not browser"`` leaves them out)."""
    fixtures = getattr(item, "fixturenames", ())
    if "phoenix" in fixtures:
        item.add_marker(pytest.mark.backend)
    if "chromium" in fixtures:
        item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    """Arize Phoenix, a real tracing backend, started once per session on free loopback ports
    (tests/backend/phoenix.py). The test fails, and does not skip, if it is not installed."""
    from tests.backend.phoenix import PhoenixUnavailable, running_phoenix

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_phoenix(tmp_path_factory.mktemp("phoenix")))
        except PhoenixUnavailable as error:
            unavailable = str(error)
        else:
            yield server
            return
    pytest.fail(unavailable, pytrace=False)  # outside the except: the message, once


@pytest.fixture
def phoenix_project(phoenix: Phoenix, request: pytest.FixtureRequest) -> str:
    """A Phoenix project of this test's own (Phoenix lives for the session): send with
    ``phoenix.headers(phoenix_project)`` or ``phoenix.exporter_env(phoenix_project)``, read
    with ``phoenix.spans(phoenix_project)``."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    return f"{readable}-{uuid.uuid4().hex[:8]}"


# -- the browser -------------------------------------------------------------------------------
# Imported when used: Playwright costs the tests that open no page nothing.


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Debian's chromium, headless, launched by Playwright once per session (per xdist worker,
    ~0.5 s): a ``playwright.sync_api.Browser`` (tests/browser.py). The test fails, and does not
    skip, if chromium is missing (``make test`` installs it); it skips elsewhere than Linux,
    which has no Debian package to test."""
    from tests.browser import ChromiumMissing, on_linux, running_chromium

    if not on_linux():
        pytest.skip("the browser tests run Debian's chromium: Linux only")
    with contextlib.ExitStack() as stack:
        try:
            browser = stack.enter_context(running_chromium(tmp_path_factory.mktemp("chromium")))
        except ChromiumMissing as error:
            missing = str(error)
        else:
            yield browser
            return
    pytest.fail(missing, pytrace=False)  # outside the except: the message, once


@pytest.fixture
def browser_page(chromium: Browser, tmp_path: Path) -> Iterator[WatchedPage]:
    """A page in a fresh context of the session's chromium, watched (tests/browser.py):
    ``.open(path_or_url)``, ``.page`` (Playwright's), ``.blocked``, ``.console_errors``,
    ``.page_errors``, ``.dialogs``, ``.settle()``, ``.assert_clean()``,
    ``.screenshot(name)`` (a full-page PNG under tmp_path)."""
    from tests.browser import WatchedPage

    with WatchedPage.opened(chromium, tmp_path) as watched:
        yield watched
