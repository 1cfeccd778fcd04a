"""MIXvoip items through the shared load path on real PostgreSQL: legs and billing items in one
transaction, the guarded upserts, an invoice that changes."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import psycopg

from pipelines.model import RawPage
from pipelines.providers.mixvoip import BILLING_ITEMS, SPEC
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.providers.spec import CALL_LEGS
from pipelines.warehouse.load import MergeCounts, load_window
from tests.conftest import rows, scalar

WINDOW = (datetime(2021, 6, 1, tzinfo=UTC), datetime(2021, 6, 2, tzinfo=UTC))


def body(invoice: str = "N/A") -> bytes:
    def rec(kind, **data):
        base = {"source": "reseller1", "destination": "SMS", "destination_name": "SMS to Luxembourg",
                "call_start": "2021-06-01 10:00:00", "quantity": 2, "price": "9.00", "invoice": invoice}
        return {"type": kind, "data": {**base, **data}}

    return orjson.dumps([
        rec("CALLOUT", source="+35220333320", destination="35220333000", destination_name="Luxembourg",
            duration="61", pbxextension="20", price="7.00"),
        rec("SMS"), rec("SMS"),
        rec("SERVICE", destination="Cloud PBX seat", destination_name="Seat",
            call_start="2021-06-01 02:00:00", quantity=3, price="1500.00"),
        rec("GIFTCARD", destination="Voucher"),
        rec("PAY", call_start="2021-06-01 01:59:59"),  # 23:59:59 UTC the day before: the other window's
    ])


def load(url: str, invoice: str = "N/A"):
    page = RawPage(None, 1, body(invoice), "application/json", {"profile_id": "100201"}, WINDOW)
    items = parse_pages([page], "acct")
    with psycopg.connect(url) as conn, conn.transaction():
        return load_window(conn, "mixvoip", "acct", WINDOW, SPEC.items, items)


def test_mixvoip_declares_legs_then_billing_items():
    assert SPEC.items == (CALL_LEGS, BILLING_ITEMS)


def test_legs_and_billing_items_load_together_and_reload_changes_nothing(clean_warehouse):
    url = clean_warehouse
    stats = load(url)
    assert (stats.primary.parsed, stats.primary.inserted) == (1, 1)
    assert stats.counts["billing_items"] == MergeCounts(parsed=4, inserted=4, updated=0, unchanged=0,
                                                        duplicates_in_window=0)
    assert rows(url, "SELECT item_type, known_type, quantity, price, cost_eur, invoiced"
                     " FROM cdr.fact_billing_item ORDER BY item_type, item_key") == [
        ("GIFTCARD", False, 2, 9, Decimal("0.18"), False), ("SERVICE", True, 3, 1500, 45, False),
        ("SMS", True, 2, 9, Decimal("0.18"), False), ("SMS", True, 2, 9, Decimal("0.18"), False)]
    assert scalar(url, "SELECT count(DISTINCT item_key) FROM cdr.fact_billing_item"
                       " WHERE item_type = 'SMS'") == 2
    before = rows(url, "SELECT * FROM cdr.fact_billing_item ORDER BY item_key")
    stats = load(url)
    assert (stats.primary.inserted, stats.primary.updated, stats.primary.unchanged) == (0, 0, 1)
    billing = stats.counts["billing_items"]
    assert (billing.inserted, billing.updated, billing.unchanged) == (0, 0, 4)
    assert rows(url, "SELECT * FROM cdr.fact_billing_item ORDER BY item_key") == before


def test_changed_invoice_updates_billing_items_and_legs_in_place(clean_warehouse):
    url = clean_warehouse
    load(url)
    stats = load(url, invoice="LU-2021-06-0042")
    assert (stats.primary.inserted, stats.primary.updated) == (0, 1)
    assert (stats.counts["billing_items"].inserted, stats.counts["billing_items"].updated) == (0, 4)
    assert rows(url, "SELECT count(*), bool_and(invoiced), bool_and(last_changed_at > first_seen_at),"
                     " min(invoice) FROM cdr.fact_billing_item") == [(4, True, True, "LU-2021-06-0042")]
    assert scalar(url, "SELECT attributes->>'invoice' FROM cdr.fact_call_leg") == "LU-2021-06-0042"


def test_billing_items_report_rows_written_and_roll_back_with_the_window(clean_warehouse):
    url = clean_warehouse
    items = [i for i in parse_pages([RawPage(None, 1, body(), None, {"profile_id": "1"}, WINDOW)], "acct")
             if type(i).__name__ == "BillingItem"]

    def written(conn, batch) -> int:
        counts = load_window(conn, "mixvoip", "acct", WINDOW, SPEC.items, batch).counts["billing_items"]
        return counts.inserted + counts.updated

    with psycopg.connect(url) as conn:
        with conn.transaction():
            assert written(conn, items) == 4
            assert written(conn, items) == 0  # a second batch in one transaction starts clean
        try:
            with conn.transaction():
                written(conn, [items[0]._replace(invoice="X")])
                raise RuntimeError("the window fails after the billing merge")
        except RuntimeError:
            pass
    assert scalar(url, "SELECT count(*) FILTER (WHERE invoice = 'X') FROM cdr.fact_billing_item") == 0
