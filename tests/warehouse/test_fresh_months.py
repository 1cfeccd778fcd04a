"""A month that holds no leg yet is loaded as a partition of its own (issue 19's initial-backfill
path, load.FreshMonth): the same simulator days of TENIOS, Belfabriek and MIXvoip (real HTTP),
loaded once by merging every window and once through the fresh month, must leave the same
warehouse row for row: legs, calls, aggregates, quarantine, the audit rows (in order), the
windows' load records and the days marked stale, and the partition's keys and constraints.

Left out of the comparison, because they record when a row was written: first_seen_at,
last_changed_at (cdr.fact_call_leg), quarantined_at, load_audit.loaded_at, window_load.loaded_at
and stale_day.marked_at. raw_response_id is compared: both loads read the same stored pages.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from pipelines.config import ProviderAccount, account_from_env
from pipelines.model import CallLeg, Window
from pipelines.providers.spec import CALL_LEGS
from pipelines.registry import registry
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.connection import connector
from pipelines.warehouse.load import FreshMonth, MergeCounts, load_window, load_windows, window_month
from pipelines.warehouse.raw import land_window, pages_by_id, window_page_ids
from tests.conftest import LEG_TABLES, PAST_DAY, rows, scalar
from tests.dagster_runs import run_range
from tests.simulator_driver import SimulatorDriver, simulators
from tests.warehouse.test_load_path import leg

PROVIDERS = ("tenios", "belfabriek", "mixvoip")
FIRST = datetime(PAST_DAY.year, PAST_DAY.month, PAST_DAY.day, tzinfo=UTC)
DAYS: list[Window] = [(FIRST + timedelta(days=i), FIRST + timedelta(days=i + 1)) for i in range(3)]
# a window over the second half of the first day and the first half of the second: each of its
# legs is a leg another window holds too, which only the merge's guard may judge
OVERLAPPING: Window = (FIRST + timedelta(hours=12), FIRST + timedelta(hours=36))
PARTITION = f"cdr.fact_call_leg_{FIRST:%Y_%m}"
WRITE_TIMES = frozenset({"first_seen_at", "last_changed_at", "quarantined_at"})
BOOKKEEPING = {
    "audit": "SELECT window_start, window_end, legs_parsed, inserted, updated, unchanged, quarantined,"
             " duplicates_in_window, skipped, notes FROM cdr.load_audit ORDER BY id",
    "window_load": "SELECT provider, account, window_start, window_end, raw_response_ids, parser_version,"
                   " legs FROM cdr.window_load ORDER BY 1, 2, 3, 4",
    "marks": "SELECT target, provider, account, day FROM cdr.stale_day ORDER BY 1, 2, 3, 4",
    "keys": "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            f" WHERE conrelid = '{PARTITION}'::regclass ORDER BY 1",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes"
               f" WHERE schemaname || '.' || tablename = '{PARTITION}' ORDER BY 1",
}
LOADED = (*LEG_TABLES, "cdr.load_audit", "cdr.window_load", "cdr.stale_day")
REPEATED_EVERY = 40  # every 40th leg the parser yields comes again, changed: a record repeated in its window
CHANGED = Decimal("9.876543")  # a cost the simulators never serve


@pytest.fixture(scope="module")
def drivers(warehouse_url) -> Iterator[dict[str, SimulatorDriver]]:
    with simulators(list(PROVIDERS)) as running:
        yield running


def landed(url: str, drivers: dict[str, SimulatorDriver], name: str,
           windows: list[Window]) -> ProviderAccount:
    """The provider's windows fetched over HTTP into cdr.raw_response."""
    driver = drivers[name]
    driver.reset()
    driver.post("/_sim/clock", {"now": (FIRST + timedelta(days=6)).isoformat()})
    # the variables `simulators` set for each provider
    source = account_from_env(registry()[name], os.environ)
    with closing(source.open_client(os.environ)) as client:
        for window in windows:
            land_window(lambda: psycopg.connect(url), client, name, window)
    return source


def repeating(source: ProviderAccount):
    """The provider's parser, every REPEATED_EVERY-th leg followed by a later version of itself."""
    def parse(pages) -> Iterator:
        legs = 0
        for item in source.parse(pages):
            yield item
            if type(item) is CallLeg:
                legs += 1
                if legs % REPEATED_EVERY == 0:
                    yield item._replace(cost_eur=CHANGED)
    return parse


def load(url: str, name: str, source: ProviderAccount, windows: list[Window], *, fresh: bool,
         force: bool = False) -> dict[str, int]:
    return load_windows(connector(url), name, source.account, source.spec.items, windows,
                        parse=repeating(source), parser_version=source.parser_version, force=force,
                        fresh_months=fresh)


def table_rows(url: str, table: str) -> list[tuple]:
    schema, name = table.split(".")
    listing = ("SELECT column_name FROM information_schema.columns"
               " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position")
    columns = [c for (c,) in rows(url, listing, (schema, name)) if c not in WRITE_TIMES]
    listed = ", ".join(f'"{c}"' for c in columns)
    return rows(url, f"SELECT {listed} FROM {table} ORDER BY {listed}")


def partition_oid(url: str) -> int | None:
    return rows(url, "SELECT to_regclass(%s)::oid", (PARTITION,))[0][0]


def warehouse_after(url: str, name: str, source: ProviderAccount, windows: list[Window], *,
                    fresh: bool) -> dict[str, list]:
    """Empty the loaded tables (the raw pages stay), load the windows, keep the bookkeeping, then
    refresh the calls and aggregates and keep every table."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE " + ", ".join(LOADED) + " RESTART IDENTITY")
    load(url, name, source, windows, fresh=fresh)
    out = {key: rows(url, query) for key, query in BOOKKEEPING.items()}
    with psycopg.connect(url) as conn:
        for target in ("calls", "aggregates"):
            refresh_stale(conn, target, (FIRST - timedelta(days=1), FIRST + timedelta(days=4)),
                          provider=name, account=source.account)
    return out | {table: table_rows(url, table) for table in LEG_TABLES}


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_fresh_month_stores_what_merging_every_window_stores(name, drivers, clean_warehouse):
    """Records repeated within their window (`repeating`): the later version is stored. A re-run
    after the fresh load skips every window; a forced one inserts nothing and leaves the legs as
    they were."""
    url = clean_warehouse
    source = landed(url, drivers, name, DAYS)
    merged = warehouse_after(url, name, source, DAYS, fresh=False)
    before = partition_oid(url)
    fresh = warehouse_after(url, name, source, DAYS, fresh=True)
    assert partition_oid(url) != before, "the month was merged, not loaded as a partition of its own"
    assert merged[LEG_TABLES[0]], f"{name} loaded no legs"
    repeated = sum(row[7] for row in fresh["audit"])
    kept = rows(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE cost_eur = %s", (CHANGED,))[0][0]
    assert repeated and kept == repeated, "the later version of a repeated record is not kept"
    assert fresh == merged

    assert load(url, name, source, DAYS, fresh=True)["windows_skipped"] == len(DAYS)
    forced = load(url, name, source, DAYS, fresh=True, force=True)
    assert forced["call_legs_inserted"] == 0  # (Belfabriek's midnight legs: updated back and forth)
    assert table_rows(url, LEG_TABLES[0]) == fresh[LEG_TABLES[0]]


def test_a_leg_two_windows_hold_is_judged_by_the_merge(drivers, clean_warehouse):
    """The overlapping window's legs repeat the days' legs: the partition takes their first
    versions, and the later ones are merged after, window by window, the guard keeping the first
    version's raw page where nothing changed (Belfabriek's days share the legs of midnight so)."""
    url = clean_warehouse
    windows = [DAYS[0], OVERLAPPING, DAYS[1]]
    source = landed(url, drivers, "tenios", windows)
    merged = warehouse_after(url, "tenios", source, windows, fresh=False)
    before = partition_oid(url)
    fresh = warehouse_after(url, "tenios", source, windows, fresh=True)
    assert partition_oid(url) != before, "the month was merged, not loaded as a partition of its own"
    assert any(row[5] for row in fresh["audit"]), "no leg was held by two windows"
    assert fresh == merged


def test_a_month_holding_one_leg_of_another_account_is_merged(drivers, clean_warehouse):
    url = clean_warehouse
    source = landed(url, drivers, "tenios", DAYS)
    other = leg("other", "0.10", started=FIRST + timedelta(days=9))

    def with_other_leg(fresh: bool) -> dict[str, list]:
        with psycopg.connect(url) as conn:
            conn.execute("TRUNCATE " + ", ".join(LOADED) + " RESTART IDENTITY")
            load_window(conn, "tenios", "another-account", (other.started_at, other.started_at), (CALL_LEGS,),
                        [other._replace(account="another-account")])
        oid = partition_oid(url)
        load(url, "tenios", source, DAYS, fresh=fresh)
        assert partition_oid(url) == oid, "the month's partition was replaced though it held a leg"
        return {key: rows(url, query) for key, query in BOOKKEEPING.items()} | {
            LEG_TABLES[0]: table_rows(url, LEG_TABLES[0])}

    assert with_other_leg(True) == with_other_leg(False)


def test_a_month_that_stops_being_fresh_before_its_finish_is_merged(drivers, clean_warehouse):
    """Another account's leg committed into the month after its first windows were collected (the
    month was empty when its load began, as the loader's first probe saw it): the re-check under
    the partition lock merges the collected windows instead of replacing the partition, so that leg
    stays, and each window's counts, the legs and the days marked stale are the merge path's."""
    url = clean_warehouse
    source = landed(url, drivers, "tenios", DAYS)
    month = window_month(DAYS[0])
    assert month is not None
    other = leg("other", "0.10", started=month[0] + timedelta(hours=1))._replace(account="another-account")

    def insert_other_leg() -> None:
        with psycopg.connect(url) as conn:
            load_window(conn, "tenios", other.account, (other.started_at, other.started_at), (CALL_LEGS,),
                        [other])

    def items(conn: psycopg.Connection, window: Window) -> Iterator:
        pages = pages_by_id(conn, window_page_ids(conn, "tenios", source.account, window), window)
        return repeating(source)(pages)

    def loaded(fresh: bool) -> tuple[list[MergeCounts], dict[str, list]]:
        with psycopg.connect(url) as conn:
            conn.execute("TRUNCATE " + ", ".join(LOADED) + " RESTART IDENTITY")
        counts: list[MergeCounts] = []
        with psycopg.connect(url, autocommit=True) as reader, psycopg.connect(url) as writer:
            month_of = FreshMonth(writer, "tenios", source.account, month) if fresh else None
            for window in DAYS:
                if window is DAYS[-1]:  # after the month was seen empty, before its finish
                    insert_other_leg()
                stats = load_window(writer, "tenios", source.account, window, source.spec.items,
                                    items(reader, window), fresh=month_of)
                counts.append(stats.primary)
                if month_of is None:
                    writer.commit()
            if month_of is not None:
                attached, counts = month_of.finish(writer)
                assert not attached, "the month became a partition of its own though it held a leg"
                writer.commit()
        return counts, {"legs": table_rows(url, LEG_TABLES[0]), "marks": rows(url, BOOKKEEPING["marks"])}

    merged = loaded(fresh=False)
    oid = partition_oid(url)
    fresh = loaded(fresh=True)
    assert partition_oid(url) == oid, "the month's partition was replaced though it held a leg"
    assert other.leg_key in {row[3] for row in fresh[1]["legs"]}, "the other account's leg is lost"
    assert sum(c.inserted for c in merged[0]) and sum(c.duplicates_in_window for c in merged[0])
    assert fresh == merged


@pytest.mark.parametrize("setting, transactions", [("on", 1), ("off", len(DAYS)), ("", len(DAYS))],
                         ids=["on", "off", "unset"])
def test_the_load_asset_loads_fresh_months_as_cdr_fresh_months_says(setting, transactions, drivers,
                                                                    clean_warehouse, monkeypatch):
    """CDR_FRESH_MONTHS reaches the Dagster load asset: on, the run's days of the empty month are
    loaded in one transaction (their audit rows written at one now()); off or unset, one each."""
    url = clean_warehouse
    drivers["tenios"].reset()
    drivers["tenios"].post("/_sim/clock", {"now": (FIRST + timedelta(days=6)).isoformat()})
    monkeypatch.setenv("CDR_FRESH_MONTHS", setting)
    assert run_range(["tenios"], f"{DAYS[0][0]:%Y-%m-%d}", f"{DAYS[-1][0]:%Y-%m-%d}").success
    assert scalar(url, "SELECT count(*) FROM cdr.load_audit") == len(DAYS)
    assert scalar(url, "SELECT count(DISTINCT loaded_at) FROM cdr.load_audit") == transactions
