"""Telecom X /pbx/cdrstats bodies -> per-employee interval counters. Pure: bytes in, rows out.

The records are aggregates, not call legs: one PbxStatsRow per (employee, interval), loaded into
cdr.fact_pbx_stats. The interval keys in `data` are bare numbers ("49", "7") that repeat across
periods, so each is mapped to a real interval start with the request that produced the page
(`from`, `to`, `groupingInterval`, `customer` from the page's request_params).

Readings chosen where the docs are silent (NOTES.md section 4, [Q] items):
- HOUR keys are the hour of day 0-23, DAY keys the day of month 1-31, MONTH keys 1-12, WEEK keys
  ISO 8601 week numbers (`week_scheme="sunday"` reads them as strftime %U, Sunday-start weeks
  with week 0 before the year's first Sunday). Zero-padded keys ("07") are accepted.
- The server groups in UTC (`grouping_tz` to read keys in another zone, e.g. Europe/Copenhagen).
- `to` is inclusive (the doc's default is "until 23:59:59"): the client sends the last
  millisecond before the window's end.
- A window in which one key would name two intervals (two days of hours, a DST fall-back day
  grouped by local hour, 32 days of days, ...) cannot be mapped: the client refuses to send it
  and the parser quarantines such a body whole (AmbiguousWindowError / ParseError).
- Counters are kept exactly as sent (the doc's example has inboundAnswered 0 while inboundCalls
  exceed inboundUnanswered + inboundBusy): no counter is derived or "fixed". A counter missing
  from an interval is NULL, not 0; a negative or fractional one quarantines the employee record.
- A bad interval quarantines its employee record (one Quarantined per record, every reason
  listed); the record's other intervals still load. employeeId is required (it is part of the
  key); extensionId may be absent.
- Only JSON bodies are parsed: the client always asks for format JSON (CSV and EXCEL layouts
  are undocumented [Q]).
- A body that is not a cdrstats answer (an error object, `{}`, another endpoint's answer) is
  quarantined whole, never read as a window without calls (stats_records).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from pipelines.errors import ParseError, ProviderRequestError
from pipelines.model import Quarantined, RawPage
from pipelines.providers.common import (
    INT4_MAX,
    INT8_MAX,
    number,
    record_json,
    record_text,
    required_text,
    text_or_none,
    timestamp,
)
from pipelines.providers.telecomx.settings import (
    COUNTER_FIELDS,
    GROUPINGS,
    PROVIDER,
    WEEK_SCHEMES,
    TelecomXParseSettings,
)

UTC = UTC
DEFAULT_PARSE_SETTINGS = TelecomXParseSettings()
_BARE_NUMBER = re.compile(r"\d{1,4}")
_TOKEN_VALUE = re.compile(r'("token"\s*:\s*")[^"]*')


class PbxStatsRow(NamedTuple):
    """One employee's counters for one interval, in the column order of the COPY into
    stage_pbx_stats (cdr.fact_pbx_stats)."""

    provider: str
    account: str
    customer: str  # the customer id sent; '' when the request used the token's own customer
    employee_id: str
    extension_id: str | None
    interval_start: datetime
    grain: str  # HOUR | DAY | WEEK | MONTH
    time_zone: str  # the zone the keys were read in
    interval_key: str  # the bare key as sent
    employee_name: str | None
    extension_number: str | None
    outbound_calls: int | None
    outbound_seconds: int | None
    outbound_answered: int | None
    outbound_unanswered: int | None
    outbound_failed: int | None
    inbound_calls: int | None
    inbound_seconds: int | None
    inbound_answered: int | None
    inbound_unanswered: int | None
    inbound_busy: int | None
    raw_response_id: int | None


STATS_COLUMNS: tuple[str, ...] = PbxStatsRow._fields


class AmbiguousWindowError(ProviderRequestError):
    """A request window in which one bare interval key would name two intervals."""


def _key_and_start(day: date, grain: str, week_scheme: str) -> tuple[int, date]:
    """The key a DAY/WEEK/MONTH grouping gives `day`, and the first day of that key's interval."""
    if grain == "DAY":
        return day.day, day
    if grain == "MONTH":
        return day.month, day.replace(day=1)
    if week_scheme == "iso":
        return day.isocalendar().week, day - timedelta(days=day.weekday())
    # %U: a week starts on Sunday; the days before the year's first Sunday are week 0, and a
    # week that crosses New Year is split into two keys, so its start is clipped to 1 January.
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    return int(day.strftime("%U")), max(sunday, day.replace(month=1, day=1))


def interval_starts(first: datetime, last: datetime, grain: str, tz: str = "UTC",
                    week_scheme: str = "iso") -> dict[int, datetime]:
    """Map every interval key the API can return for the inclusive window [first, last] to the
    UTC start of its interval; raise AmbiguousWindowError when a key would name two intervals."""
    if grain not in GROUPINGS:
        raise ProviderRequestError(PROVIDER,
                                   f"groupingInterval {grain!r} is not one of {', '.join(GROUPINGS)}")
    if week_scheme not in WEEK_SCHEMES:
        raise ProviderRequestError(PROVIDER,
                                   f"week scheme {week_scheme!r} is not one of {', '.join(WEEK_SCHEMES)}")
    if last < first:
        raise ProviderRequestError(PROVIDER, "field 'to' is before 'from'", window=(first, last))
    try:
        zone = ZoneInfo(tz)
    except (ValueError, ZoneInfoNotFoundError):
        raise ProviderRequestError(PROVIDER, f"grouping time zone {tz!r} is not an IANA zone name") from None
    starts: dict[int, datetime] = {}
    candidates: Iterator[tuple[int, datetime]]
    if grain == "HOUR":
        def hours() -> Iterator[tuple[int, datetime]]:
            moment = first.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
            while moment <= last:
                yield moment.astimezone(zone).hour, moment
                moment += timedelta(hours=1)
        candidates = hours()
    else:
        def days() -> Iterator[tuple[int, datetime]]:
            day, end = first.astimezone(zone).date(), last.astimezone(zone).date()
            while day <= end:
                key, begins = _key_and_start(day, grain, week_scheme)
                yield key, datetime(begins.year, begins.month, begins.day, tzinfo=zone).astimezone(UTC)
                day += timedelta(days=1)
        candidates = days()
    for key, start in candidates:
        if starts.setdefault(key, start) != start:
            raise AmbiguousWindowError(
                PROVIDER, f"{grain} key {key} would name both {starts[key].isoformat()}"
                f" and {start.isoformat()} (keys read in {tz}); use a shorter window or a coarser"
                " groupingInterval",
                window=(first, last), code="groupingInterval")
    return starts


def request_bounds(window: tuple[datetime, datetime], grain: str, tz: str = "UTC",
                   week_scheme: str = "iso") -> tuple[datetime, datetime]:
    """The inclusive [from, to] to request for a fetch window: the window itself for HOUR and
    DAY (its end minus 1 ms), and the whole WEEK or MONTH periods it touches otherwise, so that a
    row keyed by its period start always holds the whole period's counts, never one day's."""
    start, end = window
    last = end - timedelta(milliseconds=1)
    if grain in ("HOUR", "DAY"):
        return start, last
    zone = ZoneInfo(tz)

    def period_start(moment: datetime) -> date:
        return _key_and_start(moment.astimezone(zone).date(), grain, week_scheme)[1]

    begins, final = period_start(start), period_start(last)
    after = final + timedelta(days=1)
    while _key_and_start(after, grain, week_scheme)[1] == final:
        after += timedelta(days=1)

    def utc(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)

    return utc(begins), utc(after) - timedelta(milliseconds=1)


def counter(value, field: str, limit: int = INT4_MAX) -> int | None:
    """A raw counter: a non-negative whole number up to `limit` (its column's type), or None when
    the interval does not carry it."""
    result = number(PROVIDER, value, field)
    if result is None:
        return None
    if result < 0 or result != result.to_integral_value() or result > limit:
        raise ParseError(PROVIDER, field, f"expected a non-negative whole number, got {value!r:.40}")
    return int(result)


def stats_records(document) -> list:
    """The employee objects of a decoded cdrstats answer; ParseError for a document that is not one.

    A cdrstats answer is an array of employee objects, each with `employeeId` (requested
    explicitly) and `data`. Refused, never read as a window without calls (which is `[]`): an
    error object (`error`, `code` or `message`), `{}`, the /auth/login answer (it carries
    `token`; named, never quoted), any other object (a sibling list endpoint's paging wrapper
    `{offset, limit, total, cdr}`), and a non-empty array in which no element is an employee
    object (calls from /pbx/cdr). One element without employeeId among employees is a bad record
    instead, quarantined on its own."""
    if isinstance(document, dict):
        detail = next((str(document[k]) for k in ("error", "code", "message") if document.get(k)), "")
        if detail:
            raise ParseError(PROVIDER, "error", record_text(f"error body: {detail}"))
        if "token" in document:
            raise ParseError(PROVIDER, None, "an /auth/login answer (it carries a token), not a cdrstats"
                                             " answer: is the path rewritten?")
        if not document:
            raise ParseError(PROVIDER, None, "body is an empty JSON object, not a cdrstats answer"
                                             " (a window without calls is [])")
        raise ParseError(PROVIDER, None, record_text(f"body is a JSON object (keys {_keys(document)}),"
                                                     " expected an array of employees"))
    if not isinstance(document, list):
        raise ParseError(PROVIDER, None, f"body is a JSON {type(document).__name__}, expected an array")
    if document and not any(isinstance(r, dict) and ("employeeId" in r or "data" in r) for r in document):
        first = document[0]
        shape = f"objects (keys {_keys(first)})" if isinstance(first, dict) else "values"
        raise ParseError(PROVIDER, None, record_text(
            f"body is an array of {len(document)} {shape}, none of them an employee's statistics"
            " (employeeId, data): another endpoint's answer, such as /pbx/cdr's calls?"))
    return document


def _keys(document: dict) -> str:
    return ", ".join(sorted(map(str, document))[:6])[:120]


def decode_body(body: bytes) -> list:
    """The employee array of a cdrstats body, or ParseError for a body that is not one."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(PROVIDER, None,
                         f"body is not JSON ({exc}); only format JSON is parsed") from None
    return stats_records(document)


class RequestContext(NamedTuple):
    """What the parser needs from the request that produced a page."""

    customer: str
    grain: str
    time_zone: str
    starts: dict[int, datetime]


def request_context(params: dict | None, grouping_tz: str = "UTC",
                    week_scheme: str = "iso") -> RequestContext:
    """The key -> interval start map for the page's request, or ParseError naming the field."""
    if not isinstance(params, dict):
        raise ParseError(PROVIDER, "request_params", "no request window: interval keys cannot be mapped"
                         " (give the request's from/to/groupingInterval)")
    first = timestamp(PROVIDER, params.get("from"), "from", required=True)
    last = timestamp(PROVIDER, params.get("to"), "to", required=True)
    grain = params.get("groupingInterval") or "DAY"  # the API's documented default
    try:
        starts = interval_starts(first, last, grain, grouping_tz, week_scheme)
    except ProviderRequestError as exc:
        raise ParseError(PROVIDER, exc.code or "groupingInterval", str(exc)) from None
    customer = params.get("customer") or ""
    return RequestContext(str(customer), grain, grouping_tz, starts)


def parse_record(record, account: str, context: RequestContext, raw_response_id: int | None
                 ) -> tuple[list[PbxStatsRow], list[ParseError]]:
    """An employee object -> its interval rows, and the errors of the intervals that failed."""
    if not isinstance(record, dict):
        raise ParseError(PROVIDER, None, f"record is a JSON {type(record).__name__}, expected an object")
    employee_id = required_text(PROVIDER, record, "employeeId")
    identity = (text_or_none(PROVIDER, record, "extensionId"),
                text_or_none(PROVIDER, record, "employeeName"),
                text_or_none(PROVIDER, record, "extensionNumber"))
    data = record.get("data")
    if data is None:
        return [], []
    if not isinstance(data, dict):
        raise ParseError(PROVIDER, "data", f"expected an object of intervals, got {type(data).__name__}")
    rows, errors = [], []
    for key, counters in data.items():
        field = record_text(f"data.{key}")  # a key may hold NUL, which the quarantine cannot store
        try:
            text = str(key).strip()
            if not _BARE_NUMBER.fullmatch(text):
                raise ParseError(PROVIDER, field, f"interval key {text[:20]!r} is not a bare number")
            start = context.starts.get(int(text))
            if start is None:
                raise ParseError(PROVIDER, field,
                                 f"{context.grain} key {text} names no interval of the request window")
            if not isinstance(counters, dict):
                raise ParseError(PROVIDER, field,
                                 f"expected an object of counters, got {type(counters).__name__}")
            values = [counter(counters.get(name), f"{field}.{name}",
                              INT8_MAX if name.endswith("Seconds") else INT4_MAX)  # bigint / integer columns
                      for name in COUNTER_FIELDS]
        except ParseError as exc:
            errors.append(exc)
            continue
        # `values` holds one counter per COUNTER_FIELDS entry, the row's counter columns in order;
        # mypy cannot count a starred list.
        rows.append(PbxStatsRow(PROVIDER, account, context.customer, employee_id,  # type: ignore[call-arg]
                                identity[0], start, context.grain, context.time_zone, text, identity[1],
                                identity[2], *values, raw_response_id))
    return rows, errors


def _quarantine(page, account: str, index: int, errors: list[ParseError], record) -> Quarantined:
    reason = "; ".join(f"{e.field}: {e.reason}" if len(errors) > 1 and e.field else e.reason
                       for e in errors)
    text = record_text(record) if isinstance(record, str) else record_json(record)
    return Quarantined(PROVIDER, account, page.raw_response_id, index, errors[0].field, reason, text)


def parse_pages(pages: Iterable[RawPage], account: str,
                settings: TelecomXParseSettings = DEFAULT_PARSE_SETTINGS
                ) -> Iterator[PbxStatsRow | Quarantined]:
    """Every interval of every employee of every page as a PbxStatsRow; what cannot be read
    becomes Quarantined with its reason (record_index -1: the whole body)."""
    for page in pages:
        try:
            context = request_context(page.request_params, settings.grouping_timezone,
                                      settings.week_scheme)
            records = decode_body(page.body)
        except ParseError as exc:
            # a login answer served here holds a session token: the quarantine keeps it masked
            text = _TOKEN_VALUE.sub(r"\1***", page.body[:2000].decode("utf-8", "replace"))
            yield _quarantine(page, account, -1, [exc], text)
            continue
        for index, record in enumerate(records):
            try:
                rows, errors = parse_record(record, account, context, page.raw_response_id)
            except ParseError as exc:
                rows, errors = [], [exc]
            yield from rows
            if errors:
                yield _quarantine(page, account, index, errors, record)
