"""All SQL is parameterised: account ids and text fields that look like SQL, format placeholders or
odd unicode go through a real load of every provider (raw landing, parse, COPY, merge, calls,
aggregates, quarantine, and a Dagster run with a hostile account) and come back byte-equal, with
every table unharmed. Each provider's conformance puts the values into a page as its simulator
serves it."""
from __future__ import annotations

import os

import orjson
import psycopg
import pytest
from psycopg import sql

from pipelines.model import FetchedPage
from pipelines.providers.spec import CALL_LEGS, QUARANTINE, ItemKind
from pipelines.simulators import running_simulators
from pipelines.warehouse.aggregates import refresh_calls, refresh_leg_aggregates
from pipelines.warehouse.load import load_window
from pipelines.warehouse.raw import record_window_fetch, store_page, window_pages
from tests.conftest import LOAD_TIME_COLUMNS, PAST_DAY, all_warehouse_tables, rows
from tests.dagster_runs import failure_messages, run_range
from tests.fuzz.payloads import SEED_WINDOW, seed_pages
from tests.providers_under_test import providers_under_test

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
SPECS = providers_under_test()


def tables_and_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in all_warehouse_tables(conn)}


def _json(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def stored_and_parsed(conn, kind: ItemKind, items) -> tuple[set, set]:
    """The text and jsonb columns of `kind`'s table as stored, and as the parser made them (jsonb
    compared as JSON; the columns that say when or from which page a row came are left out)."""
    types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE"
                              " table_schema = %s AND table_name = %s", kind.table.split(".")).fetchall())
    columns = [c for c in kind.columns if types.get(c) in ("text", "jsonb") and c not in LOAD_TIME_COLUMNS]
    jsonb = [types[c] == "jsonb" for c in columns]
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                                                 sql.Identifier(*kind.table.split(".")))
    stored = {tuple(_json(v) if is_json and v is not None else v
                    for v, is_json in zip(row, jsonb, strict=True))
              for row in conn.execute(query).fetchall()}
    parsed = {tuple(_json(orjson.loads(v)) if is_json and v is not None else v
                    for v, is_json in zip((getattr(item, c) for c in columns), jsonb, strict=True))
              for item in items if type(item) is kind.row_type}
    return stored, parsed


def strings(value) -> list[str]:
    """Every string in a stored value, inside JSON too."""
    if isinstance(value, bytes):
        value = orjson.loads(value)
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("provider", list(SPECS))
def test_hostile_account_and_text_load_byte_equal_and_harm_nothing(provider, clean_warehouse):
    spec, url = SPECS[provider], clean_warehouse
    conformance = spec.conformance
    tables_before = set(tables_and_counts(url))
    seed = seed_pages()[provider][0]  # a page as the simulator serves it
    # one page per value, in its first record's free text; one more whose first record the parser
    # refuses because of a hostile value (it is quarantined, and the reason may quote it)
    bodies = [conformance.with_text(seed.body, 0, value) for value in HOSTILE]
    bodies.append(conformance.break_record(seed.body, 0, HOSTILE[1]))
    params = {**(seed.request_params or {}), "account_note": ACCOUNT, "number": HOSTILE[0]}  # jsonb: a value
    records = sum(map(conformance.record_count, bodies))
    with psycopg.connect(url) as writer, psycopg.connect(url) as reader:
        with writer.transaction():
            raw_ids = [store_page(writer, provider, ACCOUNT, SEED_WINDOW,
                                  FetchedPage(conformance.data_path, params, page, 200, seed.content_type,
                                              body, conformance.record_count(body)))
                       for page, body in enumerate(bodies, 1)]
            record_window_fetch(writer, provider, ACCOUNT, SEED_WINDOW, raw_ids, records, records)
        items = list(spec.parse_pages(window_pages(reader, provider, ACCOUNT, SEED_WINDOW), ACCOUNT))
        with writer.transaction():
            stats = load_window(writer, provider, ACCOUNT, SEED_WINDOW, spec.items, items)
            refresh_calls(writer, SEED_WINDOW, provider, ACCOUNT)
            refresh_leg_aggregates(writer, SEED_WINDOW, provider, ACCOUNT)
        # every row as the parser made it, byte for byte
        stored = []
        for kind in (*spec.items, QUARANTINE):
            kind_stored, kind_parsed = stored_and_parsed(writer, kind, items)
            assert kind_stored == kind_parsed, kind.name
            assert stats.counts[kind.name].parsed == sum(type(i) is kind.row_type for i in items)
            stored += [s for row in kind_stored for value in row for s in strings(value)]
    assert set(HOSTILE) <= set(stored)
    (record,), = rows(url, "SELECT record FROM cdr.quarantine WHERE raw_response_id = %s"
                           " AND record_index = 0", (raw_ids[-1],))
    assert HOSTILE[1] in record

    assert rows(url, "SELECT DISTINCT account, request_params FROM cdr.raw_response") == [(ACCOUNT, params)]
    tables = ("cdr.window_fetch", "cdr.load_audit",
              *(table for kind in (*spec.items, QUARANTINE) for table in kind.tables))
    assert rows(url, " UNION ".join(f"SELECT DISTINCT account FROM {t}" for t in tables)) == [(ACCOUNT,)]
    if CALL_LEGS in spec.items:  # the derived tables saw every leg of the window's day
        in_window = "SELECT count(*) FROM cdr.fact_call_leg WHERE started_at >= %s AND started_at < %s"
        assert rows(url, "SELECT sum(legs) FROM cdr.agg_call_leg_daily") == rows(url, in_window, SEED_WINDOW)
    assert set(tables_and_counts(url)) == tables_before  # nothing dropped, nothing created


@pytest.fixture
def restore_environment():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("account", [ACCOUNT, HOSTILE[4], HOSTILE[2]])
@pytest.mark.parametrize("provider", list(SPECS))
def test_a_dagster_run_with_a_hostile_account_loads_it_verbatim(provider, account, clean_warehouse,
                                                                restore_environment):
    """The assets, their checks and the derived tables bind the account as a parameter too."""
    spec, url = SPECS[provider], clean_warehouse
    tables_before = set(tables_and_counts(url))
    with running_simulators([provider], legs_per_day=30):
        # the pipeline's account; a simulator keys its data by the credentials, not by this name
        os.environ[f"{spec.env_prefix}_ACCOUNT"] = account
        result = run_range([provider], PAST_DAY.isoformat(), PAST_DAY.isoformat())
    assert result.success, failure_messages(result)
    counts = tables_and_counts(url)
    assert set(counts) == tables_before and counts[spec.primary.table] > 0
    tables = ("cdr.raw_response", "cdr.load_audit", *(t for kind in spec.items for t in kind.tables))
    assert rows(url, " UNION ".join(f"SELECT DISTINCT account FROM {t}" for t in tables)) == [(account,)]
    checks = [e.event_specific_data.passed for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    # the checks (a provider of legs has them) found this account's rows, and found them consistent
    assert all(checks) and (checks or CALL_LEGS not in spec.items)
