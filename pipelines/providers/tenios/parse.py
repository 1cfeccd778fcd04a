"""TENIOS /cdrs/retrieve bodies -> canonical call legs. Pure: bytes in, records out.

Readings chosen where the docs are silent (NOTES.md section 3, [Q] items):
- `*_stamp` values: ISO-8601; a stamp without an offset is read as UTC (`naive_timezone` to change).
- `duration` is whole seconds including ring time; `billusec` microseconds -> `billable_s`.
- `cost` is EUR, converted through its decimal text so no float error reaches the warehouse.
- `call_type`, `hangup_cause`, `source_type` values outside the documented lists are kept as data:
  direction `unknown` for an unknown call type, outcome `failed` for an unanswered unknown cause.
- A leg is answered when `answer_stamp` is set; otherwise its hangup cause decides the outcome.
- call_key is `main_leg_uuid` or the leg's own `uuid`; `bleg_uuid` is kept as `linked_leg_key` and
  the call assembly in sql/aggregates/refresh_calls.sql follows it.
"""
from __future__ import annotations

from datetime import tzinfo
from typing import Iterable, Iterator

import orjson

from pipelines.errors import ParseError
from pipelines.model import CallLeg, Quarantined
from pipelines.numbers import to_e164
from pipelines.providers.common import (
    NUMERIC_14_6_LIMIT,
    UTC,
    attributes_json,
    number,
    record_json,
    record_text,
    required_text,
    text_or_none,
    timestamp,
    whole_seconds,
    within,
)
from pipelines.providers.tenios.settings import (
    BUSY_CAUSES,
    CANCELLED_CAUSES,
    COUNTRY_CODE,
    INBOUND_CALL_TYPES,
    NO_ANSWER_CAUSES,
    OUTBOUND_CALL_TYPES,
    PROVIDER,
)

_MICRO = 1_000_000
_ATTRIBUTE_FIELDS = ("prepaid", "routing_status", "billing_status", "callerid_name", "bleg_uuid",
                     "main_leg_uuid")


def decode_body(body: bytes) -> list:
    """The `items` of a retrieve body, or ParseError for a body that is not one."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(PROVIDER, None, f"body is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ParseError(PROVIDER, None, f"body is a JSON {type(document).__name__}, expected an object")
    if document.get("error_code") is not None:
        raise ParseError(PROVIDER, "error_code", record_text(f"error body: {document.get('error_code')}"))
    items = document.get("items")
    if items is None:
        items = []  # an empty result may omit items; total_items then says 0
    if not isinstance(items, list):
        raise ParseError(PROVIDER, "items", f"expected a list, got {type(items).__name__}")
    return items


def _outcome(answered: bool, cause: str | None) -> str:
    if answered:
        return "answered"
    if cause in NO_ANSWER_CAUSES:
        return "no_answer"
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in CANCELLED_CAUSES:
        return "cancelled"
    return "failed" if cause else "unknown"


def parse_record(record, account: str, raw_response_id: int | None, naive_tz: tzinfo = UTC) -> CallLeg:
    if not isinstance(record, dict):
        raise ParseError(PROVIDER, None, f"record is a JSON {type(record).__name__}, expected an object")
    uuid = required_text(PROVIDER, record, "uuid")
    started_at = timestamp(PROVIDER, record.get("start_stamp"), "start_stamp", naive_tz, required=True)
    answered_at = timestamp(PROVIDER, record.get("answer_stamp"), "answer_stamp", naive_tz)
    ended_at = timestamp(PROVIDER, record.get("end_stamp"), "end_stamp", naive_tz)
    billusec = within(PROVIDER, number(PROVIDER, record.get("billusec"), "billusec"), "billusec",
                      NUMERIC_14_6_LIMIT * _MICRO)
    call_type = text_or_none(PROVIDER, record, "call_type")
    cause = text_or_none(PROVIDER, record, "hangup_cause")
    destination = to_e164(text_or_none(PROVIDER, record, "destination_number"), COUNTRY_CODE)
    main_leg = text_or_none(PROVIDER, record, "main_leg_uuid")
    prepaid = record.get("prepaid")
    if prepaid is not None and not isinstance(prepaid, bool):
        raise ParseError(PROVIDER, "prepaid", f"expected true or false, got {prepaid!r:.40}")
    attributes = {name: record[name] for name in _ATTRIBUTE_FIELDS if record.get(name) is not None}
    if call_type in INBOUND_CALL_TYPES:
        direction = "inbound"
    elif call_type in OUTBOUND_CALL_TYPES:
        direction = "outbound"
    else:
        direction = "unknown"
    return CallLeg(
        provider=PROVIDER,
        account=account,
        leg_key=uuid,
        call_key=main_leg or uuid,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration_s=whole_seconds(PROVIDER, record.get("duration"), "duration"),
        billable_s=None if billusec is None else billusec / _MICRO,
        direction=direction,
        caller_number=to_e164(text_or_none(PROVIDER, record, "callerid_number"), COUNTRY_CODE),
        called_number=destination,
        service_number=destination if direction == "inbound" else None,
        call_type=call_type,
        outcome=_outcome(answered_at is not None, cause),
        hangup_cause=cause,
        cost_eur=within(PROVIDER, number(PROVIDER, record.get("cost"), "cost"), "cost"),
        source_network=text_or_none(PROVIDER, record, "source_type"),
        extension=None,
        linked_leg_key=text_or_none(PROVIDER, record, "bleg_uuid"),
        attributes=attributes_json(PROVIDER, attributes),
        raw_response_id=raw_response_id,
    )


def parse_pages(pages: Iterable, account: str, naive_tz: tzinfo = UTC) -> Iterator[CallLeg | Quarantined]:
    """Every record of every page as a CallLeg, or Quarantined with the reason it was refused."""
    for page in pages:
        try:
            items = decode_body(page.body)
        except ParseError as exc:
            yield Quarantined(PROVIDER, account, page.raw_response_id, -1, exc.field, exc.reason,
                              record_text(page.body[:2000].decode("utf-8", "replace")))
            continue
        for index, record in enumerate(items):
            try:
                yield parse_record(record, account, page.raw_response_id, naive_tz)
            except ParseError as exc:
                yield Quarantined(PROVIDER, account, page.raw_response_id, index, exc.field, exc.reason,
                                  record_json(record))
