"""The browser harness (tests/browser.py) on small real pages of its own, from ``file://`` and
from a real HTTP server on loopback: what it blocks, collects and records, it really does."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests import browser
from tests.browser import LocalSite, WatchedPage

OUTSIDE_SCRIPT = "https://example.com/x.js"
HOSTILE = "<img src=x onerror=alert(1)>"


def write_page(folder: Path, body: str, name: str = "page.html") -> Path:
    path = folder / name
    path.write_text(
        f"<!doctype html><html><head><meta charset=utf-8></head><body>{body}</body></html>"
    )
    return path


def test_a_clean_page_is_clean(browser_page: WatchedPage, tmp_path: Path) -> None:
    browser_page.open(write_page(tmp_path, "<h1>Report</h1><script>document.title = 'ok'</script>"))
    assert browser_page.page.title() == "ok"
    browser_page.assert_clean()


def test_a_request_leaving_a_file_page_is_blocked_and_recorded(
    browser_page: WatchedPage, tmp_path: Path
) -> None:
    (tmp_path / "beside.txt").write_text("not the page")
    page = write_page(
        tmp_path,
        f'<script src="{OUTSIDE_SCRIPT}"></script>'
        '<script>fetch("beside.txt").then(() => document.title = "fetched",'
        ' () => document.title = "refused")</script>',
    )
    browser_page.open(page)
    browser_page.page.wait_for_function("document.title !== ''")
    assert browser_page.page.title() == "refused"  # even a file beside the page is not it
    assert sorted(browser_page.blocked) == sorted(
        [OUTSIDE_SCRIPT, (tmp_path / "beside.txt").as_uri()]
    )
    assert any("ERR_BLOCKED_BY_CLIENT" in error for error in browser_page.console_errors)
    with pytest.raises(AssertionError, match="blocked requests"):
        browser_page.assert_clean()


def test_an_http_page_reaches_its_own_origin_and_nothing_else(
    browser_page: WatchedPage, tmp_path: Path
) -> None:
    (tmp_path / "data.json").write_text('{"runs": 3}')
    write_page(
        tmp_path,
        f'<script src="{OUTSIDE_SCRIPT}"></script>'
        '<script>fetch("/data.json").then(r => r.json()).then(d => document.title = d.runs)'
        "</script>",
    )
    with LocalSite(tmp_path) as site:
        browser_page.open(f"{site.url}/page.html")
        browser_page.page.wait_for_function("document.title !== ''")
        assert browser_page.page.title() == "3"
        assert browser_page.blocked == [OUTSIDE_SCRIPT]
        assert site.paths == ["/page.html", "/data.json"]


def test_another_loopback_port_is_outside(browser_page: WatchedPage, tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text("{}")
    with LocalSite(tmp_path) as other, LocalSite(tmp_path) as site:
        write_page(
            tmp_path,
            f'<script>fetch("{other.url}/data.json").catch(() => document.title = "refused")'
            "</script>",
        )
        browser_page.open(f"{site.url}/page.html")
        browser_page.page.wait_for_function("document.title === 'refused'")
        assert browser_page.blocked == [f"{other.url}/data.json"]
        assert other.paths == []


def test_a_web_socket_to_outside_is_recorded_and_never_connected(
    browser_page: WatchedPage, tmp_path: Path
) -> None:
    with LocalSite(tmp_path) as other:
        socket_url = other.url.replace("http:", "ws:") + "/live"
        page = write_page(
            tmp_path,
            f'<script>const socket = new WebSocket("{socket_url}");'
            ' socket.onopen = socket.onerror = () => document.title = "settled"</script>',
        )
        browser_page.open(page)
        browser_page.page.wait_for_function("document.title === 'settled'")
        assert browser_page.blocked == [socket_url]
        assert other.paths == []


def test_an_uncaught_exception_is_a_page_error(browser_page: WatchedPage, tmp_path: Path) -> None:
    browser_page.open(write_page(tmp_path, "<script>throw new TypeError('boom')</script>"))
    assert browser_page.page_errors == ["TypeError: boom"]
    with pytest.raises(AssertionError, match="page errors"):
        browser_page.assert_clean()


def test_console_error_is_collected_and_other_levels_are_not(
    browser_page: WatchedPage, tmp_path: Path
) -> None:
    page = write_page(
        tmp_path, "<script>console.log('fine'); console.warn('meh'); console.error('bad')</script>"
    )
    browser_page.open(page)
    assert browser_page.console_errors == [f"bad ({page.as_uri()}:0)"]
    assert browser_page.page_errors == []


def test_markup_set_as_html_runs_and_the_same_text_set_as_text_does_not(
    browser_page: WatchedPage, tmp_path: Path
) -> None:
    browser_page.open(write_page(tmp_path, '<div id="as-text"></div><div id="as-html"></div>'))
    page = browser_page.page

    page.eval_on_selector("#as-text", "(div, text) => { div.textContent = text }", HOSTILE)
    browser_page.settle()
    assert browser_page.dialogs == []
    assert page.inner_text("#as-text") == HOSTILE

    page.eval_on_selector("#as-html", "(div, text) => { div.innerHTML = text }", HOSTILE)
    browser_page.settle()
    assert browser_page.dialogs == ["alert: 1"]
    assert browser_page.blocked == [(tmp_path / "x").as_uri()]  # the image itself was blocked


def test_a_screenshot_is_a_png_of_the_whole_page(browser_page: WatchedPage, tmp_path: Path) -> None:
    browser_page.open(write_page(tmp_path, '<div style="height: 3000px">tall</div>'))
    shot = browser_page.screenshot("tall")
    assert shot == tmp_path / "tall.png"
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    _, height = struct.unpack(">II", header[16:24])
    assert height >= 3000  # the whole page, not the 720-pixel viewport


def test_each_page_has_a_context_of_its_own(chromium: Browser, tmp_path: Path) -> None:
    write_page(tmp_path, "")
    with LocalSite(tmp_path) as site, WatchedPage.opened(chromium, tmp_path) as first:
        first.open(f"{site.url}/page.html")
        first.page.evaluate("localStorage.setItem('seen', 'yes')")
        with WatchedPage.opened(chromium, tmp_path) as second:
            second.open(f"{site.url}/page.html")
            assert second.page.evaluate("localStorage.getItem('seen')") is None
        assert first.page.evaluate("localStorage.getItem('seen')") == "yes"


def test_only_an_http_origin_can_be_allowed(browser_page: WatchedPage) -> None:
    with pytest.raises(ValueError, match="file:///etc/passwd"):
        browser_page.allow("file:///etc/passwd")


def test_a_missing_chromium_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(browser.ChromiumMissing) as missing, browser.running_chromium(tmp_path):
        pass
    message = str(missing.value)
    assert str(tmp_path / "no-chromium") in message
    assert "make test" in message
    assert "apt-get install --no-install-recommends chromium" in message
