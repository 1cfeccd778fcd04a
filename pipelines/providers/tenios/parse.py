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

Two paths, one result. A well-formed page is decoded by msgspec straight into typed structs (C
code does the type checks, about 2.5x faster than checking each field in Python); any page the
fast path is not sure of (a type it does not expect, a NUL escape, an unreadable stamp, a value
out of range, an error body) goes through the field-by-field path, which names the exact field
of each bad record for the quarantine. tests/providers/tenios/test_parse.py holds them equal.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import overload

import msgspec
import orjson

from pipelines.errors import ParseError
from pipelines.model import CallLeg, Quarantined, RawPage
from pipelines.numbers import to_e164
from pipelines.providers.common import (
    INT4_MAX,
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
        customer=None,  # TENIOS has no customer within an account
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


class _Leg(msgspec.Struct):
    """A retrieve item as the fast path expects it; anything else falls back to the slow path."""

    uuid: str
    start_stamp: str
    call_type: str | None = None
    answer_stamp: str | None = None
    end_stamp: str | None = None
    duration: int | None = None
    billusec: int | float | None = None
    bleg_uuid: str | None = None
    main_leg_uuid: str | None = None
    callerid_name: str | None = None
    callerid_number: str | None = None
    destination_number: str | None = None
    hangup_cause: str | None = None
    prepaid: bool | None = None
    cost: int | float | None = None
    source_type: str | None = None
    routing_status: str | None = None
    billing_status: str | None = None


class _Page(msgspec.Struct):
    items: list[_Leg] | None = None
    error_code: object = None


_decode_page = msgspec.json.Decoder(_Page).decode
_fromisoformat = datetime.fromisoformat


class _NotFast(Exception):
    """This page needs the field-by-field path."""


def _text(value: str | None) -> str | None:
    return None if value is None else (value.strip() or None)


@overload
def _stamp(value: str, naive_tz: tzinfo) -> datetime: ...


@overload
def _stamp(value: str | None, naive_tz: tzinfo) -> datetime | None: ...


def _stamp(value: str | None, naive_tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    parsed = _fromisoformat(value)  # ValueError: the slow path reads (or refuses) it
    if parsed.tzinfo is UTC:
        return parsed
    return (parsed.replace(tzinfo=naive_tz) if parsed.tzinfo is None else parsed).astimezone(UTC)


def _decimal(value: int | float | None, field: str, limit) -> Decimal | None:
    if value is None:
        return None
    result = Decimal(value) if type(value) is int else Decimal(repr(value))
    if not result.is_finite() or abs(result) > limit:
        raise _NotFast(field)
    return result


def _parse_page_fast(body: bytes, account: str, raw_response_id: int | None,
                     naive_tz: tzinfo) -> list[CallLeg]:
    """The legs of a well-formed page, or _NotFast. Same results as parse_record, record for record."""
    if b"\\u0000" in body:
        raise _NotFast("NUL escape")
    try:
        page = _decode_page(body)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):  # ValueError: bytes that are not UTF-8
        raise _NotFast("shape") from None
    if page.error_code is not None:
        raise _NotFast("error body")
    legs = []
    try:
        for r in page.items or ():
            uuid = r.uuid.strip()
            if not uuid or (r.duration is not None and not 0 <= r.duration <= INT4_MAX):
                raise _NotFast("uuid or duration")
            started_at = _stamp(r.start_stamp, naive_tz)
            answered_at = _stamp(r.answer_stamp, naive_tz)
            call_type, cause = _text(r.call_type), _text(r.hangup_cause)
            direction = ("inbound" if call_type in INBOUND_CALL_TYPES else
                         "outbound" if call_type in OUTBOUND_CALL_TYPES else "unknown")
            destination = to_e164(_text(r.destination_number), COUNTRY_CODE)
            billusec = _decimal(r.billusec, "billusec", NUMERIC_14_6_LIMIT * _MICRO)
            main_leg = _text(r.main_leg_uuid)
            attributes = {}
            for name in _ATTRIBUTE_FIELDS:
                value = getattr(r, name)
                if value is not None:
                    attributes[name] = value
            legs.append(CallLeg(
                PROVIDER, account, None, uuid, main_leg or uuid, started_at, answered_at,
                _stamp(r.end_stamp, naive_tz),
                r.duration, None if billusec is None else billusec / _MICRO, direction,
                to_e164(_text(r.callerid_number), COUNTRY_CODE), destination,
                destination if direction == "inbound" else None, call_type,
                _outcome(answered_at is not None, cause),
                cause, _decimal(r.cost, "cost", NUMERIC_14_6_LIMIT), _text(r.source_type), None,
                _text(r.bleg_uuid), orjson.dumps(attributes).decode(), raw_response_id))
    except (ValueError, OverflowError):
        raise _NotFast("value") from None
    return legs


def parse_pages(pages: Iterable[RawPage], account: str, settings: object = None, *,
                fast: bool = True) -> Iterator[CallLeg | Quarantined]:
    """Every record of every page as a CallLeg, or Quarantined with the reason it was refused.

    TENIOS has no parse settings (`settings` is None): its time stamps carry their offset, and
    one without is read as UTC. `fast=False` forces the field-by-field path (the tests compare
    the two)."""
    naive_tz = UTC
    for page in pages:
        if fast:
            try:
                yield from _parse_page_fast(page.body, account, page.raw_response_id, naive_tz)
                continue
            except _NotFast:
                pass
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
