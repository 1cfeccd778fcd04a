"""TENIOS settings and constants, from NOTES.md section 3 and tenios-cdr-api.txt."""
from __future__ import annotations

from dataclasses import dataclass

from pipelines.providers.settings import ProviderSettings

PROVIDER = "tenios"
BASE_URL = "https://api.tenios.com"
RETRIEVE_PATH = "/cdrs/retrieve"
COUNT_PATH = "/cdrs/count"
# The maximum page_size is undocumented [Q]; 500 keeps a page around 300 KB.
DEFAULT_PAGE_SIZE = 500
# A German carrier: national numbers (030...) are read as +49.
COUNTRY_CODE = "49"

INBOUND_CALL_TYPES = frozenset({"INBOUND", "WEBRTCINBOUND"})
OUTBOUND_CALL_TYPES = frozenset({"FORWARD", "SIPFORWARD_USER", "SIPFORWARD_PRFL", "FAXOUT"})

# Q.850 / FreeSWITCH causes by what they mean for the caller; anything else is kept as data
# and, when the leg was not answered, counted as `failed`.
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "SUBSCRIBER_ABSENT", "ALLOTTED_TIMEOUT"})
BUSY_CAUSES = frozenset({"USER_BUSY"})
CANCELLED_CAUSES = frozenset({"ORIGINATOR_CANCEL", "LOSE_RACE"})


@dataclass(frozen=True)
class TeniosSettings(ProviderSettings):
    """One TENIOS account. The parser reads no setting: TENIOS sends UTC with an offset."""

    base_url: str = BASE_URL
    page_size: int = DEFAULT_PAGE_SIZE
