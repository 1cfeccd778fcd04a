"""MIXvoip /cdrs/getcalls bodies (JSON or CSV) -> call legs and billing items. Pure: bytes in,
records out; the page's `request_params` (profile id) and `window` come with the page. The
profile id is the customer of every leg and billing item of the page.

Readings chosen where the docs are silent (NOTES.md section 2; [Q]/[I] items there):
- A raw line break inside a JSON string (the doc example's call_start) is read as a space.
- Format is sniffed from the body: `[`/`{` is JSON, anything else CSV (no header row). A JSON
  object with digit keys is read as PHP's encoding of an array with gaps; an object with
  `return.code` is the error envelope of the sibling API (with code 200: that API's answer) and
  quarantines the whole body, as does any other object, `{}` included (json_records).
- `call_start`/`call_end` are local time in MIXVOIP_TIMEZONE (default Europe/Luxembourg) and
  stored as UTC; the separator between date and time may be a space, `T`, a comma or a line
  break. A time in the repeated DST hour is read as its first occurrence. A value with an
  explicit offset is honoured.
- Calls: CALLIN (inbound), CALLOUT (outbound), MCALL (direction unknown), plus
  MIXVOIP_EXTRA_CALL_TYPES -> cdr.fact_call_leg. Every other type -> cdr.fact_billing_item,
  with `known_type` false for a type the docs do not list. Types are compared upper-cased.
- `call_end` missing -> call_start + duration. Outcome: duration > 0 is `answered`; 0 is
  `unknown` (a 0-second record may be unanswered or answered and dropped at once).
- `price` is stored exactly as sent (leg attributes / billing `price`), and cost_eur is derived
  per MIXVOIP_PRICE_MEANING (default: euro cents per quantity, as the docs say: quantity*price/100).
- Numbers: `source` carries `+`, `destination` does not; both go through to_e164 with bare
  digits read as international. Numbers that do not fit (short codes, usernames) stay as sent.
- A leading `'` (the CSV's stray apostrophe, an Excel text prefix) is removed from every field
  except the free-text destination_name.
- CSV: 9 columns (no destination_name) or 10; the call_start column is found by its shape, an
  unquoted `date,time` pair is joined back, a call_end column right after call_start is taken.
  More than 4 columns before call_start (an unquoted comma in destination or its name) cannot
  be placed and is quarantined. A physical line continues the previous record only while that
  record has an open double quote, so one bad quote cannot swallow the rows after it.
- Two CSV paths, one result: a body whose every line is one whole record is read by the csv
  module's C reader in one pass; any other body, and any body with a record the parser refuses,
  is read line by line, which names the record's line in the quarantine. The record reading is
  shared. tests/providers/mixvoip/test_parse_paths.py holds them equal.
- Dedupe: no id exists. key = sha256(profile, type, source, destination, call_start (UTC),
  duration, extension) + "." + occurrence ordinal of that content within its page. Identical
  records share their call_start, so one page (one profile, whole local days) holds all of them;
  two overlapping pages of the same window give the same record the same key and the merge
  keeps one (counted in load_audit.duplicates_in_window).
- A page fetched for a window yields only the records starting inside it: the client asks for
  whole local days around the UTC window, and each neighbour window loads its own records.
  A record whose call_start cannot be read cannot be placed and is quarantined in every window
  whose fetch returned it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import islice
from typing import Literal, overload

import orjson

from pipelines.errors import ParseError
from pipelines.model import CallLeg, Quarantined, RawPage
from pipelines.numbers import to_e164
from pipelines.providers.common import (
    attributes_json,
    number,
    record_json,
    record_text,
    refuse_nul,
    text_value,
    timestamp,
    whole_seconds,
    within,
)
from pipelines.providers.mixvoip.billing import BillingItem
from pipelines.providers.mixvoip.settings import (
    BILLING_TYPES,
    INBOUND_CALL_TYPES,
    MOBILE_CALL_TYPES,
    NOT_INVOICED,
    OUTBOUND_CALL_TYPES,
    PRICE_MEANINGS,
    PROVIDER,
    MixvoipParseSettings,
)

DEFAULT_PARSE_SETTINGS = MixvoipParseSettings()

_KNOWN_KEYS = frozenset({"source", "destination", "destination_name", "call_start", "call_end", "duration",
                         "pbxextension", "quantity", "price", "invoice"})
_CSV_TAIL = ("duration", "pbxextension", "quantity", "price", "invoice")
_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
_LOCAL_MOMENT = re.compile(rf"^{_DATE}(?:[\sT,]+{_TIME})?$")
_DATE_ONLY = re.compile(rf"^{_DATE}$")
_TIME_ONLY = re.compile(rf"^{_TIME}$")
_DATE_TIME_SEPARATOR = re.compile(r"^(\d{4}-\d{2}-\d{2})[\s,T]+(?=\d)")
_PLAIN_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_RAW_BREAKS = bytes.maketrans(b"\r\n\t", b"   ")
_RECORD_START = re.compile(r"^\s*['\"]?[A-Za-z][A-Za-z0-9_]*['\"]?\s*,")


def _clean(value):
    """Strip whitespace and the Excel text prefix `'` from a field."""
    if type(value) is str:
        stripped = value.strip()
        return stripped if stripped[:1] != "'" else stripped.lstrip("'").strip()
    if isinstance(value, str):
        return value.strip().lstrip("'").strip()
    return value


def _text(value, field: str) -> str | None:
    return text_value(PROVIDER, value, field)


@overload
def _moment(value, field: str, tz: tzinfo, required: Literal[True]) -> datetime: ...


@overload
def _moment(value, field: str, tz: tzinfo, required: bool = ...) -> datetime | None: ...


def _moment(value, field: str, tz: tzinfo, required: bool = False) -> datetime | None:
    """A provider time as UTC: local `YYYY-MM-DD[ |T|,|newline]HH:MM[:SS]` in `tz`, or ISO with offset."""
    if value is None and not required:  # call_end, which the exports leave out
        return None
    if type(value) is str and _PLAIN_MOMENT.fullmatch(value):  # as the docs write it: nothing to clean
        return timestamp(PROVIDER, value, field, tz, required)
    value = _clean(value)
    if isinstance(value, str):
        value = _DATE_TIME_SEPARATOR.sub(r"\1 ", value)
    return timestamp(PROVIDER, value, field, tz, required)


# --- bodies -> raw records ------------------------------------------------------------------

def loads_lenient(body: bytes):
    """JSON, also when a string holds a raw line break (the doc example's call_start). Raw line
    breaks and tabs are whitespace outside strings, so turning them into spaces is safe."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return orjson.loads(body.translate(_RAW_BREAKS))


def json_records(document) -> list:
    """The records of a decoded getcalls JSON answer; ParseError for a document that is not one.

    Only an array (or PHP's digit-keyed object for an array with gaps) carries records. Every
    other object is refused, never read as a quiet day: `{}` (a day without records is `[]`, PHP's
    encoding of an empty array), the `{"return": …}` envelope (an error, or with code 200 the
    answer of /invoices/getBillingData, i.e. the wrong endpoint), any other object."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        envelope = document.get("return")
        if isinstance(envelope, dict):
            code = envelope.get("code")
            if str(code) == "200":
                raise ParseError(PROVIDER, "return", "an /invoices/getBillingData answer (envelope with code"
                                 " 200), not a getcalls answer: is the base URL or path rewritten?")
            raise ParseError(PROVIDER, "return",
                             record_text(f"error envelope: code {code!r:.20}"
                                         f" {str(envelope.get('message') or '')[:200]}"))
        if not document:
            raise ParseError(PROVIDER, None, "body is an empty JSON object, not a getcalls answer"
                                             " (a day without records is [])")
        if all(isinstance(k, str) and k.isdigit() for k in document):
            return [document[k] for k in sorted(document, key=int)]
        keys = ", ".join(sorted(map(str, document))[:5])
        raise ParseError(PROVIDER, None, record_text(f"body is a JSON object (keys {keys:.100}), expected an"
                                                     " array of records"))
    raise ParseError(PROVIDER, None,
                     f"body is a JSON {type(document).__name__}, expected an array of records")


def _json_records(body: bytes) -> list:
    try:
        document = loads_lenient(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(PROVIDER, None, f"body is not JSON ({exc})") from None
    return json_records(document)


def _csv_records(body: bytes) -> list[str]:
    """Logical CSV records: a physical line joins the previous one only inside an open quote."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("cp1252", errors="replace")  # [I] a Windows export; never fails
    records: list[str] = []
    current: str | None = None
    for line in text.splitlines():
        if current is not None and current.count('"') % 2 and not _RECORD_START.match(line):
            current += "\n" + line
            continue
        if current is not None:
            records.append(current)
        current = line if line.strip() else None
    if current is not None:
        records.append(current)
    return records


def _csv_lines(body: bytes) -> list[str] | None:
    """The non-blank lines of a UTF-8 CSV body when each has an even count of double quotes, so
    that each is one whole record (all a well-formed export holds); else None, and the body is
    read line by line."""
    if not body or body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{", b"<"):
        return None
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    return None if any(line.count('"') % 2 for line in lines) else lines


class _NotFast(Exception):
    """This page needs the line-by-line path."""


def decode_body(body: bytes) -> tuple[str, list]:
    """("json", records) or ("csv", lines); ParseError for a body that is neither."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"[", b"{"):
        return "json", _json_records(body)
    if head == b"<":
        raise ParseError(PROVIDER, None, "body is HTML or XML, not JSON or CSV")
    return "csv", _csv_records(body)


def json_fields(record) -> tuple[object, dict]:
    if not isinstance(record, dict):
        raise ParseError(PROVIDER, None, f"record is a JSON {type(record).__name__}, expected an object")
    data = record.get("data")
    if data is None and "call_start" in record:  # a flat record: the fields beside `type`
        data = {k: v for k, v in record.items() if k != "type"}
    if not isinstance(data, dict):
        raise ParseError(PROVIDER, "data", "missing" if data is None else
                         f"expected an object, got {type(data).__name__}")
    return record.get("type"), data


def _split_moment(fields: list[str], i: int) -> tuple[str, int] | None:
    """The date-time at column i (or an unquoted `date,time` pair at i, i+1), and the next column."""
    value = _clean(fields[i])
    if _DATE_ONLY.match(value) and i + 1 < len(fields) and _TIME_ONLY.match(fields[i + 1].strip()):
        return f"{value} {fields[i + 1].strip()}", i + 2
    if _LOCAL_MOMENT.match(value):
        return value, i + 1
    return None


def csv_fields(line: str) -> tuple[object, dict]:
    rows = list(csv.reader(io.StringIO(line)))
    if len(rows) != 1:
        raise ParseError(PROVIDER, None, f"record spans {len(rows)} CSV rows")
    return row_fields(rows[0], " (unbalanced double quote)" if line.count('"') % 2 else "")


def row_fields(fields: list[str], quote_note: str = "") -> tuple[object, dict]:
    """(type, data) of one CSV row's columns; `quote_note` is added to a refusal's reason."""
    if len(fields) < 9:
        raise ParseError(PROVIDER, None, f"expected 9 or 10 columns, got {len(fields)}{quote_note}")
    for i in range(3, len(fields)):
        found = _split_moment(fields, i)
        if found:
            start_text, after = found
            break
    else:
        raise ParseError(PROVIDER, "call_start", f"no date-time column in {len(fields)} columns{quote_note}")
    data: dict = {"call_start": start_text}
    if after < len(fields) - len(_CSV_TAIL):
        end = _split_moment(fields, after)
        if end:
            data["call_end"], after = end
    tail = fields[after:]
    if len(tail) != len(_CSV_TAIL):
        raise ParseError(PROVIDER, None, f"expected {len(_CSV_TAIL)} columns after call_start"
                                         f" ({', '.join(_CSV_TAIL)}), got {len(tail)}{quote_note}")
    head = fields[:i]
    if len(head) > 4:
        raise ParseError(PROVIDER, "destination_name",
                         f"{len(head)} columns before call_start, expected 3 or 4"
                         " (an unquoted comma in destination or destination_name?)")
    data.update(source=head[1], destination=head[2],
                destination_name=head[3] if len(head) == 4 else None)
    data.update(zip(_CSV_TAIL, tail, strict=True))  # equal lengths: checked above
    return head[0], data


# --- raw record -> item -----------------------------------------------------------------------

class _Context:
    """What every record of one parse shares: the account and the parse settings."""

    def __init__(self, account: str, settings: MixvoipParseSettings):
        self.account = account
        self.tz = settings.tz
        self.divisor, self.per_quantity = PRICE_MEANINGS[settings.price_meaning]
        self.call_types = settings.call_types

    def cost(self, price: Decimal | None, quantity: Decimal | None) -> Decimal | None:
        if price is None:
            return None
        if self.per_quantity:
            return None if quantity is None else price * quantity / self.divisor
        return price / self.divisor


def _key(*parts) -> str:
    text = "\x1f".join(["" if p is None else str(p) for p in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_record(kind: str, raw, ctx: _Context, profile: str | None, window, raw_response_id: int | None,
                 ordinals: dict[str, int]) -> CallLeg | BillingItem | None:
    """One record as a CallLeg or BillingItem; None when it starts outside the page's window."""
    reader = json_fields if kind == "json" else csv_fields if kind == "csv" else row_fields  # "row": read
    type_value, data = reader(raw)
    started = _moment(data.get("call_start"), "call_start", ctx.tz, required=True)
    if window is not None and not (window[0] <= started < window[1]):
        return None
    return _item(type_value, data, started, ctx, profile, raw_response_id, ordinals)


def _item(type_value, data: dict, started: datetime, ctx: _Context, profile: str | None,
          raw_response_id: int | None, ordinals: dict[str, int]) -> CallLeg | BillingItem:
    """parse_record's item from a record's fields (`data`, call_start already read as `started`)."""
    record_type = _clean(type_value)
    if not isinstance(record_type, str) or not record_type:
        raise ParseError(PROVIDER, "type", "missing" if not record_type else
                         f"expected text, got {type(record_type).__name__}")
    refuse_nul(PROVIDER, "type", record_type)
    record_type = record_type.upper()
    source = _text(_clean(data.get("source")), "source")
    destination = _text(_clean(data.get("destination")), "destination")
    name = _text(data.get("destination_name"), "destination_name")
    duration = whole_seconds(PROVIDER, _clean(data.get("duration")), "duration")
    ended = _moment(data.get("call_end"), "call_end", ctx.tz)
    if ended is not None and ended < started:
        raise ParseError(PROVIDER, "call_end", f"before call_start ({data.get('call_end')!r:.40})")
    extension = _text(_clean(data.get("pbxextension")), "pbxextension")
    quantity = number(PROVIDER, _clean(data.get("quantity")), "quantity")
    price = number(PROVIDER, _clean(data.get("price")), "price")
    invoice = _text(_clean(data.get("invoice")), "invoice")
    extra = {} if data.keys() <= _KNOWN_KEYS else {k: v for k, v in data.items() if k not in _KNOWN_KEYS}

    base = _key(profile, record_type, source, destination, started.isoformat(), duration or 0, extension)
    ordinal = ordinals.get(base, 0)
    ordinals[base] = ordinal + 1
    key = f"{base}.{ordinal}"
    cost = within(PROVIDER, ctx.cost(price, quantity), "price")

    if record_type not in ctx.call_types:
        return BillingItem(
            provider=PROVIDER, account=ctx.account, customer=profile, item_key=key, profile_id=profile,
            item_type=record_type, known_type=record_type in BILLING_TYPES, billed_at=started,
            billed_until=ended, username=source, product=destination, description=name, quantity=quantity,
            price=price, cost_eur=cost, invoice=invoice, duration_s=duration, extension=extension,
            attributes=attributes_json(PROVIDER, extra), raw_response_id=raw_response_id)

    if ended is None and duration is not None:
        try:
            ended = started + timedelta(seconds=duration)
        except OverflowError:
            raise ParseError(PROVIDER, "duration", "call_start plus duration is past the year 9999") from None
    if duration is None and ended is not None:
        duration = int((ended - started).total_seconds())
    if record_type in INBOUND_CALL_TYPES:
        direction = "inbound"
    elif record_type in OUTBOUND_CALL_TYPES:
        direction = "outbound"
    else:
        direction = "unknown"
    caller = to_e164(source, bare_is_international=True)
    called = to_e164(destination, bare_is_international=True)
    attributes = {"profile_id": profile, "destination_name": name,
                  "quantity": None if quantity is None else str(quantity),
                  "price": None if price is None else str(price),
                  "invoice": invoice, "invoiced": invoice is not None and invoice.upper() not in NOT_INVOICED,
                  **extra}
    return CallLeg(
        provider=PROVIDER, account=ctx.account, customer=profile, leg_key=key, call_key=key,
        started_at=started,
        answered_at=None, ended_at=ended, duration_s=duration, billable_s=None, direction=direction,
        caller_number=caller, called_number=called, service_number=called if direction == "inbound" else None,
        call_type=record_type, outcome="answered" if duration else "unknown", hangup_cause=None,
        cost_eur=cost, source_network="mobile" if record_type in MOBILE_CALL_TYPES else None,
        extension=extension, linked_leg_key=None,
        attributes=attributes_json(PROVIDER, {k: v for k, v in attributes.items() if v is not None}),
        raw_response_id=raw_response_id,
    )


def _profile(page) -> str | None:
    params = getattr(page, "request_params", None)
    value = params.get("profile_id") if isinstance(params, dict) else None
    return str(value) if value not in (None, "") else None


# A row of the exports' common shapes (the docs' examples, the simulator's days): type, source,
# destination, an optional quoted name of letters, the quoted call_start, and the five columns
# after it, none holding a quote or a comma. row_fields reads every such row, and finds its
# call_start in the quoted date-time: the name cannot look like one, and nothing follows it but
# the five. Groups: type, source, destination, name (None: no column), date, time, the five.
_COMMON_ROW = re.compile(r'([A-Za-z]+),([+0-9]*),([+0-9]*),(?:"([A-Za-z ]*)",)?'
                         r'"(\d{4}-\d{2}-\d{2})[ ,](\d{2}:\d{2}:\d{2})"' + r",([0-9A-Za-z.'+ /_-]*)" * 5)


def _common_row(line: str, tz: tzinfo) -> tuple[re.Match[str], datetime] | None:
    """A row of a common shape and its call_start as parse_record reads it (the comma between
    date and time is _moment's separator); None for any other row, and for one whose date-time
    parse_record refuses (it is read as any row is, and refused)."""
    found = _COMMON_ROW.fullmatch(line)
    if found is None:
        return None
    try:
        return found, timestamp(PROVIDER, f"{found[5]} {found[6]}", "call_start", tz, required=True)
    except ParseError:
        return None


def _common_fields(found: re.Match[str]) -> dict:
    """What row_fields gives for a row of a common shape: the same keys in the same order."""
    _, source, destination, name, day, clock, duration, extension, quantity, price, invoice = found.groups()
    return {"call_start": f"{day} {clock}", "source": source, "destination": destination,
            "destination_name": name, "duration": duration, "pbxextension": extension,
            "quantity": quantity, "price": price, "invoice": invoice}


def _parse_csv_fast(lines: list[str], ctx: _Context, profile: str | None, window,
                    raw_response_id: int | None) -> Iterator[CallLeg | BillingItem]:
    """The items of a CSV page as the csv module's C reader goes through it in one pass; ParseError
    or _NotFast at the first record it cannot read. What it yields until then is what the
    line-by-line path yields for the same lines.

    A row of a common shape is read by one match instead (_common_row): its fields are what
    row_fields gives it. A page of MIXvoip's day-by-day requests holds the days either side of its
    window too (its end date's reading is undocumented: docs/providers/mixvoip.md), so about three
    rows in four start outside the window its load reads it for: those are left out after that
    match, without the CSV reader, row_fields or a second reading of the time."""
    ordinals: dict[str, int] = {}
    others: list[str] = []  # a run of rows of other shapes, read by one CSV reader when it ends

    def read_others() -> Iterator[CallLeg | BillingItem]:
        reader = csv.reader(others)
        for index, row in enumerate(reader):
            if reader.line_num != index + 1:  # a line ended inside a quoted field: the reader took the next
                raise _NotFast("record over two lines")
            item = parse_record("row", row, ctx, profile, window, raw_response_id, ordinals)
            if item is not None:
                yield item
        others.clear()

    for line in lines:
        common = _common_row(line, ctx.tz)
        if common is None:
            others.append(line)
            continue
        if others:  # first: the rows before this one take their ordinals first
            yield from read_others()
        found, started = common
        if window is None or window[0] <= started < window[1]:
            yield _item(found[1], _common_fields(found), started, ctx, profile, raw_response_id, ordinals)
    yield from read_others()


def _parse_page_slow(page: RawPage, ctx: _Context) -> Iterator[CallLeg | BillingItem | Quarantined]:
    raw_id = page.raw_response_id
    try:
        kind, records = decode_body(page.body)
    except ParseError as exc:
        yield Quarantined(PROVIDER, ctx.account, raw_id, -1, exc.field, exc.reason,
                          record_text(page.body[:2000].decode("utf-8", "replace")))
        return
    profile, window = _profile(page), getattr(page, "window", None)
    ordinals: dict[str, int] = {}
    for index, raw in enumerate(records):
        try:
            item = parse_record(kind, raw, ctx, profile, window, raw_id, ordinals)
        except ParseError as exc:
            text = record_text(raw) if kind == "csv" else record_json(raw)
            yield Quarantined(PROVIDER, ctx.account, raw_id, index, exc.field, exc.reason, text)
            continue
        if item is not None:
            yield item


def parse_pages(pages: Iterable[RawPage], account: str,
                settings: MixvoipParseSettings = DEFAULT_PARSE_SETTINGS, *, fast: bool = True
                ) -> Iterator[CallLeg | BillingItem | Quarantined]:
    """Every record of every page as a CallLeg or BillingItem, or Quarantined with its reason.
    A pure function of the pages and `settings` (time zone, price meaning, extra call types).
    `fast=False` reads every CSV page line by line (the tests compare the two)."""
    ctx = _Context(account, settings)
    for page in pages:
        lines = _csv_lines(page.body) if fast else None
        read = 0
        if lines is not None:
            try:
                for item in _parse_csv_fast(lines, ctx, _profile(page), getattr(page, "window", None),
                                            page.raw_response_id):
                    yield item
                    read += 1
                continue
            except (ParseError, _NotFast, csv.Error):
                pass
        # The line-by-line path yields the items already yielded first, the same ones: it goes on after them.
        yield from islice(_parse_page_slow(page, ctx), read, None)
