"""TENIOS HTTP client: POST /cdrs/retrieve page by page, POST /cdrs/count per day.

The access key travels in the JSON body; it is removed from everything this client returns or
raises. Dates go out as `YYYY-MM-DDTHH:MM:SS.000Z` in UTC, never the doc's colon variant.

Window bounds. The official examples call start_date_from the time calls "started after": an
exclusive start, which would miss a leg at exactly 00:00:00.000. So a request asks from
`request_start_lead_ms` (default one second) before the window start, and to the last millisecond
before its end (inclusive, as the name `start_date_to` reads). A page may then hold legs of the
previous day: they are stored as fetched, the parser skips them (the previous day's load keeps
them), and this client counts only the window's own legs in each page's `records`. /cdrs/count is
asked for the same bounds, so it counts under the same reading; the legs outside the window that
the pages held are subtracted from it, and the reconciliation compares the window's legs only.

Errors. TENIOS answers a refused request with HTTP 400 and `{"error_code", "error_message",
"fields"}` (sometimes `"success": false`): BAD_CREDENTIALS (a wrong access key) fails at once as
an auth error, never retried; INVALID_VALUE / INVALID_FIELD / INVALID_JSON are request errors
naming the fields. The code and fields, never the key, are in the error.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo

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
    Answer,
    FetchedPage,
    HttpProviderClient,
    Pacing,
    RetryPolicy,
    Window,
    call_with_retries,
    page_of,
    raise_for_status,
    receive,
    require,
)
from pipelines.providers.tenios.parse import leg_start
from pipelines.providers.tenios.settings import (
    COUNT_PATH,
    DEFAULT_PAGE_SIZE,
    DEFAULT_REQUEST_START_LEAD_MS,
    PROVIDER,
    RETRIEVE_PATH,
    TeniosSettings,
)

log = logging.getLogger(__name__)
# BAD_CREDENTIALS is what the API answers; the others are kept from before it was known
_AUTH_CODES = {"BAD_CREDENTIALS", "INVALID_ACCESS_KEY", "ACCESS_DENIED", "UNAUTHORIZED"}
_RATE_LIMIT_CODES = {"RATE_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS"}


def format_date(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def window_bounds(window: Window, lead_ms: int = DEFAULT_REQUEST_START_LEAD_MS) -> dict[str, str]:
    """The request's bounds for `window` (module docstring: from before its start, to its last ms)."""
    start, end = window
    return {"start_date_from": format_date(start - timedelta(milliseconds=lead_ms)),
            "start_date_to": format_date(end - timedelta(milliseconds=1))}


class TeniosClient(HttpProviderClient):
    provider = PROVIDER

    def __init__(self, access_key: str, *, account: str, base_url: str, page_size: int = DEFAULT_PAGE_SIZE,
                 timeout_s: float = 30.0, retry: RetryPolicy | None = None, transport=None,
                 stamp_zone: tzinfo = UTC, start_lead_ms: int = DEFAULT_REQUEST_START_LEAD_MS):
        if not access_key:
            raise ProviderAuthError(PROVIDER, "no access key configured (TENIOS_ACCESS_KEY)")
        self.account = account
        self._access_key = access_key
        self._page_size = page_size
        self._stamp_zone = stamp_zone
        self._start_lead_ms = start_lead_ms
        # per window, the legs outside it that its latest complete fetch held (see provider_count)
        self._outside: dict[Window, int] = {}
        self._retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers={"Content-Type": "application/json"})

    def _post(self, path: str, params: dict, window: Window) -> tuple[Answer, dict]:
        body = orjson.dumps({"access_key": self._access_key, **params})

        def send() -> Answer:
            return receive(self._http, "POST", path, content=body)

        def check(response: Answer) -> tuple[Answer, dict]:
            document = self._decode(response, window)
            return response, document

        return call_with_retries(PROVIDER, window, self._retry, send, check, log=log)

    def _decode(self, response: Answer, window: Window) -> dict:
        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            document = None
        body = document if isinstance(document, dict) else {}
        error_code = body.get("error_code")
        if error_code is not None or body.get("success") is False or response.status_code >= 400:
            self._refuse(response, body, window)
        require(PROVIDER, window, isinstance(document, dict),
                "response body is not a JSON object (truncated or not JSON)")
        return body

    def _refuse(self, response: Answer, body: dict, window: Window) -> None:
        """Raise the typed error for an error answer: its code and fields, never the key."""
        status = response.status_code
        code = None if body.get("error_code") is None else str(body["error_code"])[:80]
        fields = body.get("fields")
        named = [str(field)[:80] for field in fields] if isinstance(fields, list) else []
        detail = str(body.get("error_message") or code or "")[:300]
        detail += f" (fields: {', '.join(named)})" if named else ""
        detail = detail.replace(self._access_key, "***")
        kind = (code or "").upper()
        if kind in _AUTH_CODES:
            raise ProviderAuthError(PROVIDER, f"access key refused: {detail}", window=window,
                                    status=status, code=code)
        if kind in _RATE_LIMIT_CODES:
            raise ProviderUnavailableError(PROVIDER, f"rate limited: {detail}", window=window,
                                           status=status, code=code)
        if code is None:  # no error body: a proxy's 5xx page, a bare 401 (raise_for_status maps them)
            raise_for_status(PROVIDER, window, response, detail)
        if status == 429 or status >= 500:
            raise ProviderUnavailableError(PROVIDER, detail or "request failed", window=window,
                                           status=status, code=code)
        if status in (401, 403):
            raise ProviderAuthError(PROVIDER, f"access key refused: {detail}", window=window,
                                    status=status, code=code)
        raise ProviderRequestError(PROVIDER, f"request refused: {detail or 'an error answer without a code'}",
                                   window=window, status=status, code=code)

    def fetch_window(self, window: Window) -> Iterator[FetchedPage]:
        """Every page of the window, 1-based, until total_items records have arrived.

        Paging by offset is only safe if the result set holds still. The client checks that it
        did: the same total on every page, no empty page before the total is reached, and as many
        distinct uuids as the total (a record that moved between pages shows up twice or not at
        all). Otherwise it raises WindowInconsistentError and the window is fetched again.
        """
        bounds = window_bounds(window, self._start_lead_ms)
        page, received, outside, expected_total = 1, 0, 0, None
        seen: set[int] = set()  # hashes of uuids: 8 bytes a record, enough to spot repeats
        self._outside.pop(window, None)
        while True:
            params = {**bounds, "page": page, "page_size": self._page_size}
            response, document = self._post(RETRIEVE_PATH, params, window)
            # `{}`, a /cdrs/count answer or another endpoint's object is no page of legs
            require(PROVIDER, window, "items" in document, "not a /cdrs/retrieve answer: no 'items'"
                    f" (keys: {', '.join(map(repr, sorted(map(str, document))))[:80]})")
            items = document["items"]
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
            elsewhere = self._outside_window(items, window)
            outside += elsewhere
            last = not items or received >= total
            fetched = page_of(response, RETRIEVE_PATH, params, page, len(items) - elsewhere)
            # Dropped before the page is handed on: neither the decoded page nor the body may still
            # be held here while the landing stores this page and the next one arrives.
            del response, document, items
            yield fetched
            del fetched
            if last:
                if len(seen) < min(received, total):
                    raise WindowInconsistentError(
                        PROVIDER, f"{received - len(seen)} records repeated across pages (records moved"
                                  f" while paging): {len(seen)} distinct of {total}", window=window)
                self._outside[window] = outside
                return
            if page > total:  # a provider that never stops paging
                raise ProviderResponseError(PROVIDER, f"paging did not end after {page} pages",
                                            window=window)
            page += 1

    def _outside_window(self, items: list, window: Window) -> int:
        """How many of `items` started outside `window`, read as the parser reads them (a record
        whose start cannot be read counts as the window's: the parser quarantines it there)."""
        start, end = window
        return sum(1 for item in items
                   if (began := leg_start(item, self._stamp_zone)) is not None and not start <= began < end)

    def provider_count(self, window: Window) -> int | None:
        """The provider's own count of the window's legs, for a window of at most one day (the
        API's limit). It is asked for the same bounds as the pages, so it also counts the legs
        outside the window that those pages held; after a complete fetch of the window they are
        subtracted (module docstring). Without one (a probe), the count is as answered."""
        if window[1] - window[0] > timedelta(days=1):
            raise ValueError("TENIOS /cdrs/count accepts at most one day")
        _, document = self._post(COUNT_PATH, window_bounds(window, self._start_lead_ms), window)
        total = document.get("total_items")
        require(PROVIDER, window, isinstance(total, int) and not isinstance(total, bool),
                f"count 'total_items' is not a count: {total!r:.40}")
        assert isinstance(total, int)
        return total - self._outside.get(window, 0)


def open_client(settings: TeniosSettings, credentials: Mapping[str, str],
                pacing: Pacing | None = None) -> TeniosClient:
    """A client for one account; `pacing` is not used: TENIOS requests are not paced."""
    return TeniosClient(credentials["access_key"], account=settings.account, base_url=settings.base_url,
                        page_size=settings.page_size, timeout_s=settings.http.timeout_s,
                        retry=settings.http.retry_policy(), stamp_zone=settings.parse_settings().zone,
                        start_lead_ms=settings.request_start_lead_ms)
