"""Telecom X statistics through the shared load path into the real PostgreSQL fact: interval starts,
replace-not-add, idempotence, the audit row."""
from __future__ import annotations

from datetime import UTC, datetime

import orjson
import psycopg

from pipelines.model import RawPage
from pipelines.providers.telecomx import PBX_STATS, SPEC
from pipelines.providers.telecomx.parse import parse_pages
from pipelines.warehouse.load import load_window
from tests.conftest import rows, scalar
from tests.providers.telecomx.test_parse import DOC_PARAMS, doc_example

# the window DOC_PARAMS asks for: ISO weeks 49-51 of 2020
WINDOW = (datetime(2020, 11, 30, tzinfo=UTC), datetime(2020, 12, 21, tzinfo=UTC))


def load(url: str, document: list, raw_id: int = 1):
    page = RawPage(raw_id, 1, orjson.dumps(document), "application/json", DOC_PARAMS)
    with psycopg.connect(url) as conn, conn.transaction():
        return load_window(conn, "telecomx", "acct", WINDOW, SPEC.items, parse_pages([page], "acct"))


def test_telecomx_declares_pbx_stats_only():
    assert SPEC.items == (PBX_STATS,)
    assert SPEC.primary.table == "cdr.fact_pbx_stats"


def test_doc_example_lands_on_the_right_interval_starts(clean_warehouse):
    stats = load(clean_warehouse, doc_example())
    pbx = stats.counts["pbx_stats"]
    assert pbx is stats.primary
    assert (pbx.parsed, pbx.inserted, pbx.updated, pbx.unchanged) == (9, 9, 0, 0)
    assert rows(clean_warehouse, "SELECT provider, account, window_start, window_end, legs_parsed,"
                                 " inserted, skipped FROM cdr.load_audit") == [
        ("telecomx", "acct", *WINDOW, 9, 9, False)]
    assert rows(clean_warehouse, "SELECT DISTINCT interval_key, interval_start, grain"
                                 " FROM cdr.fact_pbx_stats ORDER BY 1") == [
        ("49", datetime(2020, 11, 30, tzinfo=UTC), "WEEK"), ("50", datetime(2020, 12, 7, tzinfo=UTC), "WEEK"),
        ("51", datetime(2020, 12, 14, tzinfo=UTC), "WEEK")]
    assert rows(clean_warehouse, "SELECT customer, employee_name, outbound_calls, inbound_calls,"
                                 " inbound_answered, inbound_unanswered, inbound_busy FROM cdr.fact_pbx_stats"
                                 " WHERE interval_key = '49' ORDER BY extension_number") == [
        ("12345678901234567890ABCD", "Bo Madsen", 80, 111, 0, 9, 0),
        ("12345678901234567890ABCD", "Benny Andersen", 71, 63, 0, 11, 1),
        ("12345678901234567890ABCD", "Hans Hansen", 40, 36, 0, 8, 3)]


def test_re_pull_replaces_counts_and_identical_re_pull_rewrites_nothing(clean_warehouse):
    load(clean_warehouse, doc_example())
    before = rows(clean_warehouse, "SELECT *, xmin::text FROM cdr.fact_pbx_stats ORDER BY 3, 5")
    again = load(clean_warehouse, doc_example(), raw_id=2)
    assert (again.primary.inserted, again.primary.updated, again.primary.unchanged) == (0, 0, 9)
    assert rows(clean_warehouse, "SELECT *, xmin::text FROM cdr.fact_pbx_stats ORDER BY 3, 5") == before
    changed = doc_example()
    changed[0]["data"]["49"]["outboundCalls"] = 95
    stats = load(clean_warehouse, changed, raw_id=3)
    assert (stats.primary.inserted, stats.primary.updated, stats.primary.unchanged) == (0, 1, 8)
    assert scalar(clean_warehouse, "SELECT count(*) FROM cdr.fact_pbx_stats") == 9
    assert scalar(clean_warehouse, "SELECT outbound_calls FROM cdr.fact_pbx_stats"
                                   " WHERE employee_name = 'Bo Madsen'"
                                   " AND interval_key = '49'") == 95  # replaced, not 80 + 95


def test_bad_records_are_quarantined_beside_the_good_ones(clean_warehouse):
    document = doc_example()
    document[2]["data"]["49"]["inboundBusy"] = -3
    stats = load(clean_warehouse, document)
    assert (stats.primary.parsed, stats.quarantined) == (8, 1)
    assert rows(clean_warehouse, "SELECT provider, record_index, field FROM cdr.quarantine") == [
        ("telecomx", 2, "data.49.inboundBusy")]
