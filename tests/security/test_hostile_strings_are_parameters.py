"""All SQL is parameterised: account ids and numbers that look like SQL, format placeholders or odd
unicode go through a real load (raw landing, parse, COPY, merge, calls, aggregates, quarantine,
and a Dagster run with a hostile account) and come back byte-equal, with every table unharmed."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import orjson
import psycopg
import pytest

from pipelines.model import FetchedPage
from pipelines.providers.tenios.parse import parse_pages
from pipelines.simulators import running_simulators
from pipelines.warehouse.aggregates import refresh_calls, refresh_leg_aggregates
from pipelines.warehouse.load import load_window
from pipelines.warehouse.raw import record_window_fetch, store_page, window_pages
from tests.conftest import PAST_DAY, all_warehouse_tables, rows
from tests.dagster_runs import failure_messages, run_range

# NUL-free (PostgreSQL text cannot hold NUL at all) and without outer whitespace (parsers strip it).
HOSTILE = [
    "'); DROP TABLE cdr.fact_call_leg; --",
    "Robert'); DELETE FROM cdr.quarantine WHERE ('1'='1",
    '"; TRUNCATE cdr.raw_response; --',
    "a'b\"c\\d;e`f",
    "%s %(account)s {} {0} $1 $$ :name ?",
    "E'\\x27' OR 1=1 /* */ --",
    "x'::text); SELECT pg_sleep(0); --",
    "Ünïcödé ☎ 電話 𝔘𝔫𝔦 \u202eevil\u202c",
    "\\.",  # ends a text-format COPY stream
    "a\tb\nc\rd",  # COPY's field and row separators
]
ACCOUNT = "acme'); DROP TABLE cdr.fact_call_leg; -- ☎"
START = datetime(PAST_DAY.year, PAST_DAY.month, PAST_DAY.day, tzinfo=timezone.utc)
WINDOW = (START, START + timedelta(days=1))


def leg(i: int, value: str, **changes) -> dict:
    stamp = (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"uuid": f"{value}#{i}", "call_type": value, "start_stamp": stamp, "answer_stamp": stamp,
            "end_stamp": stamp, "duration": 1, "billusec": 0, "bleg_uuid": value, "main_leg_uuid": None,
            "callerid_name": value, "callerid_number": value, "destination_number": value,
            "hangup_cause": value, "prepaid": False, "cost": 0.0, "source_type": value, **changes}


def tables_and_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in all_warehouse_tables(conn)}


def test_hostile_account_and_numbers_load_byte_equal_and_harm_nothing(clean_warehouse):
    url = clean_warehouse
    tables_before = set(tables_and_counts(url))
    records = [leg(i, value) for i, value in enumerate(HOSTILE)]
    records.append(leg(len(HOSTILE), HOSTILE[0], start_stamp=HOSTILE[1]))  # quarantined, reason quotes it
    body = orjson.dumps({"items": records, "total_items": len(records), "page": 1, "page_size": 500})
    params = {"account_note": ACCOUNT, "number": HOSTILE[0]}  # request_params is jsonb: also a value
    with psycopg.connect(url) as writer, psycopg.connect(url) as reader:
        with writer.transaction():
            raw_id = store_page(writer, "tenios", ACCOUNT, WINDOW,
                                FetchedPage("/cdrs/retrieve", params, 1, 200, "application/json", body, len(records)))
            record_window_fetch(writer, "tenios", ACCOUNT, WINDOW, [raw_id], len(records), len(records))
        pages = list(window_pages(reader, "tenios", ACCOUNT, WINDOW))
        with writer.transaction():
            stats = load_window(writer, "tenios", ACCOUNT, WINDOW, parse_pages(pages, ACCOUNT))
            refresh_calls(writer, WINDOW)
            refresh_leg_aggregates(writer, WINDOW)
    assert (stats.inserted, stats.quarantined) == (len(HOSTILE), 1)

    assert rows(url, "SELECT account, leg_key, call_type, caller_number, called_number, service_number,"
                     " hangup_cause, source_network, linked_leg_key, attributes->>'callerid_name'"
                     " FROM cdr.fact_call_leg ORDER BY started_at") == [
        (ACCOUNT, f"{v}#{i}", v, v, v, None, v, v, v, v) for i, v in enumerate(HOSTILE)]
    assert rows(url, "SELECT account, request_params FROM cdr.raw_response") == [(ACCOUNT, params)]
    assert rows(url, "SELECT DISTINCT account FROM cdr.window_fetch UNION SELECT DISTINCT account FROM"
                     " cdr.load_audit UNION SELECT DISTINCT account FROM cdr.fact_call UNION SELECT DISTINCT"
                     " account FROM cdr.agg_call_leg_daily UNION SELECT account FROM cdr.quarantine") == [(ACCOUNT,)]
    (reason, record), = rows(url, "SELECT reason, record FROM cdr.quarantine")
    assert HOSTILE[1][:20] in reason and orjson.loads(record)["uuid"] == f"{HOSTILE[0]}#{len(HOSTILE)}"
    assert rows(url, "SELECT sum(legs) FROM cdr.agg_call_leg_daily") == [(len(HOSTILE),)]
    assert set(tables_and_counts(url)) == tables_before  # nothing dropped, nothing created


@pytest.fixture
def restore_environment():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("account", [ACCOUNT, HOSTILE[4], HOSTILE[2]])
def test_a_dagster_run_with_a_hostile_account_loads_it_verbatim(account, clean_warehouse, restore_environment):
    """The assets, their checks and the derived tables bind the account as a parameter too."""
    url = clean_warehouse
    tables_before = set(tables_and_counts(url))
    with running_simulators(["tenios"], legs_per_day=30):
        os.environ["TENIOS_ACCOUNT"] = account  # the pipeline's account; the simulator keys data by key
        result = run_range(["tenios"], PAST_DAY.isoformat(), PAST_DAY.isoformat())
    assert result.success, failure_messages(result)
    counts = tables_and_counts(url)
    assert set(counts) == tables_before and counts["cdr.fact_call_leg"] > 0
    assert rows(url, "SELECT DISTINCT account FROM cdr.fact_call_leg UNION SELECT account FROM cdr.raw_response"
                     " UNION SELECT account FROM cdr.load_audit UNION SELECT account FROM cdr.agg_call_leg_hourly"
                     " UNION SELECT account FROM cdr.fact_call") == [(account,)]
    checks = [e.event_specific_data.passed for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(checks)  # the checks found this account's rows, and found them consistent
