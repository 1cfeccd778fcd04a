"""MIXvoip constants and the readings chosen where the docs are silent (NOTES.md section 2,
mixvoip-getcalls-api.txt). Settings a user may need to flip are environment variables, read
here so the client, the resource and the (pure) parser agree."""
from __future__ import annotations

import os
from decimal import Decimal
from zoneinfo import ZoneInfo

PROVIDER = "mixvoip"
GETCALLS_PATH = "/cdrs/getcalls"
# The docs give no host [Q]: MIXVOIP_BASE_URL is required.
BASE_URL = ""

FORMATS = ("json", "csv")
DEFAULT_FORMAT = "json"
# The API refuses intervals over 3 months; 31 days stays well under it whatever "3 months" means.
DEFAULT_CHUNK_DAYS = 31
MAX_CHUNK_DAYS = 85
DATE_FORMAT = "%Y-%m-%d"  # [I] START_DATE/END_DATE format is undocumented

# Record types. Calls go to cdr.fact_call_leg; every other type (the documented billing types,
# the old docs' DELIVERY/DOCUMENTATION/MDATA/MSMS, and anything new) to cdr.fact_billing_item.
INBOUND_CALL_TYPES = frozenset({"CALLIN"})
OUTBOUND_CALL_TYPES = frozenset({"CALLOUT"})
MOBILE_CALL_TYPES = frozenset({"MCALL"})  # MIXmobile call (old docs); its direction is not given
CALL_TYPES = INBOUND_CALL_TYPES | OUTBOUND_CALL_TYPES | MOBILE_CALL_TYPES
BILLING_TYPES = frozenset({"DEV", "FAX", "HARDWARE", "PAY", "SERVICE", "SETUP", "SMS", "TRAVEL",
                           "DELIVERY", "DOCUMENTATION", "MDATA", "MSMS"})
NOT_INVOICED = frozenset({"", "N/A", "NA"})

# `price`: the docs say "price in euro cents per quantity"; the example (61 s, quantity 2,
# price "7.00") fits that and a total equally well [Q]. The raw price and quantity are always
# stored; cost_eur is derived with the reading below.
PRICE_MEANINGS = {
    # meaning: (divisor to euros, price is per quantity)
    "cents_per_quantity": (Decimal(100), True),
    "cents_total": (Decimal(100), False),
    "euros_per_quantity": (Decimal(1), True),
    "euros_total": (Decimal(1), False),
}
DEFAULT_PRICE_MEANING = "cents_per_quantity"
DEFAULT_TIMEZONE = "Europe/Luxembourg"  # [I] call_start is local time of the provider


def local_timezone() -> ZoneInfo:
    """MIXVOIP_TIMEZONE (default Europe/Luxembourg): the zone of call_start/call_end and of the
    dates in the URL."""
    return ZoneInfo(os.environ.get("MIXVOIP_TIMEZONE") or DEFAULT_TIMEZONE)


def price_meaning() -> str:
    """MIXVOIP_PRICE_MEANING: one of PRICE_MEANINGS (default cents_per_quantity, as documented)."""
    value = (os.environ.get("MIXVOIP_PRICE_MEANING") or DEFAULT_PRICE_MEANING).strip().lower()
    if value not in PRICE_MEANINGS:
        raise ValueError(f"MIXVOIP_PRICE_MEANING must be one of {sorted(PRICE_MEANINGS)}, got {value!r}")
    return value


def call_types() -> frozenset[str]:
    """MIXVOIP_EXTRA_CALL_TYPES: comma-separated types to treat as calls besides CALLIN, CALLOUT
    and MCALL (for a call type MIXvoip adds later)."""
    extra = os.environ.get("MIXVOIP_EXTRA_CALL_TYPES", "")
    return CALL_TYPES | {t.strip().upper() for t in extra.split(",") if t.strip()}
