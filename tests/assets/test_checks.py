"""Every asset check fails on the damage it is there to catch. Each case loads a day through
Dagster (every check green), damages the warehouse the way the check describes, runs the day
again (an unchanged day is not reloaded and no day is marked stale, so the damage stays) and
expects that check to fail; a blocking check's failure also stops the derived assets in that run."""
from __future__ import annotations

import os
from datetime import date, timedelta
from typing import NamedTuple

import psycopg
import pytest
from dagster import AssetKey

from pipelines.assets.checks import aggregates_not_matching, calls_not_matching, scope_of
from pipelines.assets.watch import FRESHNESS_CHECK
from pipelines.config import Configuration
from pipelines.errors import ConfigurationError
from pipelines.model import LEG_COLUMNS
from tests.conftest import truncate_warehouse
from tests.dagster_runs import failure_messages, load_definitions, run_range
from tests.simulator_driver import simulators

DAY = date(2026, 10, 5)
DERIVED = {AssetKey("calls"), AssetKey("call_leg_aggregates")}
LEG_CHECKS = {"no_duplicate_leg_keys", "calls_match_legs", "aggregates_match_legs",
              "quarantine_share_under_threshold"}
EXPECTED_CHECKS = {"tenios": LEG_CHECKS | {"reconciles_with_provider_count"},
                   "belfabriek": LEG_CHECKS, "mixvoip": LEG_CHECKS,
                   "telecomx": {"quarantine_share_under_threshold", "counters_consistent"}}


# a leg whose start time moved at the provider: a second row under the same key (one row)
LEG_STORED_TWICE = f"""
    INSERT INTO cdr.fact_call_leg ({", ".join(LEG_COLUMNS)})
    SELECT {", ".join("started_at + interval '1 min'" if c == "started_at" else c for c in LEG_COLUMNS)}
    FROM cdr.fact_call_leg ORDER BY leg_key LIMIT 1"""
LEG_LOST = "DELETE FROM cdr.fact_call_leg WHERE leg_key = (SELECT min(leg_key) FROM cdr.fact_call_leg)"
MARK_STALE = """
    INSERT INTO cdr.stale_day (target, provider, account, day)
    SELECT target, provider, account, (window_start AT TIME ZONE 'UTC')::date
    FROM cdr.window_fetch, (VALUES ('calls'), ('aggregates')) AS t (target)"""


class Damage(NamedTuple):
    check: str
    provider: str
    sql: str  # changes at least one row
    blocking: bool
    also: tuple[str, ...] = ()  # other checks the damage upsets


DAMAGES = {
    # a leg stored twice, its day marked stale as a load's merge would, so that the calls and
    # aggregates follow and only this check (and the provider count: one leg more) sees it
    "leg-stored-twice": Damage("no_duplicate_leg_keys", "tenios", f"{LEG_STORED_TWICE}; {MARK_STALE}",
                               blocking=True, also=("reconciles_with_provider_count",)),
    # a leg lost after its load: the provider counts more than the warehouse holds (its day marked
    # stale, so that the calls and aggregates follow the loss and only this check sees it)
    "leg-lost": Damage("reconciles_with_provider_count", "tenios", f"{LEG_LOST}; {MARK_STALE}",
                       blocking=False),
    # a call lost: its legs are in no call
    "call-lost": Damage("calls_match_legs", "tenios", """
        DELETE FROM cdr.fact_call WHERE call_key = (SELECT min(call_key) FROM cdr.fact_call)""",
                        blocking=True),
    # a call's leg count no longer its legs'
    "call-leg-count-wrong": Damage("calls_match_legs", "tenios", """
        UPDATE cdr.fact_call SET legs = legs + 1
        WHERE call_key = (SELECT min(call_key) FROM cdr.fact_call)""",
                                   blocking=True),
    # a call whose legs are gone
    "call-without-legs": Damage("calls_match_legs", "tenios", """
        INSERT INTO cdr.fact_call (provider, account, call_key, customer, started_at, answered_at, ended_at,
            duration_s, billable_s, direction, caller_number, service_number, outcome, legs, answered_legs,
            cost_eur)
        SELECT provider, account, call_key || '-ghost', customer, started_at, answered_at, ended_at,
            duration_s, billable_s, direction, caller_number, service_number, outcome, legs, answered_legs,
            cost_eur
        FROM cdr.fact_call ORDER BY call_key LIMIT 1""", blocking=True),
    # an hourly figure changed behind the loader's back
    "hourly-aggregate-off": Damage("aggregates_match_legs", "tenios", """
        UPDATE cdr.agg_call_leg_hourly SET cost_eur = cost_eur + 1
        WHERE hour = (SELECT min(hour) FROM cdr.agg_call_leg_hourly)""", blocking=False),
    # a daily row lost
    "daily-aggregate-lost": Damage("aggregates_match_legs", "tenios", """
        DELETE FROM cdr.agg_call_leg_daily
        WHERE (direction, outcome) = (SELECT direction, outcome FROM cdr.agg_call_leg_daily
                                      ORDER BY legs DESC, direction, outcome LIMIT 1)""", blocking=False),
    # half as many records quarantined from the day's pages as its bodies hold: a share of one half
    "half-quarantined": Damage("quarantine_share_under_threshold", "tenios", """
        INSERT INTO cdr.quarantine (provider, account, raw_response_id, record_index, reason)
        SELECT provider, account, raw_response_ids[1], 100000 + n, 'damage'
        FROM cdr.window_fetch, generate_series(1, records / 2) AS n""", blocking=False,
        also=("reconciles_with_provider_count",)),  # quarantined records beyond the provider's count
    # answered calls beyond the calls of their direction
    "counters-contradict": Damage("counters_consistent", "telecomx", """
        UPDATE cdr.fact_pbx_stats SET outbound_answered = coalesce(outbound_calls, 0) + 1
        WHERE (employee_id, interval_start) = (SELECT employee_id, interval_start FROM cdr.fact_pbx_stats
                                               ORDER BY interval_start, employee_id LIMIT 1)""",
                                  blocking=False),
}


@pytest.fixture(scope="module")
def sims():
    with simulators(["tenios", "telecomx"]) as drivers:
        yield drivers


def check_results(result) -> dict[str, bool]:
    return {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


def materialized(result) -> set[AssetKey]:
    return {event.asset_key for event in result.get_asset_materialization_events()}


def damage(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(sql).rowcount >= 1


def fact_calls(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM cdr.fact_call ORDER BY call_key").fetchall()


@pytest.mark.parametrize("name", list(DAMAGES))
def test_the_check_fails_on_a_damaged_warehouse(name, sims, warehouse_url):
    check, provider, sql, blocking, also = DAMAGES[name]
    sims[provider].reset()
    truncate_warehouse(warehouse_url)
    clean = run_range([provider], DAY.isoformat(), DAY.isoformat())
    assert clean.success, failure_messages(clean)
    assert check_results(clean) == dict.fromkeys(EXPECTED_CHECKS[provider], True)
    derived = DERIVED if provider == "tenios" else set()
    assert materialized(clean) >= derived
    damage(warehouse_url, sql)
    calls_before = fact_calls(warehouse_url)
    damaged = run_range([provider], DAY.isoformat(), DAY.isoformat())
    results = check_results(damaged)
    assert results[check] is False, results
    # the damage upsets its own check and only the ones the case names, so that whether the run
    # fails shows whether this check blocks
    assert {name for name, passed in results.items() if not passed} == {check, *also}, results
    # the damage is caught by this check itself, whichever others it also upsets
    assert damaged.success is not blocking, failure_messages(damaged)
    if blocking:  # the shared calls and aggregates (and what is built on them) wait for a fix
        assert not materialized(damaged) & DERIVED
    else:
        assert materialized(damaged) >= derived
    if check == "calls_match_legs":  # it recomputes the calls in a transaction it rolls back
        assert fact_calls(warehouse_url) == calls_before


def test_checks_exist_only_where_their_data_does():
    """The provider-count reconciliation only for a provider that counts (TENIOS), the leg checks
    only for providers with legs, the counter check only for Telecom X."""
    defs = load_definitions(list(EXPECTED_CHECKS))
    found: dict[str, set[str]] = {}
    for key in defs.resolve_asset_graph().asset_check_keys:
        if key.name != FRESHNESS_CHECK:  # every account's, run by its own sensor (docs/operations.md)
            found.setdefault(key.asset_key.path[0], set()).add(key.name)
    assert found == EXPECTED_CHECKS


def test_the_quarantine_threshold_is_a_setting(sims, warehouse_url, monkeypatch):
    sims["tenios"].reset()
    truncate_warehouse(warehouse_url)
    assert run_range(["tenios"], DAY.isoformat(), DAY.isoformat()).success
    damage(warehouse_url, DAMAGES["half-quarantined"].sql)
    monkeypatch.setenv("CDR_QUARANTINE_WARN_SHARE", "0.6")
    result = run_range(["tenios"], DAY.isoformat(), DAY.isoformat())
    assert check_results(result)["quarantine_share_under_threshold"] is True
    monkeypatch.setenv("CDR_QUARANTINE_WARN_SHARE", "0.4")
    result = run_range(["tenios"], DAY.isoformat(), DAY.isoformat())
    assert check_results(result)["quarantine_share_under_threshold"] is False


@pytest.mark.parametrize("value", ["1.5", "-0.1", "one percent", "nan"])
def test_a_bad_quarantine_threshold_is_refused_naming_the_variable(value):
    with pytest.raises(ConfigurationError, match="CDR_QUARANTINE_WARN_SHARE"):
        Configuration.from_env({**os.environ, "CDR_QUARANTINE_WARN_SHARE": value})


@pytest.mark.parametrize("table", ["aggregates", "calls"])
def test_a_day_marked_stale_is_pending_not_wrong(table, sims, warehouse_url):
    """Between a load's commit and its refresh, a day's derived rows lag its legs: a check reading
    then must not report them (a backfill running beside the nightly run would fail it)."""
    sims["tenios"].reset()
    truncate_warehouse(warehouse_url)
    assert run_range(["tenios"], DAY.isoformat(), DAY.isoformat()).success
    damage(warehouse_url, LEG_LOST)  # calls and aggregates now lag the legs
    not_matching = {"aggregates": aggregates_not_matching, "calls": calls_not_matching}[table]
    scope = scope_of("tenios", "tenios-demo", (DAY, DAY + timedelta(days=1)))

    def differing() -> int:
        with psycopg.connect(warehouse_url) as conn, conn.transaction(force_rollback=True):
            return sum(row[-1] for row in not_matching(conn, scope))

    assert differing() > 0
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("INSERT INTO cdr.stale_day (target, provider, account, day)"
                     " VALUES (%s, 'tenios', 'tenios-demo', %s)", (table, DAY))
    assert differing() == 0
