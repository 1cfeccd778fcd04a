"""The shapes every layer shares: the canonical call leg (in the column order of the COPY), a
quarantined record, and a response body on its way from the provider to the parser."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

# A half-open [start, end) interval of UTC time: one partition day, or part of one.
Window = tuple[datetime, datetime]


class CallLeg(NamedTuple):
    """One leg of a call as the warehouse stores it (table cdr.fact_call_leg).

    A NamedTuple rather than a dataclass: parsers build millions of these and COPY writes them
    as they are, so construction cost and tuple access matter.
    """

    provider: str
    account: str
    # the provider's customer within the account (MIXvoip profile id, Belfabriek customer id);
    # None where the provider has none (TENIOS)
    customer: str | None
    leg_key: str
    call_key: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int | None
    billable_s: Decimal | float | None
    direction: str  # inbound | outbound | internal | unknown
    caller_number: str | None
    called_number: str | None
    service_number: str | None
    call_type: str | None
    outcome: str  # answered | no_answer | busy | cancelled | failed | unknown
    hangup_cause: str | None
    cost_eur: Decimal | None
    source_network: str | None
    extension: str | None
    linked_leg_key: str | None
    attributes: str  # JSON text of provider-specific fields kept as data
    raw_response_id: int | None


LEG_COLUMNS: tuple[str, ...] = CallLeg._fields


class Quarantined(NamedTuple):
    """A record that failed validation, stored with its reason instead of being dropped."""

    provider: str
    account: str
    raw_response_id: int | None
    record_index: int
    field: str | None
    reason: str
    record: str  # the offending record as text, cut to a readable size


QUARANTINE_COLUMNS: tuple[str, ...] = Quarantined._fields


class ParseNote(NamedTuple):
    """Something a parser had to assume that a user should know about, though no record was
    refused: legs whose time stamps carried no offset and were read in a configured zone, a body
    with no declared encoding decoded as ISO-8859-1. The load sums each `name`'s `total` per
    window into its figures and the load audit, and warns once per window (pipelines.warehouse.load).
    """

    name: str    # a figure name, e.g. "legs_stamp_without_offset"; totals of one name are summed
    total: int
    detail: str  # the assumption, in words, for the warning ("read in Europe/Berlin")

    def __str__(self) -> str:
        return f"{self.total} {self.name.replace('_', ' ')} ({self.detail})"

DIRECTIONS = ("inbound", "outbound", "internal", "unknown")
OUTCOMES = ("answered", "no_answer", "busy", "cancelled", "failed", "unknown")


class BodyDigest(NamedTuple):
    """What cdr.raw_response keeps of a body besides its request: SHA-256, length, gzip (level 1,
    mtime 0: the same bytes for the same body, so a re-fetch is recognised)."""

    sha256: bytes
    size: int
    gzip: bytes


class FetchedPage(NamedTuple):
    """One successful response body, with the request that produced it minus any secret.

    `digest` is the body's BodyDigest when the client computed it while the body arrived (a
    client reading through providers.base.receive); the landing computes it otherwise.
    """

    endpoint: str
    request_params: dict[str, Any]
    page: int
    http_status: int
    content_type: str | None
    body: bytes
    records: int
    digest: BodyDigest | None = None


class RawPage(NamedTuple):
    """A stored body handed to a parser. `raw_response_id` is None for a file on disk.

    `request_params` (the secret-free request that produced the body) and `window` (the window
    it was fetched for) are set for stored pages and None for a file: a parser may use them where
    the body alone does not say which profile or period it covers (MIXvoip).
    """

    raw_response_id: int | None
    page: int
    body: bytes
    content_type: str | None
    request_params: dict | None = None
    window: Window | None = None
