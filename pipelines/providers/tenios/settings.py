"""TENIOS settings and constants, from NOTES.md section 3 and tenios-cdr-api.txt."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.providers.settings import ProviderSettings, SettingValueError

PROVIDER = "tenios"
BASE_URL = "https://api.tenios.com"
RETRIEVE_PATH = "/cdrs/retrieve"
COUNT_PATH = "/cdrs/count"
# The maximum page_size is undocumented [Q]; 500 keeps a page around 300 KB.
DEFAULT_PAGE_SIZE = 500
# A German carrier: national numbers (030...) are read as +49.
COUNTRY_CODE = "49"
# The field names are FreeSWITCH's, whose `*_stamp` values are the switch's local wall-clock time
# (`2024-03-20 11:15:00`, no offset); TENIOS is a German carrier, so its switches most likely keep
# German time. A stamp that does carry an offset (or Z) is read by its offset and this is not used.
DEFAULT_STAMP_TIME_ZONE = "Europe/Berlin"
# The official examples describe start_date_from as calls "started after" it: an exclusive bound.
# Asking from one second before the window start keeps a leg at exactly 00:00:00.000 even if the
# server compares whole seconds (truncating or rounding the bound); legs the answer holds from
# before the window are the previous day's and are dropped by the parser (docs/providers/tenios.md).
DEFAULT_REQUEST_START_LEAD_MS = 1000
MAX_REQUEST_START_LEAD_MS = 60_000

INBOUND_CALL_TYPES = frozenset({"INBOUND", "WEBRTCINBOUND"})
OUTBOUND_CALL_TYPES = frozenset({"FORWARD", "SIPFORWARD_USER", "SIPFORWARD_PRFL", "FAXOUT"})

# Q.850 / FreeSWITCH causes by what they mean for the caller; anything else is kept as data
# and, when the leg was not answered, counted as `failed`.
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "SUBSCRIBER_ABSENT", "ALLOTTED_TIMEOUT"})
BUSY_CAUSES = frozenset({"USER_BUSY"})
CANCELLED_CAUSES = frozenset({"ORIGINATOR_CANCEL", "LOSE_RACE"})


def _zone(setting: str, name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingValueError(setting, name, "not an IANA time zone (e.g. Europe/Berlin)") from None


@dataclass(frozen=True)
class TeniosParseSettings:
    """What the parser reads: the zone a `*_stamp` without an offset is read in."""

    stamp_time_zone: str = DEFAULT_STAMP_TIME_ZONE

    def __post_init__(self) -> None:
        _zone("stamp_time_zone", self.stamp_time_zone)

    @cached_property
    def zone(self) -> tzinfo:
        return _zone("stamp_time_zone", self.stamp_time_zone)


DEFAULT_PARSE_SETTINGS = TeniosParseSettings()


@dataclass(frozen=True)
class TeniosSettings(ProviderSettings):
    """One TENIOS account. `stamp_time_zone`: where a stamp without an offset is read (the parser
    reads it, and so does the client to tell legs of the window from those before it);
    `request_start_lead_ms`: how far before the window start a request asks from."""

    base_url: str = BASE_URL
    page_size: int = DEFAULT_PAGE_SIZE
    stamp_time_zone: str = DEFAULT_STAMP_TIME_ZONE
    request_start_lead_ms: int = DEFAULT_REQUEST_START_LEAD_MS

    def __post_init__(self) -> None:
        if not 0 <= self.request_start_lead_ms <= MAX_REQUEST_START_LEAD_MS:
            raise SettingValueError("request_start_lead_ms", self.request_start_lead_ms,
                                    f"expected 0 to {MAX_REQUEST_START_LEAD_MS} milliseconds")
        self.parse_settings()  # checks the zone now, not at the first parse

    def parse_settings(self) -> TeniosParseSettings:
        return TeniosParseSettings(self.stamp_time_zone)
