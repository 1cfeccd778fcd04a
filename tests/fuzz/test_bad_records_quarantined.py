"""One bad record is quarantined with its reason and the rest of its page still loads, for every
parser; and fuzzed pages that parse also load into PostgreSQL (no row it would refuse).

The parser fuzz test checks storability against a Python model of the columns; the load test
here runs a sample of the same mutated pages through the real COPY and merge, so the model
cannot drift from the schema unnoticed.
"""
from __future__ import annotations

import os
from datetime import timedelta

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from pipelines.model import Quarantined
from pipelines.providers import registry
from pipelines.providers.telecomx.load import load_stats
from pipelines.warehouse.load import load_window
from pipelines.model import RawPage
from tests.conftest import rows
from tests.fuzz.payloads import PROVIDERS, SEED_WINDOW, fuzzed_pages, seed_pages
from tests.fuzz.test_parsers_fuzz import parse_or_typed_error

RAW_ID = 1
BAD_VALUES = st.sampled_from(["not a time", "", "31-02-2026 10:00:00", "2026-02-30T10:00:00Z", "\x00"])


def _seed(provider: str) -> RawPage:
    """The simulator's page (window None: MIXvoip then keeps records of every day it holds)."""
    return seed_pages()[provider][0]._replace(raw_response_id=RAW_ID, window=None)


def break_record(provider: str, body: bytes, index: int, bad: str) -> bytes:
    """`body` with record `index` made unreadable through the field each parser requires."""
    if provider == "belfabriek":
        root = etree.fromstring(body)
        record = root.xpath("//RECORD")[index]
        record.find("TIMESTAMP").text = bad.replace("\x00", "")  # XML cannot carry NUL at all
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    document = orjson.loads(body.translate(bytes.maketrans(b"\n", b" ")))
    records = document["items"] if provider == "tenios" else document
    if provider == "tenios":
        records[index]["start_stamp"] = bad or None
    elif provider == "mixvoip":
        records[index]["data"]["call_start"] = bad
    else:
        records[index]["employeeId"] = [bad]  # any text is a valid id: a list is not
    return orjson.dumps(document)


def record_count(provider: str, body: bytes) -> int:
    if provider == "belfabriek":
        return len(etree.fromstring(body).xpath("//RECORD"))
    document = orjson.loads(body.translate(bytes.maketrans(b"\n", b" ")))
    return len(document["items"] if provider == "tenios" else document)


def quarantined_indexes(items) -> set[int]:
    return {i.record_index for i in items if type(i) is Quarantined}


def rows_of(items) -> list:
    return [i for i in items if type(i) is not Quarantined]


def parse(provider: str, page: RawPage) -> list:
    return list(registry()[provider].parse_pages([page], "acct"))


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=25, deadline=timedelta(seconds=5))
@given(data=st.data())
def test_one_bad_record_is_quarantined_and_the_others_still_parse(provider, data):
    seed = _seed(provider)
    index = data.draw(st.integers(0, record_count(provider, seed.body) - 1), label="record")
    broken = seed._replace(body=break_record(provider, seed.body, index, data.draw(BAD_VALUES, label="bad value")))
    clean, items = parse(provider, seed), parse(provider, broken)
    already = quarantined_indexes(clean)  # the seed day has a DST gap: a few records are refused anyway
    assert quarantined_indexes(items) == already | {index}
    assert all(q.reason and q.record and q.raw_response_id == RAW_ID for q in items if type(q) is Quarantined)
    # every other record's rows, unchanged; the bad record's rows (Telecom X: one per interval) gone
    assert set(rows_of(items)) <= set(rows_of(clean))
    lost = len(rows_of(clean)) - len(rows_of(items))
    assert lost == 0 if index in already else (lost >= 1 if provider == "telecomx" else lost == 1)


def load(conn, provider: str, items) -> None:
    if provider == "telecomx":
        load_stats(conn, items)
    else:
        load_window(conn, provider, "acct", SEED_WINDOW, items, registry()[provider].extra_loaders)


FACT = {"telecomx": "cdr.fact_pbx_stats"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_page_with_one_bad_record_loads_the_rest_into_postgres(provider, clean_warehouse):
    seed = _seed(provider)
    broken = seed._replace(body=break_record(provider, seed.body, 1, "not a time"))
    expected = len(rows_of(parse(provider, broken)))
    assert expected < len(rows_of(parse(provider, seed)))
    with psycopg.connect(clean_warehouse) as conn, conn.transaction():
        load(conn, provider, parse(provider, broken))
    fact = FACT.get(provider, "cdr.fact_call_leg")
    loaded = rows(clean_warehouse, f"SELECT count(*) FROM {fact}")[0][0]
    if provider == "mixvoip":  # billing items go to their own table
        loaded += rows(clean_warehouse, "SELECT count(*) FROM cdr.fact_billing_item")[0][0]
    assert loaded == expected > 0
    assert rows(clean_warehouse, "SELECT record_index, raw_response_id, reason <> '' FROM cdr.quarantine"
                                 " ORDER BY 1") == [(i, RAW_ID, True) for i in sorted(quarantined_indexes(parse(provider, broken)))]
    assert 1 in quarantined_indexes(parse(provider, broken))


@pytest.fixture(scope="module")
def warehouse_conn(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        yield conn


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=int(os.environ.get("CDR_FUZZ_LOAD_EXAMPLES", "40")), deadline=timedelta(seconds=10),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_mutated_pages_that_parse_also_load_into_postgres(provider, warehouse_conn, data):
    items = parse_or_typed_error(provider, data.draw(fuzzed_pages(provider), label="pages"))
    if items is None:
        return
    with warehouse_conn.transaction(force_rollback=True):  # the real COPY and merge, left behind nothing
        load(warehouse_conn, provider, items)
