"""Belfabriek through Dagster and the shared load path: simulator over real HTTP -> raw pages ->
legs -> calls -> aggregates, asserted on the warehouse's rows in PostgreSQL."""
from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance

from pipelines.model import FetchedPage
from pipelines.providers.belfabriek import SIM_ACCOUNT, SIM_CUSTOMER_HASH, SIM_CUSTOMER_ID, SPEC
from pipelines.providers.belfabriek.parse import LATIN1_NOTE
from pipelines.providers.belfabriek.settings import BelfabriekParseSettings
from pipelines.providers.belfabriek.simulator import (
    FRISIAN_PLACES,
    PLACES,
    AnswerShape,
    BelfabriekData,
    Counters,
    SimCall,
    build_simulator,
    day_calls,
    error_body,
)
from pipelines.simulation import Fault, SimState, SimulatorServer
from pipelines.sql import sql_file
from pipelines.warehouse.load import load_window
from pipelines.warehouse.raw import record_window_fetch, store_page, window_pages
from tests.conftest import rows, scalar, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range

DAY = date(2026, 11, 2)
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)  # last Sundays of March and October
FIXTURES = Path(__file__).parents[2] / "pipelines" / "providers" / "belfabriek" / "conformance"
NUMBERS = "318001234567,319001122334,318503036000,31202404040"


@dataclass
class Simulator:
    url: str
    state: SimState
    counters: Counters
    data: BelfabriekData

    def calls(self, day: date) -> tuple[SimCall, ...]:
        return day_calls(self.data, SIM_ACCOUNT, day)


@pytest.fixture(scope="module")
def belfabriek(warehouse_url):
    saved = dict(os.environ)
    simulated = SPEC.simulator(None)
    with SimulatorServer(simulated.app) as server:
        os.environ.update(simulated.environment)
        os.environ.update({SPEC.base_url_variable: server.url, "BELFABRIEK_REQUESTS_PER_SECOND": "50",
                           "CDR_HTTP_BACKOFF_BASE_S": "0.01", "CDR_HTTP_BACKOFF_MAX_S": "0.05",
                           "CDR_HTTP_MAX_ATTEMPTS": "10"})
        yield Simulator(server.url, simulated.app.state.sim, simulated.app.state.counters, BelfabriekData())
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def sim(belfabriek, clean_warehouse):
    belfabriek.state.reset()
    belfabriek.counters.errors.clear()
    yield belfabriek
    belfabriek.state.reset()


@dataclass
class Elsewhere(Simulator):
    """A second simulator: the statistics at another path, Frisian place names with accents among
    the callers, and answers written in the AnswerShape a test sets."""

    app: object = None

    def answer(self, **shape) -> None:
        self.app.state.answer = AnswerShape(**shape)  # type: ignore[attr-defined]


OTHER_PATH = "/api/statistieken.asp"
FRISIAN = "S\u00fadwest-Frysl\u00e2n"


@pytest.fixture
def elsewhere(sim, monkeypatch):
    data = BelfabriekData(places=PLACES + FRISIAN_PLACES)
    app = build_simulator({(SIM_CUSTOMER_HASH, SIM_CUSTOMER_ID): SIM_ACCOUNT}, data,
                          statistics_path=OTHER_PATH)
    with SimulatorServer(app) as server:
        monkeypatch.setenv(SPEC.base_url_variable, server.url)
        monkeypatch.setenv("BELFABRIEK_STATISTICS_PATH", OTHER_PATH)
        yield Elsewhere(server.url, app.state.sim, app.state.counters, data, app)


def expected_calls(sim: Simulator, day: date) -> list[SimCall]:
    """The calls a run of `day` loads: the day's, and the next day's call at 00:00:00 UTC (the
    simulator's bounds are inclusive)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return list(sim.calls(day)) + [c for c in sim.calls(day + timedelta(days=1)) if c.at == midnight]


def run(first: date, days: int = 1, **kwargs):
    last = first + timedelta(days=days - 1)
    return run_range(["belfabriek"], first.isoformat(), last.isoformat(), **kwargs)


def audit(url: str):
    return rows(url, "SELECT window_start::date, legs_parsed, inserted, updated, unchanged,"
                     " duplicates_in_window FROM cdr.load_audit ORDER BY id")


def legs_started_on(url: str, day: date) -> list[datetime]:
    return [r[0] for r in rows(url, "SELECT started_at FROM cdr.fact_call_leg WHERE started_at >= %s"
                                    " AND started_at < %s ORDER BY started_at",
                               (day, day + timedelta(days=1)))]


def duplicate_leg_keys(url: str) -> int:
    return scalar(url, sql_file("checks/duplicate_leg_keys.sql"),  # the days these tests load
                  {"provider": "belfabriek", "account": SIM_ACCOUNT, "first": date(2026, 1, 1),
                   "last": date(2027, 1, 1)})


def land_and_load(url: str, window, *bodies: bytes):
    """Land bodies as one window's raw pages, then run the legs asset's load path on them."""
    with psycopg.connect(url) as conn, conn.transaction():
        ids = [store_page(conn, "belfabriek", "acct", window,
                          FetchedPage("/statistics/", {"customer_id": "1", "servicenumber": "318001234567"},
                                      page, 200, "text/xml", body, body.count(b"<RECORD>")))
               for page, body in enumerate(bodies, start=1)]
        records = sum(b.count(b"<RECORD>") for b in bodies)
        record_window_fetch(conn, "belfabriek", "acct", window, ids, records, None)
    with (psycopg.connect(url, autocommit=True) as reader, psycopg.connect(url) as writer,
          writer.transaction()):
        pages = window_pages(reader, "belfabriek", "acct", window)
        return ids, load_window(writer, "belfabriek", "acct", window, SPEC.items,
                                SPEC.parse_pages(pages, "acct", BelfabriekParseSettings()))


# --- the seed example and hostile bodies through the load path ---------------------------------

def test_the_doc_example_lands_in_the_fact(clean_warehouse):
    url = clean_warehouse
    window = (datetime(2011, 10, 22, tzinfo=UTC), datetime(2011, 10, 23, tzinfo=UTC))
    (raw_id,), stats = land_and_load(url, window, (FIXTURES / "doc_example.xml").read_bytes())
    assert (stats.primary.parsed, stats.primary.inserted, stats.quarantined) == (2, 2, 0)
    (first, second) = rows(url, """
        SELECT started_at, ended_at, duration_s, direction, outcome, service_number, source_network,
               extension, attributes, raw_response_id, caller_number, called_number
        FROM cdr.fact_call_leg WHERE provider = 'belfabriek' ORDER BY started_at""")
    assert first == (datetime(2011, 10, 22, 12, 0, 20, tzinfo=UTC),
                     datetime(2011, 10, 22, 12, 2, 25, tzinfo=UTC),
                     125, "unknown", "unknown", "+318001234567", "fixed", "101",
                     {"number": "+31201234567", "location": "Amsterdam", "peak": "peak",
                      "tariff_period": "peak", "extension_name": "Receptie"}, raw_id, None, None)
    assert second[6:8] == ("mobile", None) and second[8]["tariff_period"] == "off_peak"
    # the request kept with the body names no secret
    assert rows(url, "SELECT request_params FROM cdr.raw_response") == [({"customer_id": "1",
                                                                          "servicenumber": "318001234567"},)]


def test_hostile_bodies_are_quarantined_and_the_rest_loads(clean_warehouse):
    url = clean_warehouse
    window = (datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    good = (FIXTURES / "doc_example.xml").read_bytes().replace(b"10-2011", b"11-2026")
    truncated = good[: good.index(b"19:42:05")]
    missing_fields = good.replace(b"<DURATION>125</DURATION>", b"").replace(b"<TIMESTAMP>22-11-2026 19:42:05",
                                                                              b"<TIMESTAMP>22-11-2026 19:42")
    wrong_root = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    ids, stats = land_and_load(url, window, truncated, missing_fields, wrong_root, b"<CALLER_DATA_RECORDS")
    assert (stats.primary.parsed, stats.primary.inserted, stats.quarantined) == (1, 1, 5)
    quarantined = rows(url, "SELECT raw_response_id, record_index, field, reason FROM cdr.quarantine"
                            " ORDER BY raw_response_id, record_index")
    assert [(r[0], r[1], r[2]) for r in quarantined] == [
        (ids[0], -1, None), (ids[1], 0, "DURATION"), (ids[1], 1, "TIMESTAMP"), (ids[2], -1, None),
        (ids[3], -1, None)]
    assert "truncated" in quarantined[0][3] and "root element <HTML>" in quarantined[3][3]
    assert "malformed XML" in quarantined[4][3]
    # a re-load of the same pages adds and rewrites nothing
    before = snapshot(url)
    _, again = land_and_load(url, window, truncated, missing_fields, wrong_root, b"<CALLER_DATA_RECORDS")
    assert [(c.inserted, c.updated) for c in again.counts.values()] == [(0, 0), (0, 0)]  # legs, quarantine
    assert snapshot(url) == before


def test_a_malformed_body_from_the_api_fails_the_run_and_commits_nothing(sim, warehouse_url):
    sim.state.inject(Fault("body", times=30, body="<CALLER_DATA_RECORDS servicenumber='1'><RECORD>",
                           content_type="text/xml"))
    result = run(DAY)
    assert not result.success
    assert any("belfabriek" in m and "not a statistics document" in m and "gave up after 10 attempts" in m
               for m in failure_messages(result)), failure_messages(result)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0


# --- through Dagster ---------------------------------------------------------------------------

def test_rerun_of_two_partitions_rewrites_nothing(sim, warehouse_url):
    assert run(DAY, 2).success
    first = snapshot(warehouse_url)
    raw_pages = scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response")
    assert run(DAY, 2).success
    assert snapshot(warehouse_url) == first
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == raw_pages == 2
    first_load, second_load = audit(warehouse_url)[:2], audit(warehouse_url)[2:]
    assert [(r[2], r[3], r[4]) for r in second_load] == [(0, 0, r[1]) for r in first_load]
    assert sum(r[2] for r in first_load) == scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg")
    # derived tables follow for the two days (the call at 00:00 UTC after them, which the second
    # window also returned, is there as a leg and joins its own day's calls when that day runs)
    legs = scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE started_at < %s",
                  (DAY + timedelta(days=2),))
    assert legs > 400
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call") == legs
    assert scalar(warehouse_url, "SELECT sum(legs) FROM cdr.agg_call_leg_daily") == legs
    assert scalar(warehouse_url, "SELECT count(DISTINCT service_number) FROM cdr.agg_call_leg_daily") == 8
    # every leg, call and aggregate row carries the account's customer id
    customer = os.environ["BELFABRIEK_CUSTOMER_ID"]
    for table in ("cdr.fact_call_leg", "cdr.fact_call", "cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily"):
        assert rows(warehouse_url, f"SELECT DISTINCT customer FROM {table}") == [(customer,)], table


def test_boundary_calls_and_identical_twins(sim, warehouse_url):
    assert run(DAY, 2).success
    second_day = DAY + timedelta(days=1)
    next_midnight = datetime(2026, 11, 4, tzinfo=UTC)
    expected = (list(sim.calls(DAY)) + list(sim.calls(second_day))
                + [c for c in sim.calls(second_day + timedelta(days=1)) if c.at == next_midnight])
    # both day windows returned the call at 00:00:00 UTC on the second day (the simulator's bounds
    # are inclusive); it is stored once
    fetched = scalar(warehouse_url, "SELECT sum(records) FROM cdr.window_fetch")
    assert fetched == len(expected) + 1
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == len(expected)
    assert duplicate_leg_keys(warehouse_url) == 0
    # every call, twins included, is one leg at its true start
    assert sorted(r[0] for r in rows(warehouse_url, "SELECT started_at FROM cdr.fact_call_leg")) == \
        sorted(c.at for c in expected)
    twins = len(expected) - len(set(expected))
    assert twins >= 1
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg"
                                 " WHERE leg_key NOT LIKE '%%-0'") == twins


def test_dst_start_quarantines_the_hour_that_does_not_exist(sim, warehouse_url):
    assert run(SPRING).success
    calls = sim.calls(SPRING)
    gap = [c for c in calls if c.local_text.startswith("29-03-2026 02:")]
    assert len(gap) == 1
    assert legs_started_on(warehouse_url, SPRING) == sorted(c.at for c in calls if c not in gap)
    (quarantined,) = rows(warehouse_url, "SELECT field, reason, record FROM cdr.quarantine")
    assert quarantined[0] == "TIMESTAMP" and "does not exist in Europe/Amsterdam" in quarantined[1]
    assert gap[0].local_text in quarantined[2]


@pytest.mark.parametrize("policy", ["earlier", "later"])
def test_dst_end_resolves_the_repeated_hour_by_policy(sim, warehouse_url, monkeypatch, policy):
    monkeypatch.setenv("BELFABRIEK_DST_REPEATED_HOUR", policy)
    assert run(AUTUMN).success
    calls = sim.calls(AUTUMN)
    repeated = [c for c in calls if c.local_text.startswith("25-10-2026 02:")]
    assert {c.at.hour for c in repeated} == {0, 1}  # both passes: 02:xx summer time, then 02:xx winter time

    def stored(call: SimCall) -> datetime:
        if call not in repeated:
            return call.at
        first_pass = call.at.hour == 0
        if policy == "earlier":
            return call.at if first_pass else call.at - timedelta(hours=1)
        return call.at + timedelta(hours=1) if first_pass else call.at

    assert legs_started_on(warehouse_url, AUTUMN) == sorted(stored(c) for c in calls)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg"
                                 " WHERE attributes ? 'dst_ambiguous'") == len(repeated)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.quarantine") == 0
    # the two calls with the same wall-clock text an hour apart are two legs
    same_text = rows(warehouse_url, "SELECT leg_key FROM cdr.fact_call_leg WHERE attributes->>'local_time'"
                                    " = '25-10-2026 02:30:00' ORDER BY leg_key")
    assert len(same_text) == 2 and same_text[0][0][:-2] == same_text[1][0][:-2]


def test_rate_limit_storm_ends_equal_to_a_clean_run(sim, warehouse_url, monkeypatch):
    monkeypatch.setenv("BELFABRIEK_SERVICE_NUMBERS", NUMBERS)
    assert run(DAY, 2).success
    clean = snapshot(warehouse_url, across_loads=True)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 8
    truncate_warehouse(warehouse_url)
    for fault in (Fault("body", times=3, body=error_body("5").decode(), content_type="text/xml"),
                  Fault("status", times=2, status=503, body="<html>onderhoud</html>",
                        content_type="text/html"),
                  Fault("truncate", times=1),
                  Fault("body", times=1, body="<CALLER_DATA_RECORDS><RECORD>", content_type="text/xml")):
        sim.state.inject(fault)
    sim.state.rate_limit_per_s = 2
    result = run(DAY, 2)
    assert result.success, failure_messages(result)
    assert not sim.state.faults  # every scripted fault was served
    # the server's own limit answered too (the scripted faults are not in its counters)
    assert sim.counters.errors.get("5", 0) >= 1
    assert snapshot(warehouse_url, across_loads=True) == clean


def test_refused_credentials_fail_clearly_without_retry_or_secret(sim, warehouse_url, monkeypatch):
    wrong = "0000aaaa1111bbbb2222cccc3333dddd"
    monkeypatch.setenv("BELFABRIEK_CUSTOMER_HASH", wrong)
    result = run(DAY)
    assert not result.success
    messages = failure_messages(result)
    assert any("belfabriek" in m and "customer hash and/or id refused" in m and "[code 1]" in m
               for m in messages), messages
    for event in result.all_events:
        assert wrong not in str(event.message or "") and SIM_CUSTOMER_HASH not in str(event.message or "")
    assert not any(wrong in m or "customer_hash" in m for m in messages)
    assert sim.counters.errors == {"1": 1}  # asked once, not retried
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0


def test_the_hash_is_never_stored(sim, warehouse_url):
    assert run(DAY).success
    stored = rows(warehouse_url, "SELECT request_params::text, endpoint FROM cdr.raw_response")
    assert stored and all(SIM_CUSTOMER_HASH not in text and "hash" not in text for text, _ in stored)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE attributes::text LIKE %s",
                  (f"%{SIM_CUSTOMER_HASH}%",)) == 0


def test_a_service_number_in_national_format_fails_before_any_request(sim, warehouse_url, monkeypatch):
    monkeypatch.setenv("BELFABRIEK_SERVICE_NUMBERS", "318001234567,0800-1234567")
    before = sim.state.requests_served
    result = run(DAY)
    assert not result.success
    assert any("'0800-1234567' is not in international format" in m for m in failure_messages(result))
    assert sim.state.requests_served == before


# --- what the docs leave open: the path, the encoding, the element around several blocks ----------

def test_a_statistics_path_other_than_the_default_works_end_to_end(elsewhere, warehouse_url, monkeypatch):
    result = run(DAY)
    assert result.success, failure_messages(result)
    assert rows(warehouse_url, "SELECT DISTINCT endpoint FROM cdr.raw_response") == [(OTHER_PATH,)]
    loaded = scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg")
    assert loaded == len(expected_calls(elsewhere, DAY))
    # without the setting the client asks the default path, which this API does not serve
    truncate_warehouse(warehouse_url)
    monkeypatch.delenv("BELFABRIEK_STATISTICS_PATH")
    result = run(DAY)
    assert not result.success
    messages = failure_messages(result)
    assert any("belfabriek" in m and "HTTP 404" in m for m in messages), messages
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0


def stored_bodies(url: str) -> list[bytes]:
    stored = rows(url, "SELECT body_gzip FROM cdr.raw_response ORDER BY id")
    return [gzip.decompress(body) for (body,) in stored]


def warnings(instance: DagsterInstance, result) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(result.run_id)
            if entry.level == logging.WARNING and entry.user_message]


@pytest.mark.parametrize("declaration", [False, True], ids=["undeclared", "declared"])
def test_a_latin1_answer_keeps_its_accented_place_names(elsewhere, warehouse_url, declaration):
    assert run(DAY).success  # UTF-8, as the default answer
    utf8 = snapshot(warehouse_url, across_loads=True)
    truncate_warehouse(warehouse_url)
    elsewhere.answer(encoding="ISO-8859-1", declaration=declaration)
    instance = DagsterInstance.ephemeral()
    result = run(DAY, instance=instance)
    assert result.success, failure_messages(result)
    (body,) = stored_bodies(warehouse_url)
    assert FRISIAN.encode("latin-1") in body and body.startswith(b"<?xml") == declaration
    # row for row what the UTF-8 answer loaded, accents included
    assert snapshot(warehouse_url, across_loads=True) == utf8
    frisian = [c for c in expected_calls(elsewhere, DAY) if c.location == FRISIAN]
    assert frisian
    assert rows(warehouse_url, "SELECT count(*), min(source_network) FROM cdr.fact_call_leg"
                               " WHERE attributes->>'location' = %s", (FRISIAN,)) == [(len(frisian), "fixed")]
    # an undeclared answer was an assumption: counted in the day's audit and warned once
    (notes,) = rows(warehouse_url, "SELECT notes FROM cdr.load_audit")
    day_warnings = [w for w in warnings(instance, result) if "decoded as latin1" in w]
    if declaration:
        assert notes == ({},) and day_warnings == []
    else:
        assert notes == ({LATIN1_NOTE: 1},)
        assert len(day_warnings) == 1 and f"belfabriek {SIM_ACCOUNT} {DAY}" in day_warnings[0]


def test_a_wrapped_multi_block_answer_loads_every_block(elsewhere, warehouse_url):
    assert run(DAY, 2).success
    plain = snapshot(warehouse_url, across_loads=True)
    truncate_warehouse(warehouse_url)
    elsewhere.answer(wrapper="STATISTICS")
    result = run(DAY, 2)
    assert result.success, failure_messages(result)
    bodies = stored_bodies(warehouse_url)
    assert len(bodies) == 2
    assert all(b.split(b"\n")[1] == b"<STATISTICS>" for b in bodies)
    assert all(b.count(b"<CALLER_DATA_RECORDS ") == 8 for b in bodies)
    assert snapshot(warehouse_url, across_loads=True) == plain
    assert scalar(warehouse_url, "SELECT count(DISTINCT service_number) FROM cdr.fact_call_leg") == 8
    two_days = list(elsewhere.calls(DAY)) + list(elsewhere.calls(DAY + timedelta(days=1)))
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg WHERE started_at < %s",
                  (DAY + timedelta(days=2),)) == len(two_days)


@pytest.mark.parametrize("body", ['<?xml version="1.0" encoding="UTF-8"?>\n<STATISTICS/>\n',
                                  "<STATISTICS><SUMMARY>0</SUMMARY></STATISTICS>"])
def test_an_answer_with_no_data_record_block_fails_the_run_and_loads_nothing(sim, warehouse_url, body):
    sim.state.inject(Fault("body", times=30, body=body, content_type="text/xml"))
    result = run(DAY)
    assert not result.success
    assert any("belfabriek" in m and "root element <STATISTICS>" in m for m in failure_messages(result)), \
        failure_messages(result)
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") == 0
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0
