"""TENIOS /cdrs/retrieve bodies -> canonical call legs. Pure: bytes in, records out.

Readings chosen where the docs are silent (NOTES.md section 3, [Q] items; docs/providers/tenios.md):
- A body is a retrieve answer only if it has an `items` list (an empty result is `"items": []`, as
  the Ruby gem's stub has it). Anything else is refused whole: `{}`, the /cdrs/count answer
  `{"total_items": n}`, another endpoint's object, an error body, a page that is not JSON.
- `*_stamp` values: ISO-8601 with an offset or `Z`, or with none (`2024-03-20 11:15:00`,
  `T`-separated, with or without a fraction; FreeSWITCH, whose field names these are, writes the
  switch's local wall-clock time). A stamp without an offset is read in the `stamp_time_zone`
  setting (default Europe/Berlin); the leg gets `"stamp_without_offset": true` in its attributes
  and each page yields a ParseNote counting such legs. In the hour the end of summer time repeats
  such a stamp is read as the first pass (summer time) and flagged `stamp_dst_ambiguous`; one in
  the hour skipped when summer time starts exists on no clock in that zone and is quarantined.
- Window: a request asks from before the window start (the client's `request_start_lead_ms`), so
  a page may hold legs that started before the window (or, on a server reading the end bound
  loosely, at or after its end). They belong to the neighbouring day, whose load keeps them: here
  they are skipped, neither loaded nor quarantined. The window comes with a stored page
  (RawPage.window); a file read without one keeps every leg.
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

import msgspec
import orjson

from pipelines.errors import ParseError
from pipelines.model import CallLeg, ParseNote, Quarantined, RawPage, Window
from pipelines.numbers import to_e164
from pipelines.providers.common import (
    INT4_MAX,
    NUMERIC_14_6_LIMIT,
    UTC,
    attributes_json,
    iso_datetime,
    number,
    record_json,
    record_text,
    required_text,
    text_or_none,
    wall_clock_to_utc,
    whole_seconds,
    within,
)
from pipelines.providers.tenios.settings import (
    BUSY_CAUSES,
    CANCELLED_CAUSES,
    COUNTRY_CODE,
    DEFAULT_PARSE_SETTINGS,
    INBOUND_CALL_TYPES,
    NO_ANSWER_CAUSES,
    OUTBOUND_CALL_TYPES,
    PROVIDER,
    TeniosParseSettings,
)

_MICRO = 1_000_000
_ATTRIBUTE_FIELDS = ("prepaid", "routing_status", "billing_status", "callerid_name", "bleg_uuid",
                     "main_leg_uuid")
NAIVE_NOTE = "legs_stamp_without_offset"
AMBIGUOUS_NOTE = "legs_stamp_dst_ambiguous"

# (UTC instant, the text carried no offset, it fell in the repeated hour)
Stamp = tuple[datetime, bool, bool]
_NO_STAMP: tuple[None, bool, bool] = (None, False, False)


def decode_body(body: bytes) -> list:
    """The `items` of a retrieve body, or ParseError for a body that is not one."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(PROVIDER, None, f"body is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ParseError(PROVIDER, None, f"body is a JSON {type(document).__name__}, expected an object")
    if document.get("error_code") is not None or document.get("success") is False:
        raise ParseError(PROVIDER, "error_code", record_text(
            f"error body: {document.get('error_code')}: {document.get('error_message')}"))
    if "items" not in document:
        # `{}`, a /cdrs/count answer ({"total_items": n}) or another endpoint's object: reading one
        # as zero legs would load a busy day as a quiet one
        keys = record_text(", ".join(sorted(map(str, document))[:5]) or "none")
        raise ParseError(PROVIDER, "items", f"not a /cdrs/retrieve answer: no `items` (keys: {keys})")
    items = document["items"]
    if not isinstance(items, list):
        raise ParseError(PROVIDER, "items", f"expected a list, got {type(items).__name__}")
    return items


def read_stamp(value, field: str, zone: tzinfo, required: bool = False) -> Stamp | tuple[None, bool, bool]:
    """A `*_stamp` value as (UTC, had no offset, in the repeated hour), or ParseError naming the field."""
    parsed = iso_datetime(PROVIDER, value, field, required=required)
    if parsed is None:
        return _NO_STAMP
    try:
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC), False, False
        utc, ambiguous = wall_clock_to_utc(parsed, zone)
        return utc, True, ambiguous
    except ValueError as exc:
        raise ParseError(PROVIDER, field, f"{exc}; is stamp_time_zone the switch's zone?") from None
    except OverflowError:
        raise ParseError(PROVIDER, field, f"out of range in UTC: {str(value).strip()[:40]!r}") from None


def leg_start(record, zone: tzinfo) -> datetime | None:
    """When a retrieve item started, as the parser reads it; None if it cannot be read (the parser
    then quarantines the record). The client uses it to tell legs of the window from the others."""
    if not isinstance(record, dict):
        return None
    try:
        return read_stamp(record.get("start_stamp"), "start_stamp", zone)[0]
    except ParseError:
        return None


def outside(started_at: datetime, window: Window | None) -> bool:
    """Did a leg start outside the window its page was fetched for (the request asks from before
    the window start)? Such a leg belongs to the neighbouring window and is loaded by it."""
    return window is not None and not window[0] <= started_at < window[1]


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


def _flag(attributes: dict, naive: bool, ambiguous: bool) -> None:
    if naive:
        attributes["stamp_without_offset"] = True
    if ambiguous:
        attributes["stamp_dst_ambiguous"] = True


class Assumed:
    """How many legs of a page needed each assumption, for its ParseNotes."""

    __slots__ = ("ambiguous", "naive")

    def __init__(self) -> None:
        self.naive = self.ambiguous = 0

    def count(self, attributes: dict) -> None:
        """Count a leg that was read, by the flags in its attributes."""
        self.naive += "stamp_without_offset" in attributes
        self.ambiguous += "stamp_dst_ambiguous" in attributes

    def notes(self, settings: TeniosParseSettings) -> Iterator[ParseNote]:
        if self.naive:
            yield ParseNote(NAIVE_NOTE, self.naive, f"read in {settings.stamp_time_zone}")
        if self.ambiguous:
            yield ParseNote(AMBIGUOUS_NOTE, self.ambiguous,
                            f"in the hour {settings.stamp_time_zone} repeats when summer time ends,"
                            " read as its first pass")


def parse_record(record, account: str, raw_response_id: int | None, zone: tzinfo = UTC,
                 window: Window | None = None, assumed: Assumed | None = None) -> CallLeg | None:
    """One retrieve item as a CallLeg; None when it started outside `window`; ParseError naming
    the field when it cannot be read."""
    if not isinstance(record, dict):
        raise ParseError(PROVIDER, None, f"record is a JSON {type(record).__name__}, expected an object")
    uuid = required_text(PROVIDER, record, "uuid")
    started_at, naive, ambiguous = read_stamp(record.get("start_stamp"), "start_stamp", zone, required=True)
    assert started_at is not None  # required: read_stamp raised otherwise
    if outside(started_at, window):  # before any other field: its own window reads (or refuses) it
        return None
    answered_at, answer_naive, answer_ambiguous = read_stamp(record.get("answer_stamp"), "answer_stamp", zone)
    ended_at, end_naive, end_ambiguous = read_stamp(record.get("end_stamp"), "end_stamp", zone)
    billusec = within(PROVIDER, number(PROVIDER, record.get("billusec"), "billusec"), "billusec",
                      NUMERIC_14_6_LIMIT * _MICRO)
    call_type = text_or_none(PROVIDER, record, "call_type")
    cause = text_or_none(PROVIDER, record, "hangup_cause")
    destination = to_e164(text_or_none(PROVIDER, record, "destination_number"), COUNTRY_CODE)
    main_leg = text_or_none(PROVIDER, record, "main_leg_uuid")
    prepaid = record.get("prepaid")
    if prepaid is not None and not isinstance(prepaid, bool):
        raise ParseError(PROVIDER, "prepaid", f"expected true or false, got {prepaid!r:.40}")
    duration = whole_seconds(PROVIDER, record.get("duration"), "duration")
    caller = to_e164(text_or_none(PROVIDER, record, "callerid_number"), COUNTRY_CODE)
    cost = within(PROVIDER, number(PROVIDER, record.get("cost"), "cost"), "cost")
    source = text_or_none(PROVIDER, record, "source_type")
    linked = text_or_none(PROVIDER, record, "bleg_uuid")
    attributes = {name: record[name] for name in _ATTRIBUTE_FIELDS if record.get(name) is not None}
    _flag(attributes, naive or answer_naive or end_naive, ambiguous or answer_ambiguous or end_ambiguous)
    attributes_text = attributes_json(PROVIDER, attributes)
    if assumed is not None:  # the record was read: only now counted
        assumed.count(attributes)
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
        duration_s=duration,
        billable_s=None if billusec is None else billusec / _MICRO,
        direction=direction,
        caller_number=caller,
        called_number=destination,
        service_number=destination if direction == "inbound" else None,
        call_type=call_type,
        outcome=_outcome(answered_at is not None, cause),
        hangup_cause=cause,
        cost_eur=cost,
        source_network=source,
        extension=None,
        linked_leg_key=linked,
        attributes=attributes_text,
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
    items: list[_Leg]  # required: a body without it is not a retrieve answer (the slow path says so)
    error_code: object = None
    success: object = None


_decode_page = msgspec.json.Decoder(_Page).decode
_fromisoformat = datetime.fromisoformat


class _NotFast(Exception):
    """This page needs the field-by-field path."""


def _text(value: str | None) -> str | None:
    return None if value is None else (value.strip() or None)


def _stamp(value: str, zone: tzinfo) -> Stamp:
    """read_stamp for a text the fast path is sure of; ValueError/OverflowError otherwise."""
    parsed = _fromisoformat(value)
    if parsed.tzinfo is UTC:
        return parsed, False, False
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC), False, False
    utc, ambiguous = wall_clock_to_utc(parsed, zone)  # ValueError in the skipped hour
    return utc, True, ambiguous


def _decimal(value: int | float | None, field: str, limit) -> Decimal | None:
    if value is None:
        return None
    result = Decimal(value) if type(value) is int else Decimal(repr(value))
    if not result.is_finite() or abs(result) > limit:
        raise _NotFast(field)
    return result


def _parse_page_fast(body: bytes, account: str, raw_response_id: int | None, zone: tzinfo,
                     window: Window | None = None, assumed: Assumed | None = None) -> list[CallLeg]:
    """The legs of a well-formed page, or _NotFast. Same results as parse_record, record for record."""
    if b"\\u0000" in body:
        raise _NotFast("NUL escape")
    try:
        page = _decode_page(body)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):  # ValueError: bytes that are not UTF-8
        raise _NotFast("shape") from None
    if page.error_code is not None or page.success is False:
        raise _NotFast("error body")
    legs = []
    flags = Assumed()  # added to `assumed` only once the whole page is read
    bounded = window is not None
    first, last = window or (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))  # unused
    try:
        for r in page.items:
            uuid = r.uuid.strip()
            if not uuid or (r.duration is not None and not 0 <= r.duration <= INT4_MAX):
                raise _NotFast("uuid or duration")
            started_at, naive, ambiguous = _stamp(r.start_stamp, zone)
            if bounded and not first <= started_at < last:  # outside(), inline: it runs for every leg
                continue
            answered_at, answer_naive, answer_ambiguous = (
                _NO_STAMP if r.answer_stamp is None else _stamp(r.answer_stamp, zone))
            ended_at, end_naive, end_ambiguous = (
                _NO_STAMP if r.end_stamp is None else _stamp(r.end_stamp, zone))
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
            if naive or answer_naive or end_naive:
                _flag(attributes, True, ambiguous or answer_ambiguous or end_ambiguous)
                flags.count(attributes)
            legs.append(CallLeg(
                PROVIDER, account, None, uuid, main_leg or uuid, started_at, answered_at, ended_at,
                r.duration, None if billusec is None else billusec / _MICRO, direction,
                to_e164(_text(r.callerid_number), COUNTRY_CODE), destination,
                destination if direction == "inbound" else None, call_type,
                _outcome(answered_at is not None, cause),
                cause, _decimal(r.cost, "cost", NUMERIC_14_6_LIMIT), _text(r.source_type), None,
                _text(r.bleg_uuid), orjson.dumps(attributes).decode(), raw_response_id))
    except (ValueError, OverflowError):
        raise _NotFast("value") from None
    if assumed is not None:
        assumed.naive += flags.naive
        assumed.ambiguous += flags.ambiguous
    return legs


def _parse_page_slow(page: RawPage, account: str, zone: tzinfo,
                     assumed: Assumed) -> Iterator[CallLeg | Quarantined]:
    try:
        items = decode_body(page.body)
    except ParseError as exc:
        yield Quarantined(PROVIDER, account, page.raw_response_id, -1, exc.field, exc.reason,
                          record_text(page.body[:2000].decode("utf-8", "replace")))
        return
    for index, record in enumerate(items):
        try:
            leg = parse_record(record, account, page.raw_response_id, zone, page.window, assumed)
        except ParseError as exc:
            yield Quarantined(PROVIDER, account, page.raw_response_id, index, exc.field, exc.reason,
                              record_json(record))
        else:
            if leg is not None:
                yield leg


def parse_pages(pages: Iterable[RawPage], account: str, settings: TeniosParseSettings | None = None, *,
                fast: bool = True) -> Iterator[CallLeg | Quarantined | ParseNote]:
    """Every record of every page as a CallLeg, or Quarantined with the reason it was refused, and
    per page a ParseNote for each assumption its legs needed (stamps without an offset). Legs that
    started outside the page's window are skipped (module docstring). `fast=False` forces the
    field-by-field path (the tests compare the two)."""
    settings = settings or DEFAULT_PARSE_SETTINGS
    zone = settings.zone
    for page in pages:
        assumed = Assumed()
        if fast:
            try:
                yield from _parse_page_fast(page.body, account, page.raw_response_id, zone, page.window,
                                            assumed)
            except _NotFast:
                pass
            else:
                yield from assumed.notes(settings)
                continue
        yield from _parse_page_slow(page, account, zone, assumed)
        yield from assumed.notes(settings)
