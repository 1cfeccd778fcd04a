"""MIXvoip HTTP client: GET /cdrs/getcalls/$PROFILE_ID/$START_DATE/$END_DATE[/$FORMAT] per profile.

Credentials travel as the `username`/`password` query parameters, as documented. They never
leave this object: request_params hold the profile and dates only, httpx's request logging is
silenced (pipelines.providers.base), errors are raised without the URL, and any error text the
server sends back is scrubbed of both values before it is quoted.

Readings chosen where the docs are silent (NOTES.md section 2):
- The base URL is not documented [Q]: MIXVOIP_BASE_URL is required.
- Dates are `YYYY-MM-DD` in the provider's zone (MIXVOIP_TIMEZONE) [I]; inclusivity is unknown
  [Q], so a window asks from its first local date to the day after its last one. The parser
  keeps only the records that start inside the window; the neighbour windows load the rest.
- A window longer than `chunk_days` (default 31, at most 85: "well under" the 3-month cap) is
  split into chunks that share their boundary date; a record fetched twice that way gets the
  same key and is merged once. START < END is checked before every request.
- One request per profile per chunk, each its own raw page: page numbers run 1, 2, … in profile
  then chunk order, so a re-fetch of the window gives each page the same number.
- With the END_DATE reading known (`end_date` inclusive or exclusive) a window is asked date by
  date instead, on a grid of dates that does not depend on the window (day_requests), and the
  client keeps the answers of the window it fetched last: the next day's window, which needs
  one of the same local dates, reuses that answer as its page rather than asking again. A run
  over consecutive days (the raw asset's loop, a backfill) so fetches each record once; a day
  fetched on its own asks its own dates, as before.
- JSON by default; `fmt="csv"` asks for CSV. The segment's case is `format_case` [Q]: the current
  docs write `csv`/`json` (the default, `lower`), the old DokuWiki page `CSV` (`upper`).
  `legacy_urls=True` leaves out the segment for JSON, the old page's default format; the old
  page's form is therefore `legacy_urls=True, format_case="upper"`.
- Errors: HTTP 401/403 and an error envelope `{"return": {"code": 401|403, …}}` (shape of the
  sibling /invoices API [I]; the getcalls error body is undocumented) are auth errors, never
  retried; 400/422 request errors; 429/5xx retried. A 200 body that is not the parser's idea of
  a getcalls answer (parse.json_records: HTML, truncated JSON, `{}`, that envelope with code 200,
  i.e. a getBillingData answer, any other object) is retried as a bad response and then fails
  the window: it is never taken for a day without records.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from datetime import date, timedelta, tzinfo
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import orjson

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
    RetryPolicy,
    Window,
    call_with_retries,
    page_of,
    raise_for_status,
    receive,
)
from pipelines.providers.mixvoip.parse import json_records, loads_lenient
from pipelines.providers.mixvoip.settings import (
    DATE_FORMAT,
    DEFAULT_CHUNK_DAYS,
    DEFAULT_END_DATE,
    DEFAULT_FORMAT,
    DEFAULT_FORMAT_CASE,
    DEFAULT_TIMEZONE,
    END_DATE_READINGS,
    FORMAT_CASES,
    FORMATS,
    GETCALLS_PATH,
    MAX_CHUNK_DAYS,
    PROVIDER,
    MixvoipSettings,
)

log = logging.getLogger(__name__)
_PROFILE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CSV_ROW = re.compile(rb"^\s*['\"]?[A-Za-z][A-Za-z0-9_]*['\"]?\s*,")
# A body's lines one at a time, never split into a list (a day's CSV is 100k lines): the
# separators are those of bytes.splitlines(); the empty pieces between \r and \n are blank lines,
# which the check skips anyway.
_LINE = re.compile(rb"[^\r\n]+")


def parse_profiles(value: str | list[str]) -> list[str]:
    """A comma-separated list (or a list) of profile ids, each checked to be a safe path segment."""
    items = value.split(",") if isinstance(value, str) else list(value)
    profiles = [p.strip() for p in items if p and p.strip()]
    if not profiles:
        raise ProviderRequestError(PROVIDER, "no profile ids configured (MIXVOIP_PROFILE_IDS)")
    for profile in profiles:
        if not _PROFILE.match(profile):
            raise ProviderRequestError(PROVIDER,
                                       f"profile id {profile[:20]!r} is not a plain customer number")
    return list(dict.fromkeys(profiles))


def date_chunks(window: Window, tz: tzinfo, chunk_days: int = DEFAULT_CHUNK_DAYS) -> list[tuple[date, date]]:
    """(START_DATE, END_DATE) pairs covering `window` in local dates, each START < END and at
    most `chunk_days` apart; consecutive chunks share their boundary date."""
    start, end = window
    if end <= start:
        raise ProviderRequestError(PROVIDER, "window end is not after its start", window=window)
    if not 1 <= chunk_days <= MAX_CHUNK_DAYS:
        raise ValueError(f"chunk_days must be 1..{MAX_CHUNK_DAYS} (the API caps an interval at 3 months)")
    first = start.astimezone(tz).date()
    stop = (end - timedelta(microseconds=1)).astimezone(tz).date() + timedelta(days=1)
    chunks = []
    while True:
        chunk_end = min(first + timedelta(days=chunk_days), stop)
        chunks.append((first, chunk_end))
        if chunk_end >= stop:
            return chunks
        first = chunk_end


def day_requests(window: Window, tz: tzinfo, end_date: str) -> list[tuple[date, date]]:
    """(START_DATE, END_DATE) pairs whose answers hold every local date of `window`, for a known
    END_DATE reading: START..START+1 answers one date (exclusive) or two (inclusive, so only
    every other date starts one, counted from 0001-01-01 so that neighbouring windows agree)."""
    start, end = window
    if end <= start:
        raise ProviderRequestError(PROVIDER, "window end is not after its start", window=window)
    step = 2 if end_date == "inclusive" else 1
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    day = first - timedelta(days=first.toordinal() % step)
    pairs = []
    while day <= last:
        pairs.append((day, day + timedelta(days=1)))
        day += timedelta(days=step)
    return pairs


class MixvoipClient(HttpProviderClient):
    provider = PROVIDER

    def __init__(self, username: str, password: str, *, account: str, profiles: str | list[str],
                 base_url: str, fmt: str = DEFAULT_FORMAT, format_case: str = DEFAULT_FORMAT_CASE,
                 legacy_urls: bool = False,
                 chunk_days: int = DEFAULT_CHUNK_DAYS, end_date: str = DEFAULT_END_DATE,
                 tz: tzinfo | None = None, timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, transport=None):
        if not username or not password:
            raise ProviderAuthError(PROVIDER,
                                    "no credentials configured (MIXVOIP_USERNAME, MIXVOIP_PASSWORD)")
        if not base_url:
            raise ProviderRequestError(PROVIDER,
                                       "no base URL configured (MIXVOIP_BASE_URL); the docs give none")
        fmt = fmt.strip().lower()
        if fmt not in FORMATS:
            raise ProviderRequestError(PROVIDER, f"format must be one of {FORMATS}, got {fmt!r}")
        if format_case not in FORMAT_CASES:
            raise ProviderRequestError(PROVIDER,
                                       f"format_case must be one of {FORMAT_CASES}, got {format_case!r}")
        if not 1 <= chunk_days <= MAX_CHUNK_DAYS:
            raise ProviderRequestError(PROVIDER, f"chunk_days must be 1..{MAX_CHUNK_DAYS}, got {chunk_days}")
        self.account = account
        self.profiles = parse_profiles(profiles)
        self.format = fmt
        segment = fmt.upper() if format_case == "upper" else fmt
        self._segment = "" if legacy_urls and fmt == "json" else segment
        if end_date not in END_DATE_READINGS:
            raise ProviderRequestError(PROVIDER,
                                       f"end_date must be one of {END_DATE_READINGS}, got {end_date!r}")
        self._chunk_days = chunk_days
        self._end_date = end_date
        # the answers to the last window's requests, by (profile, START_DATE, END_DATE): the next
        # day's window asks some of the same dates (a known END_DATE reading only)
        self._answers: dict[tuple[str, date, date], FetchedPage] = {}
        self._tz = tz or ZoneInfo(DEFAULT_TIMEZONE)
        self._secrets = (username, password, quote(username, safe=""), quote(password, safe=""))
        self._credentials = {"username": username, "password": password}
        self._retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    def path(self, profile: str, start: date, end: date) -> str:
        if not start < end:  # the API's own rule, enforced before asking
            raise ProviderRequestError(PROVIDER, f"START_DATE {start} is not before END_DATE {end}")
        parts = [GETCALLS_PATH, quote(profile, safe=""), start.strftime(DATE_FORMAT),
                 end.strftime(DATE_FORMAT)]
        return "/".join(parts + ([self._segment] if self._segment else []))

    def _check(self, response: Answer, window: Window, profile: str) -> int:
        """Accept a records body and return its record count, or raise the typed error."""
        body = response.content
        head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        document = None
        if head in (b"[", b"{"):
            try:
                document = loads_lenient(body)
            except orjson.JSONDecodeError:
                document = None
        envelope = document.get("return") if isinstance(document, dict) else None
        code = envelope.get("code") if isinstance(envelope, dict) else None
        # PHP may send the code as a number or as digits in a string
        number = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
        if (number is not None and number >= 400) or response.status_code >= 400:
            message = str(envelope.get("message") or "") if isinstance(envelope, dict) else ""
            detail = self._scrub(f"profile {profile}: {message or 'request failed'}")
            status = number if number is not None and number >= 400 else response.status_code
            if status in (401, 403):
                raise ProviderAuthError(PROVIDER, f"credentials or profile link refused: {detail}",
                                        window=window, status=response.status_code,
                                        code=None if code is None else str(code))
            if status == 429 or status >= 500:
                raise ProviderUnavailableError(PROVIDER, detail, window=window, status=response.status_code,
                                               code=None if code is None else str(code))
            if status >= 400:
                raise_for_status(PROVIDER, window, response, detail)
                raise ProviderRequestError(PROVIDER, f"error envelope: {detail}", window=window,
                                           status=response.status_code, code=str(code))
        if head in (b"[", b"{"):
            if document is None:
                raise ProviderResponseError(PROVIDER, f"profile {profile}: body is not JSON (truncated?)",
                                            window=window, status=response.status_code)
            try:
                return len(json_records(document))  # the parser's reading: what it refuses, we refuse
            except ParseError as exc:
                raise ProviderResponseError(PROVIDER, self._scrub(f"profile {profile}: {exc.reason}"),
                                            window=window, status=response.status_code) from None
        lines = (line for match in _LINE.finditer(body) if (line := match.group()).strip())
        first = next(lines, None)
        if first is not None and not _CSV_ROW.match(first.lstrip(b"\xef\xbb\xbf")):
            raise ProviderResponseError(PROVIDER, f"profile {profile}: body is neither JSON nor CSV rows"
                                        f" ({response.headers.get('content-type', 'no content type')})",
                                        window=window, status=response.status_code)
        return (first is not None and _CSV_ROW.match(first) is not None) + sum(
            1 for line in lines if _CSV_ROW.match(line))

    def fetch_window(self, window: Window) -> Iterator[FetchedPage]:
        """One page per profile per date chunk of the window (END_DATE reading unknown), or per
        profile per request of day_requests, the last window's answers reused (reading known)."""
        page = 0
        if self._end_date == "unknown":
            chunks = date_chunks(window, self._tz, self._chunk_days)
        else:
            chunks = day_requests(window, self._tz, self._end_date)
        answers = {}
        for profile in self.profiles:
            for start, end in chunks:
                page += 1
                key = (profile, start, end)
                answer = self._answers.get(key)
                if answer is None:
                    answer = self._fetch(window, profile, start, end)
                answers[key] = answer
                yield answer._replace(page=page)
        if self._end_date != "unknown":
            self._answers = answers  # what a later window can still share: this one's dates

    def _fetch(self, window: Window, profile: str, start: date, end: date) -> FetchedPage:
        """One getcalls answer, checked; its page number is set by the window it is served in."""
        path = self.path(profile, start, end)

        def send() -> Answer:
            return receive(self._http, "GET", path, params=self._credentials)

        def check(response: Answer) -> tuple[Answer, int]:
            return response, self._check(response, window, profile)

        response, records = call_with_retries(PROVIDER, window, self._retry, send, check, log=log)
        params = {"profile_id": profile, "start_date": start.isoformat(), "end_date": end.isoformat(),
                  "format": self.format}
        return page_of(response, path, params, 0, records)

    def provider_count(self, window: Window) -> int | None:
        """getcalls has no count endpoint."""
        return None


def open_client(settings: MixvoipSettings, credentials: Mapping[str, str],
                pacing: Pacing | None = None) -> MixvoipClient:
    """A client for one account; `pacing` is not used: MIXvoip requests are not paced."""
    return MixvoipClient(credentials["username"], credentials["password"], account=settings.account,
                         profiles=list(settings.profile_ids), base_url=settings.base_url, fmt=settings.format,
                         format_case=settings.format_case,
                         legacy_urls=settings.legacy_urls, chunk_days=settings.chunk_days,
                         end_date=settings.end_date,
                         tz=settings.parse_settings().tz, timeout_s=settings.http.timeout_s,
                         retry=settings.http.retry_policy())
