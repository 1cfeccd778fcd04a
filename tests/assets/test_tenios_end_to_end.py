"""TENIOS through Dagster: simulator over real HTTP -> raw pages -> legs -> calls -> aggregates,
asserted on the warehouse's rows."""
from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import orjson
import psycopg
import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.warehouse.raw import window_pages
from tests.conftest import rows, scalar, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages, load_definitions, run_range
from tests.simulator_driver import simulators

DAY = date(2026, 10, 5)


@pytest.fixture(scope="module")
def tenios():
    # a call in each day's last second too: the next day's request, asking from a second early, holds it
    with simulators(["tenios"], TENIOS_PAGE_SIZE="100", TENIOS_SIM_CALL_BEFORE_MIDNIGHT="1") as drivers:
        yield drivers["tenios"]


@pytest.fixture
def sim(tenios, clean_warehouse):
    tenios.reset()
    yield tenios
    tenios.reset()
    tenios.post("/_sim/stamp_form", {"form": "z"})


def run(first: date, days: int = 1, **kwargs):
    return run_range(["tenios"], first.isoformat(), (first + timedelta(days=days - 1)).isoformat(), **kwargs)


def audit(url: str):
    return rows(url, "SELECT window_start::date, legs_parsed, inserted, updated, unchanged"
                     " FROM cdr.load_audit ORDER BY id")


def test_rerun_of_two_partitions_rewrites_nothing(sim, warehouse_url):
    assert run(DAY, 2).success
    first = snapshot(warehouse_url)
    legs = scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg")
    assert legs > 400
    assert run(DAY, 2).success
    assert snapshot(warehouse_url) == first
    first_load, second_load = audit(warehouse_url)[:2], audit(warehouse_url)[2:]
    assert sum(r[2] for r in first_load) == legs
    # the second run finds each day's pages byte-identical to those already loaded: skipped
    assert [(r[2], r[3], r[4]) for r in second_load] == [(0, 0, r[1]) for r in first_load]
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.load_audit WHERE skipped") == 2
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.stale_day") == 0
    # TENIOS has no customer within an account
    for table in ("cdr.fact_call_leg", "cdr.fact_call", "cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily"):
        assert scalar(warehouse_url, f"SELECT count(*) FROM {table} WHERE customer IS NOT NULL") == 0, table


def test_forced_reload_rewrites_nothing_either(sim, warehouse_url, monkeypatch):
    assert run(DAY).success
    first = snapshot(warehouse_url)
    monkeypatch.setenv("CDR_FORCE_RELOAD", "1")
    assert run(DAY).success
    assert snapshot(warehouse_url) == first
    (_, parsed, inserted, updated, unchanged) = audit(warehouse_url)[-1]
    assert (inserted, updated, unchanged) == (0, 0, parsed) and parsed > 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.stale_day") == 0
    assert scalar(warehouse_url, "SELECT count(*) - count(DISTINCT (provider, account, leg_key))"
                                 " FROM cdr.fact_call_leg") == 0
    # every day reconciles with the provider's own /cdrs/count
    assert rows(warehouse_url, "SELECT window_start::date, provider_count FROM cdr.window_fetch"
                               " ORDER BY 1") == \
        rows(warehouse_url, "SELECT (started_at AT TIME ZONE 'UTC')::date, count(*)"
                            " FROM cdr.fact_call_leg GROUP BY 1 ORDER BY 1")


def test_late_records_appear_after_the_repull(sim, warehouse_url):
    early = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1, minutes=30)
    sim.post("/_sim/clock", {"now": early.isoformat()})
    assert run(DAY).success
    before = {r[0]: r for r in rows(warehouse_url, "SELECT leg_key, last_changed_at FROM cdr.fact_call_leg")}
    sim.post("/_sim/clock", {})
    assert run(DAY).success
    after = {r[0]: r for r in rows(warehouse_url, "SELECT leg_key, last_changed_at FROM cdr.fact_call_leg")}
    late = set(after) - set(before)
    assert late, "the simulator holds some legs back for hours; the re-pull must bring them"
    assert all(after[key] == before[key] for key in before), "legs already loaded are not rewritten"
    (_, _parsed, inserted, updated, _) = audit(warehouse_url)[-1]
    assert (inserted, updated) == (len(late), 0)
    assert scalar(warehouse_url, "SELECT provider_count FROM cdr.window_fetch") == len(after)
    # aggregates follow the late legs
    assert scalar(warehouse_url, "SELECT sum(legs) FROM cdr.agg_call_leg_daily") == len(after)


def test_5xx_storm_and_rate_limit_end_equal_to_a_clean_run(sim, warehouse_url):
    assert run(DAY).success
    clean = snapshot(warehouse_url, across_loads=True)
    truncate_warehouse(warehouse_url)
    sim.post("/_sim/faults", [
        {"kind": "status", "status": 503, "times": 3, "path": "/cdrs/retrieve", "body": "<html>busy</html>"},
        {"kind": "truncate", "times": 1, "path": "/cdrs/retrieve"},
        {"kind": "delay", "seconds": 0.2, "times": 2},
        {"kind": "status", "status": 502, "times": 2, "path": "/cdrs/count"},
    ])
    sim.post("/_sim/rate_limit", {"per_second": 5})
    result = run(DAY)
    assert result.success, failure_messages(result)
    assert snapshot(warehouse_url, across_loads=True) == clean


def test_retries_that_run_out_fail_the_run_and_commit_nothing(sim, warehouse_url):
    sim.post("/_sim/faults", [{"kind": "status", "status": 500, "times": 50, "path": "/cdrs/retrieve"}])
    result = run(DAY)
    assert not result.success
    assert any("tenios" in m and "gave up after 6 attempts" in m for m in failure_messages(result))
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0


def test_refused_access_key_fails_clearly_and_loads_nothing(sim, warehouse_url, monkeypatch):
    secret = "wrong-key-7f3a9c55e1"
    monkeypatch.setenv("TENIOS_ACCESS_KEY", secret)
    before = sim.stats()["requests_served"]
    result = run(DAY)
    assert not result.success
    messages = failure_messages(result)
    # the API's answer: HTTP 400 with error_code BAD_CREDENTIALS, an auth error tried once
    assert any("tenios account 'tenios-demo': tenios: window" in m and "access key refused" in m
               and "HTTP 400" in m and "[code BAD_CREDENTIALS]" in m for m in messages), messages
    assert sim.stats()["requests_served"] - before == 1
    assert not any(secret in m for m in messages)
    for event in result.all_events:
        assert secret not in str(event.message or "")
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0


def test_backfill_of_ten_days_in_one_run(sim, warehouse_url):
    result = run(DAY, 10)
    assert result.success
    per_day = rows(warehouse_url, "SELECT (started_at AT TIME ZONE 'UTC')::date, count(*)"
                                  " FROM cdr.fact_call_leg GROUP BY 1 ORDER BY 1")
    assert [d for d, _ in per_day] == [DAY + timedelta(days=i) for i in range(10)]
    assert rows(warehouse_url, "SELECT window_start::date, provider_count FROM cdr.window_fetch"
                               " ORDER BY 1") == per_day
    assert rows(warehouse_url, "SELECT day, sum(legs) FROM cdr.agg_call_leg_daily"
                               " GROUP BY 1 ORDER BY 1") == per_day
    # calls: every forwarded leg joins its inbound leg's call
    assert scalar(warehouse_url, "SELECT sum(legs) FROM cdr.fact_call") == sum(n for _, n in per_day)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call WHERE legs > 1") > 0
    assert scalar(warehouse_url, """
        SELECT count(*) FROM cdr.fact_call_leg l JOIN cdr.fact_call c
          ON c.provider = l.provider AND c.account = l.account AND c.call_key = l.leg_key
        WHERE l.call_type = 'FORWARD'""") == 0


def test_a_window_that_never_holds_still_fails_clearly(sim, warehouse_url):
    sim.post("/_sim/faults", [{"kind": "empty", "times": 10, "path": "/cdrs/retrieve"}])
    result = run(DAY)
    assert not result.success
    assert any("tenios" in m and "still inconsistent after 3 fetches" in m for m in failure_messages(result))
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0


def test_full_refresh_recomputes_derived_tables_that_no_load_marked(sim, warehouse_url):
    assert run(DAY).success
    tables = ("cdr.fact_call", "cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily")
    derived = snapshot(warehouse_url, tables)
    with psycopg.connect(warehouse_url) as conn:  # damage the derived tables behind the loader's back
        conn.execute("UPDATE cdr.agg_call_leg_daily SET legs = legs + 1000")
        conn.execute("DELETE FROM cdr.fact_call WHERE legs > 1")
    # nothing changed at the provider: nothing is recomputed, and the calls check (blocking) says so
    noticed = run(DAY)
    assert not noticed.success and "calls_match_legs" in "".join(failure_messages(noticed))
    assert snapshot(warehouse_url, tables) != derived
    # the remedy (docs/operations.md, Checks): the derived assets alone, with full_refresh
    full = {"config": {"full_refresh": True}}
    job = load_definitions(["tenios"]).resolve_implicit_global_asset_job_def()
    repaired = job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        asset_selection=[AssetKey("calls"), AssetKey("call_leg_aggregates")],
        tags={ASSET_PARTITION_RANGE_START_TAG: DAY.isoformat(),
              ASSET_PARTITION_RANGE_END_TAG: DAY.isoformat()},
        run_config={"ops": {"calls": full, "call_leg_aggregates": full}})
    assert repaired.success
    assert snapshot(warehouse_url, tables) == derived


def leg_starts(url: str) -> dict[str, datetime]:
    return dict(rows(url, "SELECT leg_key, started_at FROM cdr.fact_call_leg"))


def test_stamps_without_offset_land_at_the_right_instant_counted_and_warned_once_a_day(sim, warehouse_url):
    days = [DAY, DAY + timedelta(days=1)]
    sim.post("/_sim/stamp_form", {"form": "offset"})
    assert run(DAY, 2).success
    with_offset = leg_starts(warehouse_url)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.load_audit WHERE notes <> '{}'") == 0
    truncate_warehouse(warehouse_url)
    sim.post("/_sim/stamp_form", {"form": "naive-fraction"})  # German wall-clock time, no offset
    instance = DagsterInstance.ephemeral()
    result = run(DAY, 2, instance=instance)
    assert result.success, failure_messages(result)
    assert leg_starts(warehouse_url) == with_offset  # same instants, so the same days
    per_day = rows(warehouse_url, "SELECT (started_at AT TIME ZONE 'UTC')::date, count(*)"
                                  " FROM cdr.fact_call_leg GROUP BY 1 ORDER BY 1")
    assert [day for day, _ in per_day] == days
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg"
                                 " WHERE attributes->>'stamp_without_offset' = 'true'") == len(with_offset)
    # each day's figures count them: the audit, the day partition's materialization, one warning per day
    assert rows(warehouse_url, "SELECT window_start::date, (notes->>'legs_stamp_without_offset')::int"
                               " FROM cdr.load_audit ORDER BY 1") == per_day
    figures = sorted((date.fromisoformat(event.partition or ""),
                      event.materialization.metadata["legs_stamp_without_offset"].value)
                     for event in result.get_asset_materialization_events()
                     if event.asset_key.path[-1] == "call_legs")
    assert figures == per_day  # each day its own count, not the run's
    warnings = [entry.user_message for entry in instance.all_logs(result.run_id)
                if entry.level == logging.WARNING and "stamp without offset" in entry.user_message]
    assert len(warnings) == 2, warnings
    for (day, count), warning in zip(per_day, sorted(warnings), strict=True):
        assert f"tenios tenios-demo {day}: {count} legs stamp without offset (read in Europe/Berlin)" \
            in warning


def test_freeswitch_stamps_of_whole_seconds_land_on_the_same_second(sim, warehouse_url):
    assert run(DAY).success
    exact = leg_starts(warehouse_url)
    truncate_warehouse(warehouse_url)
    sim.post("/_sim/stamp_form", {"form": "naive-space"})  # 2026-10-05 11:15:02
    assert run(DAY).success
    assert leg_starts(warehouse_url) == {key: at.replace(microsecond=0) for key, at in exact.items()}


def test_a_leg_at_exactly_midnight_is_loaded_once_into_its_own_day(sim, warehouse_url):
    midnight = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    result = run(DAY - timedelta(days=1), 2)
    assert result.success, failure_messages(result)
    # the simulator reads start_date_from strictly ("started after") and starts a call at 00:00:00.000
    at_midnight = rows(warehouse_url, """
        SELECT l.leg_key, w.window_start FROM cdr.fact_call_leg l
        JOIN cdr.window_fetch w ON l.raw_response_id = ANY (w.raw_response_ids)
        WHERE l.started_at = %s""", (midnight,))
    assert [start for _, start in at_midnight] == [midnight]
    # the call just before midnight: fetched again with the day after (the request starts a second
    # early) but kept in its own day, loaded once, and not quarantined
    before = rows(warehouse_url, """
        SELECT l.leg_key, w.window_start FROM cdr.fact_call_leg l
        JOIN cdr.window_fetch w ON l.raw_response_id = ANY (w.raw_response_ids)
        WHERE l.started_at >= %s AND l.started_at < %s""", (midnight - timedelta(seconds=1), midnight))
    assert [start for _, start in before] == [midnight - timedelta(days=1)]
    with psycopg.connect(warehouse_url) as conn:  # the day's raw pages hold it as fetched
        held = {item["uuid"] for page in window_pages(conn, "tenios", "tenios-demo",
                                                      (midnight, midnight + timedelta(days=1)))
                for item in orjson.loads(page.body)["items"]}
    assert before[0][0] in held
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.quarantine") == 0
    # each day reconciles with /cdrs/count: the count asked with the same early start, less the
    # previous day's legs the pages held
    per_day = rows(warehouse_url, "SELECT (started_at AT TIME ZONE 'UTC')::date, count(*)"
                                  " FROM cdr.fact_call_leg GROUP BY 1 ORDER BY 1")
    assert rows(warehouse_url, "SELECT window_start::date, provider_count, records FROM cdr.window_fetch"
                               " ORDER BY 1") == [(day, n, n) for day, n in per_day]
    checks = {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert checks["reconciles_with_provider_count"], checks
