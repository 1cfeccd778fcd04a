"""MIXvoip through Dagster: simulator over real HTTP -> raw pages -> legs and billing items ->
calls and aggregates, asserted on the warehouse's rows."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from pipelines.providers.mixvoip import SIM_PASSWORD, SIM_PROFILES, SIM_USERNAME
from pipelines.providers.mixvoip.simulator import LOCAL, MixvoipData, day_records
from pipelines.simulators import running_simulators
from tests.conftest import LEG_TABLES, rows, scalar, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range

DAY = date(2026, 10, 5)
TABLES = (*LEG_TABLES, "cdr.fact_billing_item")
CALL_TYPES = ("CALLIN", "CALLOUT", "MCALL")
BEFORE_INVOICE = datetime(2026, 10, 20, tzinfo=UTC)
AFTER_INVOICE = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture
def sim(clean_warehouse, monkeypatch):
    for name in ("MIXVOIP_USERNAME", "MIXVOIP_PASSWORD", "MIXVOIP_ACCOUNT", "MIXVOIP_PROFILE_IDS",
                 "MIXVOIP_BASE_URL", "MIXVOIP_FORMAT", "MIXVOIP_FORMAT_CASE", "CDR_PROVIDERS"):
        monkeypatch.delenv(name, raising=False)  # so that monkeypatch puts back what was there
    monkeypatch.setenv("CDR_HTTP_BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("CDR_HTTP_BACKOFF_MAX_S", "0.05")
    monkeypatch.setenv("CDR_HTTP_MAX_ATTEMPTS", "3")
    with running_simulators(["mixvoip"]) as urls:
        yield urls["mixvoip"]


def set_clock(url: str, now: datetime | None) -> None:
    httpx.post(url + "/_sim/clock", json={"now": now.isoformat() if now else None}).raise_for_status()


def run(first: date, days: int = 1):
    result = run_range(["mixvoip"], first.isoformat(), (first + timedelta(days=days - 1)).isoformat())
    assert result.success, failure_messages(result)
    return result


def expected(first: date, days: int, profiles: tuple[str, ...] = SIM_PROFILES) -> tuple[Counter, Counter]:
    """Calls and billing items per type that the simulator holds for the UTC days and `profiles`,
    from its generator."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = start + timedelta(days=days)
    calls, billing = Counter(), Counter()
    day = first - timedelta(days=1)
    while day <= first + timedelta(days=days):
        for profile in profiles:
            for local_start, _, kind, _ in day_records(MixvoipData(), profile, SIM_USERNAME, day):
                if start <= local_start.replace(tzinfo=LOCAL).astimezone(UTC) < end:
                    (calls if kind in CALL_TYPES else billing)[kind] += 1
        day += timedelta(days=1)
    return calls, billing


def audit(url: str):
    return rows(url, "SELECT legs_parsed, inserted, updated, unchanged, quarantined"
                     " FROM cdr.load_audit ORDER BY id")


def test_backfill_routes_calls_and_billing_items_and_rerun_rewrites_nothing(sim, warehouse_url):
    set_clock(sim, BEFORE_INVOICE)
    run(DAY, 2)
    calls, billing = expected(DAY, 2)
    assert dict(rows(warehouse_url, "SELECT call_type, count(*) FROM cdr.fact_call_leg GROUP BY 1")) == calls
    assert dict(rows(warehouse_url,
                     "SELECT item_type, count(*) FROM cdr.fact_billing_item GROUP BY 1")) == billing
    assert sum(billing.values()) > 0 and calls["MCALL"] > 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.quarantine") == 0
    assert rows(warehouse_url, "SELECT min(started_at)::date, max(started_at)::date"
                               " FROM cdr.fact_call_leg") == [(DAY, DAY + timedelta(days=1))]
    assert rows(warehouse_url, "SELECT direction, count(*) > 0 FROM cdr.fact_call_leg"
                               " GROUP BY 1 ORDER BY 1") == [("inbound", True), ("outbound", True),
                                                             ("unknown", True)]
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number NOT LIKE '+%%'"
                                 " OR called_number NOT LIKE '+%%'") == 0
    assert scalar(warehouse_url, "SELECT count(DISTINCT attributes->>'profile_id')"
                                 " FROM cdr.fact_call_leg") == 2
    # each profile is a customer: its legs, calls, aggregates and billing items
    by_profile = {profile: expected(DAY, 2, (profile,)) for profile in SIM_PROFILES}
    legs = {profile: sum(profile_calls.values()) for profile, (profile_calls, _) in by_profile.items()}
    items = {profile: sum(profile_items.values()) for profile, (_, profile_items) in by_profile.items()
             if profile_items}
    for query in ("SELECT customer, count(*) FROM cdr.fact_call_leg GROUP BY 1",
                  "SELECT customer, sum(legs) FROM cdr.fact_call GROUP BY 1",
                  "SELECT customer, sum(legs) FROM cdr.agg_call_leg_hourly GROUP BY 1",
                  "SELECT customer, sum(legs) FROM cdr.agg_call_leg_daily GROUP BY 1"):
        assert dict(rows(warehouse_url, query)) == legs, query
    billed = rows(warehouse_url, "SELECT customer, count(*) FROM cdr.fact_billing_item GROUP BY 1")
    assert dict(billed) == items
    # the simulator repeats some records exactly: they are kept, told apart by the ordinal
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE leg_key LIKE '%%.1'") > 0
    assert scalar(warehouse_url, "SELECT bool_and(NOT invoiced) FROM cdr.fact_billing_item") is True
    # one call per leg; the aggregates count every leg
    assert scalar(warehouse_url, "SELECT sum(legs) FROM cdr.fact_call") == sum(calls.values())
    assert scalar(warehouse_url, "SELECT sum(legs) FROM cdr.agg_call_leg_daily") == sum(calls.values())
    # credentials are nowhere in the raw landing table
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response WHERE request_params::text ~ %s"
                                 " OR endpoint ~ %s", (SIM_PASSWORD, SIM_PASSWORD)) == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response"
                                 " WHERE request_params ? 'password'") == 0

    first = snapshot(warehouse_url, TABLES)
    first_loads = audit(warehouse_url)
    run(DAY, 2)
    assert snapshot(warehouse_url, TABLES) == first
    second_loads = audit(warehouse_url)[len(first_loads):]
    assert [(r[1], r[2]) for r in second_loads] == [(0, 0), (0, 0)]
    assert [r[3] for r in second_loads] == [r[1] for r in first_loads]


def test_invoice_that_arrives_later_updates_rows_in_place(sim, warehouse_url):
    set_clock(sim, BEFORE_INVOICE)
    run(DAY)
    before = dict(rows(warehouse_url, "SELECT leg_key, first_seen_at FROM cdr.fact_call_leg"))
    items_before = scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_billing_item")
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg"
                                 " WHERE attributes->>'invoice' <> 'N/A'") == 0
    set_clock(sim, AFTER_INVOICE)
    run(DAY)
    (_, inserted, updated, _, _) = audit(warehouse_url)[-1]
    assert (inserted, updated) == (0, len(before))
    after = dict(rows(warehouse_url, "SELECT leg_key, first_seen_at FROM cdr.fact_call_leg"))
    assert after == before  # the same rows, updated in place
    assert rows(warehouse_url, "SELECT DISTINCT attributes->>'invoice', attributes->>'invoiced'"
                               " FROM cdr.fact_call_leg ORDER BY 1") == [(f"202610-{p}", "true")
                                                                         for p in SIM_PROFILES]
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg"
                                 " WHERE last_changed_at > first_seen_at") == len(before)
    assert rows(warehouse_url, "SELECT count(*), bool_and(invoiced) FROM cdr.fact_billing_item") == \
        [(items_before, True if items_before else None)]


def test_csv_format_loads_the_same_legs(sim, warehouse_url, monkeypatch):
    set_clock(sim, BEFORE_INVOICE)
    run(DAY)
    from_json = snapshot(warehouse_url, LEG_TABLES, across_loads=True)
    items = rows(warehouse_url, "SELECT item_key, item_type, billed_at, quantity, price"
                                " FROM cdr.fact_billing_item ORDER BY 1")
    truncate_warehouse(warehouse_url)
    monkeypatch.setenv("MIXVOIP_FORMAT", "csv")
    run(DAY)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response"
                                 " WHERE content_type LIKE 'text/csv%%'") == 2
    assert snapshot(warehouse_url, LEG_TABLES, across_loads=True) == from_json
    assert rows(warehouse_url, "SELECT item_key, item_type, billed_at, quantity, price"
                               " FROM cdr.fact_billing_item ORDER BY 1") == items


def test_refused_password_fails_clearly_and_loads_nothing(sim, warehouse_url, monkeypatch):
    secret = "wrong-pass-5d1e0c"
    monkeypatch.setenv("MIXVOIP_PASSWORD", secret)
    result = run_range(["mixvoip"], DAY.isoformat(), DAY.isoformat())
    assert not result.success
    messages = failure_messages(result)
    assert any("mixvoip" in m and "credentials or profile link refused" in m for m in messages), messages
    for event in result.all_events:
        assert secret not in str(event.message or "")
    assert not any(secret in m for m in messages)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0


@pytest.mark.parametrize("served", ["lower", "upper"])
def test_format_case_setting_meets_a_server_that_takes_one_case(sim, warehouse_url, monkeypatch, served):
    """The docs' revisions disagree on `json` vs `JSON`: against a server that takes only `served`,
    MIXVOIP_FORMAT_CASE set to it loads the day, the other case fails the run and loads nothing."""
    set_clock(sim, BEFORE_INVOICE)
    httpx.post(sim + "/_sim/mixvoip", json={"format_case": served}).raise_for_status()
    other = "upper" if served == "lower" else "lower"
    monkeypatch.setenv("MIXVOIP_FORMAT_CASE", other)
    result = run_range(["mixvoip"], DAY.isoformat(), DAY.isoformat())
    assert not result.success
    messages = failure_messages(result)
    assert any("mixvoip" in m and "Unknown format" in m for m in messages), messages
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0
    monkeypatch.setenv("MIXVOIP_FORMAT_CASE", served)
    run(DAY)
    calls, billing = expected(DAY, 1)
    assert dict(rows(warehouse_url, "SELECT call_type, count(*) FROM cdr.fact_call_leg GROUP BY 1")) == calls
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_billing_item") == sum(billing.values())
    segment = "json" if served == "lower" else "JSON"
    assert httpx.get(sim + "/_sim/mixvoip").json()["format_segments"][segment] == len(SIM_PROFILES)
    assert rows(warehouse_url, "SELECT DISTINCT endpoint ~ %s FROM cdr.raw_response", (f"/{segment}$",)) \
        == [(True,)]
