"""A Belfabriek statistics API on loopback: GET /statistics/ as documented, deterministic calls.

Data: for each (seed, account, UTC day) a fixed set of calls to the account's service numbers
(0800, 0900, 085 and geographic numbers, in international format), with Dutch vocabulary:
LOCATION is a place name or `Mobiel` (or `Buitenland`, `Onbekend`), PEAK is `peak` on weekdays
08:00-20:00 Amsterdam time and `dal` otherwise, extensions are named `Receptie`, `Verkoop`, ...
TIMESTAMP is Amsterdam wall-clock time, so the generated data crosses both DST transitions: on
the last Sunday of October calls fall in both passes of the repeated hour (including two with
the same wall-clock text), and on the last Sunday of March one call is written with a wall-clock
time inside the skipped hour, as a server whose clock did not jump would (`gap_glitch`). A few
calls are exact twins (same second, number, duration and extension), and one call each day
starts exactly at 00:00:00 UTC, the boundary two day windows share.

Behaviour the docs state or imply: customer_hash plus customer_id or error 1; start_timestamp and
end_timestamp epoch seconds (defaults: the last five minutes), error 2/3 when not a number,
error 4 when start > end; a servicenumber the account does not own (or an invalid one) returns
every number; extension_display=1 adds EXTENSION_ID/EXTENSION_NAME; `<NO_RECORD>` for a number
without calls. Both bounds are inclusive here [Q]. Errors are answered with HTTP 200 and an
`<ERROR>`/`<MESSAGE>` body; more requests a second than the rate limit get error 5. The limit
counts per customer login (customer_hash and customer_id), as do the requests-per-second
measurements on /_sim/stats; a request with an unknown login counts under "".

What the docs leave open can be switched, the defaults being the readings the client makes:
- the path the statistics answer at (`statistics_path`, default /statistics/; a constructor
  argument, or BELFABRIEK_SIM_STATISTICS_PATH for `cdr-etl simulate`, which then also sets the
  client's BELFABRIEK_STATISTICS_PATH);
- the shape of an answer (`AnswerShape`: its encoding, whether it has an XML declaration, and the
  element wrapping several blocks): a constructor argument, or POST /_sim/answer with the fields
  to change ({"encoding": "ISO-8859-1", "declaration": false, "wrapper": "STATISTICS"}; {} restores
  the defaults);
- the place names (`BelfabriekData.places`; FRISIAN_PLACES adds names with accents).
"""
from __future__ import annotations

import codecs
import hashlib
import random
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.providers.belfabriek.settings import STATISTICS_PATH, TIMEZONE
from pipelines.simulation import SimState, build_app

MEDIA_TYPE = "text/xml; charset=UTF-8"
STATISTICS_PATH_VARIABLE = "BELFABRIEK_SIM_STATISTICS_PATH"
SERVICE_NUMBERS = ("318001234567", "318002020200", "319001122334", "319009876543", "318503036000",
                   "31202404040", "31107001234", "31307110000")
_SERVICE_WEIGHTS = (30, 12, 9, 5, 16, 12, 9, 7)
PLACES = (("20", "Amsterdam"), ("10", "Rotterdam"), ("70", "Den Haag"), ("30", "Utrecht"),
           ("40", "Eindhoven"), ("50", "Groningen"), ("38", "Zwolle"), ("43", "Maastricht"),
           ("23", "Haarlem"), ("71", "Leiden"), ("73", "'s-Hertogenbosch"), ("58", "Leeuwarden"))
# Frisian municipality names, official since the 2010s, as a LOCATION might carry them: letters
# outside ASCII, for the encoding tests (a Latin-1 answer must keep them).
FRISIAN_PLACES = (("515", "S\u00fadwest-Frysl\u00e2n"), ("514", "De Fryske Marren"), ("58", "Ljouwert"),
                  ("519", "No\u00fdrd-Frysl\u00e2n"), ("513", "Skarsterl\u00e2n"))
_EXTENSIONS = (("101", "Receptie"), ("102", "Verkoop"), ("103", "Klantenservice"), ("104", "Administratie"),
               ("105", "Technische dienst"), ("106", "Planning"), ("107", "Inkoop"), ("110", "Directie"))
MESSAGES = {
    "1": "Invalid hash and/or user",
    "2": "Invalid start_timestamp",
    "3": "Invalid end_timestamp",
    "4": "Invalid period. The start_timestamp is grather than the end_timestamp",
    "5": "Too many requests/second. Try again later",
}


@dataclass(frozen=True)
class BelfabriekData:
    seed: int = 31
    calls_per_day: int = 240
    service_numbers: tuple[str, ...] = SERVICE_NUMBERS
    twin_fraction: float = 0.02
    gap_glitch: bool = True
    rate_limit_per_s: float | None = 4
    places: tuple[tuple[str, str], ...] = PLACES  # (area code, LOCATION) of fixed-line callers


@dataclass(frozen=True)
class AnswerShape:
    """How a statistics answer is written. The defaults are the client's readings: UTF-8 with a
    declaration, several blocks wrapped in the prose's CALLERS_DATA_RECORDS."""

    encoding: str = "UTF-8"
    declaration: bool = True
    wrapper: str = "CALLERS_DATA_RECORDS"  # the element around several blocks (unpublished)

    @property
    def media_type(self) -> str:
        return f"text/xml; charset={self.encoding}" if self.declaration else "text/xml"


class SimCall(NamedTuple):
    at: datetime  # the true UTC start
    service_number: str
    local_text: str  # TIMESTAMP as sent
    number: str
    location: str
    peak: str
    duration: int
    extension_id: str
    extension_name: str


@dataclass
class Counters:
    """What the simulator answered, for tests to assert on."""

    errors: dict[str, int] = field(default_factory=dict)

    def count(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


def local_text(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime("%d-%m-%Y %H:%M:%S")


def dst_change(day: date) -> timedelta:
    """How far Amsterdam clocks move during this UTC day (+1h in March, -1h in October, else 0)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    before = midnight.astimezone(TIMEZONE).utcoffset()
    after = (midnight + timedelta(days=1)).astimezone(TIMEZONE).utcoffset()
    assert before is not None and after is not None  # aware datetimes in a ZoneInfo: always an offset
    return after - before


def _other_party(rng: random.Random, places: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.35:
        return "06" + str(rng.randrange(10**7, 10**8)), "Mobiel"
    if roll < 0.90:
        area, place = rng.choice(places)
        return "0" + area + str(rng.randrange(10**6, 10**7)), place
    if roll < 0.95:
        return "00" + rng.choice(["32", "49", "44"]) + str(rng.randrange(10**8, 10**9)), "Buitenland"
    return "anoniem", "Onbekend"


def _call(rng: random.Random, data: BelfabriekData, at: datetime, text: str | None = None) -> SimCall:
    number, location = _other_party(rng, data.places)
    local = at.astimezone(TIMEZONE)
    peak = "peak" if local.weekday() < 5 and 8 <= local.hour < 20 else "dal"
    duration = 0 if rng.random() < 0.08 else int(rng.expovariate(1 / 140)) + 1
    extension_id, extension_name = rng.choice(_EXTENSIONS) if rng.random() < 0.7 else ("", "")
    service = rng.choices(data.service_numbers, _SERVICE_WEIGHTS[:len(data.service_numbers)]
                          if len(data.service_numbers) <= len(_SERVICE_WEIGHTS) else None)[0]
    return SimCall(at, service, text or local_text(at), number, location, peak, duration, extension_id,
                   extension_name)


@lru_cache(maxsize=64)
def day_calls(data: BelfabriekData, account: str, day: date) -> tuple[SimCall, ...]:
    """Every call starting on UTC `day`, sorted by start, service number and number."""
    digest = hashlib.sha256(f"{data.seed}|{account}|{day.isoformat()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    calls = [_call(rng, data, midnight)]  # on the boundary between two day windows
    target = max(1, int(data.calls_per_day * rng.uniform(0.9, 1.1)))
    while len(calls) < target:
        # Office hours in Amsterdam, roughly 06:00-18:00 UTC, with a tail through the night.
        second = int(rng.triangular(0, 86_400, 39_600)) if rng.random() < 0.85 else rng.randrange(86_400)
        calls.append(_call(rng, data, midnight + timedelta(seconds=second)))
        if rng.random() < data.twin_fraction:
            calls.append(calls[-1])
    change = dst_change(day)
    if change < timedelta(0):
        # The repeated hour, 02:00-02:59 local, is 00:00-00:59 UTC (summer time) and 01:00-01:59 UTC
        # (winter time). Calls in both passes, and two with the same wall-clock text.
        for minute in (5, 17, 42):
            calls.append(_call(rng, data, midnight + timedelta(minutes=minute)))
            calls.append(_call(rng, data, midnight + timedelta(hours=1, minutes=minute + 3)))
        first = _call(rng, data, midnight + timedelta(minutes=30))
        calls += [first, first._replace(at=midnight + timedelta(hours=1, minutes=30))]
    elif change > timedelta(0) and data.gap_glitch:
        # 02:15 local does not exist that night; a server clock that did not jump would write it.
        at = midnight + timedelta(hours=1, minutes=15)
        calls.append(_call(rng, data, at, text=(at + timedelta(hours=1)).strftime("%d-%m-%Y %H:%M:%S")))
    calls.sort(key=lambda c: (c.at, c.service_number, c.number, c.duration, c.extension_id))
    return tuple(calls)


def error_body(code: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ERROR>{code}</ERROR>\n'
            f"<MESSAGE>{escape(MESSAGES[code])}</MESSAGE>\n").encode()


def render(blocks: list[tuple[str, list[SimCall]]], start: datetime, end: datetime,
           extensions: bool, shape: AnswerShape = AnswerShape()) -> bytes:
    """One CALLER_DATA_RECORDS block per service number; several are wrapped in `shape.wrapper`."""
    out = [f'<?xml version="1.0" encoding="{shape.encoding}"?>\n' if shape.declaration else ""]
    wrapped = len(blocks) != 1
    if wrapped:
        out.append(f"<{shape.wrapper}>\n")
    for service_number, calls in blocks:
        out.append(f"<CALLER_DATA_RECORDS servicenumber={quoteattr(service_number)}"
                   f' startdate="{local_text(start)}" enddate="{local_text(end)}">\n')
        if not calls:
            out.append("  <NO_RECORD>No Record</NO_RECORD>\n")
        for call in calls:
            out.append(f"  <RECORD>\n    <TIMESTAMP>{call.local_text}</TIMESTAMP>\n"
                       f"    <NUMBER>{escape(call.number)}</NUMBER>\n"
                       f"    <LOCATION>{escape(call.location)}</LOCATION>\n"
                       f"    <PEAK>{call.peak}</PEAK>\n    <DURATION>{call.duration}</DURATION>\n")
            if extensions:
                out.append(f"    <EXTENSION_ID>{call.extension_id}</EXTENSION_ID>\n"
                           f"    <EXTENSION_NAME>{escape(call.extension_name)}</EXTENSION_NAME>\n")
            out.append("  </RECORD>\n")
        out.append("</CALLER_DATA_RECORDS>\n")
    if wrapped:
        out.append(f"</{shape.wrapper}>\n")
    return "".join(out).encode(shape.encoding, "xmlcharrefreplace")


def build_simulator(customers: dict[tuple[str, str], str], data: BelfabriekData = BelfabriekData(),
                    state: SimState | None = None, *, statistics_path: str = STATISTICS_PATH,
                    answer: AnswerShape = AnswerShape()):
    """A Starlette app; `customers` maps each valid (customer_hash, customer_id) to its account.
    `app.state.answer` is the AnswerShape in force (POST /_sim/answer changes it)."""
    if state is None:
        state = SimState(rate_limit_per_s=data.rate_limit_per_s)
    counters = Counters()

    def error(code: str) -> Response:
        counters.count(code)
        return Response(error_body(code), status_code=200, media_type=MEDIA_TYPE)

    def epoch(value: str | None, default: int) -> int | None:
        if value is None or value == "":
            return default
        try:
            return int(value.strip())
        except ValueError:
            return None

    async def statistics(request: Request) -> Response:
        query = request.query_params
        account = customers.get((query.get("customer_hash", ""), query.get("customer_id", "")))
        if account is None:
            return error("1")
        now = int(state.now().timestamp())
        start = epoch(query.get("start_timestamp"), now - 300)
        if start is None:
            return error("2")
        end = epoch(query.get("end_timestamp"), now)
        if end is None:
            return error("3")
        if start > end:
            return error("4")
        owned = data.service_numbers
        wanted = [query["servicenumber"]] if query.get("servicenumber") in owned else list(owned)
        first, last = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        by_number: dict[str, list[SimCall]] = {number: [] for number in wanted}
        day = first.date()
        while day <= last.date():
            for call in day_calls(data, account, day):
                if first <= call.at <= last and call.service_number in by_number:
                    by_number[call.service_number].append(call)
            day += timedelta(days=1)
        shape = app.state.answer
        body = render(list(by_number.items()), first, last, query.get("extension_display") == "1", shape)
        # as a header: Starlette would add "; charset=utf-8" to a text/ media type without one
        return Response(body, headers={"Content-Type": shape.media_type})

    async def change_answer(request: Request) -> Response:
        payload = await request.json()
        known = {f.name for f in fields(AnswerShape)}
        if not isinstance(payload, dict) or not set(payload) <= known:
            return JSONResponse({"error": f"expected an object with some of {sorted(known)}"},
                                status_code=400)
        shape = replace(AnswerShape(), **payload)
        try:
            codecs.lookup(shape.encoding)
        except LookupError:
            return JSONResponse({"error": f"unknown encoding {shape.encoding!r}"}, status_code=400)
        app.state.answer = shape
        return JSONResponse({f: getattr(app.state.answer, f) for f in sorted(known)})

    routes = [Route(statistics_path, statistics, methods=["GET"]),
              Route("/_sim/answer", change_answer, methods=["POST"])]
    if statistics_path.rstrip("/") != statistics_path:
        routes.append(Route(statistics_path.rstrip("/"), statistics, methods=["GET"]))

    def account_of(scope: dict) -> str | None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        login = (query.get("customer_hash", [""])[0], query.get("customer_id", [""])[0])
        return customers.get(login)

    app = build_app(routes, state, lambda: error("5"), account_of)
    app.state.counters = counters
    app.state.answer = answer
    return app

