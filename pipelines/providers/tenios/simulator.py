"""A TENIOS API on loopback: /cdrs/retrieve and /cdrs/count as documented, deterministic CDRs.

Data: for each (seed, account, UTC day) a fixed set of calls. An inbound PSTN or WebRTC leg is
often forwarded (FORWARD, SIPFORWARD_USER, SIPFORWARD_PRFL); a forwarded leg carries the
inbound leg's uuid in `main_leg_uuid` and the inbound leg points at the answering leg with
`bleg_uuid`. Some faxes go out on their own. Every leg becomes visible some time after it ends
(seconds for most, hours for a few), measured on the simulator's clock: a day fetched early
lacks its late legs, which appear on a later fetch.

Every day holds a call that starts at exactly 00:00:00.000 UTC, so every load meets the window's
start bound. With `call_before_midnight` (TENIOS_SIM_CALL_BEFORE_MIDNIGHT=1) a day also holds one
in its last second (23:59:59.600, its forwarded legs on the next day), which the next day's request,
asking from a second early, brings along too. It is off by default: the shared suites take a
day's first record for one of that day's legs.

Behaviour the docs state or imply: the access key in the JSON body, 1-based pages,
`total_items`/`page`/`page_size` in every answer, dates as ISO-8601 UTC (the doc's `:000` colon
variant is accepted too), start_date_from read strictly as calls "started after" it (the
official examples' words) and start_date_to inclusively, /cdrs/count limited to one day (read
with a minute's tolerance, room for the client's start lead: how strictly the API counts it is
unknown). Errors as the real API answers them: HTTP 400 with `{"error_code", "error_message",
"fields"}`: BAD_CREDENTIALS (with `"success": false`) for a wrong key, INVALID_JSON,
INVALID_FIELD (a request field missing) and INVALID_VALUE (one that cannot be used), naming the
fields. Its 429 and 5xx answers are the fault and rate-limit machinery's (pipelines.simulation).

Time stamps: how TENIOS writes `*_stamp` is unpublished, so the simulator serves any of
STAMP_FORMS, chosen by `stamp_form` (the factory reads TENIOS_SIM_STAMP_FORM) or switched on a
running simulator with POST /_sim/stamp_form {"form": ...}: `z` (UTC with Z, the default, as
every published example of a TENIOS date), `offset` (German local time with its offset),
`naive-space` (FreeSWITCH's own `2024-03-20 11:15:00`: German wall-clock time, whole seconds),
`naive-t` (the same with a T) and `naive-fraction` (space, milliseconds).
"""
from __future__ import annotations

import hashlib
import random
import uuid as uuidlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.errors import ParseError
from pipelines.providers.common import timestamp
from pipelines.simulation import SimState, build_app

MAX_PAGE_SIZE = 1000
COUNT_LIMIT = timedelta(days=1, minutes=1)
STAMP_FORMS = ("z", "offset", "naive-space", "naive-t", "naive-fraction")
# the switch's clock, for the forms without Z
SWITCH_ZONE = ZoneInfo("Europe/Berlin")
# the calls of each day at its bounds (module docstring)
MIDNIGHT = timedelta(0)
BEFORE_MIDNIGHT = timedelta(seconds=86_399, milliseconds=600)
_SERVICE_NUMBERS = ["+4930901820", "+4940609110", "+498935478200", "+4922199887700", "+4969123450"]
_CAUSE_WEIGHTS = [("NORMAL_CLEARING", 70), ("NO_ANSWER", 8), ("USER_BUSY", 5), ("ORIGINATOR_CANCEL", 9),
                  ("NO_USER_RESPONSE", 2), ("UNALLOCATED_NUMBER", 1), ("CALL_REJECTED", 2),
                  ("NORMAL_TEMPORARY_FAILURE", 1), ("ALLOTTED_TIMEOUT", 1), ("MEDIA_TIMEOUT", 1)]
_CAUSES, _CAUSE_W = zip(*_CAUSE_WEIGHTS, strict=True)


@dataclass(frozen=True)
class TeniosData:
    seed: int = 42
    legs_per_day: int = 300
    late_fraction: float = 0.03
    call_before_midnight: bool = False


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def served_stamp(text: str, form: str) -> str:
    """A record's stamp (`..Z`, as day_legs stores it) as the simulator serves it in `form`."""
    if form == "z":
        return text
    local = datetime.fromisoformat(text).astimezone(SWITCH_ZONE)
    if form == "offset":
        return local.isoformat(timespec="milliseconds")
    wall = local.replace(tzinfo=None)
    if form == "naive-fraction":
        return wall.isoformat(sep=" ", timespec="milliseconds")
    return wall.isoformat(sep="T" if form == "naive-t" else " ", timespec="seconds")


def _served(record: dict, form: str) -> dict:
    if form == "z":
        return record
    return {**record, **{name: served_stamp(record[name], form)
                         for name in ("start_stamp", "answer_stamp", "end_stamp") if record[name]}}


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


def _caller(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return "+49" + rng.choice(["151", "160", "170", "176"]) + str(rng.randrange(10**6, 10**8))
    return "+49" + rng.choice(["30", "40", "89", "221", "69", "711"]) + str(rng.randrange(10**5, 10**8))


def _leg(rng, call_type, start, ring_s, talk_s, caller, destination, cause, cost_per_min, source) -> dict:
    answered = talk_s > 0
    answer = start + timedelta(seconds=ring_s) if answered else None
    end = start + timedelta(seconds=ring_s + talk_s)
    cost = round(talk_s / 60 * cost_per_min, 4) if answered else 0.0
    return {
        "uuid": _uuid(rng),
        "call_type": call_type,
        "start_stamp": _stamp(start),
        "answer_stamp": _stamp(answer) if answer else None,
        "end_stamp": _stamp(end),
        "duration": ring_s + talk_s,
        "billusec": talk_s * 1_000_000 if answered else 0,
        "bleg_uuid": None,
        "main_leg_uuid": None,
        "callerid_name": None,
        "callerid_number": caller,
        "destination_number": destination,
        "hangup_cause": "NORMAL_CLEARING" if answered else cause,
        "prepaid": False,
        "cost": cost,
        "source_type": source,
        "routing_status": None,
        "billing_status": None,
    }


@lru_cache(maxsize=64)
def day_legs(data: TeniosData, account: str, day: date) -> tuple[tuple[datetime, datetime, dict], ...]:
    """All legs of `day` as (start, visible_at, record), sorted by start then uuid."""
    digest = hashlib.sha256(f"{data.seed}|{account}|{day.isoformat()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    legs: list[tuple[datetime, datetime, dict]] = []
    target = max(0, int(data.legs_per_day * rng.uniform(0.9, 1.1)))
    boundary = (MIDNIGHT, BEFORE_MIDNIGHT) if data.call_before_midnight else (MIDNIGHT,)
    calls = 0
    while len(legs) < target:
        # Office-hours shaped arrival: most calls 07:00-19:00 UTC.
        second = int(rng.triangular(0, 86_400, 43_200)) if rng.random() < 0.85 else rng.randrange(86_400)
        start = midnight + timedelta(seconds=second, milliseconds=rng.randrange(1000))
        if calls < len(boundary):
            start = midnight + boundary[calls]
        calls += 1
        source = "MOBILE" if rng.random() < 0.35 else "FIXED_LINE"
        if rng.random() < 0.03:
            pages = rng.randrange(1, 6)
            fax = _leg(rng, "FAXOUT", start, rng.randrange(3, 15), 20 * pages, "+4930901820",
                       "+49" + str(rng.randrange(10**8, 10**10)), "NORMAL_CLEARING", 0.019, "FIXED_LINE")
            call = [fax]
        else:
            cause = rng.choices(_CAUSES, _CAUSE_W)[0]
            ring = rng.randrange(0, 25)
            talk = int(rng.expovariate(1 / 150)) + 1 if cause == "NORMAL_CLEARING" else 0
            inbound_type = "WEBRTCINBOUND" if rng.random() < 0.05 else "INBOUND"
            caller = _caller(rng)
            service = rng.choice(_SERVICE_NUMBERS)
            inbound = _leg(rng, inbound_type, start, ring, talk, caller, service, cause, 0.0, source)
            call = [inbound]
            if talk and rng.random() < 0.6:
                forward_type = rng.choice(["FORWARD", "FORWARD", "SIPFORWARD_USER", "SIPFORWARD_PRFL"])
                attempts = 2 if rng.random() < 0.2 else 1
                offset = 1
                for attempt in range(attempts):
                    last = attempt == attempts - 1
                    leg_talk = talk if last else 0
                    leg_cause = "NORMAL_CLEARING" if last else "NO_ANSWER"
                    forwarded = forward_type == "FORWARD"
                    destination = ("+49" + rng.choice(["30", "40", "89"]) + str(rng.randrange(10**6, 10**8))
                                   if forwarded else f"sip:agent{rng.randrange(1, 40)}@pbx.example")
                    leg = _leg(rng, forward_type, start + timedelta(seconds=offset), ring if last else 15,
                               leg_talk, caller, destination, leg_cause, 0.012 if forwarded else 0.0,
                               source)
                    leg["main_leg_uuid"] = inbound["uuid"]
                    if forward_type != "FORWARD":
                        leg["callerid_name"] = f"Kunde {rng.randrange(100, 999)}"
                    call.append(leg)
                    offset += 16
                inbound["bleg_uuid"] = call[-1]["uuid"]
        for record in call:
            end = datetime.fromisoformat(record["end_stamp"])
            lag = timedelta(hours=rng.uniform(2, 30)) if rng.random() < data.late_fraction else timedelta(
                seconds=rng.uniform(5, 120))
            legs.append((datetime.fromisoformat(record["start_stamp"]), end + lag, record))
    legs.sort(key=lambda item: (item[0], item[2]["uuid"]))
    return tuple(legs)


def _error(code: str, message: str, fields: list[str] | None = None, success: bool | None = None) -> Response:
    """The real API's error answer: HTTP 400 with the code, a message and the offending fields."""
    body: dict[str, object] = {"error_code": code, "error_message": message, "fields": fields or []}
    if success is not None:
        body["success"] = success
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")


def build_simulator(access_keys: dict[str, str], data: TeniosData = TeniosData(),
                    state: SimState | None = None, stamp_form: str = "z"):
    """A Starlette app; `access_keys` maps each valid key to the account it opens; `stamp_form`
    (one of STAMP_FORMS) how it writes time stamps until POST /_sim/stamp_form changes it."""
    state = state or SimState()
    if stamp_form not in STAMP_FORMS:
        raise ValueError(f"stamp_form {stamp_form!r}: expected one of {', '.join(STAMP_FORMS)}")
    served = {"form": stamp_form}

    async def read(request: Request, paged: bool):
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None, _error("INVALID_JSON", "The request body is not valid JSON")
        if not isinstance(payload, dict):
            return None, _error("INVALID_JSON", "The request body is not a JSON object")
        key = payload.get("access_key")
        account = access_keys.get(key) if isinstance(key, str) else None  # a list key: refused, not a crash
        if account is None:
            return None, _error("BAD_CREDENTIALS", "Invalid access key", success=False)
        wanted = ["start_date_from", "start_date_to", *(("page", "page_size") if paged else ())]
        missing = [name for name in wanted if payload.get(name) is None]
        if missing:
            return None, _error("INVALID_FIELD", "Required fields are missing", missing)
        try:
            start = timestamp("tenios", payload["start_date_from"], "start_date_from", required=True)
            end = timestamp("tenios", payload["start_date_to"], "start_date_to", required=True)
        except ParseError as exc:  # the simulator answers like the API: a 400 naming the field
            return None, _error("INVALID_VALUE", exc.reason, [exc.field or "start_date_from"])
        if end < start:
            return None, _error("INVALID_VALUE", "start_date_to is before start_date_from", ["start_date_to"])
        page = page_size = None
        if paged:
            page, page_size = payload["page"], payload["page_size"]
            bad = [name for name, value in (("page", page), ("page_size", page_size))
                   if not isinstance(value, int) or isinstance(value, bool) or value < 1]
            if bad:
                return None, _error("INVALID_VALUE", "page and page_size are integers from 1", bad)
            page_size = min(page_size, MAX_PAGE_SIZE)
        return (account, start, end, page, page_size), None

    def visible(account: str, start: datetime, end: datetime) -> list[dict]:
        now = state.now()
        records = []
        day = start.date()
        while day <= end.date():
            for leg_start, visible_at, record in day_legs(data, account, day):
                # "started after" start_date_from: strictly after; start_date_to inclusive
                if start < leg_start <= end and visible_at <= now:
                    records.append(record)
            day += timedelta(days=1)
        return records

    async def retrieve(request: Request) -> Response:
        parsed, error = await read(request, paged=True)
        if error:
            return error
        account, start, end, page, page_size = parsed
        records = visible(account, start, end)
        offset = (page - 1) * page_size
        fault = request.scope.get("sim_fault")
        if fault is not None and fault.kind == "shift" and page > 1:
            offset += 1  # a record before this page vanished meanwhile: one record slips past the client
        items = records[offset: offset + page_size]
        if fault is not None and fault.kind == "duplicate" and page > 1:
            items = records[offset - 1: offset + page_size - 1]
        total = len(records)
        if fault is not None and fault.kind == "empty":
            items, total = [], 0  # a well-formed "no CDRs" answer for a day that has some
        form = served["form"]
        body = {"items": [_served(record, form) for record in items], "total_items": total, "page": page,
                "page_size": page_size}
        return Response(orjson.dumps(body), media_type="application/json")

    async def count(request: Request) -> Response:
        parsed, error = await read(request, paged=False)
        if error:
            return error
        account, start, end, _, _ = parsed
        if end - start > COUNT_LIMIT:
            return _error("INVALID_VALUE", "The interval can be max. 1 day",
                          ["start_date_from", "start_date_to"])
        return Response(orjson.dumps({"total_items": len(visible(account, start, end))}),
                        media_type="application/json")

    def rate_limited() -> Response:
        response = _error("RATE_LIMIT_EXCEEDED", "Too many requests")
        response.status_code = 429
        response.headers["Retry-After"] = "1"
        return response

    async def switch_stamp_form(request: Request) -> Response:
        form = (orjson.loads(await request.body() or b"{}") or {}).get("form", "z")
        if form not in STAMP_FORMS:
            return Response(f"form: one of {', '.join(STAMP_FORMS)}", status_code=400)
        served["form"] = form
        return Response(orjson.dumps(served), media_type="application/json")

    routes = [Route("/cdrs/retrieve", retrieve, methods=["POST"]),
              Route("/cdrs/count", count, methods=["POST"]),
              Route("/_sim/stamp_form", switch_stamp_form, methods=["POST"])]
    app = build_app(routes, state, rate_limited)
    return app
