"""Belfabriek statistics bodies (XML) -> canonical call legs. Pure: bytes in, records out.

The body is read as a stream (lxml's pull parser fed 64 KiB at a time, each RECORD cleared once
read), so a body of any size is parsed in constant memory apart from the occurrence counter below.

Readings chosen where the docs are silent (NOTES.md section 1; docs/providers/belfabriek.md):
- Structure: one or many `CALLER_DATA_RECORDS` / `CALLERS_DATA_RECORDS` blocks, either as the
  root, nested one level (a CALLERS_… root holding CALLER_… blocks), several side by side at the
  top level, or inside one root element of any name (the element that wraps several blocks is
  unpublished), which must then be the body's only element and hold nothing but blocks, `<ERROR>`/
  `<MESSAGE>` or `<NO_RECORD>`. Each block holds `RECORD`s or `<NO_RECORD>` (an empty result, not
  an error). A body with no block, no error and no `<NO_RECORD>` is refused whole (an empty
  `<STATISTICS/>` is not "no calls"); so is an element other than RECORD/NO_RECORD in a block.
- Encoding: a BOM or an XML declaration naming an encoding is honoured (lxml reads it from the
  bytes). A body that declares none is UTF-8 (the XML default) when it is valid UTF-8; otherwise it
  is read as ISO-8859-1, the encoding Belfabriek's sibling API declares, never refused whole, and
  the page is counted in a ParseNote `pages_decoded_as_latin1`. A body that declares UTF-8 and is
  not valid UTF-8 contradicts itself and is refused whole.
- `<ERROR>`/`<MESSAGE>`, bare or inside any root, is an error body (the client raises on it; here,
  replayed, it is quarantined whole).
- TIMESTAMP `dd-mm-yyyy HH:MM:SS` is Europe/Amsterdam wall-clock time. A time in the hour the end
  of summer time repeats is resolved by the `dst_repeated_hour` setting (`earlier`, the default: the
  first pass, summer time; `later`; or `quarantine`) and flagged `dst_ambiguous` in attributes. A
  time in the hour skipped when summer time starts does not exist and is quarantined.
- NUMBER is "the calling or the called number": the direction is not given, so `direction` is
  `unknown`, `caller_number`/`called_number` stay empty and the number (E.164 where unambiguous) is
  kept as attributes.number. `service_number` is the block's `servicenumber` (international
  format, so +…), or the request's when a block lacks the attribute.
- `customer` is the customer id the page was requested for (request_params.customer_id); a
  body read without its request (a file) has none.
- The outcome is not given (a duration of 0 may be a missed call or a very short one): `unknown`.
  `ended_at` = start + DURATION seconds. LOCATION `Mobiel` -> source_network `mobile`, a place name
  -> `fixed`; PEAK peak/dal -> attributes.tariff_period peak/off_peak; both kept verbatim too.
- Leg key: there is no record id. The key is a hash of (service number, local TIMESTAMP, number,
  duration, extension) plus `-<ordinal>`, the record's occurrence among identical records of the
  whole window (all pages handed to one `parse_pages` call). Two genuinely identical calls get -0
  and -1; a record that two overlapping windows both return gets the same key in both. The local
  wall-clock text (not the UTC time) is hashed so that changing the repeated-hour policy moves a
  leg's started_at without changing its key, which the duplicate-leg-key check then reports.

Two paths, one result. A page in the shape the API documents (a block, or a block of blocks, as
root; upper-case names, every RECORD field once and documented) is read by lxml's iterparse,
which hands Python one RECORD at a time instead of every start and end event, each freed once
read; any page it is not sure of (a wrapper, NO_RECORD, an error, an undocumented or repeated
field, a DOCTYPE, a body that is not UTF-8 or not well-formed, a record parse_record refuses)
goes through the event-by-event walk(), which names the exact field or element for the
quarantine, going on after the records the fast path already handed over (the same ones).
tests/providers/belfabriek/test_parse_paths.py holds the two equal.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

import orjson
from lxml import etree

from pipelines.errors import ParseError
from pipelines.model import CallLeg, ParseNote, Quarantined, RawPage
from pipelines.numbers import to_e164
from pipelines.providers.belfabriek.settings import (
    BLOCK_TAGS,
    COUNTRY_CODE,
    LOCATION_NETWORKS,
    MAX_DURATION_S,
    PLACE_NETWORK,
    PROVIDER,
    TARIFF_PERIODS,
    TIMEZONE,
    YEARS,
    BelfabriekParseSettings,
)
from pipelines.providers.common import record_text, wall_clock_to_utc, whole_seconds

UTC = UTC
CHUNK_BYTES = 1 << 16
_WRAPPER = "BELFABRIEK-BODY"  # a synthetic root, so that blocks side by side still parse
_ROOT = "#"
_ERROR_TAGS = frozenset({"ERROR", "MESSAGE"})
_BOM = codecs.BOM_UTF8
_HEAD = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s*<\?xml[^>]*\?>)?")
_DECLARED_ENCODING = re.compile(rb"""\bencoding\s*=\s*["']([^"']*)["']""")
# What a body that declares no encoding and is not valid UTF-8 is read as: Belfabriek's sibling
# API (api1.belfabriek.nl/xml/agent/xml.asp) declares iso-8859-1. Every byte is a character in
# it, so such a body is never refused for its encoding.
UNDECLARED_FALLBACK = "iso-8859-1"
LATIN1_NOTE = "pages_decoded_as_latin1"
_TIMESTAMP = re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})")
_FIXED_TIMESTAMP = re.compile(r"[0-9]{2}-[0-9]{2}-[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_fromisoformat = datetime.fromisoformat
_KNOWN_FIELDS = frozenset({"TIMESTAMP", "NUMBER", "LOCATION", "PEAK", "DURATION", "EXTENSION_ID",
                           "EXTENSION_NAME"})
DEFAULT_PARSE_SETTINGS = BelfabriekParseSettings()


class RawRecord(NamedTuple):
    """One RECORD as found: its place in the body, its block's service number and child texts."""

    index: int  # type: ignore[assignment]  # shadows tuple.index(); the record's place in the body
    service_number: str | None
    fields: dict[str, str | None]  # child name -> stripped text, None when empty
    problem: tuple[str | None, str] | None  # (field, reason) when the element itself is malformed
    element: etree._Element  # valid until the walk resumes


class ErrorBody(NamedTuple):
    code: str | None
    message: str | None


class BodySummary(NamedTuple):
    records: int
    error: ErrorBody | None


def local_name(tag) -> str | None:
    """Local name, upper-cased; None for comments and processing instructions."""
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2].upper()


class BodyEncoding(NamedTuple):
    declared: str | None  # the declaration's encoding ("UTF-8" for a UTF-8 BOM), None: none declared
    fallback: str | None  # what the parser is told to read an undeclared body as; None: UTF-8


def declared_encoding(body: bytes) -> str | None:
    """The encoding the body declares (its XML declaration's, or UTF-8 for a UTF-8 BOM), else None.
    A declaration without an `encoding` pseudo-attribute declares none."""
    if body.startswith(_BOM):
        return "UTF-8"
    head = body[:_HEAD.match(body).end()]  # type: ignore[union-attr]  # always matches
    found = _DECLARED_ENCODING.search(head)
    return found.group(1).decode("ascii", "replace") if found else None


def _valid_utf8(body: bytes) -> bool:
    if body.isascii():  # the common case, in C at memory speed
        return True
    # Chunk by chunk, so a 45 MB body is never held a second time as text.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    try:
        for offset in range(0, len(body), CHUNK_BYTES):
            decoder.decode(view[offset:offset + CHUNK_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def body_encoding(body: bytes) -> BodyEncoding:
    """How `body` is decoded: as it declares, else UTF-8 when valid, else ISO-8859-1."""
    declared = declared_encoding(body)
    if declared is not None or _valid_utf8(body):
        return BodyEncoding(declared, None)
    return BodyEncoding(None, UNDECLARED_FALLBACK)


def _chunks(body: bytes) -> Iterator[bytes]:
    # A BOM and <?xml ...?> must stay before the synthetic root. Every part of _HEAD is optional,
    # so it always matches (at worst the empty string).
    head = _HEAD.match(body).end()  # type: ignore[union-attr]
    if head:
        yield body[:head]
    yield f"<{_WRAPPER}>".encode()
    for offset in range(head, len(body), CHUNK_BYTES):
        yield body[offset:offset + CHUNK_BYTES]
    yield f"</{_WRAPPER}>".encode()


def _syntax_error(exc: etree.XMLSyntaxError, encoding: BodyEncoding) -> ParseError:
    text = str(exc)
    if _WRAPPER in text:  # the synthetic root's end tag came while elements were still open
        text = text.replace(_WRAPPER, "the end of the body") + " (truncated?)"
    elif "in character encoding" in text and encoding.declared:
        text += f" (the body declares {encoding.declared}, and its bytes are not that)"
    return ParseError(PROVIDER, None, f"malformed XML: {text}")


def xml_events(body: bytes, encoding: BodyEncoding) -> Iterator[tuple[str, etree._Element]]:
    """lxml's start and end events for `body` under a synthetic root element (so that several
    top-level elements parse); ParseError when it is not well-formed XML."""
    # No DTDs, entities or network: a DOCTYPE cannot follow the synthetic root, so XXE and
    # entity-expansion bodies fail as malformed XML instead of being expanded. The parser is told
    # an encoding only for a body that declares none; lxml reads a declared one from the bytes.
    parser = etree.XMLPullParser(events=("start", "end"), resolve_entities=False, no_network=True,
                                 load_dtd=False, remove_comments=True, remove_pis=True, huge_tree=False,
                                 encoding=encoding.fallback)
    for chunk in _chunks(body):
        failure = None
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            failure = exc
        # Only the "start" and "end" events asked for above arrive; lxml-stubs types every kind.
        yield from parser.read_events()  # type: ignore[misc]
        if failure is not None:
            raise _syntax_error(failure, encoding)
    try:
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, encoding) from None


def _wrong_root(name: str, why: str) -> ParseError:
    return ParseError(PROVIDER, None, f"root element <{name}> is not CALLER_DATA_RECORDS or"
                                      f" CALLERS_DATA_RECORDS, nor a wrapper of such blocks: {why}")


def _check_no_text(text: str | None) -> None:
    if text and text.strip():
        raise ParseError(PROVIDER, None,
                         f"text outside any element (not an XML document?): {text.strip()[:40]!r}")


def _read_record(element: etree._Element) -> tuple[dict[str, str | None], tuple[str | None, str] | None]:
    fields: dict[str, str | None] = {}
    problem = None
    for child in element:
        name = local_name(child.tag)
        if name is None:
            continue
        if len(child):
            problem = problem or (name, "holds child elements, expected text")
        if name in fields:
            problem = problem or (name, "appears twice in one RECORD")
        text = child.text
        fields[name] = text.strip() or None if text is not None else None
    return fields, problem


def walk(body: bytes, encoding: BodyEncoding | None = None) -> Iterator[RawRecord | ErrorBody]:
    """Every RECORD of `body` in document order, then an ErrorBody if the body carries <ERROR>.
    `encoding` is body_encoding(body), computed here when not given.

    Raises ParseError when the body is not a statistics document: malformed or truncated XML, a
    wrong root, an unexpected element inside a block, or no element at all.
    """
    if encoding is None:
        encoding = body_encoding(body)
    stack: list[str] = []  # names of the open elements outside records; the synthetic root is _ROOT
    services: list[str | None] = []  # servicenumber of each open block
    inside_record = 0  # depth inside the current RECORD: its fields are read at its end, not event by event
    index = top_level = 0
    error_code = error_message = None
    previous_top: etree._Element | None = None
    wrapper_name: str | None = None  # a root of any other name, which may only wrap blocks
    wrapped = 0  # the blocks and NO_RECORDs directly in that wrapper
    for event, element in xml_events(body, encoding):
        if inside_record:
            if event == "start":
                inside_record += 1
                continue
            inside_record -= 1
            if inside_record:
                continue
            fields, problem = _read_record(element)
            yield RawRecord(index, services[-1], fields, problem, element)
            index += 1
            # Free the record and every sibling before it. keep_tail exists since lxml 4.4;
            # lxml-stubs does not know it.
            element.clear(keep_tail=True)  # type: ignore[call-arg]
            container = element.getparent()
            assert container is not None  # a RECORD always sits in its block
            while element.getprevious() is not None:
                del container[0]
            continue

        if event == "start":
            if not stack:
                stack.append(_ROOT)
                continue
            name = local_name(element.tag) or ""
            parent = stack[-1]
            if parent == _ROOT:
                wrapper = element.getparent()
                assert wrapper is not None  # a top-level element's parent is the synthetic root
                _check_no_text(previous_top.tail if previous_top is not None else wrapper.text)
                if previous_top is not None:  # done with it, tail checked: drop it
                    wrapper.remove(previous_top)
                top_level += 1
                if wrapper_name is not None:
                    raise _wrong_root(wrapper_name, f"<{name}> follows it, so it is not the body's only"
                                                    " element")
                if name in BLOCK_TAGS:
                    services.append(element.get("servicenumber"))
                elif name not in _ERROR_TAGS and name != "NO_RECORD":
                    if top_level > 1:
                        raise _wrong_root(name, "it follows another element, so it is not the body's only"
                                                " element")
                    wrapper_name, name = name, "?" + name  # "?": a wrapper, checked as its children arrive
            elif parent.startswith("?"):
                if name in BLOCK_TAGS:
                    services.append(element.get("servicenumber"))
                    wrapped += 1
                elif name == "NO_RECORD":
                    wrapped += 1
                elif name not in _ERROR_TAGS:
                    raise _wrong_root(parent[1:], f"it holds <{name}>, expected CALLER_DATA_RECORDS or"
                                                  " CALLERS_DATA_RECORDS blocks")
            elif parent in BLOCK_TAGS:
                if name == "RECORD":
                    inside_record = 1
                    continue
                if name in BLOCK_TAGS:
                    services.append(element.get("servicenumber") or services[-1])
                elif name != "NO_RECORD" and name not in _ERROR_TAGS:
                    raise ParseError(PROVIDER, name, f"unexpected element <{name}> in <{parent}>,"
                                                     " expected RECORD or NO_RECORD")
            elif parent in _ERROR_TAGS or parent == "NO_RECORD":  # text-only elements
                raise ParseError(PROVIDER, name,
                                 f"unexpected element <{name}> in <{parent}>, expected text")
            stack.append(name)
            continue

        name = stack.pop()
        if name == _ROOT:
            _check_no_text(element.text)
            if previous_top is not None:
                _check_no_text(previous_top.tail)
            continue
        parent = stack[-1]
        if name in BLOCK_TAGS:
            services.pop()
        elif name in _ERROR_TAGS:
            text = (element.text or "").strip() or None
            if name == "ERROR":
                error_code = text
            else:
                error_message = text
        elif name.startswith("?") and not wrapped and error_code is None and error_message is None:
            raise _wrong_root(name[1:], "it holds no data-record block, error or NO_RECORD")
        if parent == _ROOT:
            element.clear(keep_tail=True)  # type: ignore[call-arg]  # lxml >= 4.4; not in lxml-stubs
            previous_top = element
        elif parent in BLOCK_TAGS or parent.startswith("?"):
            # an inner block or NO_RECORD is finished: free it and its siblings
            element.clear(keep_tail=True)  # type: ignore[call-arg]  # lxml >= 4.4; not in lxml-stubs
            container = element.getparent()
            assert container is not None  # it sits in its block
            while element.getprevious() is not None:
                del container[0]
    if top_level == 0:
        raise ParseError(PROVIDER, None, "empty body: no CALLER_DATA_RECORDS element")
    if error_code is not None or error_message is not None:
        yield ErrorBody(error_code, error_message)


def summarize(body: bytes) -> BodySummary:
    """The records and any error of a body, in one streaming pass (the client's check)."""
    records = 0
    error = None
    for item in walk(body):
        if type(item) is ErrorBody:
            error = item
        else:
            records += 1
    return BodySummary(records, error)


# --- values ---------------------------------------------------------------------------------

def local_time(value: str | None) -> datetime:
    """TIMESTAMP `dd-mm-yyyy HH:MM:SS` as a naive wall-clock datetime."""
    if value is None:
        raise ParseError(PROVIDER, "TIMESTAMP", "missing")
    # The documented form, through C's ISO reader (about 4x faster). Hour 24 is left to the general
    # reading: newer Pythons read ISO's T24:00:00 as the next midnight, which datetime() refuses.
    if _FIXED_TIMESTAMP.fullmatch(value) and value[11:13] < "24":
        try:
            local = _fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}T{value[11:]}")
        except ValueError:
            pass  # 31-02-…: the general reading below names it
        else:
            if local.year in YEARS:
                return local
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise ParseError(PROVIDER, "TIMESTAMP", f"not dd-mm-yyyy HH:MM:SS: {value[:40]!r}")
    day, month, year, hour, minute, second = map(int, match.groups())
    if year not in YEARS:
        raise ParseError(PROVIDER, "TIMESTAMP", f"implausible year in {value!r}")
    try:
        # Naive on purpose: Amsterdam wall-clock time, which to_utc() resolves (DST gap, repeated hour).
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError as exc:
        raise ParseError(PROVIDER, "TIMESTAMP", f"not a valid time: {value!r} ({exc})") from None


@lru_cache(maxsize=16_384)
def _hour_offset(year: int, month: int, day: int, hour: int) -> timedelta | None:
    """The zone's UTC offset for a whole wall-clock hour, or None if it changes within the hour."""
    offsets = set()
    for minute, second in ((0, 0), (59, 59)):
        for fold in (0, 1):
            moment = datetime(year, month, day, hour, minute, second, fold=fold, tzinfo=TIMEZONE)
            offsets.add(moment.utcoffset())
    return offsets.pop() if len(offsets) == 1 else None


def to_utc(local: datetime, repeated_hour: str) -> tuple[datetime, bool]:
    """Wall-clock Amsterdam time -> (UTC, was it in the repeated hour). ParseError in the gap."""
    offset = _hour_offset(local.year, local.month, local.day, local.hour)
    if offset is not None:
        return (local - offset).replace(tzinfo=UTC), False
    try:
        utc, repeated = wall_clock_to_utc(local, TIMEZONE, later=repeated_hour == "later")
    except ValueError:
        raise ParseError(PROVIDER, "TIMESTAMP",
                         f"{local:%d-%m-%Y %H:%M:%S} does not exist in Europe/Amsterdam"
                         " (skipped when summer time starts)") from None
    if repeated and repeated_hour == "quarantine":
        raise ParseError(PROVIDER, "TIMESTAMP", f"{local:%d-%m-%Y %H:%M:%S} is ambiguous in Europe/Amsterdam"
                                                " (repeated when summer time ends)")
    return utc, repeated


@lru_cache(maxsize=1024)
def _service_e164(service_raw: str) -> str | None:
    """A block's service number in E.164: one per block, asked for every RECORD."""
    return to_e164(service_raw, COUNTRY_CODE, bare_is_international=True)


def _content_key(*parts: str) -> bytes:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).digest()


def parse_record(record: RawRecord, account: str, raw_response_id: int | None, *,
                 repeated_hour: str = "earlier", occurrences: dict[bytes, int] | None = None,
                 default_service_number: str | None = None, customer: str | None = None) -> CallLeg:
    """One RECORD as a CallLeg. `occurrences` counts identical records across the whole window;
    `customer` is the customer id the page was requested for."""
    if record.problem is not None:
        raise ParseError(PROVIDER, *record.problem)
    fields = record.fields
    service_raw = (record.service_number or "").strip() or default_service_number
    if not service_raw:
        raise ParseError(PROVIDER, "servicenumber", "the block has no servicenumber attribute")
    service_number = _service_e164(service_raw)
    local = local_time(fields.get("TIMESTAMP"))
    started_at, ambiguous = to_utc(local, repeated_hour)
    duration_text = fields.get("DURATION")
    if duration_text is None:
        raise ParseError(PROVIDER, "DURATION", "missing")
    if duration_text.isascii() and duration_text.isdigit():  # the common case, without Decimal
        duration = int(duration_text)
    else:
        # duration_text is not None and not empty (fields hold None for empty text), so
        # whole_seconds returns an int or raises.
        duration = whole_seconds(PROVIDER, duration_text, "DURATION")  # type: ignore[assignment]
    if duration > MAX_DURATION_S:
        raise ParseError(PROVIDER, "DURATION", f"implausible duration of {duration} seconds")
    number = to_e164(fields.get("NUMBER"), COUNTRY_CODE)
    location = fields.get("LOCATION")
    peak = fields.get("PEAK")
    extension = fields.get("EXTENSION_ID")
    extension_name = fields.get("EXTENSION_NAME")

    attributes: dict = {}
    if number is not None:
        attributes["number"] = number
    network = None
    if location is not None:
        attributes["location"] = location
        lowered = location.lower()
        network = LOCATION_NETWORKS.get(lowered, PLACE_NETWORK)
    if peak is not None:
        attributes["peak"] = peak
        period = TARIFF_PERIODS.get(peak.lower())
        if period is not None:
            attributes["tariff_period"] = period
    if extension_name is not None:
        attributes["extension_name"] = extension_name
    if ambiguous:
        attributes["dst_ambiguous"] = True
        attributes["local_time"] = f"{local:%d-%m-%Y %H:%M:%S}"
    if not fields.keys() <= _KNOWN_FIELDS:  # undocumented extras are kept as data
        for name, value in fields.items():
            if name not in _KNOWN_FIELDS and value is not None:
                attributes.setdefault(name.lower(), value)

    # service_raw is not blank (the block's attribute stripped, or the servicenumber the client
    # checked to be digits), so to_e164 returns text, not None.
    content = _content_key(service_number, local.isoformat(), number or "", str(duration),  # type: ignore[arg-type]
                           extension or "")
    if occurrences is None:
        occurrences = {}
    ordinal = occurrences.get(content, 0)
    occurrences[content] = ordinal + 1
    leg_key = f"{content.hex()}-{ordinal}"
    return CallLeg(
        provider=PROVIDER,
        account=account,
        customer=customer,
        leg_key=leg_key,
        call_key=leg_key,
        started_at=started_at,
        answered_at=None,
        ended_at=started_at + timedelta(seconds=duration),
        duration_s=duration,
        billable_s=None,
        direction="unknown",
        caller_number=None,
        called_number=None,
        service_number=service_number,
        call_type=None,
        outcome="unknown",
        hangup_cause=None,
        cost_eur=None,
        source_network=network,
        extension=extension,
        linked_leg_key=None,
        attributes=orjson.dumps(attributes).decode(),
        raw_response_id=raw_response_id,
    )


# --- the fast path ----------------------------------------------------------------------------

class _NotFast(Exception):
    """This page needs the event-by-event path."""


_FAST_ENCODINGS = frozenset({"utf-8", "iso-8859-1", "windows-1252", "us-ascii"})
_FAST_OPTIONS = {"events": ("end",), "tag": "RECORD", "resolve_entities": False, "no_network": True,
                 "load_dtd": False, "remove_comments": True, "remove_pis": True, "huge_tree": False}


def _finished(element: etree._Element) -> bool:
    """Is this, met before a RECORD, something walk() reads without a word: a RECORD already read,
    or a block holding nothing but those?"""
    return element.tag == "RECORD" or (element.tag in BLOCK_TAGS
                                       and all(child.tag == "RECORD" for child in element))


def _fast_records(body: bytes) -> Iterator[RawRecord]:
    """The RECORDs of a body in the shape the API documents (a block as root, or a block of
    blocks; upper-case names, no namespace, no DOCTYPE, every field once and documented), read by
    lxml in C and handed over one RECORD at a time, each freed once read; _NotFast for anything
    else, so that walk() names it.

    What this yields is always the start of what walk() yields: everything before a RECORD in
    the document is checked before it is handed over, so a _NotFast part-way leaves the walk to
    go on after the records already read.
    """
    if b"<!" in body:  # a DOCTYPE (walk() refuses it), CDATA or a comment: not the common shape
        raise _NotFast("markup declaration")
    encoding = body_encoding(body)
    # walk() tells lxml the fallback, and feeds it a synthetic root first, so lxml never guesses
    # UTF-16 or UTF-32 from the first bytes as it would here: only ASCII-compatible bodies
    if encoding.fallback or b"\x00" in body or (encoding.declared or "utf-8").lower() not in _FAST_ENCODINGS:
        raise _NotFast("encoding")
    events = etree.iterparse(io.BytesIO(body), **_FAST_OPTIONS)
    root: etree._Element | None = None
    current: etree._Element | None = None  # the block of the last RECORD
    service: str | None = None
    index = 0
    try:
        for _, element in events:
            block = element.getparent()
            if block is not current:
                if root is None:
                    root = block
                    while root is not None and root.getparent() is not None:
                        root = root.getparent()
                if block is None or root is None or block.tag not in BLOCK_TAGS or root.tag not in BLOCK_TAGS:
                    raise _NotFast("record outside a block")
                if block is root:
                    service = block.get("servicenumber")
                elif block.getparent() is root:
                    service = block.get("servicenumber") or root.get("servicenumber")
                    while (before := block.getprevious()) is not None:
                        if not _finished(before):
                            raise _NotFast("element beside blocks")
                        root.remove(before)
                else:
                    raise _NotFast("block nested deeper")
                current = block
            fields: dict[str, str | None] = {}
            for child in element:
                name = child.tag
                if name not in _KNOWN_FIELDS or name in fields or len(child):
                    raise _NotFast("field")
                text = child.text
                fields[name] = text.strip() or None if text is not None else None
            previous = element.getprevious()
            if previous is not None:  # only the RECORD before, read and freed, may precede it
                if previous.tag != "RECORD":
                    raise _NotFast("element beside records")
                block.remove(previous)
            yield RawRecord(index, service, fields, None, element)
            index += 1
            element.clear(keep_tail=True)
        root = events.root  # set once the document is read
    except etree.XMLSyntaxError:
        raise _NotFast("syntax") from None
    if root is None or root.tag not in BLOCK_TAGS or not all(_finished(child) for child in root):
        raise _NotFast("element beside records")


def _parse_page_fast(page: RawPage, account: str, policy: str, occurrences: dict[bytes, int],
                     default_service_number: str | None, customer: str | None) -> Iterator[CallLeg]:
    """The legs of a well-formed page as they are read, then _NotFast if it turns out not to be
    one. Every leg it yields is the one the walk yields in the same place: a record the fast path
    is unsure of, or one parse_record refuses, stops it before that record."""
    for record in _fast_records(page.body):
        try:
            yield parse_record(record, account, page.raw_response_id, repeated_hour=policy,
                               occurrences=occurrences, default_service_number=default_service_number,
                               customer=customer)
        except ParseError:
            raise _NotFast("record") from None


def _parse_page_slow(page: RawPage, account: str, policy: str, occurrences: dict[bytes, int],
                     default_service_number: str | None, customer: str | None
                     ) -> Iterator[CallLeg | Quarantined | ParseNote]:
    encoding = body_encoding(page.body)
    read, refused = 0, False
    try:
        for item in walk(page.body, encoding):
            if isinstance(item, ErrorBody):  # not `type() is`, so mypy narrows; no subclasses
                raise ParseError(PROVIDER, "ERROR", f"error body: code {item.code}: {item.message}")
            read += 1
            try:
                yield parse_record(item, account, page.raw_response_id, repeated_hour=policy,
                                   occurrences=occurrences, default_service_number=default_service_number,
                                   customer=customer)
            except ParseError as exc:
                text = etree.tostring(item.element, encoding="unicode", with_tail=False)
                yield Quarantined(PROVIDER, account, page.raw_response_id, item.index, exc.field,
                                  exc.reason, record_text(text))
    except ParseError as exc:
        refused = True
        shown = page.body[:2000].decode(encoding.fallback or "utf-8", "replace")
        yield Quarantined(PROVIDER, account, page.raw_response_id, -1, exc.field, exc.reason,
                          record_text(shown))
    if encoding.fallback and (read or not refused):
        yield ParseNote(LATIN1_NOTE, 1, "no declared encoding and not valid UTF-8: read as ISO-8859-1")


def parse_pages(pages: Iterable[RawPage], account: str,
                settings: BelfabriekParseSettings = DEFAULT_PARSE_SETTINGS, *, fast: bool = True
                ) -> Iterator[CallLeg | Quarantined | ParseNote]:
    """Every RECORD of every page of one window as a CallLeg, or Quarantined with its reason.

    `pages` must be all the pages of one window: the occurrence ordinal in the leg key counts
    across them. A body that is not a statistics document is quarantined whole (record_index -1);
    if it breaks off part-way, the records read before the break are still yielded. A page that
    declares no encoding and is not valid UTF-8 is read as ISO-8859-1 and, unless it was refused
    before any record, yields ParseNote(LATIN1_NOTE, 1, ...) after its records. `fast=False`
    forces the event-by-event path for every page (the tests compare the two).
    """
    policy = settings.dst_repeated_hour
    occurrences: dict[bytes, int] = {}
    for page in pages:
        params = getattr(page, "request_params", None) or {}
        requested = params.get("servicenumber")
        customer_id = params.get("customer_id")
        customer = str(customer_id) if customer_id not in (None, "") else None
        default_service = str(requested) if requested else None
        read = 0
        if fast:
            before: dict[bytes, int] = {}  # the counts of the keys this page met, as they were
            try:
                for leg in _parse_page_fast(page, account, policy, occurrences, default_service, customer):
                    content = bytes.fromhex(leg.leg_key[:32])
                    if content not in before:
                        before[content] = occurrences[content] - 1
                    yield leg
                    read += 1
                continue
            except _NotFast:
                occurrences.update(before)  # the walk reads those records again from the start
        # The walk yields the legs already yielded first, the same ones: it goes on after them.
        yield from islice(_parse_page_slow(page, account, policy, occurrences, default_service, customer),
                          read, None)
