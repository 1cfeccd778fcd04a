"""A first load's shortcuts (issue 19), each against the path it shortcuts, on real TENIOS pages:

- a window the account never loaded is merged without matching its legs against the fact
  (load._merge, sql/load/merge_call_legs.sql with match_existing false), and a leg that exists
  anyway sends the merge down the matching path;
- the account's calls and aggregates are recomputed behind the load, day by day as days settle
  (aggregates.RefreshBehind), and a load waits for such a refresh only once its window is staged
  (load.load_window takes the leg-change lock just before merging).

Every warehouse these paths build is compared row for row with the one the matching MERGE and
the refresh after the load build from the same pages.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from pipelines.config import ProviderAccount, account_from_env
from pipelines.model import Window
from pipelines.registry import registry
from pipelines.simulators import running_simulators
from pipelines.warehouse.aggregates import RefreshBehind, refresh_stale
from pipelines.warehouse.connection import connector
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.locks import exclude_leg_changes
from pipelines.warehouse.raw import land_window
from tests.conftest import LEG_TABLES, PAST_DAY, rows, scalar, snapshot
from tests.recovery.test_interleavings import Racer, wait_until, waiting
from tests.simulator_driver import FAST_RETRIES, SimulatorDriver

PROVIDER = "tenios"
FIRST = datetime(PAST_DAY.year, PAST_DAY.month, PAST_DAY.day, tzinfo=UTC)
WINDOWS: list[Window] = [(FIRST + timedelta(days=i), FIRST + timedelta(days=i + 1)) for i in range(3)]
SINCE = FIRST - timedelta(days=1)  # as the load asset refreshes: a call may start the day before
END = WINDOWS[-1][1]
LEGS_PER_DAY = 400
# besides every row of the leg tables: what each window's load counted, and the marks left (the
# mart's, for its own refresh), without the times they were written
AUDIT = ("SELECT window_start, legs_parsed, inserted, updated, unchanged, quarantined, duplicates_in_window,"
         " skipped FROM cdr.load_audit ORDER BY 1, 2, 3, 4, 5")
MARKS = "SELECT target, provider, account, day FROM cdr.stale_day ORDER BY 1, 2, 3, 4"
SETTLE_TIMEOUT_S = 20
CHANGED = Decimal("9.876543")  # a cost the simulator never serves


@pytest.fixture(scope="module")
def simulator(warehouse_url) -> Iterator[SimulatorDriver]:
    saved = dict(os.environ)
    os.environ.update(FAST_RETRIES)
    try:
        with running_simulators([PROVIDER], legs_per_day=LEGS_PER_DAY) as urls:
            yield SimulatorDriver(urls[PROVIDER])
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def source(simulator, clean_warehouse) -> ProviderAccount:
    simulator.reset()
    simulator.post("/_sim/clock", {"now": (END + timedelta(days=3)).isoformat()})
    account = account_from_env(registry()[PROVIDER], os.environ)
    with closing(account.open_client(os.environ)) as client:
        for window in WINDOWS:
            land_window(lambda: psycopg.connect(clean_warehouse), client, PROVIDER, window)
    return account


def load(url: str, source: ProviderAccount, *, force: bool = False, behind: RefreshBehind | None = None,
         windows: list[Window] = WINDOWS) -> dict[str, int]:
    return load_windows(connector(url), PROVIDER, source.account, source.spec.items, windows,
                        parse=source.parse, parser_version=source.parser_version, force=force,
                        on_loaded=None if behind is None else (lambda window, _: behind.loaded(window)))


def refresh_after(url: str, source: ProviderAccount) -> None:
    """The path the shortcuts replace: the account's calls and aggregates after the whole load."""
    with psycopg.connect(url) as conn:
        for target in ("calls", "aggregates"):
            refresh_stale(conn, target, (SINCE, END), provider=PROVIDER, account=source.account)


def warehouse(url: str) -> tuple[dict, list, list]:
    return snapshot(url, across_loads=True), rows(url, AUDIT), rows(url, MARKS)


def matching_merge_warehouse(url: str, source: ProviderAccount) -> tuple[dict, list, list]:
    """The same pages through the matching MERGE into an empty fact, the refresh after: the
    windows' cdr.window_load rows are kept, so the loader takes them for loaded before."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE " + ", ".join((*LEG_TABLES, "cdr.stale_day", "cdr.load_audit")))
    load(url, source, force=True)
    refresh_after(url, source)
    return warehouse(url)


def unmarked(url: str, target: str, day) -> bool:
    return scalar(url, "SELECT count(*) FROM cdr.stale_day WHERE target = %s AND day = %s",
                  (target, day)) == 0


def test_a_first_load_through_both_shortcuts_stores_what_the_matching_merge_and_the_refresh_after_store(
        source, warehouse_url):
    """Also: the refresh behind the load has recomputed the first day's calls and aggregates
    before `finish`, i.e. while the load ran; without it they would wait for `finish`."""
    url = warehouse_url
    with RefreshBehind(connector(url), PROVIDER, source.account, SINCE) as behind:
        totals = load(url, source, behind=behind)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while not (unmarked(url, "calls", FIRST.date()) and unmarked(url, "aggregates", FIRST.date())):
            assert time.monotonic() < deadline, (
                "the first day's calls and aggregates were not recomputed behind the load: still"
                " marked stale after it ended")
            time.sleep(0.05)
        with psycopg.connect(url) as conn:
            marks = behind.finish(conn, END)
    assert totals["call_legs_inserted"] > 2 * LEGS_PER_DAY and totals["call_legs_updated"] == 0
    assert {day for *_, day in marks["aggregates"]} == {w[0].date() for w in WINDOWS}
    assert scalar(url, "SELECT count(*) FROM cdr.stale_day WHERE target IN ('calls', 'aggregates')") == 0
    shortcuts = warehouse(url)
    assert shortcuts == matching_merge_warehouse(url, source)


def test_a_first_load_never_reads_the_fact(source, warehouse_url):
    """The windows were never loaded: their legs are inserted without a scan of the month's
    partition (or of its primary key). The matching MERGE scans it once a window."""
    url = warehouse_url
    partition = f"cdr.fact_call_leg_{FIRST:%Y_%m}"
    with psycopg.connect(url, autocommit=True) as conn:  # made anew: figures of its own
        conn.execute(f"DROP TABLE IF EXISTS {partition}")
        conn.execute("SELECT cdr.ensure_call_leg_partitions(%s, %s)", (FIRST, FIRST))
        conn.execute("SELECT pg_stat_force_next_flush()")  # flushed before the next statement runs
        conn.execute("SELECT 1")
        made = partition_figures(conn, partition)  # what creating it counted
    totals = load(url, source)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    with psycopg.connect(url, autocommit=True) as conn:
        while True:  # the loader's backends report their figures as they end
            inserted, scans = partition_figures(conn, partition)
            if inserted >= totals["call_legs_inserted"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert inserted == totals["call_legs_inserted"]
    assert scans == made[1], (
        f"the first load read {partition} {scans - made[1]} time(s) to match legs it cannot hold")


def partition_figures(conn: psycopg.Connection, partition: str) -> tuple[int, int]:
    """(rows inserted, scans) of `partition` as the statistics have them."""
    row = conn.execute("SELECT n_tup_ins, coalesce(seq_scan, 0) + coalesce(idx_scan, 0)"
                       " FROM pg_stat_user_tables WHERE relid = %s::regclass", (partition,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_a_leg_stored_without_its_window_load_is_matched_not_inserted_twice(source, warehouse_url):
    """A warehouse whose legs predate cdr.window_load (or lost its rows): the window looks never
    loaded, the insert without matching meets the stored leg on the primary key, and the window
    is merged with matching instead, correcting the one leg changed since."""
    url = warehouse_url
    load(url, source)
    with psycopg.connect(url) as conn:
        leg_key = conn.execute("UPDATE cdr.fact_call_leg SET cost_eur = %s WHERE leg_key ="
                               " (SELECT min(leg_key) FROM cdr.fact_call_leg) RETURNING leg_key",
                               (CHANGED,)).fetchone()[0]
        conn.execute("DELETE FROM cdr.window_load")
    totals = load(url, source)
    assert totals["call_legs_inserted"] == 0 and totals["call_legs_updated"] == 1
    assert scalar(url, "SELECT cost_eur FROM cdr.fact_call_leg WHERE leg_key = %s", (leg_key,)) != CHANGED


def test_a_load_waits_for_a_refresh_of_its_account_only_once_its_window_is_staged(source, warehouse_url):
    """While a refresh of the account's derived rows holds the leg-change lock, a load streams
    its window into staging and only then queues for the lock: it already holds a transaction id
    (creating its staging table gave it one), which a load queued at its transaction's start
    would not."""
    url = warehouse_url
    with psycopg.connect(url) as holder:
        exclude_leg_changes(holder, PROVIDER, source.account)
        loading = Racer(url, "load", lambda racer: load_windows(
            racer.connect, PROVIDER, source.account, source.spec.items, WINDOWS[:1], parse=source.parse,
            parser_version=source.parser_version))
        wait_until(url, waiting(loading, "advisory"), loading)
        staged = scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                             " AND wait_event = 'advisory' AND backend_xid IS NOT NULL",
                        (loading.application_name,))
        holder.rollback()
    assert loading.result()["call_legs_inserted"] > 0
    assert staged == 1, "the load queued for the refresh's lock before staging its window"
