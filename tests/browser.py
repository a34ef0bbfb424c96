"""Real pages in a real headless browser: Debian's chromium, driven by Playwright.

The HTML report and the live view are tested the way a person meets them, in a browser, with
everything a hostile entry could try made visible: ``WatchedPage`` wraps a Playwright page in a
context of its own in which

- every request that is not to the page itself is aborted and recorded in ``blocked``: the
  file the page was opened from (``file://``, the report), or the origin it was opened from
  (``http://127.0.0.1:PORT``, the live view), and any origin ``allow``-ed; WebSockets to
  anywhere else are answered by nothing (Playwright never connects them) and recorded too;
- console errors (``console.error``, and the browser's own, such as a failed load) are
  collected in ``console_errors``, uncaught exceptions in ``page_errors``;
- every dialog (alert, confirm, prompt, beforeunload) is recorded in ``dialogs`` and
  dismissed, so a test can tell that no injected script ran.

The browser is Debian's package, never one Playwright downloads (``playwright install`` fails
on these machines): ``make test`` installs it (``apt-get install chromium``) when
``/usr/bin/chromium`` is missing. ``running_chromium`` launches it once per test session (per
xdist worker); Playwright gives it a fresh empty profile (``--user-data-dir`` in a temporary
folder it deletes), and HOME and the XDG folders point into the session's own folder, so the
crash reporter's database and any cache stay out of the developer's home.

    with running_chromium(home) as browser, WatchedPage.opened(browser, shots) as watched:
        watched.open(report_path)
        watched.page.get_by_role("button", name="Failures").click()
        watched.assert_clean()
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Error,
    Page,
    Response,
    Route,
    WebSocketRoute,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless, --no-sandbox and its own fresh --user-data-dir itself (it refuses
# one passed here); they are repeated for the reader, harmlessly. The rest keep the browser
# from calling home (updates, sync, field trials) and from the GPU this machine lacks.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Every wait of a page gives up after this long (Playwright's default is 30 s): a page of
# ours that takes longer is a failure, and the run should say so soon.
TIMEOUT_MS = 10_000


class ChromiumMissing(Exception):
    """Debian's chromium is not installed: the message says how to install it."""


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if CHROMIUM.exists():
        return None
    return (
        f"the browser tests need Debian's chromium at {CHROMIUM}, which is missing: "
        "`make test` (or `make unit`) installs it, or run "
        "`apt-get install --no-install-recommends chromium` as root"
    )


@contextlib.contextmanager
def running_chromium(home: Path) -> Iterator[Browser]:
    """Debian's chromium, headless, launched by Playwright with ``home`` as its HOME."""
    missing = chromium_missing()
    if missing is not None:
        raise ChromiumMissing(missing)
    environment = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, env=environment, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


class WatchedPage:
    """A page in a fresh browser context, every request, error and dialog of it watched."""

    def __init__(self, context: BrowserContext, shots: Path) -> None:
        self.context = context
        self.shots = shots
        # Requests that were not to the page itself: aborted (or a WebSocket never connected).
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []  # "alert: 1", "confirm: sure?"
        self._allowed_files: set[str] = set()
        self._allowed_origins: set[str] = set()
        context.set_default_timeout(TIMEOUT_MS)
        # A matcher, not a pattern: allowed requests are never routed, so they go through
        # untouched, and the allowed set can grow after the routes are in place.
        context.route(self._is_outside, self._block)
        context.route_web_socket(self._is_outside, self._block_socket)
        self.page: Page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.on("dialog", self._dialog)

    @classmethod
    @contextlib.contextmanager
    def opened(cls, browser: Browser, shots: Path) -> Iterator[WatchedPage]:
        """A watched page in a new context of ``browser``, closed afterwards; screenshots go
        to ``shots``."""
        context = browser.new_context()
        try:
            yield cls(context, shots)
        finally:
            context.close()

    # -- what the page may reach -----------------------------------------------------------

    def open(self, target: Path | str) -> Response | None:
        """Load ``target``, a file (opened by its ``file://`` URL, which alone is allowed) or
        an ``http://`` URL (whose origin is allowed), and wait for its load event."""
        if isinstance(target, Path):
            url = target.resolve().as_uri()
            self._allowed_files.add(url)
        else:
            url = target
            self.allow(url)
        return self.page.goto(url)

    def allow(self, url: str) -> None:
        """Let requests to the origin of ``url`` (``http://127.0.0.1:PORT``) through."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError(f"allow takes an http(s) URL with a host, not {url!r}")
        self._allowed_origins.add(_origin(url))

    def _is_outside(self, url: str) -> bool:
        if url.startswith("file:"):
            return urldefrag(url).url not in self._allowed_files
        return _origin(url) not in self._allowed_origins

    def _block(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def _block_socket(self, socket: WebSocketRoute) -> None:
        # Recorded, never connected to a server. Closing it from here hangs Playwright's sync
        # API (1.64), so the page sees a socket that stays silent.
        self.blocked.append(socket.url)

    # -- what the page said ------------------------------------------------------------------

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self.console_errors.append(
                f"{message.text} ({where['url']}:{where['lineNumber']})"
                if where.get("url")
                else message.text
            )

    def _page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def settle(self) -> None:
        """Wait until every image of the page has loaded or failed, and the handlers queued
        by that have run: an ``onerror`` injected with an image has had its chance."""
        self.page.wait_for_function("Array.from(document.images).every(image => image.complete)")
        self.page.evaluate("new Promise(resolve => setTimeout(resolve, 0))")

    def assert_clean(self) -> None:
        """No request left the page, nothing was logged as an error, nothing threw, no dialog
        opened."""
        troubles = {
            "blocked requests": self.blocked,
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "dialogs": self.dialogs,
        }
        found = {name: found for name, found in troubles.items() if found}
        assert not found, f"the page was not clean: {found}"

    # -- what the page looks like ------------------------------------------------------------

    def screenshot(self, name: str = "page") -> Path:
        """A PNG of the whole page (not only the viewport), saved as ``shots/NAME.png``."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


class LocalSite:
    """A folder served over HTTP on a free loopback port, from a thread of this process: a
    page to open from ``http://`` (``url``), and the paths it was asked for (``paths``)."""

    def __init__(self, folder: Path) -> None:
        paths: list[str] = []

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                paths.append(self.path)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no line on stderr per request

        handler = functools.partial(Handler, directory=str(folder))
        self.paths = paths
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        # Polled every 50 ms for shutdown, not the default 0.5 s each test would wait out.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, daemon=True)

    def __enter__(self) -> LocalSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def on_linux() -> bool:
    """Debian's package is the browser under test: elsewhere, the browser tests skip."""
    return sys.platform == "linux"
