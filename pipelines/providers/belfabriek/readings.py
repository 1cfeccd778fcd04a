"""What one statistics answer shows of the readings Belfabriek's docs leave open, for
`cdr-etl accounts check --probe` (ProviderSpec.observe_readings). docs/providers/belfabriek.md
("Readings the docs leave open") says what each one decides and what to do when it differs.

The probe asks for the whole of yesterday, so the answer is small; it is read whole here.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

from pipelines.errors import ParseError
from pipelines.model import FetchedPage
from pipelines.providers.belfabriek.parse import (
    UNDECLARED_FALLBACK,
    BodyEncoding,
    RawRecord,
    body_encoding,
    local_name,
    local_time,
    to_utc,
    walk,
    xml_events,
)
from pipelines.providers.belfabriek.settings import BLOCK_TAGS, LOCATION_NETWORKS, TARIFF_PERIODS

_SHOWN = 4  # distinct values listed before "..."


def _encoding(body: bytes, encoding: BodyEncoding) -> str:
    if encoding.declared:
        return f"declared {encoding.declared}"
    if encoding.fallback:
        return f"none, not valid UTF-8: read as {UNDECLARED_FALLBACK.upper()}"
    if body.isascii():
        return "none; ASCII only, so it does not show which (read as UTF-8)"
    return "none; valid UTF-8 (read as UTF-8)"


def _outline(body: bytes, encoding: BodyEncoding) -> tuple[list[str], Counter[str], list[str]]:
    """The top-level element names, the innermost data-record blocks (those holding records) by
    name, and the first such block's startdate/enddate."""
    top: list[str] = []
    blocks: Counter[str] = Counter()
    dates: list[str] = []
    open_blocks: list[list] = []  # per open element: [name, holds a block, element]
    for event, element in xml_events(body, encoding):
        if event == "start":
            name = local_name(element.tag) or ""
            if len(open_blocks) == 1:  # the first level is the synthetic root
                top.append(name)
            if name in BLOCK_TAGS and open_blocks:
                open_blocks[-1][1] = True
            open_blocks.append([name, False, element])
            continue
        name, holds_block, _ = open_blocks.pop()
        if name in BLOCK_TAGS and not holds_block:
            blocks[name] += 1
            if not dates:
                dates = [element.get("startdate") or "-", element.get("enddate") or "-"]
    return top, blocks, dates


def _values(counter: Counter[str]) -> str:
    shown = ", ".join(f"{value!r} x{n}" for value, n in counter.most_common(_SHOWN))
    return shown + (", ..." if len(counter) > _SHOWN else "") if counter else "none"


def _within_window(records: list[RawRecord], params: dict) -> str:
    try:
        start = datetime.fromtimestamp(int(params["start_timestamp"]), UTC)
        end = datetime.fromtimestamp(int(params["end_timestamp"]), UTC)
    except (KeyError, TypeError, ValueError):
        return "no requested window to compare with"
    inside = readable = 0
    for record in records:
        try:
            moment, _ = to_utc(local_time(record.fields.get("TIMESTAMP")), "earlier")
        except ParseError:
            continue
        readable += 1
        inside += start <= moment <= end
    return f"{inside} of {readable}" if readable else "no TIMESTAMP to compare"


def observe_readings(page: FetchedPage) -> Iterator[tuple[str, str]]:
    """(reading, what this answer shows of it) for each open reading an answer can show."""
    body = page.body
    encoding = body_encoding(body)
    yield "statistics path", f"{page.endpoint} answered HTTP {page.http_status}"
    yield "Content-Type", page.content_type or "none"
    yield "XML declaration / encoding", _encoding(body, encoding)
    try:
        top, blocks, dates = _outline(body, encoding)
        records = [item for item in walk(body, encoding) if type(item) is RawRecord]
    except ParseError as exc:
        yield "body", f"not a statistics document: {exc.reason}"
        return
    if len(top) == 1:
        root = top[0] if top[0] in BLOCK_TAGS else f"other: <{top[0]}>"
    else:
        root = f"none: {len(top)} elements side by side ({', '.join(sorted(set(top)))})"
    yield "root element", root
    yield "data-record blocks", (f"{sum(blocks.values())} ("
                                 + ", ".join(f"{name} {n}" for name, n in sorted(blocks.items())) + ")"
                                 if blocks else "0")
    yield "block startdate / enddate form", " / ".join(dates) if dates else "no block"
    yield "TIMESTAMP form", _stamp_forms(records)
    yield "TIMESTAMP read as Europe/Amsterdam inside the requested window", _within_window(
        records, page.request_params)
    peaks = Counter(r.fields.get("PEAK") or "" for r in records)
    unknown_peaks = Counter({v: n for v, n in peaks.items() if v.lower() not in TARIFF_PERIODS})
    yield "PEAK values", _values(peaks) + (f"; not recognised: {_values(unknown_peaks)}"
                                           if unknown_peaks else "")
    literals = Counter(loc for r in records if (loc := r.fields.get("LOCATION") or "").lower()
                       in LOCATION_NETWORKS)
    yield "LOCATION literals (not a place name)", _values(literals)
    with_extension = sum(1 for r in records if "EXTENSION_ID" in r.fields)
    yield "EXTENSION_ID / EXTENSION_NAME present", f"{with_extension} of {len(records)}"


def _stamp_forms(records: list[RawRecord]) -> str:
    if not records:
        return "no RECORD"
    others = [r.fields.get("TIMESTAMP") for r in records if not _is_documented(r)]
    documented = len(records) - len(others)
    return (f"dd-mm-yyyy HH:MM:SS: {documented} of {len(records)}"
            + (f"; other: {len(others)} (e.g. {others[0]!r})" if others else ""))


def _is_documented(record: RawRecord) -> bool:
    try:
        local_time(record.fields.get("TIMESTAMP"))
    except ParseError:
        return False
    return True
