"""The billing-item fact: MIXvoip records that are not calls (PAY, SETUP, SERVICE, SMS, …).

Loaded like the legs, set-based: COPY into a per-transaction staging table, then one guarded
upsert (sql/load/merge_billing_items.sql) that rewrites a row only when a compared column
changed (an invoice number that replaced "N/A", a corrected price), so a re-run changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import psycopg

from pipelines.sql import run_script, sql_file


class BillingItem(NamedTuple):
    """One row of cdr.fact_billing_item, in the column order of the COPY."""

    provider: str
    account: str
    item_key: str               # content hash + occurrence ordinal (no provider id exists)
    profile_id: str | None
    item_type: str              # the provider's type, upper-cased; unknown types kept as data
    known_type: bool            # False: a type the docs do not list
    billed_at: datetime         # call_start: "the date of billing"
    billed_until: datetime | None  # call_end when sent
    username: str | None        # source: "the username"
    product: str | None         # destination: "the product name"
    description: str | None     # destination_name: "a product description"
    quantity: Decimal | None
    price: Decimal | None       # exactly as sent; see docs/providers/mixvoip.md for its meaning
    cost_eur: Decimal | None    # derived from price and quantity per MIXVOIP_PRICE_MEANING
    invoice: str | None         # "N/A" until invoiced
    duration_s: int | None
    extension: str | None
    attributes: str             # JSON text: undocumented keys kept as data
    raw_response_id: int | None


BILLING_COLUMNS: tuple[str, ...] = BillingItem._fields
_COPY = "COPY stage_billing_item ({}) FROM STDIN".format(", ".join(BILLING_COLUMNS))


def load_billing_items(conn: psycopg.Connection, items: list[BillingItem]) -> int:
    """Stage `items` and merge them into cdr.fact_billing_item; return the rows written.

    Runs inside the caller's transaction (load_window's, after the legs merge)."""
    run_script(conn, "load/stage_billing_items.sql")
    with conn.cursor() as cur:
        with cur.copy(_COPY) as copy:
            for item in items:
                copy.write_row(item)
        return cur.execute(sql_file("load/merge_billing_items.sql")).fetchone()[0]
