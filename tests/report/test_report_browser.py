"""The demo's report (tests/report/conftest.py) in a real browser: headless Chromium (Debian's
`chromium`, driven by Playwright with executable_path, as tests/ui does) opens the file from disk.
No console error, every chart drawn with something in it, no request that leaves file://.
Screenshots go to .bench/screenshots/report/ (git-ignored); with CDR_REPORT_SCREENSHOT set (`make
report-screenshot`), the top of the report is saved there too: docs/report.png, shown in README.

Without /usr/bin/chromium the tests are skipped, saying how to install it; in CI (CI set) they
fail instead, since .ci/run installs it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from pipelines.warehouse.connection import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / ".bench" / "screenshots" / "report"
CHARTS = 8

if not CHROMIUM.exists():
    message = (f"no Chromium at {CHROMIUM}: the browser tests need Debian's package"
               " (apt-get install chromium; .ci/run installs it)")
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


class Opened:
    def __init__(self, page: Page):
        self.page = page
        self.console: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("request", lambda request: self.requests.append(request.url))


@pytest.fixture(scope="module")
def opened(loaded) -> Opened:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            opened = Opened(page)
            page.goto(loaded.report.resolve().as_uri(), wait_until="load")
            # every chart drawn: Plotly adds its SVG once a plot is made
            page.wait_for_function(f"document.querySelectorAll('.chart .main-svg').length >= {CHARTS}",
                                   timeout=30_000)
            page.screenshot(path=SCREENSHOTS / "report.png", full_page=True)
            yield opened
        finally:
            browser.close()


def test_the_report_opens_without_a_console_error(opened):
    problems = [line for line in opened.console if line.startswith(("error", "pageerror"))]
    assert not problems, problems


def test_no_request_leaves_file_urls(opened):
    assert opened.requests  # the file itself, at least
    assert [url for url in opened.requests if not url.startswith("file://")] == []


def test_every_chart_renders_something(opened):
    charts = opened.page.locator("div.chart")
    assert charts.count() == CHARTS
    for index in range(CHARTS):
        chart = charts.nth(index)
        name = chart.get_attribute("id")
        drawn = chart.evaluate("""element => {
            const box = element.getBoundingClientRect();
            // Plotly draws bars and lines as traces in the plot's overlay, a heatmap as an image
            const traces = element.querySelectorAll('.overplot .trace, .hm');
            // something drawn in the plot area: bars, lines, heatmap cells, with a size
            const marks = [...element.querySelectorAll('.overplot .trace path, .hm image')]
                .filter(mark => mark.getBoundingClientRect().width > 0
                                && mark.getBoundingClientRect().height > 0);
            const values = (element._fullData || []).flatMap(t => [...(t.x || []), ...(t.y || []),
                                                                    ...(t.z || []).flat()]);
            return {height: box.height, traces: traces.length, marks: marks.length,
                    numbers: values.filter(v => typeof v === 'number').length};
        }""")
        assert drawn["height"] > 150 and drawn["traces"] > 0 and drawn["marks"] > 0, (name, drawn)
        assert drawn["numbers"] > 0, (name, drawn)
        chart.screenshot(path=SCREENSHOTS / f"{name}.png")


def test_each_chart_table_opens_for_people_who_read_numbers(opened):
    """The tables are in toggles: a long one closed, so it opens on a click, and then it shows."""
    page = opened.page
    toggle = page.locator("#accounts details")
    table = page.locator("#accounts-table")
    if toggle.get_attribute("open") is None:
        assert not table.is_visible()
        toggle.locator("summary").click()
    assert table.is_visible()
    assert page.locator("#accounts-table tbody tr").count() > 0


def test_the_screenshot_for_the_readme(opened):
    target = os.environ.get("CDR_REPORT_SCREENSHOT")
    if not target:
        pytest.skip("CDR_REPORT_SCREENSHOT not set: `make report-screenshot` writes docs/report.png")
    opened.page.evaluate("window.scrollTo(0, 0)")
    opened.page.screenshot(path=PROJECT_ROOT / target)
    assert (PROJECT_ROOT / target).stat().st_size > 50_000
