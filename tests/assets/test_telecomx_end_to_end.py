"""Telecom X through Dagster: simulator -> raw pages -> cdr.fact_pbx_stats -> cdr.v_daily_activity."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipelines.providers.telecomx import SIM_CUSTOMER, SIM_PASSWORD, SIM_USERNAME
from pipelines.providers.telecomx.simulator import TelecomXData, count, day_calls
from pipelines.simulators import running_simulators
from tests.conftest import PAST_DAY, day_range, rows, scalar, snapshot
from tests.dagster_runs import failure_messages, run_range

TABLES = ("cdr.fact_pbx_stats", "cdr.quarantine", "cdr.window_fetch")


def expected_day(day, now: datetime) -> dict[str, int]:
    """What the simulator's calls of `day`, visible at `now`, add up to."""
    return count([c for c in day_calls(TelecomXData(), SIM_CUSTOMER, day) if c.visible_at <= now])


def fact_totals(url: str, day) -> dict[str, int]:
    outbound, inbound, answered, seconds = rows(
        url, "SELECT sum(outbound_calls), sum(inbound_calls), sum(outbound_answered), sum(inbound_seconds)"
             " FROM cdr.fact_pbx_stats WHERE interval_start >= %s AND interval_start < %s + interval '1 day'",
        (day, day))[0]
    return {"outboundCalls": outbound, "inboundCalls": inbound, "outboundAnswered": answered,
            "inboundSeconds": seconds}


def sim_post(url: str, path: str, payload: dict) -> dict:
    return httpx.post(f"{url}{path}", json=payload).json()


@pytest.fixture
def simulator(clean_warehouse, monkeypatch):
    for name in ("TELECOMX_TOKEN", "TELECOMX_ACCOUNT", "TELECOMX_CUSTOMERS", "TELECOMX_BASE_URL",
                 "CDR_PROVIDERS"):
        monkeypatch.delenv(name, raising=False)  # so that monkeypatch puts back what was there
    with running_simulators(["telecomx"]) as urls:
        yield clean_warehouse, urls["telecomx"]


def test_backfill_loads_hourly_counters_and_rerun_rewrites_nothing(simulator):
    url, _ = simulator
    first, last = day_range(PAST_DAY, 2)
    result = run_range(["telecomx"], first, last)
    assert result.success, failure_messages(result)
    assert scalar(url, "SELECT count(DISTINCT grain) || ':' || min(grain)"
                       " FROM cdr.fact_pbx_stats") == "1:HOUR"
    everything = datetime.now(UTC)
    for day in (PAST_DAY, PAST_DAY + timedelta(days=1)):
        want = expected_day(day, everything)
        assert fact_totals(url, day) == {k: want[k] for k in fact_totals(url, day)}
    # the view puts the counters beside the leg aggregates, inbound answered left NULL
    view = rows(url, "SELECT direction, calls, answered FROM cdr.v_daily_activity WHERE source = 'pbx_stats'"
                     " AND day = %s ORDER BY direction", (PAST_DAY,))
    want = expected_day(PAST_DAY, everything)
    assert view == [("inbound", want["inboundCalls"], None),
                    ("outbound", want["outboundCalls"], want["outboundAnswered"])]
    assert scalar(url, "SELECT count(*) FROM cdr.raw_response"
                       " WHERE request_params::text LIKE '%%sim-telecomx-m2m%%'") == 0

    before = snapshot(url, TABLES[:2])
    again = run_range(["telecomx"], first, last)
    assert again.success, failure_messages(again)
    assert snapshot(url, TABLES[:2]) == before  # same rows, same raw ids, same last_changed_at
    # audited like the leg loads: the re-run found each day's pages unchanged and skipped it
    stats_rows = scalar(url, "SELECT count(*) FROM cdr.fact_pbx_stats")
    assert rows(url, "SELECT skipped, count(*), sum(legs_parsed) FROM cdr.load_audit"
                     " WHERE provider = 'telecomx' GROUP BY 1 ORDER BY 1") == [
        (False, 2, stats_rows), (True, 2, 0)]


def test_re_pull_of_a_day_replaces_counts_instead_of_adding(simulator):
    url, sim_url = simulator
    day = PAST_DAY.isoformat()
    early = datetime(PAST_DAY.year, PAST_DAY.month, PAST_DAY.day, 13, tzinfo=UTC)
    sim_post(sim_url, "/_sim/clock", {"now": early.isoformat()})  # the afternoon: only the morning is in
    assert run_range(["telecomx"], day, day).success
    partial = fact_totals(url, PAST_DAY)
    assert partial["outboundCalls"] == expected_day(PAST_DAY, early)["outboundCalls"] > 0

    sim_post(sim_url, "/_sim/clock", {})  # back to the real clock: the whole day is visible
    assert run_range(["telecomx"], day, day).success
    full = expected_day(PAST_DAY, datetime.now(UTC))
    assert fact_totals(url, PAST_DAY) == {k: full[k] for k in partial}
    assert full["outboundCalls"] > partial["outboundCalls"]


def test_expired_password_session_mid_backfill_recovers(simulator, monkeypatch):
    url, sim_url = simulator
    monkeypatch.delenv("TELECOMX_TOKEN")
    monkeypatch.setenv("TELECOMX_USERNAME", SIM_USERNAME)
    monkeypatch.setenv("TELECOMX_PASSWORD", SIM_PASSWORD)
    sim_post(sim_url, "/_sim/telecomx", {"request_minutes": 6})  # each request: 6 simulated minutes
    first, last = day_range(PAST_DAY, 4)
    result = run_range(["telecomx"], first, last)
    assert result.success, failure_messages(result)
    counters = sim_post(sim_url, "/_sim/telecomx", {"request_minutes": 0})
    assert counters["logins"] == 2 and counters["logouts"] == 0
    assert counters["stats_requests"] == 5  # 4 days + the one retried after logging in again
    assert scalar(url, "SELECT count(DISTINCT interval_start::date) FROM cdr.fact_pbx_stats") == 4


def test_blacklisted_ip_fails_the_run_with_a_clear_message(simulator):
    url, sim_url = simulator
    sim_post(sim_url, "/_sim/telecomx", {"blacklisted": True})
    day = PAST_DAY.isoformat()
    result = run_range(["telecomx"], day, day)
    assert not result.success
    assert any("blacklisted by Telecom X" in m for m in failure_messages(result))
    assert scalar(url, "SELECT count(*) FROM cdr.fact_pbx_stats") == 0
