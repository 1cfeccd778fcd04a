"""A Telecom X PBX API on loopback: /auth/login, /auth/logout and /pbx/cdrstats as documented.

Data: for each (seed, customer) a fixed set of employees, each with an extension; for each
(seed, customer, UTC day) a fixed set of calls (employee, start, direction, outcome, seconds,
local or not). Every call becomes visible some time after it ends (seconds for most, hours for a
few), on the simulator's clock, so a day pulled early has lower counts than a later re-pull.
/pbx/cdrstats counts the visible calls whose start lies in [from, to] (both inclusive) by
employee and by bare interval key (hour of day, day of month, ISO week or month, read in
`grouping_tz`), exactly as ambiguous as the real API: keys of different periods merge.
inboundAnswered is always 0, as in the doc's example (inboundUnanswered + inboundBusy do not
add up to inboundCalls); the other counters are consistent.

Behaviour the docs state: token as the `token` query parameter (401 credentials_invalid when
missing or unknown, 401 expired 15 minutes of simulated time after a password login, 401
invalid_token for a token bound to another IP, 403 blacklisted while `blacklisted` is set),
machine-to-machine tokens that do not expire, 403 access_denied for a customer the token may not
see, 422 from / format / groupingInterval, 400 bad request for a body that is not JSON, 500
internal_error through SimState faults. format JSON, CSV or EXCEL (the CSV/EXCEL layout, one row
per employee and interval, is this simulator's guess [Q]). GET /auth/logout ends every token of
the user, and is counted so that tests can show the client never calls it.

Control: POST /_sim/telecomx {"blacklisted": bool, "request_minutes": float,
"ip_bound_tokens": [..]}; `request_minutes` advances the simulated clock on every cdrstats request
(to expire a token in the middle of a backfill). GET /_sim/telecomx returns the counters.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.errors import ParseError
from pipelines.providers.common import timestamp
from pipelines.providers.telecomx.settings import COUNTER_FIELDS, FORMATS, GROUPINGS, IDENTITY_FIELDS
from pipelines.simulation import SimState, build_app

SESSION_MINUTES = 15
_FIRST = ["Bo", "Benny", "Hans", "Mette", "Lone", "Søren", "Anne", "Jens", "Pia", "Kasper", "Ida", "Lars"]
_LAST = ["Madsen", "Andersen", "Hansen", "Nielsen", "Jensen", "Pedersen", "Larsen", "Sørensen"]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class TelecomXData:
    seed: int = 49
    calls_per_day: int = 400  # per customer
    employees: int = 6  # per customer
    late_fraction: float = 0.03
    grouping_tz: str = "UTC"  # the zone the server reads interval keys in


@dataclass
class Controls:
    """What a test flips on a running simulator, and what it counts."""

    blacklisted: bool = False
    request_minutes: float = 0.0
    ip_bound_tokens: set = field(default_factory=set)
    logins: int = 0
    logouts: int = 0
    stats_requests: int = 0


class Call(NamedTuple):
    employee: int
    start: datetime
    direction: str  # IN | OUT
    outcome: str  # answered | unanswered | busy | failed
    seconds: int
    local: bool
    visible_at: datetime


def _hex_id(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]


@lru_cache(maxsize=32)
def employees(data: TelecomXData, customer: str) -> tuple[dict, ...]:
    rng = random.Random(_hex_id(data.seed, customer, "employees"))
    numbers = rng.sample(range(200, 400), data.employees)
    return tuple({"employeeId": _hex_id(data.seed, customer, "employee", i),
                  "employeeName": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                  "extensionId": _hex_id(data.seed, customer, "extension", i),
                  "extensionNumber": str(numbers[i])} for i in range(data.employees))


@lru_cache(maxsize=128)
def day_calls(data: TelecomXData, customer: str, day: date) -> tuple[Call, ...]:
    rng = random.Random(_hex_id(data.seed, customer, day.isoformat()))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    calls = []
    for _ in range(max(0, int(data.calls_per_day * rng.uniform(0.9, 1.1)))):
        second = int(rng.triangular(0, 86_400, 45_000)) if rng.random() < 0.85 else rng.randrange(86_400)
        start = midnight + timedelta(seconds=second)
        direction = "IN" if rng.random() < 0.55 else "OUT"
        roll = rng.random()
        if direction == "OUT":
            outcome = "answered" if roll < 0.8 else "failed" if roll < 0.82 else "unanswered"
        else:
            outcome = "answered" if roll < 0.78 else "busy" if roll < 0.84 else "unanswered"
        seconds = int(rng.expovariate(1 / 180)) + 1 if outcome == "answered" else 0
        end = start + timedelta(seconds=seconds + rng.randrange(0, 25))
        lag = timedelta(hours=rng.uniform(2, 30)) if rng.random() < data.late_fraction else timedelta(
            seconds=rng.uniform(5, 120))
        calls.append(Call(rng.randrange(data.employees), start, direction, outcome, seconds,
                          rng.random() < 0.1, end + lag))
    return tuple(sorted(calls, key=lambda c: (c.start, c.employee)))


def interval_key(moment: datetime, grouping: str, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return str({"HOUR": local.hour, "DAY": local.day, "WEEK": local.isocalendar().week,
                "MONTH": local.month}[grouping])


def count(calls: list[Call]) -> dict[str, int]:
    out = [c for c in calls if c.direction == "OUT"]
    inbound = [c for c in calls if c.direction == "IN"]
    values = (len(out), sum(c.seconds for c in out), sum(c.outcome == "answered" for c in out),
              sum(c.outcome != "answered" for c in out), sum(c.outcome == "failed" for c in out),
              len(inbound), sum(c.seconds for c in inbound), 0,  # inboundAnswered: 0, as in the doc
              sum(c.outcome == "unanswered" for c in inbound), sum(c.outcome == "busy" for c in inbound))
    return dict(zip(COUNTER_FIELDS, values, strict=True))


def _error(status: int, code: str, message: str) -> Response:
    return Response(orjson.dumps({"error": code, "message": message}), status_code=status,
                    media_type="application/json")


def _table(result: list[dict], fields: list[str]) -> list[list]:
    identity = [f for f in IDENTITY_FIELDS if f in fields]
    counters = [f for f in COUNTER_FIELDS if f in fields]
    rows = [[*identity, "interval", *counters]]
    for employee in result:
        for key, values in employee["data"].items():
            rows.append([*(employee[f] for f in identity), key, *(values[f] for f in counters)])
    return rows


def render(result: list[dict], fields: list[str], fmt: str) -> Response:
    if fmt == "JSON":
        return Response(orjson.dumps(result), media_type="application/json")
    rows = _table(result, fields)
    if fmt == "CSV":
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        return Response(text.getvalue(), media_type="text/csv; charset=utf-8")
    # Lazy on purpose: openpyxl takes ~0.3 s to import and only the EXCEL format needs it.
    from openpyxl import Workbook  # noqa: PLC0415

    book = Workbook(write_only=True)
    sheet = book.create_sheet("cdrstats")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(buffer.getvalue(), media_type=_XLSX)


def build_simulator(users: dict[str, tuple[str, list[str]]], m2m_tokens: dict[str, list[str]],
                    data: TelecomXData = TelecomXData(), state: SimState | None = None):
    """A Starlette app. `users` maps username -> (password, customers it may see; the first is
    its own); `m2m_tokens` maps machine-to-machine tokens to their customers."""
    state = state or SimState()
    controls = Controls()
    zone = ZoneInfo(data.grouping_tz)
    sessions: dict[str, tuple[str | None, list[str], datetime | None]] = {
        token: (None, customers, None) for token, customers in m2m_tokens.items()}
    counter = itertools.count(1)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            payload = dict(request.query_params)
        else:
            try:
                payload = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return _error(400, "bad request", "body is not JSON")
        username = payload.get("username") if isinstance(payload, dict) else None
        user = users.get(username) if isinstance(username, str) else None  # a list: 401, not a crash
        if user is None or user[0] != payload.get("password"):
            return _error(401, "credentials_invalid", "Login required")
        persist = payload.get("persist") in (True, "true")
        token = _hex_id(data.seed, "session", next(counter), state.now().isoformat()) * 2
        sessions[token] = (payload["username"], user[1], None if persist else state.now())
        controls.logins += 1
        return JSONResponse({"token": token, "expiresInMinutes": -1 if persist else SESSION_MINUTES,
                             "employee": _hex_id(payload["username"]), "customer": user[1][0],
                             "accessLevel": "MANAGER"})

    async def logout(request: Request) -> Response:
        session = sessions.get(request.query_params.get("token", ""))
        if session is None:
            return _error(401, "credentials_invalid", "Login required")
        controls.logouts += 1
        for token in [t for t, s in sessions.items() if s[0] is not None and s[0] == session[0]]:
            del sessions[token]
        return JSONResponse({})

    def authorise(request: Request) -> list[str] | Response:
        """The customers the request's token may see, or the error answer."""
        if controls.blacklisted:
            return _error(403, "blacklisted", "IP address blacklisted")
        token = request.query_params.get("token")
        session = sessions.get(token or "")
        if session is None:
            return _error(401, "credentials_invalid", "Login required")
        if token in controls.ip_bound_tokens:
            return _error(401, "invalid_token", "IP address not authenticated")
        issued = session[2]
        if issued is not None and state.now() - issued > timedelta(minutes=SESSION_MINUTES):
            return _error(401, "expired", "Session expired")
        return session[1]

    async def cdrstats(request: Request) -> Response:
        controls.stats_requests += 1
        if controls.request_minutes:
            state.clock_offset += timedelta(minutes=controls.request_minutes)
        customers = authorise(request)
        if isinstance(customers, Response):
            return customers
        try:
            payload = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _error(400, "bad request", "body is not JSON")
        if not isinstance(payload, dict):
            return _error(400, "bad request", "body is not a JSON object")
        fmt = payload.get("format", "JSON")
        grouping = payload.get("groupingInterval", "DAY")
        direction = payload.get("direction", "BOTH")
        if fmt not in FORMATS:
            return _error(422, "format", "Invalid format")
        if grouping not in GROUPINGS:
            return _error(422, "groupingInterval", "Invalid grouping interval - use MONTH, WEEK, DAY or HOUR")
        if direction not in ("IN", "OUT", "BOTH"):
            return _error(400, "bad request", "direction must be IN, OUT or BOTH")
        today = datetime.combine(state.now().date(), datetime.min.time(), UTC)
        try:
            start = timestamp("telecomx", payload.get("from"), "from") or today
            end = timestamp("telecomx", payload.get("to"), "to") or today + timedelta(seconds=86_399)
        except ParseError:  # the API answers a date it cannot read like a bad range
            return _error(422, "from", "Invalid date range")
        if end < start:
            return _error(422, "from", "Invalid date range")
        customer = payload.get("customer") or customers[0]
        if customer not in customers:
            return _error(403, "access_denied", "Insufficient access level")
        wanted = (set(payload.get("employees") or [])
                  | ({payload["employee"]} if payload.get("employee") else set()))
        fields = payload.get("fields") or list(IDENTITY_FIELDS + COUNTER_FIELDS)
        fields = [fields] if isinstance(fields, str) else fields
        staff = employees(data, customer)
        now, ignore_below = state.now(), payload.get("ignoreBelow") or 0
        grouped: dict[int, dict[str, list[Call]]] = {i: {} for i in range(len(staff))}
        day = start.date()
        while day <= end.date():
            for call in day_calls(data, customer, day):
                if (start <= call.start <= end and call.visible_at <= now and call.seconds >= ignore_below
                        and not (call.local and payload.get("ignoreLocal"))
                        and direction in ("BOTH", call.direction)):
                    bucket = interval_key(call.start, grouping, zone)
                    grouped[call.employee].setdefault(bucket, []).append(call)
            day += timedelta(days=1)
        result = []
        for index, employee in enumerate(staff):
            if wanted and employee["employeeId"] not in wanted:
                continue
            item = {f: employee[f] for f in IDENTITY_FIELDS if f in fields}
            item["data"] = {key: {name: value for name, value in count(calls).items() if name in fields}
                            for key, calls in grouped[index].items()}
            result.append(item)
        if payload.get("sort") in ("employeeName", "extensionNumber"):
            result.sort(key=lambda e: str(e.get(payload["sort"], "")))
        return render(result, fields, fmt)

    async def control(request: Request) -> Response:
        if request.method == "POST":
            payload = await request.json()
            controls.blacklisted = bool(payload.get("blacklisted", controls.blacklisted))
            controls.request_minutes = float(payload.get("request_minutes", controls.request_minutes))
            controls.ip_bound_tokens = set(payload.get("ip_bound_tokens", controls.ip_bound_tokens))
        return JSONResponse({"blacklisted": controls.blacklisted, "request_minutes": controls.request_minutes,
                             "logins": controls.logins, "logouts": controls.logouts,
                             "stats_requests": controls.stats_requests})

    routes = [Route("/auth/login", login, methods=["GET", "POST"]),
              Route("/auth/logout", logout, methods=["GET"]),
              Route("/pbx/cdrstats", cdrstats, methods=["POST"]),
              Route("/_sim/telecomx", control, methods=["GET", "POST"])]
    app = build_app(routes, state, lambda: _error(429, "bad request", "Too many requests"))
    app.state.telecomx = controls
    return app
