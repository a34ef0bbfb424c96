"""The report and the live view in a real browser (Debian's chromium, headless, the network
blocked): every section drawn, the numbers on the page equal ``stats()``, the trace picker
redraws the waterfall, hostile text stays text, nothing leaves the page, no error."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from betty_telemetry import TelemetryCapture
from tests.browser import WatchedPage
from tests.report_data import HOSTILE_MESSAGE, HOSTILE_SKILL, hostile_entries, report_entries
from tests.report_serving import Served, serving
from tests.stores import write_entries

pytestmark = pytest.mark.every_store

DRAWN = "() => document.body.dataset.drawn !== undefined"
SECTIONS = ("totals", "timeline", "skills", "distributions", "trace", "failures", "slowest")
README_SHOT = "REPORT_SCREENSHOT"
"""Set to a path (``make screenshot``): the report's screenshot is also saved there."""


@pytest.fixture
def seeded(telemetry_path: Path) -> Path:
    write_entries(telemetry_path, report_entries())
    return telemetry_path


def _open_report(page: WatchedPage, telemetry_file: Path, tmp_path: Path) -> TelemetryCapture:
    telemetry = TelemetryCapture(telemetry_file=telemetry_file)
    written = telemetry.report(tmp_path / "report.html", title="Nightly")
    page.page.set_viewport_size({"width": 1280, "height": 900})
    page.open(written.path)
    page.page.wait_for_function(DRAWN)
    return telemetry


def _skills_on_page(page: WatchedPage) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.page.evaluate(
        """() => Array.from(document.querySelectorAll('#skills tbody tr')).map(tr =>
            Object.fromEntries(Array.from(tr.cells).map(td =>
                [td.dataset.column, {value: td.dataset.value, text: td.textContent}])))"""
    )
    return rows


def _number(value: str) -> float | None:
    return None if value == "" else float(value)


def test_every_section_shows_and_its_numbers_are_stats(
    browser_page: WatchedPage, seeded: Path, tmp_path: Path
) -> None:
    telemetry = _open_report(browser_page, seeded, tmp_path)
    page = browser_page.page
    for section in SECTIONS:
        assert page.locator(f"#{section}").is_visible(), section
    for chart in ("timeline", "distributions", "trace"):  # drawn by plotly: it has its SVG
        assert page.locator(f"#{chart} .main-svg").count() > 0, chart

    stats = telemetry.stats()
    shown = _skills_on_page(browser_page)
    assert [row["key"]["value"] for row in shown] == [row["key"] for row in stats]
    for row, on_page in zip(stats, shown, strict=True):
        assert int(on_page["count"]["value"]) == row["count"]
        assert on_page["count"]["text"] == f"{row['count']:,}"
        assert _number(on_page["failure_rate"]["value"]) == row["failure_rate"]
        assert on_page["failure_rate"]["text"] == f"{100 * row['failure_rate']:.1f}%"
        for name in ("p50_ms", "p95_ms", "p99_ms"):
            assert _number(on_page[name]["value"]) == row[name], (row["key"], name)

    totals = {
        name: page.locator(f"#total-{name} .value").get_attribute("data-value")
        for name in ("runs", "failure-rate", "busiest", "pending")
    }
    assert totals["runs"] == str(sum(row["count"] for row in stats))
    assert totals["busiest"] == stats[0]["key"]
    assert totals["pending"] == "1"

    failures = page.locator("#failures tbody tr")
    assert failures.count() == len(
        telemetry.query(status=["failure", "error", "timeout", "failed"], limit=None)
    )
    assert page.locator("#slowest tbody tr").count() == 20
    browser_page.screenshot("report")
    browser_page.assert_clean()


def test_the_trace_picker_redraws_the_waterfall(
    browser_page: WatchedPage, seeded: Path, tmp_path: Path
) -> None:
    telemetry = _open_report(browser_page, seeded, tmp_path)
    page = browser_page.page
    picked = page.locator("#trace-picker option:checked").get_attribute("data-trace-id")
    assert picked == f"{12:032x}"  # the newest failing trace
    assert "failed" in (page.locator("#trace-picker option:checked").text_content() or "")
    drawn = page.evaluate("() => document.getElementById('trace').data[0].y.length")
    assert drawn == 5

    other = f"{6:032x}"
    value = page.locator(f"#trace-picker option[data-trace-id='{other}']").get_attribute("value")
    page.select_option("#trace-picker", value)
    page.wait_for_function(
        f"document.getElementById('trace-title').textContent.includes('{other}')"
    )
    labels = page.evaluate("() => document.getElementById('trace').layout.yaxis.ticktext")
    roots = telemetry.trace(other)
    assert labels[0] == roots[0]["entry"]["skill"]
    assert any(label.endswith("plugin.fetch") and "─" in label for label in labels)
    browser_page.assert_clean()


def test_the_skill_table_sorts_and_filters(
    browser_page: WatchedPage, seeded: Path, tmp_path: Path
) -> None:
    _open_report(browser_page, seeded, tmp_path)
    page = browser_page.page
    page.click("#skills th[data-column='key']")
    keys = [row["key"]["value"] for row in _skills_on_page(browser_page)]
    assert keys == sorted(keys)
    page.click("#skills th[data-column='p95_ms']")
    p95 = [_number(row["p95_ms"]["value"]) for row in _skills_on_page(browser_page)]
    assert p95 == sorted(p95, key=lambda value: -1 if value is None else value, reverse=True)
    page.fill("#skills-filter", "API")
    assert [row["key"]["value"] for row in _skills_on_page(browser_page)] == ["api.call"]
    browser_page.assert_clean()


@pytest.mark.only_stores("json", reason="the page's text handling does not depend on the store")
def test_hostile_text_is_shown_as_text_and_never_runs(
    browser_page: WatchedPage, telemetry_path: Path, tmp_path: Path
) -> None:
    write_entries(telemetry_path, [*report_entries(), *hostile_entries()])
    _open_report(browser_page, telemetry_path, tmp_path)
    page = browser_page.page
    hostile_trace = "d" * 32
    value = page.locator(f"option[data-trace-id='{hostile_trace}']").get_attribute("value")
    page.select_option("#trace-picker", value)
    page.locator("#trace .bars path").first.hover(force=True)  # plotly's hover label
    page.wait_for_selector("#trace .hoverlayer .hovertext")
    hover = page.locator("#trace .hoverlayer .hovertext").first.text_content() or ""
    assert HOSTILE_SKILL in hover
    browser_page.settle()
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('img, svg[onload], b').length") == 0
    skills = [row["key"]["text"] for row in _skills_on_page(browser_page)]
    assert HOSTILE_SKILL in skills
    messages = page.locator("#failures td.message").all_text_contents()
    assert HOSTILE_MESSAGE in messages
    ticks = page.locator("#trace .ytick text").all_text_contents()
    assert any(tick.endswith(HOSTILE_SKILL) for tick in ticks), ticks
    browser_page.screenshot("hostile")
    browser_page.assert_clean()


@pytest.fixture
def served(seeded: Path) -> Iterator[Served]:
    with serving(seeded) as live:
        yield live


def test_the_live_view_shows_an_entry_captured_after_it_opened(
    browser_page: WatchedPage, served: Served, seeded: Path
) -> None:
    page = browser_page.page
    browser_page.open(f"http://{served.host}:{served.port}/")
    page.wait_for_function(DRAWN)
    runs = page.locator("#total-runs .value").get_attribute("data-value")
    TelemetryCapture(telemetry_file=seeded).capture(
        "late.skill", "failure", 5.0, "test", error_message="arrived late"
    )
    page.wait_for_function(
        "() => document.querySelector('#failures tbody tr td.skill').textContent === 'late.skill'",
        timeout=30_000,
    )
    assert page.locator("#total-runs .value").get_attribute("data-value") == str(int(runs) + 1)
    assert "Live" in (page.locator("#live-status").text_content() or "")
    for section in SECTIONS:
        assert page.locator(f"#{section}").is_visible(), section
    stats = TelemetryCapture(telemetry_file=seeded).stats()
    shown = _skills_on_page(browser_page)
    assert [(r["key"]["value"], int(r["count"]["value"])) for r in shown] == [
        (row["key"], row["count"]) for row in stats
    ]
    assert [_number(r["p95_ms"]["value"]) for r in shown] == [row["p95_ms"] for row in stats]
    browser_page.screenshot("live")
    browser_page.assert_clean()


@pytest.mark.only_stores("json", reason="one screenshot for the README")
def test_the_readme_screenshot(browser_page: WatchedPage, seeded: Path, tmp_path: Path) -> None:
    _open_report(browser_page, seeded, tmp_path)
    shot = browser_page.screenshot("readme")
    assert shot.read_bytes().startswith(b"\x89PNG")
    target = os.environ.get(README_SHOT)
    if target:
        shutil.copyfile(shot, target)
