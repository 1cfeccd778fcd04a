"""What every provider offers the shared pipeline, and the HTTP plumbing they share."""
from __future__ import annotations

import hashlib
import io
import logging
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from pipelines.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from pipelines.model import BodyDigest, FetchedPage, Window

# httpx logs every request URL at INFO; some providers carry credentials in the query string.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)
_QUERY_VALUE = re.compile(r"(?<=[?&])([^=&#\s\"']+)=[^&#\s\"']*")


class RedactQueryValues(logging.Filter):
    """Every query-string value in a log record becomes `***`.

    MIXvoip's password, Belfabriek's customer hash and Telecom X's token travel in the query
    string, and httpx logs each request URL at INFO. The level above keeps that quiet by default;
    this filter keeps it safe when a deployment turns the HTTP loggers up to debug something.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_VALUE.sub(r"\1=***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# Logger filters see only records logged to that very logger, so each of httpx's and httpcore's.
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
              "httpcore.proxy"):
    logging.getLogger(_name).addFilter(RedactQueryValues())

# gzip at level 1 with mtime 0, as gzip.compress(body, compresslevel=1, mtime=0) writes it (zlib
# writes the gzip header and trailer itself with wbits 31).
GZIP_LEVEL, GZIP_WBITS = 1, 31


class BodySink:
    """A body as its chunks arrive: kept, hashed and gzip-compressed chunk by chunk, so landing it
    needs neither another pass over it nor another copy of it.

    The body grows in a BytesIO, whose getvalue() hands over its buffer instead of copying it: a
    body is in memory once, not once as chunks and again joined. The gzip stream is digest()'s
    byte for byte (deflate's output does not depend on how its input was cut), so a re-fetch of
    an unchanged body stores the same bytes as ever.
    """

    def __init__(self) -> None:
        self._body = io.BytesIO()
        self._sha256 = hashlib.sha256()
        self._deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
        self._gzip: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self._body.write(chunk)
        self._sha256.update(chunk)
        if compressed := self._deflate.compress(chunk):
            self._gzip.append(compressed)

    def finish(self) -> tuple[bytes, BodyDigest]:
        self._gzip.append(self._deflate.flush())
        body = self._body.getvalue()
        self._body = io.BytesIO()  # getvalue() shared its buffer: release it from this side
        return body, BodyDigest(self._sha256.digest(), len(body), b"".join(self._gzip))


def digest(body: bytes) -> BodyDigest:
    """The BodyDigest of a body already in memory (a page built without BodySink)."""
    return BodyDigest(hashlib.sha256(body).digest(), len(body), zlib.compress(body, GZIP_LEVEL, GZIP_WBITS))


@dataclass(frozen=True, slots=True, eq=False)
class Answer:
    """A response read whole, holding nothing of httpx's.

    An httpx.Response and its stream refer to each other, so a response whose body was read
    lives until the cycle collector runs; bodies are not the allocations that trigger it, and
    dozens of them piled up during a fetch. An Answer is freed as soon as its page is landed.
    `digest` is the body's, computed as it arrived.
    """

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes
    digest: BodyDigest


def receive(http: httpx.Client, method: str, url: str, **request: Any) -> Answer:
    """Send the request (httpx.Client.build_request's arguments) and read its answer as it
    streams in (BodySink), then close the response.

    Transport errors while the body arrives (a reset, a timeout, a truncated body) propagate
    as httpx errors, as they did from a non-streamed send, so call_with_retries retries them.
    """
    response = http.send(http.build_request(method, url, **request), stream=True)
    try:
        sink = BodySink()
        for chunk in response.iter_bytes():
            sink.write(chunk)
        body, body_digest = sink.finish()
    finally:
        response.close()
    return Answer(response.status_code, response.reason_phrase, response.headers, body, body_digest)


def page_of(answer: Answer, endpoint: str, request_params: dict[str, Any], page: int,
            records: int) -> FetchedPage:
    """The FetchedPage of an accepted answer, its digest carried along for the landing."""
    return FetchedPage(endpoint, request_params, page, answer.status_code, answer.headers.get("content-type"),
                       answer.content, records, answer.digest)


class ProviderClient(Protocol):
    provider: str
    account: str

    def fetch_window(self, window: Window) -> Iterator[FetchedPage]: ...

    def provider_count(self, window: Window) -> int | None: ...

    def close(self) -> None: ...


class RequestPacer(Protocol):
    """Spaces one account's requests: `wait()` before each request is sent, `hold(seconds)` when
    the provider said there were too many. A client paces itself alone unless handed one shared
    with every other process on the account (pipelines.warehouse.pacing)."""

    def wait(self) -> None: ...

    def hold(self, seconds: float) -> None: ...


# What the pipeline hands `open_client`: a pacer for this account at a given requests-per-second
# rate. A provider that paces its requests asks it for one; the others ignore it.
Pacing = Callable[[float], RequestPacer]

# Requests leave `PACING_HEADROOM / rate` seconds apart, not `1 / rate`: `rate` requests then span
# 1.1 s, so up to 100 ms of scheduling and network jitter between a request's slot and its arrival
# at the provider cannot put `rate + 1` of them into one second there.
PACING_HEADROOM = 1.1


def pacing_interval(per_second: float) -> float:
    """Seconds between two request starts at `per_second` requests a second, with the headroom."""
    if per_second <= 0:
        raise ValueError("requests_per_second must be positive")
    return PACING_HEADROOM / per_second


class HttpProviderClient:
    """What every provider client shares: one httpx.Client (`self._http`), closed on exit."""

    _http: httpx.Client

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter (AWS architecture blog's advice)."""

    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # how a client waits between attempts; a test hands in one that records the delays
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    _random: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        jittered = self._random.uniform(0, ceiling)
        return max(jittered, min(retry_after or 0.0, self.backoff_max_s))


def _retry_after_seconds(response: Answer | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def call_with_retries(provider: str, window: Window | None, policy: RetryPolicy,
                      send: Callable[[], Answer],
                      check: Callable[[Answer], Any],
                      sleep: Callable[[float], None] | None = None,
                      log: logging.Logger | None = None) -> Any:
    """Send a request until `check` accepts its response, within `policy`.

    `check` returns the decoded result or raises a ProviderError; retryable ones (5xx, 429,
    truncated bodies, provider rate-limit bodies) are retried, the rest propagate at once.
    Transport errors (timeouts, resets) are retried too. Exceptions are raised `from None` so
    that no httpx exception, whose text holds the request URL, is chained into a traceback.
    """
    last: ProviderError | None = None
    for attempt in range(1, policy.max_attempts + 1):
        response = None
        try:
            response = send()
            return check(response)
        except httpx.TransportError as exc:
            last = ProviderUnavailableError(provider, f"{type(exc).__name__} talking to the provider",
                                            window=window)
        except ProviderError as exc:
            if not exc.retryable:
                raise
            last = exc
        if attempt < policy.max_attempts:
            wait = policy.delay(attempt, _retry_after_seconds(response))
            if log is not None:
                log.warning("%s (attempt %d/%d), retrying in %.2fs", last, attempt, policy.max_attempts, wait)
            (sleep or policy.sleep)(wait)
    assert last is not None
    raise type(last)(last.provider, f"gave up after {policy.max_attempts} attempts: {last.detail}",
                     window=window, status=last.status, code=last.code) from None


def raise_for_status(provider: str, window: Window | None, response: Answer,
                     detail: str = "") -> None:
    """Map an HTTP status to the typed errors: 401/403 auth, 429/5xx retryable, other 4xx fatal."""
    status = response.status_code
    if status < 400:
        return
    text = detail or "request failed"
    if status in (401, 403):
        raise ProviderAuthError(provider, f"credentials refused: {text}", window=window, status=status)
    if status == 429 or status >= 500:
        raise ProviderUnavailableError(provider, text, window=window, status=status)
    raise ProviderRequestError(provider, text, window=window, status=status)


def require(provider: str, window: Window | None, condition: bool, message: str) -> None:
    if not condition:
        raise ProviderResponseError(provider, message, window=window)


