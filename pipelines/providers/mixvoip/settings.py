"""MIXvoip settings, constants and the readings chosen where the docs are silent (NOTES.md
section 2, mixvoip-getcalls-api.txt). Readings a user may need to flip are settings, handed to
the client and the (pure) parser alike."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.providers.settings import ProviderSettings, SettingValueError, one_of

PROVIDER = "mixvoip"
GETCALLS_PATH = "/cdrs/getcalls"
# The docs give no host [Q]: MIXVOIP_BASE_URL is required.
BASE_URL = ""

FORMATS = ("json", "csv")
DEFAULT_FORMAT = "json"
# The case of the FORMAT segment [Q]: the current getcalls page lists `csv` and `json`, the older
# DokuWiki page `CSV`. Lower case is the default because the current page is the later revision
# and the only one whose URL template (with the credentials in the query) matches what we send.
FORMAT_CASES = ("lower", "upper")
DEFAULT_FORMAT_CASE = "lower"
# The API refuses intervals over 3 months; 31 days stays well under it whatever "3 months" means.
DEFAULT_CHUNK_DAYS = 31
MAX_CHUNK_DAYS = 85
DATE_FORMAT = "%Y-%m-%d"  # [I] START_DATE/END_DATE format is undocumented
# Whether END_DATE is inclusive is undocumented [Q]. `unknown` asks each window's local dates and
# the day after, right either way, so consecutive days' requests overlap and each record is
# fetched two or three times; a known reading lets consecutive windows share one request per
# date (`exclusive`: START..START+1 is that date; `inclusive`: it is two dates) and each record
# is fetched once.
END_DATE_READINGS = ("unknown", "inclusive", "exclusive")
DEFAULT_END_DATE = "unknown"

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


def zone(setting: str, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingValueError(setting, name, "not an IANA time zone (e.g. Europe/Luxembourg)") from None


@dataclass(frozen=True)
class MixvoipParseSettings:
    """What the parser reads: the zone of call_start/call_end, the meaning of `price`, and call
    types MIXvoip may add besides CALLIN, CALLOUT and MCALL."""

    timezone: str = DEFAULT_TIMEZONE
    price_meaning: str = DEFAULT_PRICE_MEANING
    extra_call_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        zone("timezone", self.timezone)
        one_of("price_meaning", self.price_meaning, PRICE_MEANINGS)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def call_types(self) -> frozenset[str]:
        return CALL_TYPES | {t.strip().upper() for t in self.extra_call_types if t.strip()}


@dataclass(frozen=True)
class MixvoipSettings(ProviderSettings):
    """One MIXvoip login and the profiles (customer numbers) it pulls. `base_url` is required:
    the docs give none."""

    base_url: str = BASE_URL
    profile_ids: tuple[str, ...] = ()
    format: str = DEFAULT_FORMAT  # json | csv
    format_case: str = DEFAULT_FORMAT_CASE  # lower (`/json`, `/csv`) | upper (`/JSON`, `/CSV`)
    legacy_urls: bool = False  # the old form: JSON without a format segment
    chunk_days: int = DEFAULT_CHUNK_DAYS
    end_date: str = DEFAULT_END_DATE  # unknown | inclusive | exclusive: how the API reads END_DATE
    timezone: str = DEFAULT_TIMEZONE  # of call_start/call_end and of the dates in the URL
    price_meaning: str = DEFAULT_PRICE_MEANING
    extra_call_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "format", self.format.strip().lower())
        object.__setattr__(self, "format_case", self.format_case.strip().lower())
        object.__setattr__(self, "price_meaning", self.price_meaning.strip().lower())
        object.__setattr__(self, "end_date", self.end_date.strip().lower())
        one_of("format", self.format, FORMATS)
        one_of("format_case", self.format_case, FORMAT_CASES)
        one_of("end_date", self.end_date, END_DATE_READINGS)
        if not 1 <= self.chunk_days <= MAX_CHUNK_DAYS:
            raise SettingValueError("chunk_days", self.chunk_days, f"expected 1..{MAX_CHUNK_DAYS}")
        self.parse_settings()

    def parse_settings(self) -> MixvoipParseSettings:
        return MixvoipParseSettings(self.timezone, self.price_meaning, self.extra_call_types)
