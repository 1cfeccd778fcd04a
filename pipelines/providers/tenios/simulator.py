"""A TENIOS API on loopback: /cdrs/retrieve and /cdrs/count as documented, deterministic CDRs.

Data: for each (seed, account, UTC day) a fixed set of calls. An inbound PSTN or WebRTC leg is
often forwarded (FORWARD, SIPFORWARD_USER, SIPFORWARD_PRFL); a forwarded leg carries the
inbound leg's uuid in `main_leg_uuid` and the inbound leg points at the answering leg with
`bleg_uuid`. Some faxes go out on their own. Every leg becomes visible some time after it ends
(seconds for most, hours for a few), measured on the simulator's clock: a day fetched early
lacks its late legs, which appear on a later fetch.

Behaviour the docs state or imply: the access key in the JSON body (401 with an `error_code`
body when wrong), 1-based pages, `total_items`/`page`/`page_size` in every answer, dates as
ISO-8601 UTC (the doc's `:000` colon variant is accepted too), /cdrs/count limited to one day.
"""
from __future__ import annotations

import hashlib
import random
import uuid as uuidlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.errors import ParseError
from pipelines.providers.common import timestamp
from pipelines.simulation import SimState, build_app

MAX_PAGE_SIZE = 1000
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


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
    while len(legs) < target:
        # Office-hours shaped arrival: most calls 07:00-19:00 UTC.
        second = int(rng.triangular(0, 86_400, 43_200)) if rng.random() < 0.85 else rng.randrange(86_400)
        start = midnight + timedelta(seconds=second, milliseconds=rng.randrange(1000))
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


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    body: dict[str, str | list[str]] = {"error_code": code, "error_message": message}
    if fields:
        body["fields"] = fields
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def build_simulator(access_keys: dict[str, str], data: TeniosData = TeniosData(),
                    state: SimState | None = None):
    """A Starlette app; `access_keys` maps each valid key to the account it opens."""
    state = state or SimState()

    async def read(request: Request, paged: bool):
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None, _error(400, "INVALID_REQUEST", "body is not JSON")
        if not isinstance(payload, dict):
            return None, _error(400, "INVALID_REQUEST", "body is not a JSON object")
        key = payload.get("access_key")
        account = access_keys.get(key) if isinstance(key, str) else None  # a list key: 401, not a crash
        if account is None:
            return None, _error(401, "INVALID_ACCESS_KEY", "The access key is invalid")
        try:
            start = timestamp("tenios", payload.get("start_date_from"), "start_date_from", required=True)
            end = timestamp("tenios", payload.get("start_date_to"), "start_date_to", required=True)
        except ParseError as exc:  # the simulator answers like the API: a 400 naming the field
            return None, _error(400, "INVALID_REQUEST", str(exc), [exc.field or "start_date"])
        if end < start:
            return None, _error(400, "INVALID_REQUEST", "start_date_to is before start_date_from",
                                ["start_date_to"])
        page = page_size = None
        if paged:
            page, page_size = payload.get("page"), payload.get("page_size")
            if not isinstance(page, int) or page < 1:
                return None, _error(400, "INVALID_REQUEST", "page must be an integer from 1", ["page"])
            if not isinstance(page_size, int) or page_size < 1:
                return None, _error(400, "INVALID_REQUEST", "page_size must be a positive integer",
                                    ["page_size"])
            page_size = min(page_size, MAX_PAGE_SIZE)
        return (account, start, end, page, page_size), None

    def visible(account: str, start: datetime, end: datetime) -> list[dict]:
        now = state.now()
        records = []
        day = start.date()
        while day <= end.date():
            for leg_start, visible_at, record in day_legs(data, account, day):
                if start <= leg_start <= end and visible_at <= now:
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
        body = {"items": items, "total_items": total, "page": page, "page_size": page_size}
        return Response(orjson.dumps(body), media_type="application/json")

    async def count(request: Request) -> Response:
        parsed, error = await read(request, paged=False)
        if error:
            return error
        account, start, end, _, _ = parsed
        if end - start > timedelta(days=1):
            return _error(400, "INVALID_REQUEST", "The interval can be max. 1 day", ["start_date_to"])
        return Response(orjson.dumps({"total_items": len(visible(account, start, end))}),
                        media_type="application/json")

    def rate_limited() -> Response:
        response = _error(429, "RATE_LIMIT_EXCEEDED", "Too many requests")
        response.headers["Retry-After"] = "1"
        return response

    routes = [Route("/cdrs/retrieve", retrieve, methods=["POST"]),
              Route("/cdrs/count", count, methods=["POST"])]
    app = build_app(routes, state, rate_limited)
    return app
