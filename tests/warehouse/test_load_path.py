"""The shared load path (pipelines.warehouse.load) on a real PostgreSQL, fed parsed items directly:
what it does with a leg repeated in one window and with parse notes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import psycopg

from pipelines.model import CallLeg, ParseNote, Quarantined, RawPage
from pipelines.providers.spec import CALL_LEGS
from pipelines.providers.tenios.parse import parse_pages as tenios_parse_pages
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.load import LoadStats, load_window
from tests.conftest import rows
from tests.providers.tenios.test_parse import doc_example as tenios_doc_example

WINDOW = (datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))


def leg(key: str, cost: str, minute: int = 0, call_key: str | None = None,
        started: datetime | None = None) -> CallLeg:
    started = started or WINDOW[0] + timedelta(hours=9, minutes=minute)
    return CallLeg("tenios", "acct", None, key, call_key or key, started, started,
                   started + timedelta(minutes=2), 120, 120.0, "inbound", "+4930123456", "+4930654321",
                   "+4930654321", "INBOUND", "answered", "NORMAL_CLEARING", Decimal(cost), None, None, None,
                   "{}", None)


def load(url: str, items: list, window=WINDOW) -> LoadStats:
    with psycopg.connect(url) as conn:
        return load_window(conn, "tenios", "acct", window, (CALL_LEGS,), items)


def refresh_calls(url: str, window) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        refresh_stale(conn, "calls", (window[0] - timedelta(days=1), window[1]),
                      provider="tenios", account="acct")


def test_a_leg_repeated_in_one_window_keeps_its_last_version(clean_warehouse):
    """A record that changed while the window was paged arrives twice; the later one is the
    provider's newer word (the staging order is the arrival order)."""
    stats = load(clean_warehouse, [leg("a", "0.10"), leg("b", "0.20"), leg("a", "0.35")])
    assert rows(clean_warehouse, "SELECT leg_key, cost_eur FROM cdr.fact_call_leg ORDER BY leg_key") \
        == [("a", Decimal("0.350000")), ("b", Decimal("0.200000"))]
    assert stats.primary.duplicates_in_window == 1 and stats.primary.inserted == 2


def test_parse_notes_are_summed_into_the_figures_and_the_audit(clean_warehouse):
    """What a parser had to assume is counted per window, where the day's figures are read."""
    notes = [ParseNote("legs_stamp_without_offset", 2, "read in Europe/Berlin"),
             leg("a", "0.10"), leg("b", "0.20", minute=5),
             ParseNote("legs_stamp_without_offset", 3, "read in Europe/Berlin"),
             ParseNote("pages_decoded_as_latin1", 1, "no declaration")]
    stats = load(clean_warehouse, notes)
    assert stats.as_metadata()["legs_stamp_without_offset"] == 5
    assert stats.as_metadata()["pages_decoded_as_latin1"] == 1
    assert "5 legs stamp without offset (read in Europe/Berlin)" in (stats.note_warning() or "")
    assert rows(clean_warehouse, "SELECT notes FROM cdr.load_audit") \
        == [({"legs_stamp_without_offset": 5, "pages_decoded_as_latin1": 1},)]
    assert stats.primary.inserted == 2


def test_a_leg_loaded_after_midnight_rejoins_its_call_from_the_day_before(clean_warehouse):
    """A call starts at 23:59:30 and its second leg at 00:00:10 the next day, which is loaded
    later (the nightly run of the next day). Loading that day marks the day before stale for
    the calls too, so the call is re-assembled whole instead of keeping one leg."""
    next_day = (WINDOW[1], WINDOW[1] + timedelta(days=1))
    a_leg = leg("a", "0.10", started=WINDOW[1] - timedelta(seconds=30))
    load(clean_warehouse, [a_leg])
    refresh_calls(clean_warehouse, WINDOW)
    assert rows(clean_warehouse, "SELECT call_key, legs FROM cdr.fact_call") == [("a", 1)]
    b_leg = leg("b", "0.20", call_key="a", started=WINDOW[1] + timedelta(seconds=10))
    load(clean_warehouse, [b_leg], next_day)
    refresh_calls(clean_warehouse, next_day)
    assert rows(clean_warehouse, "SELECT call_key, legs, started_at, cost_eur FROM cdr.fact_call") \
        == [("a", 2, a_leg.started_at, Decimal("0.300000"))]


def test_text_that_reads_like_a_nul_escape_is_loaded_and_a_real_nul_is_quarantined(clean_warehouse):
    """jsonb refuses U+0000, not a backslash followed by "u0000": the check sits in the shared
    attributes encoder (pipelines.providers.common.attributes_json), so every parser gets it."""
    windows_path, nul = "C:\\u0000\\spool", "nul \x00 inside"
    items = list(tenios_parse_pages([RawPage(None, 1, orjson.dumps({"items": [
        {**tenios_doc_example()["items"][0], "callerid_name": windows_path},
        {**tenios_doc_example()["items"][1], "callerid_name": nul}]}), None)], "acct", fast=False))
    assert [type(item) for item in items] == [CallLeg, Quarantined], items
    day = items[0].started_at.replace(hour=0, minute=0, second=0, microsecond=0)
    load(clean_warehouse, items[:1], window=(day, day + timedelta(days=1)))  # the doc example's day
    assert rows(clean_warehouse, "SELECT attributes->>'callerid_name' FROM cdr.fact_call_leg") \
        == [(windows_path,)]


def test_a_value_beyond_its_column_is_quarantined_naming_the_field():
    """numeric(14, 6) holds less than 10^8: a cost beyond it would fail the whole window's COPY,
    so the record is refused alone (pipelines.providers.common.within)."""
    items = list(tenios_parse_pages([RawPage(None, 1, orjson.dumps({"items": [
        {**tenios_doc_example()["items"][0], "cost": 1e9}, tenios_doc_example()["items"][1]]}), None)],
        "acct"))
    assert [type(item) for item in items] == [Quarantined, CallLeg], items
    assert items[0].field == "cost"


def test_a_leg_dated_far_outside_its_window_is_quarantined_and_makes_no_partitions(clean_warehouse):
    """A record dated 2999 (or 1970) in a day's answer would make the merge create every monthly
    partition between, thousands in one transaction, more than PostgreSQL's lock table holds: the
    window would fail on every retry. It is quarantined instead, naming the field and window."""
    def partitions() -> int:
        return rows(clean_warehouse, "SELECT count(*) FROM pg_inherits"
                                     " WHERE inhparent = 'cdr.fact_call_leg'::regclass")[0][0]

    before = partitions()
    future, past = datetime(2999, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)
    near = WINDOW[0] - timedelta(days=30)  # within the tolerance: a leg across midnight, and more
    stats = load(clean_warehouse, [leg("a", "0.10"), leg("far", "0.20", started=future),
                                   leg("near", "0.30", started=near), leg("old", "0.40", started=past)])
    assert rows(clean_warehouse, "SELECT leg_key FROM cdr.fact_call_leg ORDER BY 1") == [("a",), ("near",)]
    assert partitions() <= before + 2  # October, and September for the leg from 30 days before
    quarantined = rows(clean_warehouse, "SELECT record_index, field, reason, record FROM cdr.quarantine"
                                        " ORDER BY record_index DESC")
    assert [(index, field) for index, field, *_ in quarantined] == [(-2, "started_at"), (-3, "started_at")]
    assert "2999-01-01T00:00:00+00:00" in quarantined[0][2]
    assert "2026-10-07T00:00:00+00:00" in quarantined[0][2]  # the window
    assert '"leg_key":"far"' in quarantined[0][3] and '"leg_key":"old"' in quarantined[1][3]
    assert stats.quarantined == 2
    # a re-run quarantines the same rows, adds nothing
    load(clean_warehouse, [leg("a", "0.10"), leg("far", "0.20", started=future),
                           leg("near", "0.30", started=near), leg("old", "0.40", started=past)])
    assert rows(clean_warehouse, "SELECT record_index, field, reason, record FROM cdr.quarantine"
                                 " ORDER BY record_index DESC") == quarantined
