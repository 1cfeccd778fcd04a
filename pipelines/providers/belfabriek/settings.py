"""Belfabriek settings and constants, from NOTES.md section 1 and belfabriek-statistics-api.txt."""
from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pipelines.providers.settings import ProviderSettings, SettingValueError, one_of

PROVIDER = "belfabriek"
# The seed's URL line lost its prefix; NOTES.md [I]: GET https://api.belfabriek.nl/statistics/?...
# (the docs are served at /statistics/). The path is therefore a setting, `statistics_path`.
BASE_URL = "https://api.belfabriek.nl"
STATISTICS_PATH = "/statistics/"
# A path on the API host: no scheme or host (that is base_url), no query (the client builds it).
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")

# The per-second limit is unpublished [Q]; one request a second is polite and, with one request per
# UTC day (or per day and service number), still loads a year in about six minutes.
DEFAULT_REQUESTS_PER_SECOND = 1.0
# After an error 5 ("Too many requests/second") no request goes out for at least this long, on top
# of the retry policy's jittered backoff: the limit counts per second, so a full second clears it.
RATE_LIMIT_HOLD_S = 1.0

# The documented `customer_hash`: "32 characters hash key".
CUSTOMER_HASH_LENGTH = 32
# A service number "in international format", e.g. 318001234567: country code first, no + or 00.
# E.164 allows at most 15 digits; the shortest real international numbers have 8.
SERVICE_NUMBER = re.compile(r"[1-9][0-9]{7,14}")

# Values outside these bounds are quarantined as implausible rather than loaded: a week-long call
# or a call in year 1 is a broken record, and would overflow the warehouse's integer or the date
# arithmetic of the load.
MAX_DURATION_S = 7 * 86_400
YEARS = range(1990, 2100)

# A Dutch provider: national numbers (020..., 06...) are read as +31.
COUNTRY_CODE = "31"
# TIMESTAMP is local wall-clock time; the doc names no zone, the dd-mm-yyyy display suggests this one.
TIMEZONE = ZoneInfo("Europe/Amsterdam")

# What to do with a TIMESTAMP inside the hour that the end of summer time repeats (e.g.
# 25-10-2026 02:30:00 happens at 00:30 and at 01:30 UTC). See docs/providers/belfabriek.md.
REPEATED_HOUR_POLICIES = ("earlier", "later", "quarantine")
DEFAULT_REPEATED_HOUR = "earlier"

# The two container names the doc uses (the URL example and the prose differ by one S).
BLOCK_TAGS = frozenset({"CALLER_DATA_RECORDS", "CALLERS_DATA_RECORDS"})

# LOCATION is a place name or the Dutch literal `Mobiel`. A place name comes from a geographic
# (fixed-line) area code. A few other Dutch literals a caller-location field plausibly carries are
# mapped too; any of them is also kept verbatim in attributes.location.
LOCATION_NETWORKS = {
    "mobiel": "mobile",
    "buitenland": "international",  # abroad
    "onbekend": None,  # unknown
    "anoniem": None,  # withheld number
    "geheim": None,
}
PLACE_NETWORK = "fixed"

# PEAK: "peak" (daytime, dearer) or "dal" (evenings and weekends). The literals are [I]; the Dutch
# spellings and 1/0 are read too. Anything else stays in attributes.peak with no tariff_period.
TARIFF_PERIODS = {
    "peak": "peak", "piek": "peak", "piekuren": "peak", "1": "peak",
    "dal": "off_peak", "daluren": "off_peak", "daltarief": "off_peak", "off-peak": "off_peak",
    "offpeak": "off_peak", "0": "off_peak",
}


@dataclass(frozen=True)
class BelfabriekParseSettings:
    """What the parser reads: the reading of a TIMESTAMP in the hour summer time repeats."""

    dst_repeated_hour: str = DEFAULT_REPEATED_HOUR

    def __post_init__(self) -> None:
        one_of("dst_repeated_hour", self.dst_repeated_hour, REPEATED_HOUR_POLICIES)


@dataclass(frozen=True)
class BelfabriekSettings(ProviderSettings):
    """One Belfabriek customer. `account` defaults to the customer id; `service_numbers` empty
    means every number of the account in one request per day, otherwise one request per day and
    number (international format, checked before any request). `statistics_path` is where the
    statistics answer under `base_url`: the docs' URL line lost its prefix, so `/statistics/` (where
    the docs are served) is an inference."""

    account: str = ""
    base_url: str = BASE_URL
    statistics_path: str = STATISTICS_PATH
    customer_id: str = ""
    service_numbers: tuple[str, ...] = ()
    extension_display: bool = True
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    dst_repeated_hour: str = DEFAULT_REPEATED_HOUR  # earlier | later | quarantine

    def __post_init__(self) -> None:
        if not self.account:
            object.__setattr__(self, "account", self.customer_id or "default")
        object.__setattr__(self, "dst_repeated_hour", self.dst_repeated_hour.strip().lower())
        if not _PATH.fullmatch(self.statistics_path):
            raise SettingValueError("statistics_path", self.statistics_path,
                                    "expected a path on the API host starting with / (e.g. /statistics/),"
                                    " without host or query")
        self.parse_settings()  # checks the parse settings now, not at the first parse

    def parse_settings(self) -> BelfabriekParseSettings:
        return BelfabriekParseSettings(self.dst_repeated_hour)
