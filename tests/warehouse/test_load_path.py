"""The shared load path (pipelines.warehouse.load) on a real PostgreSQL, fed parsed items directly:
what it does with a leg repeated in one window and with parse notes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from pipelines.model import CallLeg, ParseNote
from pipelines.providers.spec import CALL_LEGS
from pipelines.warehouse.load import load_window
from tests.conftest import rows

WINDOW = (datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))


def leg(key: str, cost: str, minute: int = 0) -> CallLeg:
    started = WINDOW[0] + timedelta(hours=9, minutes=minute)
    return CallLeg("tenios", "acct", None, key, key, started, started, started + timedelta(minutes=2), 120,
                   120.0, "inbound", "+4930123456", "+4930654321", "+4930654321", "INBOUND", "answered",
                   "NORMAL_CLEARING", Decimal(cost), None, None, None, "{}", None)


def load(url: str, items: list) -> object:
    with psycopg.connect(url) as conn:
        return load_window(conn, "tenios", "acct", WINDOW, (CALL_LEGS,), items)


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
