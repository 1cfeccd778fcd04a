"""The Dagster UI in a real browser (headless Chromium, Debian's `chromium` package, driven by
Playwright) against the demo-like instance of tests/ui/conftest.py: what a user looks at shows
what the warehouse holds. Screenshots of each page go to .bench/screenshots/ (git-ignored).

Without /usr/bin/chromium the tests are skipped, saying how to install it; in CI (CI set) they
fail instead, since .ci/run installs it."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from dagster import AssetKey, DagsterRunStatus, ScheduleDefinition
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from playwright.sync_api import Page, expect, sync_playwright

from pipelines.providers.spec import CALL_LEGS
from pipelines.warehouse.connection import PROJECT_ROOT
from tests.assets.test_checks import LEG_STORED_TWICE
from tests.dagster_runs import load_definitions
from tests.ui.conftest import FIRST, LOCATION, PROVIDER

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / ".bench" / "screenshots"
# how long a page may take to show what it is asked for (the UI polls every 2 s)
SHOWN_MS = 20_000

if not CHROMIUM.exists():
    message = (f"no Chromium at {CHROMIUM}: the browser tests need Debian's package"
               " (apt-get install chromium; .ci/run installs it)")
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)



@dataclass
class Served:
    """What the UI serves, as the code location defines it."""
    assets: BaseAssetGraph
    call_legs: AssetKey        # the TENIOS account's legs: [tenios, <account>, call_legs]
    schedule: ScheduleDefinition


@pytest.fixture(scope="module")
def served(demo_ui) -> Served:
    # Loaded while the simulators' accounts are in the environment, as the UI loaded them.
    definitions = load_definitions([PROVIDER])
    assets = definitions.resolve_asset_graph()
    call_legs = next(key for key in assets.get_all_asset_keys()
                     if key.path[0] == PROVIDER and key.path[-1] == CALL_LEGS.name)
    [schedule] = [s for s in definitions.schedules or [] if s.name.startswith("nightly")]
    return Served(assets, call_legs, schedule)


@pytest.fixture(scope="module")
def page(demo_ui) -> Page:
    # the "join the community" dialog a new instance shows once, dismissed as its Skip does
    demo_ui.graphql("mutation { setNuxSeen }")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser.new_page(base_url=demo_ui.url, viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def asset_path(key: AssetKey) -> str:
    return "/assets/" + "/".join(key.path)


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_the_asset_graph_shows_the_tenios_assets(page, served):
    group = served.assets.get(served.call_legs).group_name
    page.goto(f"/locations/{LOCATION}/asset-groups/{group}/lineage")
    tenios = [key for key in served.assets.get_all_asset_keys() if key.path[0] == PROVIDER]
    assert len(tenios) >= 2, tenios  # its raw pages and its legs
    try:
        for key in tenios:
            # a node shows the last part of its key
            expect(page.get_by_text(key.path[-1], exact=True).first).to_be_visible(timeout=SHOWN_MS)
    finally:
        screenshot(page, "asset_graph")


def test_the_overview_timeline_lists_the_demos_run(page, demo_ui):
    page.goto("/overview/activity/timeline")
    try:
        # the job's row, in its code location: only runs with a code-location origin are listed
        expect(page.get_by_text(demo_ui.run.job_name, exact=True).first).to_be_visible(timeout=SHOWN_MS)
    finally:
        screenshot(page, "overview_timeline")


def test_a_days_partition_shows_that_days_leg_count(page, demo_ui, served):
    day = FIRST + timedelta(days=1)
    with psycopg.connect(demo_ui.warehouse_url) as conn:
        (legs,) = conn.execute("SELECT count(*) FROM cdr.fact_call_leg WHERE provider = %s"
                               " AND started_at >= %s AND started_at < %s",
                               (PROVIDER, day, day + timedelta(days=1))).fetchone()
    assert legs > 0
    page.goto(f"{asset_path(served.call_legs)}?view=partitions&partition={day.isoformat()}")
    # the number the UI shows for the day, as it formats it, in a cell of the day's metadata (the
    # page fills its table in after it first renders: wait for the cell, not the first row)
    cell = page.locator("td").filter(has_text=re.compile(rf"^\s*{re.escape(f'{legs:,}')}\s*$"))
    try:
        expect(cell.first).to_be_visible(timeout=SHOWN_MS)
    except AssertionError:
        rows = page.locator("tr", has=page.locator("td")).all_inner_texts()
        shown = [row.split("\t")[1].strip() for row in rows if "\t" in row]
        raise AssertionError(f"{day}: {legs} legs in the warehouse; the page shows {shown}") from None
    finally:
        screenshot(page, "partition_day")


def test_the_schedule_page_shows_its_description(page, served):
    page.goto(f"/locations/{LOCATION}/schedules/{served.schedule.name}")
    try:
        expect(page.get_by_text(served.schedule.name).first).to_be_visible(timeout=SHOWN_MS)
        assert served.schedule.description, f"{served.schedule.name} has no description"
        expect(page.get_by_text(served.schedule.description).first).to_be_visible(timeout=SHOWN_MS)
    finally:
        screenshot(page, "schedule")


# Last: it damages the warehouse (and repairs it after).
def test_a_failing_check_shows_as_failed(page, demo_ui, served):
    check = "no_duplicate_leg_keys"
    with psycopg.connect(demo_ui.warehouse_url, autocommit=True) as conn:
        assert conn.execute(LEG_STORED_TWICE).rowcount == 1
        try:
            # the days again (unchanged at the provider, so not reloaded: the damage stays); the
            # check blocks the derived assets, so the run fails (docs/operations.md, Checks)
            assert demo_ui.launch_again().status == DagsterRunStatus.FAILURE
            page.goto(f"{asset_path(served.call_legs)}?view=checks")
            # the check in the asset's list of checks: its name and, beside it, its latest result
            listed = page.locator(f"xpath=//*[normalize-space(.)='{check}']/ancestor::*"
                                  "[contains(., 'Failed') or contains(., 'Succeeded')][1]").first
            try:
                expect(listed).to_contain_text("Failed", timeout=SHOWN_MS)
                expect(listed).not_to_contain_text("Succeeded")
            finally:
                screenshot(page, "check_failed")
        finally:
            conn.execute("DELETE FROM cdr.fact_call_leg WHERE (leg_key, started_at) IN ("
                         " SELECT leg_key, max(started_at) FROM cdr.fact_call_leg GROUP BY leg_key"
                         " HAVING count(*) > 1)")
