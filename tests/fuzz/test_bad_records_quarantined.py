"""One bad record is quarantined with its reason and the rest of its page still loads, for every
parser; and fuzzed pages that parse also load into PostgreSQL (no row it would refuse).

The parser fuzz test checks storability against a Python model of what the columns' declared
types accept; the load test here runs a sample of the same mutated pages through the real COPY
and merge, so the model cannot drift from what PostgreSQL accepts unnoticed.
"""
from __future__ import annotations

import os
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.model import Quarantined, RawPage
from pipelines.warehouse.load import load_window
from tests.conftest import rows
from tests.fuzz.payloads import SEED_WINDOW, SPECS, fuzzed_pages, seed_pages
from tests.fuzz.test_parsers_fuzz import parse_or_typed_error

RAW_ID = 1
BAD_VALUES = st.sampled_from(["not a time", "", "31-02-2026 10:00:00", "2026-02-30T10:00:00Z", "\x00"])


def _seed(provider: str) -> RawPage:
    """The simulator's page (window None: a parser that keeps only the records of the page's
    window then keeps every record)."""
    return seed_pages()[provider][0]._replace(raw_response_id=RAW_ID, window=None)


def break_record(provider: str, page: RawPage, index: int, bad: str) -> RawPage:
    """`page` with record `index` made unreadable through a field the parser requires."""
    return page._replace(body=SPECS[provider].conformance.break_record(page.body, index, bad))


def quarantined_indexes(items) -> set[int]:
    return {i.record_index for i in items if type(i) is Quarantined}


def rows_of(items) -> list:
    return [i for i in items if type(i) is not Quarantined]


def parse(provider: str, page: RawPage) -> list:
    return list(SPECS[provider].parse_pages([page], "acct"))


@pytest.mark.parametrize("provider", list(SPECS))
@settings(max_examples=25, deadline=timedelta(seconds=5))
@given(data=st.data())
def test_one_bad_record_is_quarantined_and_the_others_still_parse(provider, data):
    conformance = SPECS[provider].conformance
    seed = _seed(provider)
    index = data.draw(st.integers(0, conformance.record_count(seed.body) - 1), label="record")
    broken = break_record(provider, seed, index, data.draw(BAD_VALUES, label="bad value"))
    clean, items = parse(provider, seed), parse(provider, broken)
    already = quarantined_indexes(clean)  # the seed day has a DST gap: a few records are refused anyway
    assert quarantined_indexes(items) == already | {index}
    assert all(q.reason and q.record and q.raw_response_id == RAW_ID for q in items if type(q) is Quarantined)
    # every other record's rows, unchanged; the bad record's rows gone (all of them, where a
    # record yields several)
    assert set(rows_of(items)) <= set(rows_of(clean))
    lost = len(rows_of(clean)) - len(rows_of(items))
    if index in already:
        assert lost == 0
    elif conformance.rows_per_record is None:
        assert lost >= 1
    else:
        assert lost == conformance.rows_per_record


def load(conn, provider: str, items) -> None:
    load_window(conn, provider, "acct", SEED_WINDOW, SPECS[provider].items, items)


@pytest.mark.parametrize("provider", list(SPECS))
def test_a_page_with_one_bad_record_loads_the_rest_into_postgres(provider, clean_warehouse):
    seed = _seed(provider)
    broken = break_record(provider, seed, 1, "not a time")
    expected = len(rows_of(parse(provider, broken)))
    assert expected < len(rows_of(parse(provider, seed)))
    with psycopg.connect(clean_warehouse) as conn, conn.transaction():
        load(conn, provider, parse(provider, broken))
    # each kind of row goes to its own table
    loaded = sum(rows(clean_warehouse, f"SELECT count(*) FROM {kind.table}")[0][0]
                 for kind in SPECS[provider].items)
    assert loaded == expected > 0
    quarantined = sorted(quarantined_indexes(parse(provider, broken)))
    assert rows(clean_warehouse, "SELECT record_index, raw_response_id, reason <> '' FROM cdr.quarantine"
                                 " ORDER BY 1") == [(i, RAW_ID, True) for i in quarantined]
    assert 1 in quarantined


@pytest.fixture(scope="module")
def warehouse_conn(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        yield conn


@pytest.mark.parametrize("provider", list(SPECS))
@settings(max_examples=int(os.environ.get("CDR_FUZZ_LOAD_EXAMPLES", "40")), deadline=timedelta(seconds=10),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(data=st.data())
def test_mutated_pages_that_parse_also_load_into_postgres(provider, warehouse_conn, data):
    items = parse_or_typed_error(provider, data.draw(fuzzed_pages(provider), label="pages"))
    if items is None:
        return
    with warehouse_conn.transaction(force_rollback=True):  # the real COPY and merge, left behind nothing
        load(warehouse_conn, provider, items)
