"""Each MIXvoip record fetched once over a run of consecutive days when the END_DATE reading is
known, and the warehouse exactly as the old reading (unknown: each day asks its dates and the day
after) leaves it: the simulator counts what it served, the warehouse rows are compared."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import psycopg
import pytest

from pipelines.providers.mixvoip import BILLING_ITEMS, SPEC
from pipelines.providers.mixvoip.client import day_requests
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.providers.mixvoip.simulator import LOCAL, MixvoipData
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.raw import land_window
from tests.conftest import LEG_TABLES, snapshot, truncate_warehouse
from tests.providers.mixvoip.test_client import PROFILES, client, serve

FIRST = datetime(2026, 10, 20, tzinfo=UTC)  # the week summer time ends (25 October)
DAYS = 8
WINDOWS = [(FIRST + timedelta(days=n), FIRST + timedelta(days=n + 1)) for n in range(DAYS)]
TABLES = (*LEG_TABLES, BILLING_ITEMS.table)


def run(url: str, sim_url: str, end_date: str) -> dict:
    """Fetch the days with one client, as the raw asset's loop does, load them, and return what
    the simulator served, the pages landed and the warehouse's rows (fetch-time columns aside)."""
    truncate_warehouse(url)
    httpx.post(f"{sim_url}/_sim/mixvoip", json={}).raise_for_status()  # clears the counts

    def connect(autocommit: bool = False):
        return psycopg.connect(url, autocommit=autocommit)

    pages = 0
    with client(sim_url, end_date=end_date) as c:
        for window in WINDOWS:
            pages += len(land_window(connect, c, "mixvoip", window)[0])
    served = httpx.get(f"{sim_url}/_sim/mixvoip").raise_for_status().json()
    load_windows(connect, "mixvoip", "acct", SPEC.items, WINDOWS,
                 parse=lambda raw: parse_pages(raw, "acct"), parser_version="test")
    with psycopg.connect(url) as conn:
        for target in ("calls", "aggregates"):
            refresh_stale(conn, target, (WINDOWS[0][0], WINDOWS[-1][1]))
    return {"served": served, "pages": pages, "rows": snapshot(url, TABLES, across_loads=True)}


@pytest.fixture(scope="module")
def inclusive_server():
    server, _ = serve(MixvoipData(calls_per_day=40))
    with server:
        yield server.url


def times_each_date_served(served: dict) -> dict[str, float]:
    """How often each local date of the run's inside went out, per profile."""
    inside = {(FIRST + timedelta(days=n)).astimezone(LOCAL).date().isoformat() for n in range(2, DAYS - 1)}
    return {day: count / len(PROFILES) for day, count in served["days_served"].items() if day in inside}


def test_a_known_reading_fetches_each_record_once_and_loads_the_same_rows(warehouse_url, inclusive_server):
    old = run(warehouse_url, inclusive_server, "unknown")
    new = run(warehouse_url, inclusive_server, "inclusive")
    legs = len(new["rows"]["cdr.fact_call_leg"])
    assert legs > 300 and len(new["rows"]["cdr.fact_billing_item"]) > 10
    assert new["rows"] == old["rows"]
    # the old reading asks each day's two local dates and the day after, of an API that answers
    # END_DATE too: every date three times; the known reading: once
    assert set(times_each_date_served(old["served"]).values()) == {3}
    assert set(times_each_date_served(new["served"]).values()) == {1}
    before, after = old["served"]["records_served"], new["served"]["records_served"]
    print(f"\n{DAYS} days, {len(PROFILES)} profiles: records served {before} (unknown) -> {after}"
          f" (inclusive), {legs} legs in the warehouse; pages landed {old['pages']} -> {new['pages']}")
    assert after * 2 < before  # the edges of the run aside, a third


def test_an_exclusive_end_date_is_fetched_once_too(warehouse_url):
    server, _ = serve(MixvoipData(calls_per_day=40, end_inclusive=False))
    with server:
        old = run(warehouse_url, server.url, "unknown")
        new = run(warehouse_url, server.url, "exclusive")
    assert new["rows"] == old["rows"] and len(new["rows"]["cdr.fact_call_leg"]) > 300
    assert set(times_each_date_served(old["served"]).values()) == {2}
    assert set(times_each_date_served(new["served"]).values()) == {1}


def test_the_requests_are_the_same_whichever_window_asks():
    """Neighbouring windows share requests only if the grid does not move with the window."""
    for end_date, days_per_request in (("inclusive", 2), ("exclusive", 1)):
        asked = [set(day_requests(window, LOCAL, end_date)) for window in WINDOWS]
        for today, tomorrow in pairwise(asked):
            assert today & tomorrow or days_per_request == 2
        starts = sorted({start for requests in asked for start, _ in requests})
        assert {(b - a).days for a, b in pairwise(starts)} == {days_per_request}
