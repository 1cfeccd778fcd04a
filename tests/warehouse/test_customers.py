"""The customer as a column, and derived tables refreshed per provider account, on real PostgreSQL
with the simulators over real HTTP: the load path the account assets run (land each day, load it,
refresh the account's stale days), then the rows.

- MIXvoip with two profiles: legs, calls, hourly and daily aggregates and billing items carry the
  profile as their customer, in the numbers the simulator serves per profile;
- Belfabriek legs carry the customer id, TENIOS legs none;
- refreshing one account recomputes its own rows only: another account's calls and aggregates
  are not rewritten, its stale marks stay;
- migration 008 fills a warehouse loaded before it: the same rows as a fresh load.
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from pipelines.config import ProviderAccount, account_from_env
from pipelines.partitions import days_in
from pipelines.registry import registry
from pipelines.simulators import running_simulators
from pipelines.sql import sql_file, sql_statements
from pipelines.warehouse.aggregates import REFRESH_SQL, refresh_stale
from pipelines.warehouse.connection import connector
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.migrate import migrate, pending_files
from pipelines.warehouse.raw import land_window
from tests.conftest import LEG_TABLES, rows, scalar, snapshot

DAY = date(2026, 10, 5)
WINDOW = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
CALL_TYPES = ("CALLIN", "CALLOUT", "MCALL")
TABLES = (*LEG_TABLES, "cdr.fact_billing_item")
DERIVED = ("cdr.fact_call", "cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily")
TARGETS = ("calls", "aggregates")


@pytest.fixture(scope="module")
def sims(warehouse_url):
    """The three leg providers' simulators, the quick-start variables pointing at them."""
    saved = dict(os.environ)
    os.environ.update({"CDR_HTTP_BACKOFF_BASE_S": "0.01", "CDR_HTTP_BACKOFF_MAX_S": "0.05"})
    try:
        with running_simulators(["mixvoip", "belfabriek", "tenios"]) as urls:
            yield urls
    finally:
        os.environ.clear()
        os.environ.update(saved)


def account(provider: str, name: str | None = None) -> ProviderAccount:
    """The quick-start account of `provider` (from the simulators' variables), optionally renamed:
    two names on one login are two accounts with the same data."""
    environ = dict(os.environ)
    if name is not None:
        environ[f"{provider.upper()}_ACCOUNT"] = name
    return account_from_env(registry()[provider], environ)


def load(url: str, source: ProviderAccount, window=WINDOW, refresh: bool = True) -> None:
    """What an account's assets do: land each day's pages, load them, refresh the account's
    calls and aggregates for its stale days (and the day before, where a call may start)."""
    days = list(days_in(window))
    with closing(source.open_client(os.environ)) as client:
        for day in days:
            land_window(connector(url), client, source.provider, day)
    load_windows(connector(url), source.provider, source.account, source.spec.items, days,
                 parse=source.parse, parser_version=source.parser_version)
    if refresh:
        with psycopg.connect(url) as conn:
            for target in TARGETS:
                refresh_stale(conn, target, (window[0] - timedelta(days=1), window[1]),
                              provider=source.provider, account=source.account)


def served_by_mixvoip(url: str, profile: str, window=WINDOW) -> tuple[Counter, Counter]:
    """(calls, billing items) per type that the MIXvoip simulator serves for `profile` and starts
    in `window`, asked over HTTP for the local days around it (the records are local time)."""
    local = ZoneInfo("Europe/Luxembourg")
    first, last = (window[0] - timedelta(days=1)).date(), (window[1] + timedelta(days=1)).date()
    answer = httpx.get(f"{url}/cdrs/getcalls/{profile}/{first}/{last}/json",
                       params={"username": os.environ["MIXVOIP_USERNAME"],
                               "password": os.environ["MIXVOIP_PASSWORD"]}).raise_for_status()
    calls, billing = Counter(), Counter()
    for record in orjson.loads(answer.content.replace(b"\n", b" ")):  # the doc's raw line breaks
        start = datetime.fromisoformat(" ".join(record["data"]["call_start"].split()))
        if window[0] <= start.replace(tzinfo=local).astimezone(UTC) < window[1]:
            (calls if record["type"] in CALL_TYPES else billing)[record["type"]] += 1
    return calls, billing


def per_customer(url: str, query: str) -> dict:
    return dict(rows(url, query))


def test_mixvoip_profiles_are_the_customers_of_legs_calls_aggregates_and_billing_items(sims, clean_warehouse):
    url = clean_warehouse
    load(url, account("mixvoip"))
    profiles = os.environ["MIXVOIP_PROFILE_IDS"].split(",")
    assert len(profiles) == 2
    served = {profile: served_by_mixvoip(sims["mixvoip"], profile) for profile in profiles}
    legs = {p: sum(calls.values()) for p, (calls, _) in served.items()}
    assert all(legs.values()) and sum(sum(billing.values()) for _, billing in served.values()) > 0

    by_type = rows(url, "SELECT customer, call_type, count(*) FROM cdr.fact_call_leg GROUP BY 1, 2")
    assert {(c, t): n for c, t, n in by_type} == {(p, t): n for p, (calls, _) in served.items()
                                                  for t, n in calls.items()}
    by_type = rows(url, "SELECT customer, item_type, count(*) FROM cdr.fact_billing_item GROUP BY 1, 2")
    assert {(c, t): n for c, t, n in by_type} == {(p, t): n for p, (_, billing) in served.items()
                                                  for t, n in billing.items()}
    assert scalar(url, "SELECT count(*) FROM cdr.fact_billing_item"
                       " WHERE customer IS DISTINCT FROM profile_id") == 0
    # one call per leg, each with its leg's customer; the aggregates count every leg per customer
    assert per_customer(url, "SELECT customer, sum(legs) FROM cdr.fact_call GROUP BY 1") == legs
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call c JOIN cdr.fact_call_leg l"
                       " ON (l.provider, l.account, l.call_key) = (c.provider, c.account, c.call_key)"
                       " WHERE l.customer IS DISTINCT FROM c.customer") == 0
    for table in ("cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily"):
        assert per_customer(url, f"SELECT customer, sum(legs) FROM {table} GROUP BY 1") == legs
        assert per_customer(url, f"SELECT customer, sum(calls) FROM {table} GROUP BY 1") == legs
    # the grain holds the customer: the same hour, number, direction and outcome for two profiles
    # is two rows
    assert scalar(url, "SELECT count(*) FROM (SELECT 1 FROM cdr.agg_call_leg_hourly"
                       " GROUP BY provider, account, hour, service_number, direction, outcome"
                       " HAVING count(DISTINCT customer) > 1) AS shared") > 0
    assert scalar(url, LEG_MARKS) == 0


def test_belfabriek_legs_carry_the_customer_id_and_tenios_legs_none(sims, clean_warehouse):
    url = clean_warehouse
    load(url, account("belfabriek"))
    load(url, account("tenios"))
    customer_id = os.environ["BELFABRIEK_CUSTOMER_ID"]
    for table in (*DERIVED, "cdr.fact_call_leg"):
        found = rows(url, f"SELECT provider, customer, count(*) > 0 FROM {table} GROUP BY 1, 2 ORDER BY 1")
        assert found == [("belfabriek", customer_id, True), ("tenios", None, True)], table
    # (Belfabriek's window includes its end second: a call at midnight after it is a leg of the next day)
    legs = rows(url, "SELECT provider, count(*) FROM cdr.fact_call_leg WHERE started_at < %s"
                     " GROUP BY 1 ORDER BY 1", (WINDOW[1],))
    assert rows(url, "SELECT provider, sum(legs) FROM cdr.agg_call_leg_daily GROUP BY 1 ORDER BY 1") == legs


# The marks of the calls and aggregates (a calls refresh leaves 'mart' marks for the mart asset).
LEG_MARKS = "SELECT count(*) FROM cdr.stale_day WHERE target <> 'mart'"


def derived_rows(url: str, name: str) -> dict[str, list[tuple]]:
    """Every calls and aggregates row of account `name` with its xmin: equal lists mean not a row
    was rewritten, not even with the same values."""
    with psycopg.connect(url) as conn:
        return {table: conn.execute(f"SELECT xmin::text, t.* FROM {table} t WHERE account = %s ORDER BY t",
                                    (name,)).fetchall()
                for table in DERIVED}


def marks(url: str, name: str) -> list[tuple]:
    return rows(url, "SELECT target, day FROM cdr.stale_day WHERE account = %s AND target <> 'mart'"
                     " ORDER BY 1, 2", (name,))


def test_refreshing_one_account_leaves_another_accounts_rows_untouched(sims, clean_warehouse):
    url = clean_warehouse
    first, second = account("mixvoip", "reseller-a"), account("mixvoip", "reseller-b")
    load(url, first)
    load(url, second)
    assert derived_rows(url, "reseller-a")["cdr.fact_call"]  # both loaded and refreshed
    untouched = derived_rows(url, "reseller-b")
    # both accounts' legs change and are marked stale; one account is refreshed
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE cdr.fact_call_leg SET duration_s = duration_s + 1 WHERE duration_s > 0")
        for target in TARGETS:
            for name in ("reseller-a", "reseller-b"):
                conn.execute(sql_file("aggregates/mark_all_stale.sql"),
                             {"target": target, "provider": "mixvoip", "account": name,
                              "first": DAY, "last": DAY + timedelta(days=1)})
    with psycopg.connect(url) as conn:
        for target in TARGETS:
            assert refresh_stale(conn, target, WINDOW, provider="mixvoip", account="reseller-a") == 1
    assert derived_rows(url, "reseller-b") == untouched
    assert marks(url, "reseller-b") == [("aggregates", DAY), ("calls", DAY)]
    assert marks(url, "reseller-a") == []
    changed = "SELECT sum(duration_s) FROM cdr.agg_call_leg_daily WHERE account = %s"
    legs = "SELECT sum(duration_s) FROM cdr.fact_call_leg WHERE account = %s"
    assert scalar(url, changed, ("reseller-a",)) == scalar(url, legs, ("reseller-a",))
    assert scalar(url, changed, ("reseller-b",)) == scalar(url, legs, ("reseller-b",)) - scalar(
        url, "SELECT count(*) FROM cdr.fact_call_leg WHERE account = 'reseller-b' AND duration_s > 0")
    # without an account: every account with marks in the window, here the other one
    with psycopg.connect(url) as conn:
        assert [refresh_stale(conn, target, WINDOW) for target in TARGETS] == [1, 1]
    assert scalar(url, changed, ("reseller-b",)) == scalar(url, legs, ("reseller-b",))
    assert scalar(url, LEG_MARKS) == 0
    # a full refresh of one account rewrites that account's damaged rows only
    untouched = derived_rows(url, "reseller-b")
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE cdr.agg_call_leg_daily SET legs = legs + 1000")
        conn.execute("DELETE FROM cdr.fact_call WHERE account = 'reseller-a' AND legs = 1"
                     " AND call_key IN (SELECT call_key FROM cdr.fact_call LIMIT 5)")
    damaged = derived_rows(url, "reseller-b")
    with psycopg.connect(url) as conn:
        for target in TARGETS:
            refresh_stale(conn, target, WINDOW, full=True, provider="mixvoip", account="reseller-a")
    assert derived_rows(url, "reseller-b") == damaged != untouched
    assert [len(found) for found in derived_rows(url, "reseller-a").values()] == \
        [len(found) for found in untouched.values()]
    assert scalar(url, "SELECT sum(legs) FROM cdr.agg_call_leg_daily WHERE account = 'reseller-a'") == \
        scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE account = 'reseller-a'")


def test_a_refresh_right_after_a_load_plans_no_row_by_row_joins(sims, clean_warehouse):
    """Before autovacuum has analysed new legs the planner takes one account's legs for a row or
    two; the refresh statements must not then join them row by row (quadratic: half a minute
    for 40,000 TENIOS legs)."""
    url = clean_warehouse
    load(url, account("tenios"), refresh=False)
    params = {"provider": "tenios", "account": os.environ["TENIOS_ACCOUNT"], "from": WINDOW[0],
              "to": WINDOW[1]}
    with psycopg.connect(url) as conn:
        for (partition,) in conn.execute("SELECT inhrelid::regclass::text FROM pg_inherits"
                                         " WHERE inhparent = 'cdr.fact_call_leg'::regclass").fetchall():
            conn.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", (partition,))
            conn.execute("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = %s::regclass",
                         (partition,))
        plans = []
        for script in (*REFRESH_SQL["calls"], *REFRESH_SQL["aggregates"]):
            for statement in sql_statements(script):
                verb = next(line.split()[0] for line in statement.splitlines()
                            if line.strip() and not line.lstrip().startswith("--"))
                if verb in ("CREATE", "DELETE", "INSERT", "UPDATE"):
                    plans += [line for (line,) in conn.execute("EXPLAIN " + statement, params).fetchall()]
                if verb not in ("DELETE", "INSERT", "UPDATE"):
                    conn.execute(statement, params)  # the setting and the temporary tables
        conn.rollback()
    assert any("Join" in line for line in plans)
    assert not [line for line in plans if "Nested Loop" in line]


# --- migration 008 on a warehouse loaded before it -----------------------------------------------

PRE_008 = "_pre008"


def migrate_before_008(url: str) -> None:
    """Apply the migrations numbered below 008 and record them as the runner does, so that a
    later `migrate` applies 008 and after to the rows loaded meanwhile."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql_file("migrate/versions_table.sql"))
        for path in pending_files():
            if path.name >= "008":
                break
            text = path.read_text()
            with conn.transaction():
                conn.execute(text)
                conn.execute(sql_file("migrate/record.sql"),
                             {"version": path.stem, "sha256": hashlib.sha256(text.encode()).hexdigest()})


def copy_rows(source, target, query: str, table: str, columns: str) -> None:
    with source.cursor().copy(f"COPY ({query}) TO STDOUT") as out, \
            target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as into:
        for chunk in out:
            into.write(chunk)


LEG_COLUMNS_BEFORE_008 = (
    "provider, account, leg_key, call_key, started_at, answered_at, ended_at, duration_s, billable_s,"
    " direction, caller_number, called_number, service_number, call_type, outcome, hangup_cause, cost_eur,"
    " source_network, extension, linked_leg_key, attributes, raw_response_id, first_seen_at, last_changed_at")
CALL_COLUMNS_BEFORE_008 = (
    "provider, account, call_key, started_at, answered_at, ended_at, duration_s, billable_s, direction,"
    " caller_number, service_number, outcome, legs, answered_legs, cost_eur")
ITEM_COLUMNS_BEFORE_008 = (
    "provider, account, item_key, profile_id, item_type, known_type, billed_at, billed_until, username,"
    " product, description, quantity, price, cost_eur, invoice, duration_s, extension, attributes,"
    " raw_response_id, first_seen_at, last_changed_at")
MEASURES = "sum(legs), sum(calls), sum(answered), sum(duration_s), sum(billable_s), sum(cost_eur)"


def copy_as_before_008(source, target) -> None:
    """The loaded rows as the warehouse held them before 008: no customer anywhere, aggregates
    summed over the customers, stale marks per day."""
    for table in ("cdr.raw_response", "cdr.window_fetch", "cdr.window_load", "cdr.quarantine"):
        names = ", ".join(c for (c,) in source.execute(
            "SELECT column_name FROM information_schema.columns WHERE format('%%I.%%I', table_schema,"
            " table_name) = %s ORDER BY ordinal_position", (table,)).fetchall())
        copy_rows(source, target, f"SELECT {names} FROM {table}", table, names)
    target.execute("SELECT setval(pg_get_serial_sequence('cdr.raw_response', 'id'),"
                   " (SELECT max(id) FROM cdr.raw_response))")
    span = source.execute("SELECT min(started_at), max(started_at) FROM cdr.fact_call_leg").fetchone()
    target.execute("SELECT cdr.ensure_call_leg_partitions(%s, %s)", span)
    copy_rows(source, target, f"SELECT {LEG_COLUMNS_BEFORE_008} FROM cdr.fact_call_leg", "cdr.fact_call_leg",
              LEG_COLUMNS_BEFORE_008)
    copy_rows(source, target, f"SELECT {CALL_COLUMNS_BEFORE_008} FROM cdr.fact_call", "cdr.fact_call",
              CALL_COLUMNS_BEFORE_008)
    copy_rows(source, target, f"SELECT {ITEM_COLUMNS_BEFORE_008} FROM cdr.fact_billing_item",
              "cdr.fact_billing_item", ITEM_COLUMNS_BEFORE_008)
    for table, period in (("cdr.agg_call_leg_hourly", "hour"), ("cdr.agg_call_leg_daily", "day")):
        grain = f"provider, account, {period}, service_number, direction, outcome"
        copy_rows(source, target, f"SELECT {grain}, {MEASURES} FROM {table} GROUP BY {grain}", table,
                  f"{grain}, legs, calls, answered, duration_s, billable_s, cost_eur")
    target.execute("INSERT INTO cdr.stale_day (target, day) VALUES ('aggregates', %s), ('calls', %s)",
                   (DAY, DAY - timedelta(days=1)))


@pytest.fixture
def warehouse_before_008(warehouse_url):
    url = make_conninfo(warehouse_url, dbname=psycopg.conninfo.conninfo_to_dict(warehouse_url)["dbname"]
                        + PRE_008)
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migration_008_fills_a_warehouse_loaded_before_it_as_a_fresh_load_would(
        sims, clean_warehouse, warehouse_before_008):
    fresh, old = clean_warehouse, warehouse_before_008
    for provider in ("mixvoip", "belfabriek", "tenios"):
        load(fresh, account(provider))
    with psycopg.connect(fresh) as conn:  # the day after too (Belfabriek's call at midnight)
        for target in TARGETS:
            refresh_stale(conn, target, (WINDOW[0] - timedelta(days=1), WINDOW[1] + timedelta(days=1)))
    assert scalar(fresh, LEG_MARKS) == 0
    expected = snapshot(fresh, TABLES)
    migrate_before_008(old)
    with psycopg.connect(fresh) as source, psycopg.connect(old) as target:
        copy_as_before_008(source, target)
    assert scalar(old, "SELECT count(*) FROM cdr.agg_call_leg_daily") < scalar(
        fresh, "SELECT count(*) FROM cdr.agg_call_leg_daily")  # two profiles summed into one row

    assert "008_customers" in migrate(old)
    assert snapshot(old, TABLES) == expected
    accounts = rows(fresh, "SELECT DISTINCT provider, account FROM cdr.fact_call_leg ORDER BY 1, 2")
    assert len(accounts) == 3
    assert rows(old, "SELECT target, provider, account, day FROM cdr.stale_day WHERE target <> 'mart'"
                     " ORDER BY 1, 2, 3, 4") == \
        [("aggregates", p, a, DAY) for p, a in accounts] + \
        [("calls", p, a, DAY - timedelta(days=1)) for p, a in accounts]
    # consistent: the refresh of the expanded marks and a forced reload change nothing
    with psycopg.connect(old) as conn:
        for target in TARGETS:
            assert refresh_stale(conn, target, (WINDOW[0] - timedelta(days=1), WINDOW[1])) == 3
    for provider in ("mixvoip", "belfabriek", "tenios"):
        source = account(provider)
        totals = load_windows(connector(old), provider, source.account, source.spec.items, [WINDOW],
                              parse=source.parse, parser_version=source.parser_version, force=True)
        assert (totals["call_legs_inserted"], totals["call_legs_updated"]) == (0, 0), provider
    assert snapshot(old, TABLES) == expected
    assert scalar(old, LEG_MARKS) == 0
