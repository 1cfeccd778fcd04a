"""A MIXvoip getcalls API on loopback, in the documented shapes with their quirks.

URL: `/cdrs/getcalls/$PROFILE_ID/$START_DATE[/$END_DATE][/$FORMAT]?username=…&password=…`, the
format `json`, `csv` or the old docs' `CSV`, also directly after START_DATE (END_DATE then
defaults to today on the simulator's clock). Dates `YYYY-MM-DD`; END_DATE is inclusive unless
`MixvoipData.end_inclusive` is false. The docs' revisions disagree on the format segment's case
(`csv`/`json` now, `CSV` before), so by default both are accepted; `format_case` "lower" or
"upper" (constructor, or POST /_sim/mixvoip {"format_case": …}) makes it answer the other case
as an unknown format, as a server comparing the segment exactly would. GET /_sim/mixvoip counts
the format segments requested, as sent, the records served and how often each local date was
served (`days_served`, over all profiles), so a test can see how often the client fetches a
record; a POST clears the counts.

Refusals, each as the envelope `{"return": {"code": …, "message": …}}` (the getcalls error body
is undocumented; this is the sibling /invoices API's shape) with HTTP `error_status` (default
200: the client must not trust the status): 401 wrong username/password, 403 profile not linked
to the account, 400 bad date, START_DATE not before END_DATE, interval over 3 months, unknown
format. 429 (real status) when rate limited through SimState.

Data: for each (seed, profile, local day in Europe/Luxembourg) a fixed set of records in local
time: CALLIN (destination_name null, no extension or one), CALLOUT (destination_name set, the
extension), a few MCALL (destination_name key absent), sometimes an exact duplicate record, SMS
billing items, a SERVICE item on the 1st of each month, now and then SETUP, PAY, FAX, HARDWARE,
DEV, TRAVEL and one type the docs do not list. Calls become visible some time after they end on
the simulator's clock. `invoice` is "N/A" until `invoice_lag_days` after the month ends (on the
simulator's clock), then an invoice number: moving the clock changes it.

JSON as in the doc example: `duration`, `price`, `pbxextension` strings, `quantity` a number,
no `call_end` on calls (billing items carry it, as the field list says), `/` escaped as `\\/`,
and in some records a raw line break between date and time (the doc example's rendering).
CSV as in the doc example: no header, 10 columns with destination_name, 9 without, a `'` before
the extension, `date,time` or `date time` in quotes.
"""
from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.simulation import SimState, build_app

LOCAL = ZoneInfo("Europe/Luxembourg")
_DESTINATIONS = [("352", "Luxembourg", "7.00", 6), ("35262", "Luxembourg mobile", "12.50", 6),
                 ("35269", "Luxembourg mobile", "12.50", 6), ("33", "France", "9.00", 9),
                 ("49", "Germany", "8.00", 9), ("32", "Belgium", "9.50", 8),
                 ("44", "United Kingdom", "11.00", 10)]
_OCCASIONAL = [("SETUP", "Setup fee", "One-time setup of a PBX seat", "4900.00"),
               ("PAY", "Payment", "Payment received, thank you", "-15000.00"),
               ("FAX", "Fax to mail", "Fax pages received", "5.00"),
               ("HARDWARE", "Yealink T54W", "Desk phone", "18900.00"),
               ("DEV", "Custom IVR", "Development hours", "8500.00"),
               ("TRAVEL", "On-site visit", "Technician travel", "6000.00"),
               ("MDATA", "MIXmobile data", "Mobile data 1 GB", "500.00"),
               ("CONSULTING", "Consulting", "A type the docs do not list", "9000.00")]


@dataclass(frozen=True)
class MixvoipData:
    seed: int = 7
    calls_per_day: int = 120
    duplicate_fraction: float = 0.01
    late_fraction: float = 0.03
    invoice_lag_days: int = 3
    end_inclusive: bool = True
    error_status: int = 200
    raw_line_breaks: bool = True


def _profile_numbers(profile: str) -> list[str]:
    digest = int(hashlib.sha256(profile.encode()).hexdigest()[:8], 16)
    return [f"3522{digest % 900 + 100:03d}{n:04d}" for n in (0, 320, 321, 400)]


def _local_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@lru_cache(maxsize=512)
def day_records(data: MixvoipData, profile: str, username: str, day: date) -> tuple[tuple, ...]:
    """All records of a local `day`: (local start, visible_at UTC, type, fields), by start."""
    digest = hashlib.sha256(f"{data.seed}|{profile}|{day.isoformat()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    # Naive on purpose: Mixvoip reports local wall-clock time without an offset, so the simulator
    # does wall-clock arithmetic and attaches LOCAL only where it needs the UTC instant (`visible`).
    midnight = datetime(day.year, day.month, day.day)  # noqa: DTZ001
    dids = _profile_numbers(profile)
    out: list[tuple] = []

    def add(start: datetime, visible: datetime, kind: str, fields: dict) -> None:
        out.append((start, visible, kind, fields))
        if rng.random() < data.duplicate_fraction:
            out.append((start, visible, kind, dict(fields)))  # the same record twice

    for _ in range(max(0, int(data.calls_per_day * rng.uniform(0.9, 1.1)))):
        second = (int(rng.triangular(6 * 3600, 20 * 3600, 11 * 3600)) if rng.random() < 0.9
                  else rng.randrange(86_400))
        start = midnight + timedelta(seconds=second)
        prefix, country, unit_price, digits = rng.choice(_DESTINATIONS)
        external = prefix + str(rng.randrange(10 ** (digits - 1), 10 ** digits))
        did = rng.choice(dids)
        roll = rng.random()
        extension = str(rng.randrange(10, 60))
        if roll < 0.45:
            kind = "CALLIN"
            duration = 0 if rng.random() < 0.15 else int(rng.expovariate(1 / 120)) + 1
            fields = {"source": "+" + external, "destination": did, "destination_name": None,
                      "duration": duration, "pbxextension": extension if duration else "",
                      "quantity": 0, "price": "0.00"}
        else:
            kind = "CALLOUT" if roll < 0.95 else "MCALL"
            duration = 0 if rng.random() < 0.1 else int(rng.expovariate(1 / 150)) + 1
            source = did if kind == "CALLOUT" else "35269" + str(rng.randrange(10**5, 10**6))
            fields = {"source": "+" + source,
                      "destination": external, "destination_name": country,
                      "duration": duration, "pbxextension": extension if kind == "CALLOUT" else "",
                      "quantity": math.ceil(duration / 60), "price": unit_price}
            if kind == "MCALL":
                del fields["destination_name"]
        end = start + timedelta(seconds=duration)
        lag = timedelta(hours=rng.uniform(2, 30)) if rng.random() < data.late_fraction else timedelta(
            seconds=rng.uniform(5, 300))
        add(start, end.replace(tzinfo=LOCAL).astimezone(UTC) + lag, kind, fields)

    def billing(start: datetime, kind: str, product: str, description: str, quantity: int,
                price: str) -> None:
        add(start, start.replace(tzinfo=LOCAL).astimezone(UTC), kind,
            {"source": username, "destination": product, "destination_name": description, "call_end": start,
             "duration": 0, "pbxextension": "", "quantity": quantity, "price": price})

    for _ in range(rng.randrange(0, 4)):
        billing(midnight + timedelta(seconds=rng.randrange(8 * 3600, 19 * 3600)), "SMS", "SMS",
                rng.choice(["SMS to Luxembourg", "SMS to France"]), rng.randrange(1, 6), "9.00")
    if day.day == 1:
        billing(midnight, "SERVICE", "Cloud PBX seat", "Monthly seat licence", rng.randrange(3, 30),
                "1500.00")
    if rng.random() < 0.1:
        kind, product, description, price = rng.choice(_OCCASIONAL)
        billing(midnight + timedelta(hours=12), kind, product, description, 1, price)
    out.sort(key=lambda record: record[0])
    return tuple(out)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _invoice(data: MixvoipData, profile: str, start: datetime, now: datetime) -> str:
    month_end = _add_months(start.date().replace(day=1), 1)
    due = (datetime(month_end.year, month_end.month, month_end.day, tzinfo=LOCAL)
           + timedelta(days=data.invoice_lag_days))
    return f"{start:%Y%m}-{profile}" if now >= due else "N/A"


def _json_body(rows: list[dict]) -> bytes:
    # PHP's json_encode escapes slashes; the doc example shows a raw line break inside call_start
    # (the only field that can hold one here).
    return orjson.dumps(rows).replace(b"/", b"\\/").replace(b"\\n", b"\n")


def _json_record(kind: str, start: datetime, fields: dict, invoice: str, line_break: bool) -> dict:
    data = {"source": fields["source"], "destination": fields["destination"]}
    if "destination_name" in fields:
        data["destination_name"] = fields["destination_name"]
    data["call_start"] = start.strftime("%Y-%m-%d\n%H:%M:%S" if line_break else "%Y-%m-%d %H:%M:%S")
    if "call_end" in fields:
        data["call_end"] = _local_text(fields["call_end"])
    data.update(duration=str(fields["duration"]), pbxextension=fields["pbxextension"],
                quantity=fields["quantity"], price=fields["price"], invoice=invoice)
    return {"type": kind, "data": data}


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _csv_row(kind: str, start: datetime, fields: dict, invoice: str, comma: bool) -> str:
    columns = [kind, fields["source"], fields["destination"]]
    if fields.get("destination_name") is not None:
        columns.append(_csv_quote(fields["destination_name"]))
    columns.append(_csv_quote(start.strftime("%Y-%m-%d,%H:%M:%S" if comma else "%Y-%m-%d %H:%M:%S")))
    extension = fields["pbxextension"]
    columns += [str(fields["duration"]), f"'{extension}" if extension else "", str(fields["quantity"]),
                fields["price"], invoice]
    return ",".join(columns)


FORMAT_CASES = ("any", "lower", "upper")


def _format_known(segment: str, format_case: str) -> bool:
    if segment.lower() not in ("csv", "json"):
        return False
    return format_case == "any" or segment == (segment.lower() if format_case == "lower" else segment.upper())


def build_simulator(accounts: dict[str, tuple[str, list[str]]], data: MixvoipData = MixvoipData(),
                    state: SimState | None = None, format_case: str = "any"):
    """A Starlette app; `accounts` maps each username to (password, the profile ids linked to it).
    `format_case`: which case of the format segment it accepts, "any" (the default), "lower", "upper"."""
    state = state or SimState()
    if format_case not in FORMAT_CASES:
        raise ValueError(f"format_case must be one of {FORMAT_CASES}")
    controls = {"format_case": format_case}
    segments: Counter[str] = Counter()  # format segments as requested ("" when none was sent)
    # how often each local date's records went out (all profiles), and "records": how many in all
    served: Counter[str] = Counter()

    def envelope(code: int, message: str, status: int | None = None) -> Response:
        body = orjson.dumps({"return": {"code": code, "message": message}})
        return Response(body, status_code=status or data.error_status, media_type="application/json")

    async def getcalls(request: Request) -> Response:
        params = request.path_params
        username = request.query_params.get("username")
        account = accounts.get(username or "")
        if account is None or request.query_params.get("password") != account[0]:
            return envelope(401, "Authentication failed: wrong username or password")
        profile = params["profile"]
        if profile not in account[1]:
            return envelope(403, f"Profile {profile} is not linked to this account")
        end_text, fmt = params.get("end"), params.get("fmt")
        if end_text is not None and fmt is None and end_text.lower() in ("csv", "json"):
            end_text, fmt = None, end_text
        segments[fmt or ""] += 1
        fmt = fmt or "json"  # no segment: JSON, as both revisions of the docs say
        if not _format_known(fmt, controls["format_case"]):
            return envelope(400, f"Unknown format {fmt}")
        now_local = state.now().astimezone(LOCAL)
        try:
            start = date.fromisoformat(params["start"])
            end = date.fromisoformat(end_text) if end_text else now_local.date()
        except ValueError:
            return envelope(400, "Invalid date: expected YYYY-MM-DD")
        if not start < end:
            return envelope(400, "START_DATE must be smaller than END_DATE")
        if end > _add_months(start, 3):
            return envelope(400, "The interval between START_DATE and END_DATE cannot exceed 3 months")
        last = end if data.end_inclusive else end - timedelta(days=1)
        now = state.now()
        records = []
        day = start
        while day <= last:
            served[day.isoformat()] += 1
            for local_start, visible_at, kind, fields in day_records(data, profile, username, day):
                if visible_at <= now:
                    records.append((local_start, kind, fields, _invoice(data, profile, local_start, now)))
            day += timedelta(days=1)
        served["records"] += len(records)
        if fmt.lower() == "csv":
            rows = [_csv_row(kind, s, fields, invoice, comma=i % 2 == 0)
                    for i, (s, kind, fields, invoice) in enumerate(records)]
            return Response(("\n".join(rows) + "\n" if rows else "").encode(), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="cdrs_{profile}.csv"'})
        body = [_json_record(kind, s, fields, invoice, data.raw_line_breaks and i % 7 == 0)
                for i, (s, kind, fields, invoice) in enumerate(records)]
        return Response(_json_body(body), media_type="application/json")

    def rate_limited() -> Response:
        response = envelope(429, "Too many requests", status=429)
        response.headers["Retry-After"] = "1"
        return response

    async def control(request: Request) -> Response:
        if request.method == "POST":
            wanted = (await request.json()).get("format_case", controls["format_case"])
            if wanted not in FORMAT_CASES:
                return JSONResponse({"error": f"format_case must be one of {FORMAT_CASES}"}, status_code=400)
            controls["format_case"] = wanted
            segments.clear()
            served.clear()
        return JSONResponse({"format_case": controls["format_case"], "format_segments": dict(segments),
                             "records_served": served["records"],
                             "days_served": {k: v for k, v in sorted(served.items()) if k != "records"}})

    routes = [Route(path, getcalls, methods=["GET"]) for path in (
        "/cdrs/getcalls/{profile}/{start}", "/cdrs/getcalls/{profile}/{start}/{end}",
        "/cdrs/getcalls/{profile}/{start}/{end}/{fmt}")]
    routes.append(Route("/_sim/mixvoip", control, methods=["GET", "POST"]))
    app = build_app(routes, state, rate_limited)
    return app
