"""Belfabriek HTTP client: GET the statistics path (setting `statistics_path`, default /statistics/)
once per UTC day (once per day and service number when a list of service numbers is configured),
paced to a configurable request rate.

Pacing: every request waits for its slot from a `RequestPacer`. The pipeline hands `open_client`
one shared through PostgreSQL with every process on the same account (pipelines.warehouse.pacing),
so two runs together stay within the account's rate; without one (a client on its own, the bench)
the in-process `Pacer` below paces this client alone.

The customer hash travels in the query string. It is left out of everything this client returns
(FetchedPage.request_params, hence cdr.raw_response), logs or raises: error messages never quote
the URL, httpx's request logging is silenced in providers/base.py, and any provider text that
echoes the hash is masked.

Window: the partition [start, end) goes out as start_timestamp = start and end_timestamp = end in
epoch seconds, both always sent (without them the API answers only the last five minutes).
Inclusivity is undocumented [Q]: if the API includes its end second, a call starting exactly at
midnight arrives in both days' bodies, and its content-hash leg key makes it one row.

Errors come as <ERROR>/<MESSAGE> bodies, whatever the HTTP status:
  1 (invalid hash and/or user)      ProviderAuthError, never retried
  2, 3, 4 (invalid start/end/period) the typed ProviderRequestErrors below, never retried
  5 (too many requests/second)      retried with backoff; no request for RATE_LIMIT_HOLD_S after it
A body that is not a statistics document (malformed, truncated, wrong root) is retried as a
ProviderResponseError, then fails the run: an unreadable body never lands as "no calls".
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import httpx

from pipelines.errors import (
    ParseError,
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from pipelines.providers.base import (
    Answer,
    FetchedPage,
    HttpProviderClient,
    Pacing,
    RequestPacer,
    RetryPolicy,
    Window,
    call_with_retries,
    pacing_interval,
    page_of,
    raise_for_status,
    receive,
)
from pipelines.providers.belfabriek.parse import BodySummary, ErrorBody, summarize
from pipelines.providers.belfabriek.settings import (
    CUSTOMER_HASH_LENGTH,
    DEFAULT_REQUESTS_PER_SECOND,
    PROVIDER,
    RATE_LIMIT_HOLD_S,
    SERVICE_NUMBER,
    STATISTICS_PATH,
    BelfabriekSettings,
)

log = logging.getLogger(__name__)


class InvalidStartTimestamp(ProviderRequestError):
    """Error 2: the API refused start_timestamp."""


class InvalidEndTimestamp(ProviderRequestError):
    """Error 3: the API refused end_timestamp."""


class InvalidPeriod(ProviderRequestError):
    """Error 4: start_timestamp is greater than end_timestamp."""


_REQUEST_ERRORS: dict[str, type[ProviderRequestError]] = {
    "2": InvalidStartTimestamp,
    "3": InvalidEndTimestamp,
    "4": InvalidPeriod,
}


def international_service_number(value: str) -> str:
    """A service number as the API wants it (international, no + or 00), or ProviderRequestError.

    The API answers an invalid number with every number's statistics instead of an error, so a
    typo would load the whole account under a filter that looks applied.
    """
    text = str(value).strip().replace(" ", "")
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not SERVICE_NUMBER.fullmatch(text):
        raise ProviderRequestError(PROVIDER, f"service number {value!r} is not in international format"
                                             " (country code first, e.g. 318001234567)")
    return text


def window_params(window: Window) -> dict[str, int]:
    """The window as whole epoch seconds: start rounded down, end rounded up (never narrower)."""
    start, end = window
    if end <= start:
        raise ProviderRequestError(PROVIDER, "the window is empty or reversed", window=window)
    return {"start_timestamp": math.floor(start.timestamp()), "end_timestamp": math.ceil(end.timestamp())}


class Pacer:
    """At most `per_second` request starts a second (with base.PACING_HEADROOM), and a pause after
    the provider's error 5, for this client alone: a RequestPacer kept in this process."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = pacing_interval(per_second)
        self._clock, self._sleep = clock, sleep
        self._next = -math.inf

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._clock()  # woken late, the next request is later too (as in DatabasePacer)
        self._next = now + self.interval

    def hold(self, seconds: float) -> None:
        self._next = max(self._next, self._clock() + seconds)


class BelfabriekClient(HttpProviderClient):
    provider = PROVIDER

    def __init__(self, customer_hash: str, *, customer_id: str, account: str, base_url: str,
                 statistics_path: str = STATISTICS_PATH, service_numbers: Iterable[str] = (),
                 extension_display: bool = True,
                 requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND, timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, transport=None, pacer: RequestPacer | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if not customer_hash:
            raise ProviderAuthError(PROVIDER, "no customer hash configured (BELFABRIEK_CUSTOMER_HASH)")
        if len(customer_hash) != CUSTOMER_HASH_LENGTH or not customer_hash.isalnum():
            raise ProviderAuthError(
                PROVIDER, f"the customer hash is not the documented {CUSTOMER_HASH_LENGTH} letters and digits"
                          " (BELFABRIEK_CUSTOMER_HASH)")
        if not str(customer_id).strip():
            raise ProviderAuthError(PROVIDER, "no customer id configured (BELFABRIEK_CUSTOMER_ID)")
        self.account = account
        self._hash = customer_hash
        self._path = statistics_path
        self._customer_id = str(customer_id).strip()
        self._service_numbers = list(dict.fromkeys(international_service_number(n) for n in service_numbers))
        self._extension_display = extension_display
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        # the pacer given (shared with other processes), else one for this client alone
        self._pacer: RequestPacer = Pacer(requests_per_second, clock, sleep) if pacer is None else pacer
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers={"Accept": "application/xml, text/xml"})

    def _mask(self, text: str | None) -> str:
        return (text or "").replace(self._hash, "***")

    def _send(self, params: dict) -> Answer:
        self._pacer.wait()
        try:
            return receive(self._http, "GET", self._path, params={"customer_hash": self._hash, **params})
        except (httpx.DecodingError, httpx.TooManyRedirects) as exc:
            # Not transport errors, so call_with_retries would let them through with the URL in the
            # traceback; raised `from None` as a provider error instead.
            raise ProviderResponseError(PROVIDER, f"{type(exc).__name__} reading the response") from None

    def _check(self, response: Answer, window: Window) -> BodySummary:
        status = response.status_code
        try:
            summary, problem = summarize(response.content), None
        except ParseError as exc:
            summary, problem = None, exc
        if summary is not None and summary.error is not None:
            raise self._error(summary.error, status, window)
        raise_for_status(PROVIDER, window, response, response.reason_phrase or "request failed")
        if problem is not None:
            reason = self._mask(problem.reason)
            raise ProviderResponseError(PROVIDER, f"body is not a statistics document: {reason}",
                                        window=window, status=status)
        assert summary is not None  # summarize() either returned it or raised (problem above)
        return summary

    def _error(self, error: ErrorBody, status: int, window: Window) -> Exception:
        code = (error.code or "").strip()
        message = self._mask(error.message) or "no message"
        if code == "1":
            return ProviderAuthError(PROVIDER, f"customer hash and/or id refused: {message}", window=window,
                                     status=status, code=code)
        if code == "5":
            self._pacer.hold(RATE_LIMIT_HOLD_S)
            return ProviderUnavailableError(PROVIDER, f"rate limited: {message}", window=window,
                                            status=status, code=code)
        kind = _REQUEST_ERRORS.get(code, ProviderRequestError)
        return kind(PROVIDER, f"request refused: {message}", window=window, status=status, code=code or None)

    def _get(self, params: dict, window: Window) -> tuple[Answer, BodySummary]:
        def send() -> Answer:
            return self._send(params)

        def check(response: Answer) -> tuple[Answer, BodySummary]:
            return response, self._check(response, window)

        return call_with_retries(PROVIDER, window, self._retry, send, check, sleep=self._sleep, log=log)

    def fetch_window(self, window: Window) -> Iterator[FetchedPage]:
        """One body per window, or one per configured service number (page = its place in the list)."""
        params = {"customer_id": self._customer_id, **window_params(window)}
        if self._extension_display:
            params["extension_display"] = 1
        for page, number in enumerate(self._service_numbers or [None], start=1):
            request = {**params, "servicenumber": number} if number else dict(params)
            response, summary = self._get(request, window)
            log.info("belfabriek %s page %d: %d records", request, page, summary.records)
            yield page_of(response, self._path, request, page, summary.records)
            del response  # not held while the next service number's body arrives

    def provider_count(self, window: Window) -> int | None:
        """Belfabriek has no count endpoint."""
        return None


def open_client(settings: BelfabriekSettings, credentials: Mapping[str, str],
                pacing: Pacing | None = None) -> BelfabriekClient:
    """A client for one account, paced by `pacing` (shared across processes) when given."""
    pacer = pacing(settings.requests_per_second) if pacing is not None else None
    return BelfabriekClient(credentials["customer_hash"], customer_id=settings.customer_id,
                            account=settings.account, base_url=settings.base_url,
                            statistics_path=settings.statistics_path,
                            service_numbers=settings.service_numbers,
                            extension_display=settings.extension_display,
                            requests_per_second=settings.requests_per_second, pacer=pacer,
                            timeout_s=settings.http.timeout_s, retry=settings.http.retry_policy())
