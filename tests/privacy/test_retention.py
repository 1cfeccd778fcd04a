"""Retention per account (issue 18): what expired goes, partitions whole where every account's
legs in them expired, nothing else; aggregates and KPIs stay; a day whose raw pages went cannot
be re-parsed and says so. Real simulators, real loads, real rows."""
from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from dagster import AssetKey, DagsterInstance, DefaultScheduleStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.config import Configuration
from pipelines.errors import ConfigurationError, WindowNotReplayableError
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.privacy import Retention, enforce_retention, subject
from pipelines.warehouse.privacy import erase as erase_number
from tests.conftest import rows, scalar, snapshot
from tests.dagster_runs import failure_messages, load_definitions, run_range
from tests.privacy.test_erasure import KPIS, PROVIDERS, run, settle
from tests.simulator_driver import simulators

AUG, SEP, OCT = date(2026, 8, 4), date(2026, 9, 8), date(2026, 10, 5)
NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
KEPT = ("cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily", "mart.kpi_daily", "mart.kpi_hourly")


@pytest.fixture(scope="module")
def sims():
    with simulators(PROVIDERS, TENIOS_PAGE_SIZE="100") as drivers:
        yield drivers


@pytest.fixture
def three_months(sims, clean_warehouse):
    # the (empty) monthly partitions earlier tests in this database left, so that the partitions
    # retention finds are this test's (a doc example's legs of 2018 leave one behind)
    with psycopg.connect(clean_warehouse) as conn:
        for name in partitions(clean_warehouse):
            conn.execute(f"DROP TABLE cdr.{name}")
    for day in (AUG, SEP, OCT):
        run(day)
    settle(clean_warehouse)
    with psycopg.connect(clean_warehouse) as conn:  # one old and one recent quarantined record
        conn.execute("INSERT INTO cdr.quarantine (provider, account, raw_response_id, record_index, reason,"
                     " quarantined_at) VALUES ('tenios', 'tenios-demo', 1, 0, 'test', %s),"
                     " ('tenios', 'tenios-demo', 1, 1, 'test', %s)",
                     (NOW - timedelta(days=61), NOW - timedelta(days=59)))
    return clean_warehouse


def count(url: str, where: str, params=()) -> int:
    return scalar(url, f"SELECT count(*) FROM cdr.fact_call_leg WHERE {where}", params)


def partitions(url: str) -> list[str]:
    return [r[0] for r in rows(url, "SELECT c.relname FROM pg_inherits i"
                                    " JOIN pg_class c ON c.oid = i.inhrelid"
                                    " WHERE i.inhparent = 'cdr.fact_call_leg'::regclass ORDER BY 1")]


def enforce(url: str, policies):
    with psycopg.connect(url) as conn:
        return enforce_retention(conn, policies, NOW)


def test_retention_deletes_exactly_what_expired_and_keeps_the_kpis(three_months):
    url = three_months
    kept = snapshot(url, KEPT)
    kpis = rows(url, KPIS)
    aug = "started_at >= '2026-08-01' AND started_at < '2026-09-01'"
    tenios_aug = count(url, f"provider = 'tenios' AND {aug}")
    belfabriek_aug = count(url, f"provider = 'belfabriek' AND {aug}")
    later = snapshot(url, ("cdr.fact_call_leg",))["cdr.fact_call_leg"]
    later = [r for r in later if r[4] >= datetime(2026, 9, 1, tzinfo=UTC) or r[0] == "belfabriek"]
    assert tenios_aug > 100 and belfabriek_aug > 10
    raw_before = dict(rows(url, "SELECT provider, count(*) FROM cdr.raw_response GROUP BY 1"))
    # tenios: legs and calls of the current month and two before (from 1 September), raw bodies 60
    # days (windows ending by 16 September), quarantine 60 days; Belfabriek: the defaults
    tenios = Retention(calls_months=2, raw_days=60, quarantine_days=60)
    expired_pages = rows(url, "SELECT provider, count(*) FROM cdr.raw_response"
                              " WHERE window_end <= CASE provider WHEN 'tenios' THEN %s ELSE %s END"
                              " GROUP BY 1 ORDER BY 1",
                         (NOW - timedelta(days=60), NOW - timedelta(days=90)))
    report = enforce(url, {("tenios", "tenios-demo"): tenios})

    # August holds Belfabriek legs still kept: only the tenios legs of it went, row by row
    assert report.partitions_dropped == []
    assert report.removed[("tenios", "tenios-demo", "cdr.fact_call_leg")] == tenios_aug
    assert count(url, f"provider = 'tenios' AND {aug}") == 0
    assert count(url, f"provider = 'belfabriek' AND {aug}") == belfabriek_aug
    remaining = snapshot(url, ("cdr.fact_call_leg",))["cdr.fact_call_leg"]
    assert remaining == later  # nothing else
    assert scalar(url, f"SELECT count(*) FROM cdr.fact_call WHERE provider = 'tenios' AND {aug}") == 0
    assert scalar(url, f"SELECT count(*) FROM cdr.fact_call WHERE provider = 'belfabriek' AND {aug}") > 0
    assert report.removed[("tenios", "tenios-demo", "cdr.quarantine")] == 1
    assert scalar(url, "SELECT count(*) FROM cdr.quarantine") == 1
    assert report.raw_pages == sum(c for _, c in expired_pages)
    assert dict(rows(url, "SELECT provider, count(*) FROM cdr.raw_response GROUP BY 1")) == {
        provider: raw_before[provider] - dict(expired_pages).get(provider, 0) for provider in raw_before}
    # the aggregates and KPIs, which name no subscriber, are kept as they were
    assert snapshot(url, KEPT) == kept and rows(url, KPIS) == kpis

    # a re-parse of a day whose raw pages went says so, instead of loading nothing
    source = Configuration.from_env({**os.environ, "CDR_PROVIDERS": "tenios"}).account("tenios")
    aug_window = (datetime(2026, 8, 4, tzinfo=UTC), datetime(2026, 8, 5, tzinfo=UTC))
    assert rows(url, "SELECT reason FROM cdr.unreplayable_window WHERE provider = 'tenios'"
                     " AND window_start = %s", (aug_window[0],)) == [("retention",)]
    with pytest.raises(WindowNotReplayableError, match=r"not replayable: \d+ of its raw pages were deleted by"
                                                       r" retention"):
        load_windows(lambda **kw: psycopg.connect(url, **kw), "tenios", source.account, source.spec.items,
                     [aug_window], parse=source.parse, parser_version=source.parser_version, force=True)

    # once Belfabriek's August legs expire too, the partition goes whole
    report = enforce(url, {("tenios", "tenios-demo"): tenios,
                           ("belfabriek", "belfabriek-demo"): Retention(calls_months=2)})
    assert report.partitions_dropped == ["fact_call_leg_2026_08"]
    assert report.removed[("belfabriek", "belfabriek-demo", "cdr.fact_call_leg")] == belfabriek_aug
    assert "fact_call_leg_2026_08" not in partitions(url)
    assert {"fact_call_leg_2026_09", "fact_call_leg_2026_10"} <= set(partitions(url))
    assert snapshot(url, KEPT) == kept and rows(url, KPIS) == kpis
    # nothing left to expire: a second run removes nothing
    again = enforce(url, {("tenios", "tenios-demo"): tenios,
                          ("belfabriek", "belfabriek-demo"): Retention(calls_months=2)})
    assert again.as_metadata() == {"partitions_dropped": 0, "raw_pages_deleted": 0, "windows_marked": 0}


def test_a_full_refresh_recomputes_no_day_whose_legs_retention_deleted(three_months):
    """Retention keeps the aggregates and KPIs of the days whose legs it deletes. A full refresh
    of the derived assets over those days (docs/operations.md's remedy for a failed check) must
    not recompute them from legs that are gone, and still recomputes the days after them."""
    url = three_months
    run(date(2026, 8, 31), days=2)  # Berlin's 1 September starts at 22:00 UTC on 31 August
    settle(url)
    report = enforce(url, {("tenios", "tenios-demo"): Retention(calls_months=2)})  # tenios' August
    assert report.removed[("tenios", "tenios-demo", "cdr.fact_call_leg")] > 100
    # so its KPIs for 1 September count calls whose legs are gone: kept, not recomputed either
    assert scalar(url, "SELECT sum(calls) FROM mart.kpi_daily WHERE provider = 'tenios'"
                       " AND local_date = '2026-09-01'") > scalar(
        url, "SELECT count(*) FROM cdr.fact_call WHERE provider = 'tenios'"
             " AND (started_at AT TIME ZONE 'Europe/Berlin')::date = '2026-09-01'")
    horizon = "SELECT calls_before FROM cdr.retention_horizon WHERE provider = 'tenios'"
    assert rows(url, horizon) == [(datetime(2026, 9, 1, tzinfo=UTC),)]
    kept, kpis = snapshot(url, KEPT), rows(url, KPIS)
    with psycopg.connect(url) as conn:  # a kept day's figures lost: the full refresh brings them back
        conn.execute("DELETE FROM cdr.agg_call_leg_daily WHERE provider = 'tenios' AND day = %s", (SEP,))
    full = {"config": {"full_refresh": True}}
    job = load_definitions(PROVIDERS).resolve_implicit_global_asset_job_def()
    refreshed = job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        asset_selection=[AssetKey("calls"), AssetKey("call_leg_aggregates"), AssetKey("mart")],
        tags={ASSET_PARTITION_RANGE_START_TAG: "2026-08-01", ASSET_PARTITION_RANGE_END_TAG: "2026-10-31"},
        run_config={"ops": {"calls": full, "call_leg_aggregates": full, "mart": full}})
    assert refreshed.success
    assert snapshot(url, KEPT) == kept and rows(url, KPIS) == kpis
    # a longer retention later does not move the horizon back: those legs stay gone
    enforce(url, {("tenios", "tenios-demo"): Retention(calls_months=12)})
    assert rows(url, horizon) == [(datetime(2026, 9, 1, tzinfo=UTC),)]


def test_telecomx_counters_past_the_cut_off_keep_their_counts_and_lose_the_employee_names(clean_warehouse):
    """Telecom X's counters name employees (cdr.fact_pbx_stats): past the calls cut-off the
    counts stay, as the other aggregates do, and the names and extension numbers go."""
    url = clean_warehouse
    with simulators(["telecomx"]):
        for day in (AUG, OCT):
            done = run_range(["telecomx"], day.isoformat(), day.isoformat())
            assert done.success, failure_messages(done)
    counters = ("SELECT customer, employee_id, interval_start, grain, outbound_calls, inbound_calls,"
                " outbound_seconds, inbound_seconds FROM cdr.fact_pbx_stats ORDER BY 1, 2, 3, 4")
    named = ("SELECT interval_start < '2026-09-01', count(*) FILTER (WHERE employee_name IS NOT NULL),"
             " count(*) FILTER (WHERE extension_number IS NOT NULL),"
             " count(*) FILTER (WHERE employee_name IS NOT NULL OR extension_number IS NOT NULL)"
             " FROM cdr.fact_pbx_stats GROUP BY 1 ORDER BY 1")
    before, counts = rows(url, counters), rows(url, named)
    assert len(counts) == 2 and all(names > 0 and numbers > 0 for _, names, numbers, _ in counts)
    (account,), = rows(url, "SELECT DISTINCT account FROM cdr.fact_pbx_stats")
    kpis = ("SELECT employee_id, local_date, direction, calls, talk_s FROM mart.kpi_employee_daily"
            " ORDER BY 1, 2, 3")
    kpis_before = rows(url, kpis)

    report = enforce(url, {("telecomx", account): Retention(calls_months=2)})  # before 1 September
    recent, (_, _, _, august) = counts  # from 1 September, then before it
    assert report.removed[("telecomx", account, "cdr.fact_pbx_stats.employee_name")] == august
    assert rows(url, named) == [recent, (True, 0, 0, 0)]
    assert rows(url, counters) == before and rows(url, kpis) == kpis_before
    assert rows(url, "SELECT DISTINCT employee_name IS NULL FROM mart.kpi_employee_daily"
                     " WHERE local_date < '2026-09-01'") == [(True,)]
    assert enforce(url, {("telecomx", account): Retention(calls_months=2)}).removed == {}


def test_a_number_in_kept_aggregates_is_erased_there_though_its_legs_expired(three_months):
    """Retention keeps the aggregates and KPIs of expired days, which hold service numbers. Their
    legs are gone, so an erasure cannot recompute them: it rewrites the number in them, the totals
    of each day unchanged, and nothing holds the number afterwards."""
    url = three_months
    enforce(url, {("tenios", "tenios-demo"): Retention(calls_months=2)})  # tenios' August legs go
    number = scalar(url, "SELECT service_number FROM cdr.agg_call_leg_daily WHERE provider = 'tenios'"
                         " AND day = %s AND service_number LIKE '+%%' ORDER BY calls DESC LIMIT 1", (AUG,))
    totals = {table: f"SELECT {day}, sum(calls), sum({seconds}), sum(cost_eur) FROM {table}"
                     f" WHERE provider = 'tenios' GROUP BY {day} ORDER BY {day}"
              for table, day, seconds in (("cdr.agg_call_leg_daily", "day", "duration_s"),
                                          ("cdr.agg_call_leg_hourly", "hour", "duration_s"),
                                          ("mart.kpi_daily", "local_date", "talk_s"),
                                          ("mart.kpi_hourly", "local_date, local_hour", "talk_s"))}
    before = {table: rows(url, query) for table, query in totals.items()}
    with psycopg.connect(url) as conn:
        receipt = erase_number(conn, subject(number), "tenios", "tenios-demo")
    assert receipt.touched["cdr.agg_call_leg_daily"] > 0 and receipt.touched["mart.kpi_daily"] > 0
    assert {table: rows(url, query) for table, query in totals.items()} == before
    for table in totals:
        assert scalar(url, f"SELECT count(*) FROM {table} WHERE service_number = %s", (number,)) == 0
        assert scalar(url, f"SELECT count(*) FROM {table} WHERE service_number = 'erased'"
                           " AND provider = 'tenios'") > 0


def test_the_retention_schedule_is_registered_stopped_and_its_job_applies_the_defaults(three_months):
    url = three_months
    defs = load_definitions(PROVIDERS)
    schedule = defs.resolve_schedule_def("retention_schedule")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    now = datetime.now(UTC)
    expired = scalar(url, "SELECT count(*) FROM cdr.raw_response WHERE window_end <= %s",
                     (now - timedelta(days=90),))
    assert expired > 0  # the August pages, by the defaults (90 days)
    pages = scalar(url, "SELECT count(*) FROM cdr.raw_response")
    legs = scalar(url, "SELECT count(*) FROM cdr.fact_call_leg")
    result = defs.resolve_job_def("retention").execute_in_process(instance=DagsterInstance.ephemeral())
    assert result.success
    assert scalar(url, "SELECT count(*) FROM cdr.raw_response") == pages - expired
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg") == legs  # 24 months: none expired


def test_retention_in_the_accounts_file_is_checked(tmp_path):
    path = tmp_path / "accounts.toml"
    base = ('[[accounts]]\nprovider = "tenios"\nname = "a"\ncredentials = { access_key = { env = "K" } }\n')
    path.write_text(base + "retention = { calls_months = 6, raw_days = 7 }\n")
    config = Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path)})
    assert config.accounts[0].retention == Retention(calls_months=6, raw_days=7, quarantine_days=90)
    path.write_text(base + "retention = { raw_dayz = 7 }\n")
    with pytest.raises(ConfigurationError, match=r"retention\.raw_dayz: unknown key; did you mean"):
        Configuration.from_env({"CDR_ACCOUNTS_FILE": str(path)})
