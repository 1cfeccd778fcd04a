"""What one getcalls answer shows of the readings MIXvoip's docs leave open, for `cdr-etl accounts
check --probe` (docs/providers/mixvoip.md, "Readings the docs leave open"). Pure: a fetched page
in, (reading, observed) pairs out; nothing here changes how a body is parsed."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import orjson

from pipelines.errors import ParseError
from pipelines.model import FetchedPage
from pipelines.providers.mixvoip.parse import csv_fields, decode_body, json_fields
from pipelines.providers.mixvoip.settings import BILLING_TYPES, CALL_TYPES, NOT_INVOICED

# the data keys the docs name (field list and JSON example together), in the docs' order
_DOCUMENTED = ("source", "destination", "destination_name", "call_start", "call_end", "duration",
               "pbxextension", "quantity", "price", "invoice")
_STAMP_FORMS = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}[ T,\n]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"),
     "with an offset"),
    (re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"), "YYYY-MM-DD HH:MM:SS"),
    (re.compile(r"^\d{4}-\d{2}-\d{2},\d{2}:\d{2}:\d{2}$"), "YYYY-MM-DD,HH:MM:SS"),
    (re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"), "YYYY-MM-DDTHH:MM:SS"),
)


def _counts(counter: Counter, total: int) -> str:
    return ", ".join(f"{name} {n}" if n == total else f"{name} {n} of {total}"
                     for name, n in counter.most_common())


def _stamp_form(value) -> str:
    if not isinstance(value, str):
        return "not text" if value is not None else "missing"
    text = value.strip().lstrip("'")
    return next((form for pattern, form in _STAMP_FORMS if pattern.match(text)), "other")


def observe_readings(page: FetchedPage) -> Iterable[tuple[str, str]]:
    """The format segment the server took, the answer's shape, which documented fields its records
    carry (call_end, duration, pbxextension are the doc's disagreements), the form of call_start,
    the record types (an undocumented one may be a call: MIXVOIP_EXTRA_CALL_TYPES) and invoices."""
    segment = page.endpoint.rsplit("/", 1)[-1]
    segment = segment if segment.lower() in ("json", "csv") else "none (the old form's JSON default)"
    answered = f"HTTP {page.http_status}, {page.content_type or 'no content type'}"
    yield "format segment accepted", f"{segment}: {answered}"
    try:
        kind, records = decode_body(page.body)
    except ParseError as exc:
        yield "answer shape", f"refused: {exc.reason}"
        return
    if kind == "json":
        try:
            orjson.loads(page.body)
            breaks = "no"
        except orjson.JSONDecodeError:
            breaks = "yes (read as spaces)"
        shape = (f"JSON array of {len(records)} records" if page.body.lstrip()[:1] == b"["
                 else f"JSON object with digit keys (PHP), {len(records)} records")
        yield "answer shape", shape + f"; raw line breaks inside strings: {breaks}"
    else:
        yield "answer shape", f"CSV, {len(records)} rows, no header"
    if not records:
        yield "records", "none in this answer: probe a day with calls to see the fields"
        return
    fields: Counter = Counter()
    columns: Counter = Counter()
    stamps: Counter = Counter()
    types: Counter = Counter()
    invoices: Counter = Counter()
    unreadable = 0
    for record in records:
        try:
            record_type, data = json_fields(record) if kind == "json" else csv_fields(record)
        except ParseError:
            unreadable += 1
            continue
        if kind == "csv":
            columns[f"{9 + (data.get('destination_name') is not None)} columns"] += 1
        # a JSON key sent as null is present; a CSV row has no key names, only values
        fields.update(key for key, value in data.items() if kind == "json" or value is not None)
        stamps[_stamp_form(data.get("call_start"))] += 1
        types[str(record_type).strip().upper()] += 1
        invoice = str(data.get("invoice") or "").strip()
        invoices["N/A or empty" if invoice.upper() in NOT_INVOICED else "an invoice number"] += 1
    read = len(records) - unreadable
    present = Counter({key: fields[key] for key in _DOCUMENTED if fields[key]})
    absent = [key for key in _DOCUMENTED if not fields[key]]
    extra = sorted(key for key in fields if key not in _DOCUMENTED)
    yield "record fields present", (_counts(present, read)
                                    + (f"; absent: {', '.join(absent)}" if absent else "")
                                    + (f"; undocumented: {', '.join(extra)}" if extra else "")
                                    + (f"; {unreadable} records unreadable" if unreadable else ""))
    if columns:
        yield "CSV columns", _counts(columns, read)
    yield "time stamp form (call_start)", _counts(stamps, read) + (
        "" if "with an offset" in stamps else "; no offset: read in MIXVOIP_TIMEZONE")
    unknown = sorted(t for t in types if t not in CALL_TYPES | BILLING_TYPES)
    yield "record types", _counts(types, read) + (
        f"; not in the docs: {', '.join(unknown)} (billing items unless MIXVOIP_EXTRA_CALL_TYPES)"
        if unknown else "")
    yield "invoice", _counts(invoices, read)
