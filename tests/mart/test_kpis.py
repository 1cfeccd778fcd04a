"""The mart's KPIs and local time (issue 16), end to end: TENIOS, Belfabriek and MIXvoip days around
both clock changes of 2026 loaded from their simulators over HTTP by the nightly Dagster job, then
mart.kpi_daily and mart.kpi_hourly held against a recomputation in Python (tests/mart/recompute.py:
zoneinfo over cdr.fact_call read back) in all four reporting zones; and the refresh kept
incremental: a re-run rewrites nothing, a late leg recomputes only its local dates, a new
reporting zone recomputes the account's days."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipelines.providers.belfabriek.simulator import BelfabriekData, day_calls
from pipelines.providers.tenios.simulator import TeniosData, day_legs
from pipelines.simulators import RunningSimulators, accounts_file, running_simulators
from tests.conftest import rows, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.mart.recompute import MART_TABLES, differences, expected_kpis, stored_kpis
from tests.simulator_driver import SimulatorDriver, restored_environment

PROVIDERS = ["tenios", "belfabriek", "mixvoip"]
DEFAULT_ZONES = {"tenios": "Europe/Berlin", "belfabriek": "Europe/Amsterdam", "mixvoip": "Europe/Luxembourg"}
COPENHAGEN = "Europe/Copenhagen"  # Telecom X's default, but it has no legs: a second TENIOS account takes it
LONDON = "Europe/London"  # an hour behind the four: every local hour moves, and some local dates
LEGS_PER_DAY = 40
TENIOS_DATA = TeniosData(legs_per_day=LEGS_PER_DAY)  # what its simulator serves here
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)  # the clock changes of 2026 in all four zones
# The UTC days loaded: each change with the day before and after (their local dates one more).
SPRING_DAYS = (SPRING - timedelta(days=1), SPRING + timedelta(days=1))
AUTUMN_DAYS = (AUTUMN - timedelta(days=1), AUTUMN + timedelta(days=1))
# A winter day on which Belfabriek's simulator (seed and LEGS_PER_DAY as here) serves a call at
# 23:30 UTC: 00:30 on the next date in Amsterdam.
WINTER_DAY = date(2026, 2, 15)


@dataclass
class Served:
    running: RunningSimulators
    path: Path  # the accounts file the runs read
    zones: dict[tuple[str, str], str]  # {(provider, account): the reporting zone the file gives}
    loaded: bool = False  # the warehouse holds what `loaded` loads, as it loads it

    def account(self, provider: str, index: int = 0) -> str:
        return self.running.accounts[provider][index].name

    def driver(self, provider: str) -> SimulatorDriver:
        return SimulatorDriver(self.running[provider])

    def write_accounts(self, zones: dict[tuple[str, str], str]) -> None:
        """The accounts file for the served accounts, with `time_zone` where `zones` names another
        than the provider's default (the default itself then comes from the provider spec)."""
        # Belfabriek paces itself at one request a second by default; its simulator allows more
        accounts = {provider: tuple(replace(a, options={**a.options, "requests_per_second": "50"})
                                    if provider == "belfabriek" else a for a in served)
                    for provider, served in self.running.accounts.items()}
        text, _ = accounts_file(accounts)
        for (provider, account), zone in zones.items():
            if zone != DEFAULT_ZONES[provider]:
                line = f"name = {json.dumps(account)}\n"
                assert text.count(line) == 1
                text = text.replace(line, line + f"time_zone = {json.dumps(zone)}\n")
        self.path.write_text(text)
        self.zones = dict(zones)


@pytest.fixture(scope="module")
def served(warehouse_url, tmp_path_factory) -> Iterator[Served]:
    """The three simulators, TENIOS with two accounts (the second reporting in Copenhagen), and the
    environment reading them from an accounts file."""
    path = tmp_path_factory.mktemp("accounts") / "cdr-accounts.toml"
    with restored_environment():
        os.environ["TENIOS_SIM_CALL_BEFORE_MIDNIGHT"] = ""  # the data TENIOS_DATA describes
        with running_simulators(["tenios"], legs_per_day=LEGS_PER_DAY, accounts_per_provider=2) as tenios, \
                running_simulators(["belfabriek", "mixvoip"], legs_per_day=LEGS_PER_DAY) as others:
            running = RunningSimulators()
            running.update({**tenios, **others})
            running.accounts = {**tenios.accounts, **others.accounts}
            os.environ.update(accounts_file(running.accounts)[1])
            os.environ["CDR_ACCOUNTS_FILE"] = str(path)
            served = Served(running, path, {})
            zones = {(provider, account.name): DEFAULT_ZONES[provider]
                     for provider, accounts in running.accounts.items() for account in accounts}
            zones["tenios", served.account("tenios", 1)] = COPENHAGEN
            served.write_accounts(zones)
            yield served


def load(days: tuple[date, date], providers: list[str] = PROVIDERS) -> None:
    result = run_range(providers, days[0].isoformat(), days[1].isoformat())
    assert result.success, failure_messages(result)


@pytest.fixture
def loaded(served, warehouse_url) -> Served:
    """Both clock changes for every account, and Belfabriek's winter day: loaded once, and again
    after a `fresh` test."""
    if not served.loaded:
        truncate_warehouse(warehouse_url)
        load(SPRING_DAYS)
        load(AUTUMN_DAYS)
        load((WINTER_DAY, WINTER_DAY), ["belfabriek"])
        served.loaded = True
    return served


@pytest.fixture
def fresh(served, warehouse_url) -> Iterator[Served]:
    """An empty warehouse for a test that changes what is served or configured; the simulators
    and the accounts file put back afterwards."""
    zones = dict(served.zones)
    served.loaded = False
    truncate_warehouse(warehouse_url)
    yield served
    served.write_accounts(zones)
    for provider in PROVIDERS:
        served.driver(provider).reset()


def assert_kpis_match_the_calls(url: str, zones) -> None:
    daily, hourly = expected_kpis(url, zones)
    assert differences(stored_kpis(url, "mart.kpi_daily"), daily) == []
    assert differences(stored_kpis(url, "mart.kpi_hourly"), hourly) == []


def utc(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def local_day(day: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which local `day` starts and the next one starts, in `zone`."""
    tz = ZoneInfo(zone)
    return (datetime.combine(day, time(), tz).astimezone(UTC),
            datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC))


def calls_per_utc_hour(url: str, provider: str, account: str, first: datetime, end: datetime) -> dict:
    """{UTC hour start: calls}, counted by the UTC start instants alone (no zone involved)."""
    return dict(rows(url, "SELECT date_trunc('hour', started_at), count(*) FROM cdr.fact_call"
                          " WHERE provider = %s AND account = %s AND started_at >= %s AND started_at < %s"
                          " GROUP BY 1", (provider, account, first, end)))


def hourly_calls(url: str, provider: str, account: str, day: date) -> dict[int, int]:
    return dict(rows(url, "SELECT local_hour, sum(calls)::int FROM mart.kpi_hourly"
                          " WHERE provider = %s AND account = %s AND local_date = %s GROUP BY 1",
                     (provider, account, day)))


def daily_calls(url: str, provider: str, account: str, day: date) -> int:
    return rows(url, "SELECT coalesce(sum(calls), 0)::int FROM mart.kpi_daily WHERE provider = %s"
                     " AND account = %s AND local_date = %s", (provider, account, day))[0][0]


def test_kpis_equal_a_recomputation_from_the_calls_in_every_zone(loaded, warehouse_url):
    assert set(loaded.zones.values()) == {*DEFAULT_ZONES.values(), COPENHAGEN}
    assert_kpis_match_the_calls(warehouse_url, loaded.zones)
    for (provider, account), zone in loaded.zones.items():
        assert rows(warehouse_url, "SELECT time_zone FROM mart.dim_account WHERE provider = %s"
                                   " AND account = %s AND customer IS NULL", (provider, account)) == [(zone,)]
        dates = {d for (d,) in rows(warehouse_url, "SELECT local_date FROM mart.kpi_daily WHERE provider = %s"
                                                   " AND account = %s", (provider, account))}
        assert {SPRING, AUTUMN} <= dates, (provider, account)
    # every measure and ratio is exercised somewhere: none is zero or unknown throughout
    exercised = rows(warehouse_url, "SELECT sum(answered), sum(missed), sum(unknown_outcome), sum(talk_s),"
                                    " sum(duration_s), sum(billable_s), sum(cost_eur), count(asr),"
                                    " count(acd_s), count(billable_minutes), count(cost_per_minute)"
                                    " FROM mart.kpi_daily")[0]
    assert all(exercised), exercised


def test_a_call_at_2330_utc_in_winter_is_on_the_next_local_date_in_amsterdam(loaded, warehouse_url):
    account = loaded.account("belfabriek")
    half_past = utc(WINTER_DAY, 23, 30)
    call = min(day_calls(BelfabriekData(calls_per_day=LEGS_PER_DAY), account, WINTER_DAY),
               key=lambda c: abs(c.at - half_past))
    assert abs(call.at - half_past) < timedelta(minutes=1), "the simulator's data changed: pick another day"
    next_date = WINTER_DAY + timedelta(days=1)
    assert set(rows(warehouse_url, "SELECT time_zone, local_date, local_hour FROM mart.calls"
                                   " WHERE provider = 'belfabriek' AND account = %s AND started_at = %s",
                    (account, call.at))) == {("Europe/Amsterdam", next_date, 0)}
    # kpi_daily counts it on the next date: only the calls of 23:00-24:00 UTC are loaded for it
    evening = calls_per_utc_hour(warehouse_url, "belfabriek", account, utc(WINTER_DAY, 23), utc(next_date))
    assert sum(evening.values()) >= 1
    assert daily_calls(warehouse_url, "belfabriek", account, next_date) == sum(evening.values())
    assert hourly_calls(warehouse_url, "belfabriek", account, next_date) == {0: sum(evening.values())}
    own_date = calls_per_utc_hour(warehouse_url, "belfabriek", account,
                                  utc(WINTER_DAY - timedelta(days=1), 23), utc(WINTER_DAY, 23))
    assert daily_calls(warehouse_url, "belfabriek", account, WINTER_DAY) == sum(own_date.values())


def test_spring_date_has_23_hours_and_the_repeated_autumn_hour_is_one_row(loaded, warehouse_url):
    both_passes = []
    for (provider, account), zone in loaded.zones.items():
        for day, hours in ((SPRING, 23), (AUTUMN, 25)):
            start, end = local_day(day, zone)
            assert end - start == timedelta(hours=hours)
            per_utc_hour = calls_per_utc_hour(warehouse_url, provider, account, start, end)
            # each UTC hour of the local date lands in the local hour zoneinfo gives it
            expected: dict[int, int] = {}
            for utc_hour, calls in per_utc_hour.items():
                local_hour = utc_hour.astimezone(ZoneInfo(zone)).hour
                expected[local_hour] = expected.get(local_hour, 0) + calls
            assert hourly_calls(warehouse_url, provider, account, day) == expected, (provider, account, day)
            assert daily_calls(warehouse_url, provider, account, day) == sum(per_utc_hour.values())
            if day == SPRING:
                assert 2 not in expected  # 02:00-02:59 does not exist that night
            elif utc(day, 0) in per_utc_hour and utc(day, 1) in per_utc_hour:
                # 02:00-02:59 twice: 00:00-00:59 UTC in summer time, 01:00-01:59 UTC in winter time
                assert expected[2] == per_utc_hour[utc(day, 0)] + per_utc_hour[utc(day, 1)]
                both_passes.append((provider, account))
    # TENIOS stamps are UTC, so its calls keep both passes (Belfabriek's wall-clock times are read
    # as the first pass, its dst_repeated_hour default); the second TENIOS account has calls in both
    assert ("tenios", loaded.account("tenios", 1)) in both_passes
    assert rows(warehouse_url, "SELECT count(*) FROM mart.kpi_hourly WHERE local_date = %s"
                               " AND local_hour = 2", (SPRING,)) == [(0,)]
    # one row per group for the repeated hour, holding both passes
    assert rows(warehouse_url, "SELECT count(*) - count(DISTINCT (provider, account, customer,"
                               " service_number, direction)) FROM mart.kpi_hourly"
                               " WHERE local_date = %s AND local_hour = 2", (AUTUMN,)) == [(0,)]


def row_versions(url: str) -> dict[str, list[tuple]]:
    """Every row of the mart's stored tables with its xmin: a row rewritten with equal values still
    changes its xmin."""
    return {table: sorted(rows(url, f"SELECT xmin::text, t::text FROM {table} t")) for table in MART_TABLES}


def test_a_rerun_and_a_full_refresh_rewrite_nothing_in_the_mart(loaded, warehouse_url):
    before = row_versions(warehouse_url)
    assert all(before.values())
    load(SPRING_DAYS)
    load(AUTUMN_DAYS)
    assert row_versions(warehouse_url) == before
    # The autumn day's KPIs recomputed from scratch, in a run of that day alone: the same values,
    # so not a row written. Its last UTC hour is on the next local date, which must be recomputed
    # from all its calls, the next UTC day's included, not from the refreshed day's share of it.
    assert rows(warehouse_url, "SELECT count(*) > 0 FROM cdr.fact_call WHERE started_at >= %s"
                               " AND started_at < %s", (utc(AUTUMN, 23), utc(AUTUMN + timedelta(days=1)))) \
        == [(True,)]
    full = run_range(PROVIDERS, AUTUMN.isoformat(), AUTUMN.isoformat(),
                     ops_config={"mart": {"config": {"full_refresh": True}}})
    assert full.success, failure_messages(full)
    assert_kpis_match_the_calls(warehouse_url, loaded.zones)
    assert row_versions(warehouse_url) == before
    assert rows(warehouse_url, "SELECT count(*) FROM cdr.stale_day WHERE target = 'mart'") == [(0,)]


def tamper(url: str) -> None:
    """Every KPI row off by 1000 calls: what the next run leaves so was not recomputed."""
    for table in ("mart.kpi_daily", "mart.kpi_hourly"):
        rows(url, f"UPDATE {table} SET calls = calls + 1000 RETURNING 1")


def recomputed_dates(url: str, table: str) -> set[tuple]:
    return set(rows(url, f"SELECT DISTINCT provider, account, local_date FROM {table} WHERE calls < 1000"))


def test_a_late_leg_recomputes_only_the_local_dates_of_its_days(fresh, warehouse_url):
    tenios, account = fresh.driver("tenios"), fresh.account("tenios")
    # the one leg of the range that becomes visible last: hidden at first, served on the re-run
    legs = [(start, visible, name, record) for name in (account, fresh.account("tenios", 1))
            for day in (AUTUMN_DAYS[0] + timedelta(days=i) for i in range(3))
            for start, visible, record in day_legs(TENIOS_DATA, name, day)]
    *_, runner_up, (late_start, late_visible, late_account, late_leg) = sorted(legs, key=lambda leg: leg[1])
    assert late_account == account and runner_up[1] < late_visible - timedelta(hours=1)
    tenios.post("/_sim/clock", {"now": (late_visible - timedelta(minutes=30)).isoformat()})
    load(AUTUMN_DAYS)
    assert rows(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE leg_key = %s",
                (late_leg["uuid"],)) == [(0,)]
    assert_kpis_match_the_calls(warehouse_url, fresh.zones)
    tamper(warehouse_url)

    tenios.post("/_sim/clock", {})
    load(AUTUMN_DAYS)
    assert rows(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE leg_key = %s",
                (late_leg["uuid"],)) == [(1,)]
    # the leg's UTC day and the day before (a call may start there) are recomputed: every local
    # date they touch in the account's zone, and nothing else of any account
    changed = late_start.date()
    first, _ = local_day(changed - timedelta(days=1), "UTC")
    zone = ZoneInfo(fresh.zones["tenios", account])
    touched = {(first + timedelta(hours=h)).astimezone(zone).date() for h in range(48)}
    assert touched == {changed - timedelta(days=1), changed, changed + timedelta(days=1)}
    expected = {("tenios", account, d) for d in touched}
    assert recomputed_dates(warehouse_url, "mart.kpi_daily") == expected
    assert recomputed_dates(warehouse_url, "mart.kpi_hourly") <= expected
    daily, hourly = expected_kpis(warehouse_url, fresh.zones)
    for table, recomputation in (("mart.kpi_daily", daily), ("mart.kpi_hourly", hourly)):
        stored = {key: row for key, row in stored_kpis(warehouse_url, table).items() if row[0] < 1000}
        assert differences(stored, {key: row for key, row in recomputation.items()
                                    if (key[0], key[1], key[2]) in expected}) == []


@pytest.mark.parametrize("rerun", ["every day", "the latest days"])
def test_a_new_time_zone_recomputes_every_day_of_the_account(fresh, warehouse_url, rerun):
    load(SPRING_DAYS)
    load(AUTUMN_DAYS)
    account = ("tenios", fresh.account("tenios"))
    fresh.write_accounts({**fresh.zones, account: LONDON})
    if rerun == "every day":
        load(SPRING_DAYS)
    load(AUTUMN_DAYS)
    assert rows(warehouse_url, "SELECT DISTINCT time_zone FROM mart.dim_account WHERE provider = %s"
                               " AND account = %s", account) == [(LONDON,)]
    assert set(rows(warehouse_url, "SELECT DISTINCT time_zone FROM mart.calls WHERE provider = %s"
                                   " AND account = %s", account)) == {(LONDON,)}
    assert_kpis_match_the_calls(warehouse_url, fresh.zones)
    assert rows(warehouse_url, "SELECT count(*) FROM cdr.stale_day WHERE target = 'mart'") == [(0,)]
