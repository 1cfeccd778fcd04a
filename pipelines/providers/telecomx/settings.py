"""Telecom X settings and constants, from NOTES.md section 4 and telecomx-cdrstats-api.txt."""
from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.providers.settings import ProviderSettings, SettingValueError, one_of

PROVIDER = "telecomx"
BASE_URL = "https://api.telecomx.dk"
LOGIN_PATH = "/auth/login"
STATS_PATH = "/pbx/cdrstats"

GROUPINGS = ("HOUR", "DAY", "WEEK", "MONTH")
# Nightly loads pull one UTC day grouped by hour: each hour-of-day key then occurs once.
DEFAULT_GROUPING = "HOUR"
# How WEEK keys count [Q]: ISO 8601 weeks (Monday start, 1-53, what Denmark uses) or
# "sunday" (weeks start on Sunday, days before the year's first Sunday are week 0; strftime %U).
WEEK_SCHEMES = ("iso", "sunday")
FORMATS = ("JSON", "CSV", "EXCEL")

IDENTITY_FIELDS = ("employeeId", "employeeName", "extensionId", "extensionNumber")
COUNTER_FIELDS = ("outboundCalls", "outboundSeconds", "outboundAnswered", "outboundUnanswered",
                  "outboundFailed", "inboundCalls", "inboundSeconds", "inboundAnswered",
                  "inboundUnanswered", "inboundBusy")
# Requested explicitly on every call, so a changed server default cannot drop a counter.
REQUEST_FIELDS = IDENTITY_FIELDS + COUNTER_FIELDS

# Documented error tokens (NOTES.md section 4 and the cdrstats page).
EXPIRED = "expired"
CREDENTIALS_INVALID = "credentials_invalid"
INVALID_TOKEN = "invalid_token"
BLACKLISTED = "blacklisted"
ACCESS_DENIED = "access_denied"
REQUEST_FIELD_ERRORS = ("from", "format", "groupingInterval")
ERROR_CODES = (EXPIRED, CREDENTIALS_INVALID, INVALID_TOKEN, BLACKLISTED, ACCESS_DENIED,
               *REQUEST_FIELD_ERRORS, "bad request", "internal_error", "id")


@dataclass(frozen=True)
class TelecomXParseSettings:
    """What the parser reads to turn bare interval keys into UTC starts."""

    grouping_timezone: str = "UTC"
    week_scheme: str = "iso"

    def __post_init__(self) -> None:
        one_of("week_scheme", self.week_scheme, WEEK_SCHEMES)
        try:
            ZoneInfo(self.grouping_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingValueError("grouping_timezone", self.grouping_timezone,
                                    "not an IANA time zone (e.g. Europe/Copenhagen)") from None


@dataclass(frozen=True)
class TelecomXSettings(ProviderSettings):
    """One Telecom X login: which customers to pull (empty: the token's own) and how to group."""

    base_url: str = BASE_URL
    customers: tuple[str, ...] = ()
    grouping_interval: str = DEFAULT_GROUPING
    grouping_timezone: str = "UTC"
    week_scheme: str = "iso"
    ignore_below: int | None = None
    ignore_local: bool | None = None
    employees: tuple[str, ...] = ()  # empty: all

    def __post_init__(self) -> None:
        object.__setattr__(self, "grouping_interval", self.grouping_interval.strip().upper())
        object.__setattr__(self, "week_scheme", self.week_scheme.strip().lower())
        one_of("grouping_interval", self.grouping_interval, GROUPINGS)
        self.parse_settings()

    def parse_settings(self) -> TelecomXParseSettings:
        return TelecomXParseSettings(self.grouping_timezone, self.week_scheme)
