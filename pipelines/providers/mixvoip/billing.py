"""The billing-item row: MIXvoip records that are not calls (PAY, SETUP, SERVICE, SMS, …).

Loaded by the shared load path like the legs (COPY into staging, then the guarded upsert in
sql/merge_billing_items.sql, which rewrites a row only when a compared column changed: an
invoice number that replaced "N/A", a corrected price), so a re-run changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


class BillingItem(NamedTuple):
    """One row of cdr.fact_billing_item, in the column order of the COPY."""

    provider: str
    account: str
    customer: str | None        # the profile id, as on the account's legs (profile_id, kept too)
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
