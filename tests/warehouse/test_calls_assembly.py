"""The call assembly (aggregates.assemble_calls: sql/aggregates/refresh_calls.sql, then
insert_new_calls.sql), rewritten for speed in issue 19, held equal
row for row to the SQL it replaced (tests/warehouse/reference_refresh_calls.sql, kept for this test
only), on real PostgreSQL:

- the legs of simulator days of every provider that has legs (TENIOS, Belfabriek, MIXvoip; Telecom X
  serves statistics, no legs), loaded over real HTTP as the account assets load them;
- generated legs made to meet every rule: b-legs (a leg named by two, by itself, by a leg of the day
  before, or by none present), legs that start together, first legs without numbers or customer,
  service numbers only on later legs, calls across midnight;

each refreshed for single days, two days and the whole range, from an empty calls table (a first
load), from the calls the former SQL stored (a re-run: neither writes a row) and from changed legs
and damaged calls. Equal means the same stored calls, the same calls written (a rewrite with equal
values still changes xmin) and the same days marked for the mart.
"""
from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pipelines.simulators import running_simulators
from pipelines.sql import run_script
from pipelines.warehouse.aggregates import assemble_calls
from tests.warehouse.test_customers import account, load

REFERENCE_SQL = Path(__file__).with_name("reference_refresh_calls.sql")


def reference_assembly(conn, params) -> None:
    run_script(conn, REFERENCE_SQL, params)
SIM_WINDOW = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))
GENERATED_WINDOW = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC))
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def leg_simulators(warehouse_url):
    saved = dict(os.environ)  # the simulators set the quick-start variables
    try:
        with running_simulators(["tenios", "belfabriek", "mixvoip"]) as urls:
            yield urls
    finally:
        os.environ.clear()
        os.environ.update(saved)


def assembled(conn, refresh, params) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """What `refresh` leaves, rolled back after: every stored call, the keys of the calls it wrote,
    and the days marked for the mart."""
    key_and_xmin = "SELECT provider, account, call_key, xmin::text FROM cdr.fact_call"
    before = {tuple(key): xmin for *key, xmin in conn.execute(key_and_xmin).fetchall()}
    with conn.transaction(force_rollback=True):
        refresh(conn, params)
        after = {tuple(key): xmin for *key, xmin in conn.execute(key_and_xmin).fetchall()}
        calls = conn.execute("SELECT * FROM cdr.fact_call ORDER BY provider, account, call_key").fetchall()
        marks = conn.execute("SELECT * FROM cdr.stale_day ORDER BY 1, 2, 3, 4").fetchall()
    return calls, sorted(key for key, xmin in after.items() if before.get(key) != xmin), marks


def ranges(window) -> list[tuple[datetime, datetime]]:
    """Each day from the one before the window to the one after, two days, and the whole window."""
    days = [window[0] + n * DAY for n in range(-1, (window[1] - window[0]).days + 1)]
    return [(day, day + DAY) for day in days] + [(window[0], window[0] + 2 * DAY), window]


def assert_same_as_reference(conn, provider: str, name: str, window) -> None:
    for start, end in ranges(window):
        params = {"provider": provider, "account": name, "from": start, "to": end}
        assert assembled(conn, assemble_calls, params) == assembled(conn, reference_assembly, params), \
            (provider, start, end)


def assert_same_in_every_state(url: str, provider: str, name: str, window) -> None:
    with psycopg.connect(url) as conn:
        whole = {"provider": provider, "account": name, "from": window[0] - DAY, "to": window[1] + DAY}
        assert conn.execute("SELECT count(*) FROM cdr.fact_call_leg WHERE provider = %s AND account = %s",
                            (provider, name)).fetchone()[0] > 0
        with conn.transaction(force_rollback=True):
            conn.execute("DELETE FROM cdr.fact_call")
            assert_same_as_reference(conn, provider, name, window)
        with conn.transaction(force_rollback=True):
            reference_assembly(conn, whole)  # the calls as the former SQL stored them
            calls, written, _ = assembled(conn, assemble_calls, whole)
            assert calls and written == []
            assert_same_as_reference(conn, provider, name, window)
            damage(conn, provider, name, window)
            assert_same_as_reference(conn, provider, name, window)


def damage(conn, provider: str, name: str, window) -> None:
    """Legs gone, changed and moved; stored calls gone, wrong, stored with another start, and one
    that no leg makes."""
    mine = "WHERE provider = %(provider)s AND account = %(account)s"
    legs = "cdr.fact_call_leg {} " + mine + " AND hashtext(leg_key) %% {}"
    calls = "cdr.fact_call {} " + mine + " AND hashtext(call_key) %% {}"
    params = {"provider": provider, "account": name}
    conn.execute("DELETE FROM " + legs.format("", "7 = 0"), params)
    conn.execute("UPDATE " + legs.format("SET outcome = 'busy', caller_number = NULL, customer = 'moved'",
                                         "11 = 1"), params)
    conn.execute("UPDATE " + legs.format("SET started_at = started_at - interval '50 minutes'", "13 = 2"),
                 params)
    conn.execute("DELETE FROM " + calls.format("", "5 = 0"), params)
    conn.execute("UPDATE " + calls.format("SET legs = legs + 1, cost_eur = NULL", "5 = 1"), params)
    conn.execute("UPDATE " + calls.format("SET started_at = started_at - interval '3 days'", "5 = 2"), params)
    conn.execute("INSERT INTO cdr.fact_call (provider, account, call_key, started_at, direction, outcome,"
                 " legs, answered_legs) VALUES (%s, %s, 'no-such-call', %s, 'inbound', 'answered', 1, 1)",
                 (provider, name, window[0] + timedelta(hours=12)))


@pytest.mark.parametrize("provider", ["tenios", "belfabriek", "mixvoip"])
def test_simulator_days_are_assembled_as_before(leg_simulators, clean_warehouse, provider):
    source = account(provider)
    load(clean_warehouse, source, SIM_WINDOW, refresh=False)
    assert_same_in_every_state(clean_warehouse, provider, source.account, SIM_WINDOW)


def generated_legs(seed: int = 19, calls: int = 700) -> list[tuple]:
    rng = random.Random(seed)
    start, span = GENERATED_WINDOW[0], (GENERATED_WINDOW[1] - GENERATED_WINDOW[0]).total_seconds()
    legs: list[tuple] = []
    named: set[tuple] = set()

    def key() -> str:  # mixed case: byte order and a linguistic order differ
        return "".join(rng.choice("aAbBzZ09-") for _ in range(10))

    def number() -> str | None:
        return rng.choice([None, "+4930123456", "+4930654321", "+35220123456"])

    for _ in range(calls):
        seconds = rng.choice([rng.uniform(0, span), rng.randrange(1, 5) * 86400 - rng.uniform(1, 90)])
        first = start + timedelta(seconds=int(seconds))
        call_key = key()
        keys = [key() for _ in range(rng.choice([1, 1, 2, 3, 4]))]
        for index, leg_key in enumerate(keys):
            together = index == 0 or rng.random() < 0.3
            began = first if together else first + timedelta(seconds=rng.randrange(1, 200))
            answered = rng.random() < 0.6
            # none, itself, a leg not present, a leg of an earlier call, the next leg of this one
            links = [None, None, leg_key, key(), *([legs[rng.randrange(len(legs))][0]] if legs else []),
                     *keys[index + 1:index + 2]]
            linked = rng.choice(links)
            if (linked, began) in named:  # the former SQL picked either of two such parents
                linked = None
            named.add((linked, began))
            legs.append((leg_key, rng.choice([call_key, call_key, leg_key, None]), began,
                         began + timedelta(seconds=5) if answered else None,
                         began + timedelta(seconds=rng.randrange(5, 400)),
                         rng.choice([None, Decimal(rng.randrange(0, 9000)) / 100]),
                         rng.choice(["inbound", "outbound", "internal", "unknown"]),
                         number(), number(), None if index == 0 and rng.random() < 0.5 else number(),
                         "answered" if answered else rng.choice(["no_answer", "busy", "failed", "unknown"]),
                         rng.choice([None, Decimal(rng.randrange(0, 500)) / 1000]), linked,
                         rng.choice([None, "customer-1", "customer-2"])))
    return legs


def test_generated_legs_are_assembled_as_before(clean_warehouse):
    with psycopg.connect(clean_warehouse) as conn:
        # from the day before: the damage moves legs back by up to an hour
        conn.execute("SELECT cdr.ensure_call_leg_partitions(%s, %s)",
                     (GENERATED_WINDOW[0] - DAY, GENERATED_WINDOW[1]))
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO cdr.fact_call_leg (provider, account, leg_key, call_key, started_at,"
                " answered_at, ended_at, billable_s, direction, caller_number, called_number, service_number,"
                " outcome, cost_eur, linked_leg_key, customer) VALUES ('tenios', 'generated',"
                " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                generated_legs())
        # the rules are met: legs starting together, b-legs named twice, across midnight
        assert conn.execute("SELECT count(*) FROM (SELECT started_at FROM cdr.fact_call_leg"
                            " GROUP BY started_at HAVING count(*) > 1) t").fetchone()[0] > 10
        assert conn.execute("SELECT count(*) FROM (SELECT linked_leg_key FROM cdr.fact_call_leg"
                            " GROUP BY 1 HAVING count(*) > 1) t").fetchone()[0] > 5
        assert conn.execute("SELECT count(*) FROM (SELECT call_key FROM cdr.fact_call_leg GROUP BY 1 HAVING"
                            " count(DISTINCT (started_at AT TIME ZONE 'UTC')::date) > 1) t").fetchone()[0] > 5
    assert_same_in_every_state(clean_warehouse, "tenios", "generated", GENERATED_WINDOW)
