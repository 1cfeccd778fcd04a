"""Shared parts of the provider simulators: a loopback HTTP server, a clock, faults, rate limits.

Each provider's simulator.py builds a Starlette app on top of these. The server is uvicorn in a
background thread bound to 127.0.0.1, so tests, the demo and the benchmark talk real HTTP.
Faults and the clock are switched through `/_sim/*` endpoints (or the `SimState` object when
the server runs in the same process), so a test can script a 5xx storm without mocks.

The simulator also measures what clients did to it, for rate-limit tests: the most requests that
arrived within any one second, per account (a provider's `account_of` tells whose a request is,
from its credentials), and the most requests in flight at once; both on GET /_sim/stats.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DATA_FAULTS = frozenset({"shift", "duplicate", "empty"})
# Whose request this is (an ASGI scope in, an account name out), for the per-account rate limit and
# measurements; None: the provider's simulator counts every request together.
AccountOf = Callable[[dict], str | None]


@dataclass
class Fault:
    """One scripted misbehaviour, applied to the next `times` matching requests.

    kind: `status` (answer `status` with `body`), `delay` (sleep `seconds`, then answer normally),
    `truncate` (send half the real body, then drop the connection), `body` (answer 200 with `body`,
    for providers that report errors inside a success), `reset` (drop the connection before
    answering), `rate_limited` (the provider's own rate-limit answer, with HTTP `status`: 429, or
    200 for providers that report it inside a success). Data faults are handed to the provider's
    handler in `scope["sim_fault"]`:
    `shift` (records move one place towards the first page between two page requests),
    `duplicate` (a page repeats the previous page's last record), `empty` (a well-formed answer
    with no records where there are some).
    """

    kind: str
    times: int = 1
    status: int = 503
    seconds: float = 0.0
    body: str = ""
    content_type: str = "application/json"
    path: str | None = None  # only requests whose path starts with this; None: any
    skip: int = 0  # let this many matching requests through first (e.g. to hit page 2)
    headers: dict[str, str] = field(default_factory=dict)  # on a `status` or `body` answer (Retry-After)


@dataclass
class SimState:
    """What a test can change on a running simulator."""

    clock_offset: timedelta = timedelta(0)
    fixed_now: datetime | None = None
    rate_limit_per_s: float | None = None
    faults: deque = field(default_factory=deque)
    requests_served: int = 0
    faults_applied: int = 0
    # measured: per account, the most requests that arrived within one second of each other
    max_per_second: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests being answered at once
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # per account, the arrivals of the last second: for the limit (those let through) and measured
    _recent: defaultdict = field(default_factory=lambda: defaultdict(deque), repr=False)
    _arrivals: defaultdict = field(default_factory=lambda: defaultdict(deque), repr=False)

    def now(self) -> datetime:
        return self.fixed_now if self.fixed_now is not None else datetime.now(UTC) + self.clock_offset

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.faults_applied = 0
            self.clock_offset = timedelta(0)
            self.fixed_now = None
            self.rate_limit_per_s = None
            self._recent.clear()
            self._arrivals.clear()
            self.max_per_second.clear()
            self.max_in_flight = 0

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            self.requests_served += 1
            for fault in self.faults:
                if fault.path is None or path.startswith(fault.path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    self.faults_applied += 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def arrived(self, account: str) -> None:
        """Measure a request's arrival: the most arrivals of `account` within any one second (each
        less than a second after the first of them). Kept as a running maximum, not a log."""
        with self._lock:
            now = time.monotonic()
            recent = self._arrivals[account]
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            recent.append(now)
            self.max_per_second[account] = max(self.max_per_second.get(account, 0), len(recent))

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def over_rate_limit(self, account: str = "") -> bool:
        """Sliding one-second window per account: True when this request is one too many."""
        if not self.rate_limit_per_s:
            return False
        with self._lock:
            now = time.monotonic()
            recent = self._recent[account]
            while recent and now - recent[0] > 1.0:
                recent.popleft()
            if len(recent) >= self.rate_limit_per_s:
                return True
            recent.append(now)
            return False


class FaultMiddleware:
    """ASGI middleware that applies the next scripted fault before the provider's handler runs."""

    def __init__(self, app, state: SimState, rate_limited_response, account_of: AccountOf | None = None):
        self.app = app
        self.state = state
        self.rate_limited_response = rate_limited_response
        self.account_of = account_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        account = (self.account_of(scope) if self.account_of else None) or ""
        self.state.arrived(account)
        self.state.started()
        try:
            await self._answer(scope, receive, send, account)
        finally:
            self.state.finished()

    async def _answer(self, scope, receive, send, account: str):
        fault = self.state.take_fault(scope["path"])
        if fault is None and self.state.over_rate_limit(account):
            await self.rate_limited_response()(scope, receive, send)
            return
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        elif fault.kind == "status":
            answer = Response(fault.body, status_code=fault.status, media_type=fault.content_type,
                              headers=fault.headers)
            await answer(scope, receive, send)
        elif fault.kind == "body":
            await Response(fault.body, status_code=200, media_type=fault.content_type,
                           headers=fault.headers)(scope, receive, send)
        elif fault.kind == "truncate":
            await self._truncated(scope, receive, send)
        elif fault.kind == "rate_limited":
            response = self.rate_limited_response()
            response.status_code = fault.status
            await response(scope, receive, send)
        elif fault.kind == "reset":
            raise ConnectionResetError("simulated connection reset")
        elif fault.kind in DATA_FAULTS:
            await self.app({**scope, "sim_fault": fault}, receive, send)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    async def _truncated(self, scope, receive, send):
        messages = []

        async def capture(message):
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        await send(start)  # keeps the real Content-Length, so the client sees the body cut short
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise ConnectionResetError("simulated truncated body")


def admin_routes(state: SimState) -> list[Route]:
    async def faults(request: Request):
        payload = await request.json()
        for item in payload if isinstance(payload, list) else [payload]:
            state.inject(Fault(**item))
        return JSONResponse({"queued": len(state.faults)})

    async def clock(request: Request):
        payload = await request.json()
        if payload.get("now"):
            state.fixed_now = datetime.fromisoformat(payload["now"]).astimezone(UTC)
        else:
            state.fixed_now = None
        state.clock_offset = timedelta(seconds=float(payload.get("offset_s", 0)))
        return JSONResponse({"now": state.now().isoformat()})

    async def rate_limit(request: Request):
        payload = await request.json()
        state.rate_limit_per_s = payload.get("per_second")
        return JSONResponse({"per_second": state.rate_limit_per_s})

    async def stats(request: Request):
        return JSONResponse({"requests_served": state.requests_served, "faults_applied": state.faults_applied,
                             "faults_queued": len(state.faults),
                             "max_requests_per_second": dict(state.max_per_second),
                             "max_in_flight": state.max_in_flight})

    async def reset(request: Request):
        state.reset()
        return JSONResponse({"reset": True})

    return [
        Route("/_sim/faults", faults, methods=["POST"]),
        Route("/_sim/clock", clock, methods=["POST"]),
        Route("/_sim/rate_limit", rate_limit, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/stats", stats, methods=["GET"]),
    ]


def build_app(routes: list[Route], state: SimState, rate_limited_response,
              account_of: AccountOf | None = None) -> Starlette:
    """The provider's routes behind the fault middleware, plus /_sim/*. `account_of` makes the
    rate limit and the per-second measurement per account (a provider whose limit is per login)."""
    app = Starlette(routes=[*routes, *admin_routes(state)])
    app.add_middleware(FaultMiddleware, state=state, rate_limited_response=rate_limited_response,
                       account_of=account_of)
    app.state.sim = state  # for tests that run the simulator in their own process
    return app


class SimulatorServer:
    """Serve an ASGI app on 127.0.0.1 (a free port unless given) from a daemon thread."""

    def __init__(self, app, port: int = 0, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("simulators only listen on loopback")
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = host, self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"simulator:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> SimulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
