"""What one /cdrs/retrieve answer shows of the readings TENIOS's docs leave open, for `cdr-etl
accounts check --probe` (docs/providers/tenios.md, "Readings the docs leave open"). Pure: a
fetched page in, (reading, observed) pairs out; nothing here changes how a body is parsed."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import orjson

from pipelines.errors import ParseError
from pipelines.model import FetchedPage
from pipelines.providers.common import iso_datetime
from pipelines.providers.tenios.parse import decode_body, leg_start
from pipelines.providers.tenios.settings import DEFAULT_PARSE_SETTINGS, PROVIDER

# the record fields the docs name
DOCUMENTED = frozenset({
    "uuid", "call_type", "start_stamp", "answer_stamp", "end_stamp", "duration", "billusec", "bleg_uuid",
    "main_leg_uuid", "callerid_name", "callerid_number", "destination_number", "hangup_cause", "prepaid",
    "cost", "source_type", "routing_status", "billing_status"})
STAMPS = ("start_stamp", "answer_stamp", "end_stamp")


def _form(value: str) -> str:
    """`2024-03-20 11:15:00` -> `YYYY-MM-DD HH:MM:SS`: the shape of a stamp, not its value."""
    return "".join("9" if c.isdigit() else c for c in value.strip()[:40]).replace(
        "9999-99-99", "YYYY-MM-DD").replace("99:99:99", "HH:MM:SS")


def _bound(params: dict, name: str) -> datetime | None:
    try:
        return iso_datetime(PROVIDER, params.get(name), name)
    except ParseError:
        return None


def observe_readings(page: FetchedPage) -> Iterable[tuple[str, str]]:
    """Whether the stamps carry an offset and their form, whether the legs lie within the requested
    bounds as the default stamp_time_zone reads them, the page size the server kept, and any
    record field the docs do not name."""
    try:
        items = decode_body(page.body)
    except ParseError as exc:
        yield "answer shape", f"refused: {exc.reason}"
        return
    records = [item for item in items if isinstance(item, dict)]
    stamps = [record[name] for record in records for name in STAMPS if isinstance(record.get(name), str)]
    if not stamps:
        yield "time stamps carry an offset", f"no stamps to read ({len(items)} records)"
    else:
        with_offset = 0
        for stamp in stamps:
            try:
                parsed = iso_datetime(PROVIDER, stamp, "stamp")
            except ParseError:
                continue
            with_offset += parsed is not None and parsed.tzinfo is not None
        verdict = "yes" if with_offset == len(stamps) else "no" if with_offset == 0 else "mixed"
        yield "time stamps carry an offset", f"{verdict}: {with_offset} of {len(stamps)}"
        forms = Counter(_form(stamp) for stamp in stamps)
        yield "time stamp form", ", ".join(f"{form} ({n})" for form, n in forms.most_common(3))
    params = page.request_params or {}
    start, end = _bound(params, "start_date_from"), _bound(params, "start_date_to")
    if records and start is not None and end is not None:
        zone = DEFAULT_PARSE_SETTINGS.zone
        starts = [began for record in records if (began := leg_start(record, zone)) is not None]
        inside = sum(1 for began in starts if start <= began <= end)
        verdict = "yes" if inside == len(starts) else "no"
        yield "legs within the requested bounds", (
            f"{verdict}: {inside} of {len(starts)} (stamps without an offset read in"
            f" {DEFAULT_PARSE_SETTINGS.stamp_time_zone})")
    asked = params.get("page_size")
    if asked is not None:  # a server may cap what was asked: the answer's own page_size says so
        kept = orjson.loads(page.body).get("page_size")  # decode_body read it as a JSON object
        yield "page_size accepted", f"asked {asked}, answer says {kept!r}, {len(items)} records"
    extra = sorted({key for record in records for key in record} - DOCUMENTED)
    yield "record fields the docs do not name", ", ".join(extra[:10]) if extra else "none"
