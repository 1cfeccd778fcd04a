"""MIXvoip items through the shared load path on real PostgreSQL: legs and billing items in one
transaction, the guarded upserts, an invoice that changes."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import psycopg

from pipelines.model import RawPage
from pipelines.providers.mixvoip import SPEC
from pipelines.providers.mixvoip.billing import load_billing_items
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.warehouse.load import load_window
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
        return load_window(conn, "mixvoip", "acct", WINDOW, items, SPEC.extra_loaders)


def test_legs_and_billing_items_load_together_and_reload_changes_nothing(clean_warehouse):
    url = clean_warehouse
    stats = load(url)
    assert (stats.legs_parsed, stats.inserted) == (1, 1)
    assert rows(url, "SELECT item_type, known_type, quantity, price, cost_eur, invoiced"
                     " FROM cdr.fact_billing_item ORDER BY item_type, item_key") == [
        ("GIFTCARD", False, 2, 9, Decimal("0.18"), False), ("SERVICE", True, 3, 1500, 45, False),
        ("SMS", True, 2, 9, Decimal("0.18"), False), ("SMS", True, 2, 9, Decimal("0.18"), False)]
    assert scalar(url, "SELECT count(DISTINCT item_key) FROM cdr.fact_billing_item"
                       " WHERE item_type = 'SMS'") == 2
    before = rows(url, "SELECT * FROM cdr.fact_billing_item ORDER BY item_key")
    stats = load(url)
    assert (stats.inserted, stats.updated, stats.unchanged) == (0, 0, 1)
    assert rows(url, "SELECT * FROM cdr.fact_billing_item ORDER BY item_key") == before


def test_changed_invoice_updates_billing_items_and_legs_in_place(clean_warehouse):
    url = clean_warehouse
    load(url)
    stats = load(url, invoice="LU-2021-06-0042")
    assert (stats.inserted, stats.updated) == (0, 1)
    assert rows(url, "SELECT count(*), bool_and(invoiced), bool_and(last_changed_at > first_seen_at),"
                     " min(invoice) FROM cdr.fact_billing_item") == [(4, True, True, "LU-2021-06-0042")]
    assert scalar(url, "SELECT attributes->>'invoice' FROM cdr.fact_call_leg") == "LU-2021-06-0042"


def test_billing_loader_reports_rows_written_and_rolls_back_with_the_window(clean_warehouse):
    url = clean_warehouse
    items = [i for i in parse_pages([RawPage(None, 1, body(), None, {"profile_id": "1"}, WINDOW)], "acct")
             if type(i).__name__ == "BillingItem"]
    with psycopg.connect(url) as conn:
        with conn.transaction():
            assert load_billing_items(conn, items) == 4
            assert load_billing_items(conn, items) == 0  # a second batch in one transaction starts clean
        try:
            with conn.transaction():
                load_billing_items(conn, [items[0]._replace(invoice="X")])
                raise RuntimeError("the window fails after the billing merge")
        except RuntimeError:
            pass
    assert scalar(url, "SELECT count(*) FILTER (WHERE invoice = 'X') FROM cdr.fact_billing_item") == 0
