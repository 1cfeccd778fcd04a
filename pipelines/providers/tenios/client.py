"""TENIOS HTTP client: POST /cdrs/retrieve page by page, POST /cdrs/count per day.

The access key travels in the JSON body; it is removed from everything this client returns or
raises. Dates go out as `YYYY-MM-DDTHH:MM:SS.000Z` in UTC, never the doc's colon variant.
The window's end is sent as the last millisecond before `end` because the API's inclusivity is
undocumented [Q]: with both bounds inclusive this covers the day exactly, and a record exactly on
the boundary that does show up twice is deduplicated by uuid anyway.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from pipelines.errors import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailableError,
    WindowInconsistentError,
)
from pipelines.providers.base import (
    FetchedPage,
    HttpProviderClient,
    Pacing,
    RetryPolicy,
    Window,
    call_with_retries,
    raise_for_status,
    require,
)
from pipelines.providers.tenios.settings import (
    COUNT_PATH,
    DEFAULT_PAGE_SIZE,
    PROVIDER,
    RETRIEVE_PATH,
    TeniosSettings,
)

log = logging.getLogger(__name__)
_AUTH_CODES = {"INVALID_ACCESS_KEY", "ACCESS_DENIED", "UNAUTHORIZED"}
_RATE_LIMIT_CODES = {"RATE_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS"}


def format_date(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _window_bounds(window: Window) -> dict[str, str]:
    start, end = window
    return {"start_date_from": format_date(start),
            "start_date_to": format_date(end - timedelta(milliseconds=1))}


class TeniosClient(HttpProviderClient):
    provider = PROVIDER

    def __init__(self, access_key: str, *, account: str, base_url: str, page_size: int = DEFAULT_PAGE_SIZE,
                 timeout_s: float = 30.0, retry: RetryPolicy | None = None, transport=None):
        if not access_key:
            raise ProviderAuthError(PROVIDER, "no access key configured (TENIOS_ACCESS_KEY)")
        self.account = account
        self._access_key = access_key
        self._page_size = page_size
        self._retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers={"Content-Type": "application/json"})

    def _post(self, path: str, params: dict, window: Window) -> tuple[httpx.Response, dict]:
        body = orjson.dumps({"access_key": self._access_key, **params})

        def send() -> httpx.Response:
            return self._http.post(path, content=body)

        def check(response: httpx.Response) -> tuple[httpx.Response, dict]:
            document = self._decode(response, window)
            return response, document

        return call_with_retries(PROVIDER, window, self._retry, send, check, log=log)

    def _decode(self, response: httpx.Response, window: Window) -> dict:
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            document = None
        error_code = document.get("error_code") if isinstance(document, dict) else None
        if error_code is not None or response.status_code >= 400:
            message = (str(document.get("error_message") or error_code or "")
                       if isinstance(document, dict) else "")
            fields = document.get("fields") if isinstance(document, dict) else None
            detail = message + (f" (fields: {', '.join(map(str, fields))})" if fields else "")
            detail = detail.replace(self._access_key, "***")
            if str(error_code).upper() in _AUTH_CODES:
                raise ProviderAuthError(PROVIDER, f"access key refused: {detail}", window=window,
                                        status=response.status_code, code=str(error_code))
            if str(error_code).upper() in _RATE_LIMIT_CODES:
                raise ProviderUnavailableError(PROVIDER, f"rate limited: {detail}", window=window,
                                               status=response.status_code, code=str(error_code))
            raise_for_status(PROVIDER, window, response, detail)
            raise ProviderRequestError(PROVIDER, f"error body: {detail}", window=window,
                                       status=response.status_code, code=str(error_code))
        require(PROVIDER, window, isinstance(document, dict),
                "response body is not a JSON object (truncated or not JSON)")
        return document

    def fetch_window(self, window: Window) -> Iterator[FetchedPage]:
        """Every page of the window, 1-based, until total_items records have arrived.

        Paging by offset is only safe if the result set holds still. The client checks that it
        did: the same total on every page, no empty page before the total is reached, and as many
        distinct uuids as the total (a record that moved between pages shows up twice or not at
        all). Otherwise it raises WindowInconsistentError and the window is fetched again.
        """
        bounds = _window_bounds(window)
        page, received, expected_total = 1, 0, None
        seen: set[int] = set()  # hashes of uuids: 8 bytes a record, enough to spot repeats
        while True:
            params = {**bounds, "page": page, "page_size": self._page_size}
            response, document = self._post(RETRIEVE_PATH, params, window)
            items = document.get("items") or []
            total = document.get("total_items")
            require(PROVIDER, window, isinstance(items, list), "field 'items' is not a list")
            require(PROVIDER, window, isinstance(total, int) and total >= 0,
                    f"field 'total_items' is not a count: {total!r:.40}")
            assert isinstance(total, int)  # require() above raised otherwise; narrows it for mypy
            if expected_total is None:
                expected_total = total
            elif total != expected_total:
                raise WindowInconsistentError(
                    PROVIDER, f"total_items changed from {expected_total} to {total} while paging",
                    window=window)
            if not items and received < total:
                raise WindowInconsistentError(
                    PROVIDER, f"page {page} is empty after {received} of {total} records", window=window)
            received += len(items)
            seen.update(hash(item.get("uuid")) if isinstance(item, dict) else hash(repr(item))
                        for item in items)
            yield FetchedPage(RETRIEVE_PATH, params, page, response.status_code,
                              response.headers.get("content-type"), response.content, len(items))
            if not items or received >= total:
                if len(seen) < min(received, total):
                    raise WindowInconsistentError(
                        PROVIDER, f"{received - len(seen)} records repeated across pages (records moved"
                                  f" while paging): {len(seen)} distinct of {total}", window=window)
                return
            if page > total:  # a provider that never stops paging
                raise ProviderResponseError(PROVIDER, f"paging did not end after {page} pages",
                                            window=window)
            page += 1

    def provider_count(self, window: Window) -> int | None:
        """The provider's own count for a window of at most one day (the API's limit)."""
        if window[1] - window[0] > timedelta(days=1):
            raise ValueError("TENIOS /cdrs/count accepts at most one day")
        _, document = self._post(COUNT_PATH, _window_bounds(window), window)
        total = document.get("total_items")
        require(PROVIDER, window, isinstance(total, int),
                f"count 'total_items' is not a count: {total!r:.40}")
        return total


def open_client(settings: TeniosSettings, credentials: Mapping[str, str],
                pacing: Pacing | None = None) -> TeniosClient:
    """A client for one account; `pacing` is not used: TENIOS requests are not paced."""
    return TeniosClient(credentials["access_key"], account=settings.account, base_url=settings.base_url,
                        page_size=settings.page_size, timeout_s=settings.http.timeout_s,
                        retry=settings.http.retry_policy())
