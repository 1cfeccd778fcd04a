"""Telecom X HTTP client: POST /pbx/cdrstats per customer and fetch window.

Authentication (NOTES.md section 4):
- A machine-to-machine token (TELECOMX_TOKEN, created with POST /employee/ID/token) is used as it
  is; it is assumed not to expire [I], so a 401 `expired` on it is fatal.
- Otherwise username/password: POST /auth/login once, lazily; its token lasts 15 minutes, so a
  401 `expired` (or `credentials_invalid`, "login required") on a data request logs in again and
  retries that request once. /auth/logout is never called: it kills every token of the user,
  including other integrations'.
- The token travels as the `token` query parameter [C: every wiki example]. It never appears in
  request_params, log lines or exception messages (error bodies are masked too).

Errors: 401 `invalid_token` (token bound to another IP), 403 `blacklisted` and 403
`access_denied` are fatal ProviderAuthErrors saying what to do; 422 `from`, `format`,
`groupingInterval` are ProviderRequestErrors carrying the field as `code`; 5xx and transport
errors are retried by `call_with_retries`. The error body's shape is undocumented [Q]: the code is
read from `error`, `code` or `message` of a JSON object, or from a plain-text body. A success
whose body is not a cdrstats answer (parse.stats_records: `{}`, an error object, the login
answer, another endpoint's calls or paging wrapper, HTML) fails the window with a
ProviderResponseError, never taken for a window without calls.

Requests: explicit `from`/`to` in ISO UTC with milliseconds (`to` inclusive, the window's end minus
1 ms; for WEEK/MONTH groupings the whole periods the window touches), direction BOTH, every field
named explicitly, format JSON (CSV and EXCEL layouts are undocumented [Q]). A window whose interval
keys would be ambiguous is refused before anything is sent (AmbiguousWindowError).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import httpx
import orjson

from pipelines.errors import ParseError, ProviderAuthError, ProviderRequestError, ProviderResponseError
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
from pipelines.providers.telecomx.parse import interval_starts, request_bounds, stats_records
from pipelines.providers.telecomx.settings import (
    ACCESS_DENIED,
    BLACKLISTED,
    CREDENTIALS_INVALID,
    DEFAULT_GROUPING,
    ERROR_CODES,
    EXPIRED,
    INVALID_TOKEN,
    LOGIN_PATH,
    PROVIDER,
    REQUEST_FIELD_ERRORS,
    REQUEST_FIELDS,
    STATS_PATH,
    TelecomXSettings,
)

log = logging.getLogger(__name__)


class SessionExpired(ProviderAuthError):
    """401 expired / credentials_invalid on a data request: a password login may log in again."""


def format_date(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def error_code(response: Answer) -> tuple[str | None, str]:
    """(documented error token or None, readable detail) of an error response."""
    try:
        document = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        document = response.content[:200].decode("utf-8", "replace").strip()
    if isinstance(document, dict):
        values = [str(document[k]) for k in ("error", "code", "message", "description") if document.get(k)]
    else:
        values = [str(document)] if document else []
    code = next((v for v in values if v in ERROR_CODES), None)
    return code, " / ".join(dict.fromkeys(values))[:300]


class TelecomXClient(HttpProviderClient):
    provider = PROVIDER

    def __init__(self, *, account: str, base_url: str, token: str = "", username: str = "",
                 password: str = "", customers: Sequence[str] = (), grouping: str = DEFAULT_GROUPING,
                 grouping_tz: str = "UTC", week_scheme: str = "iso", ignore_below: int | None = None,
                 ignore_local: bool | None = None, employees: Sequence[str] = (), timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, transport=None):
        if not token and not (username and password):
            raise ProviderAuthError(PROVIDER, "no credentials configured: set TELECOMX_TOKEN"
                                              " (machine-to-machine token), or TELECOMX_USERNAME and"
                                              " TELECOMX_PASSWORD")
        self.account = account
        self._m2m = bool(token)
        self._token: str | None = token or None
        self._login_body = orjson.dumps({"username": username, "password": password}) if not token else b""
        self._customers: list[str | None] = list(customers) or [None]
        self._grouping, self._grouping_tz, self._week_scheme = grouping, grouping_tz, week_scheme
        self._options = {k: v for k, v in (("ignoreBelow", ignore_below), ("ignoreLocal", ignore_local),
                                           ("employees", list(employees) or None)) if v is not None}
        self._retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers={"Content-Type": "application/json"})
        self.logins = 0
        moment = datetime.now(UTC)
        interval_starts(moment, moment, grouping, grouping_tz, week_scheme)  # refuses bad settings now

    def _mask(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _check(self, response: Answer, window: Window | None, what: str) -> Answer:
        if response.status_code < 400:
            if response.content[:1] == b"{" and b'"error"' in response.content[:200]:
                # Undocumented, but a proxy or the API may report a failure (a rate limit) inside a
                # success: never land it as data. Retried like a broken body, then the run fails.
                _, detail = error_code(response)
                raise ProviderResponseError(PROVIDER, f"{what}: error body with HTTP {response.status_code}:"
                                            f" {self._mask(detail)}", window=window,
                                            status=response.status_code)
            return response
        code, detail = error_code(response)
        detail, status = self._mask(detail), response.status_code
        if status == 401 and code in (EXPIRED, CREDENTIALS_INVALID) and what != "login":
            raise SessionExpired(PROVIDER, f"{what}: token no longer accepted ({code})"
                                 + ("; the configured TELECOMX_TOKEN has expired or was revoked"
                                    if self._m2m else ""),
                                 window=window, status=status, code=code)
        if status == 401 and code == INVALID_TOKEN:
            raise ProviderAuthError(PROVIDER, f"{what}: token is bound to another IP address"
                                    " (invalid_token); run from the IP address it was issued for",
                                    window=window, status=status, code=code)
        if status == 403 and code == BLACKLISTED:
            raise ProviderAuthError(PROVIDER, f"{what}: this machine's IP address is blacklisted by"
                                    " Telecom X; retrying cannot help, ask Telecom X to lift it",
                                    window=window, status=status, code=code)
        if status == 403 and code == ACCESS_DENIED:
            raise ProviderAuthError(PROVIDER, f"{what}: access denied; the token's employee needs VIEWER,"
                                    " MANAGE or OWNER on the customer (or RESELLER of it)",
                                    window=window, status=status, code=code)
        if status == 422 and code in REQUEST_FIELD_ERRORS:
            raise ProviderRequestError(PROVIDER, f"{what}: request field {code!r} refused: {detail}",
                                       window=window, status=status, code=code)
        if what == "login" and status in (400, 401):
            raise ProviderAuthError(PROVIDER, f"login refused ({detail or status}): check TELECOMX_USERNAME"
                                    " and TELECOMX_PASSWORD (two-factor accounts need a"
                                    " machine-to-machine token)",
                                    status=status, code=code)
        raise_for_status(PROVIDER, window, response, f"{what}: {detail}")
        raise ProviderRequestError(PROVIDER, f"{what}: {detail}", window=window, status=status, code=code)

    def _login(self, window: Window | None) -> None:
        def send() -> Answer:
            return receive(self._http, "POST", LOGIN_PATH, content=self._login_body)

        response = call_with_retries(PROVIDER, window, self._retry, send,
                                     lambda r: self._check(r, window, "login"), log=log)
        try:
            token = orjson.loads(response.content).get("token")
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise ProviderAuthError(PROVIDER, "login answered without a token (two-factor required?)",
                                    window=window)
        self._token = token
        self.logins += 1

    def _post_stats(self, body: bytes, window: Window) -> Answer:
        """One stats request; a password session that expired logs in again and retries once."""
        for attempt in (1, 2):
            if self._token is None:
                self._login(window)

            def send() -> Answer:
                return receive(self._http, "POST", STATS_PATH, params={"token": self._token}, content=body)

            try:
                return call_with_retries(PROVIDER, window, self._retry, send,
                                         lambda r: self._check(r, window, "cdrstats"), log=log)
            except SessionExpired:
                if self._m2m or attempt == 2:
                    raise
                log.info("%s: session token expired, logging in again", PROVIDER)
                self._token = None
        raise AssertionError("unreachable")

    def request_params(self, window: Window, customer: str | None) -> dict:
        """The body of the stats request for `window` (no secret in it: the token is a query param)."""
        first, last = request_bounds(window, self._grouping, self._grouping_tz, self._week_scheme)
        # Refuses an ambiguous window before asking.
        interval_starts(first, last, self._grouping, self._grouping_tz, self._week_scheme)
        return {**({"customer": customer} if customer else {}), "from": format_date(first),
                "to": format_date(last), "direction": "BOTH", "groupingInterval": self._grouping,
                "fields": list(REQUEST_FIELDS), "format": "JSON", **self._options}

    def fetch_window(self, window: Window) -> Iterator[FetchedPage]:
        """One page per configured customer: its employees' counters for the window."""
        for page, customer in enumerate(self._customers, start=1):
            params = self.request_params(window, customer)
            response = self._post_stats(orjson.dumps(params), window)
            try:
                records = stats_records(orjson.loads(response.content))
            except orjson.JSONDecodeError:
                raise ProviderResponseError(PROVIDER, f"cdrstats body for customer {customer or '(own)'}"
                                            " is not JSON (truncated?)", window=window,
                                            status=response.status_code) from None
            except ParseError as exc:  # the parser's reading: what it refuses, the client refuses
                raise ProviderResponseError(PROVIDER, self._mask(f"cdrstats body for customer"
                                                                 f" {customer or '(own)'}: {exc.reason}"),
                                            window=window, status=response.status_code) from None
            yield page_of(response, STATS_PATH, params, page, len(records))

    def provider_count(self, window: Window) -> int | None:
        return None  # cdrstats has no count of its own


def open_client(settings: TelecomXSettings, credentials: Mapping[str, str],
                pacing: Pacing | None = None) -> TelecomXClient:
    """A client for one account; `pacing` is not used: Telecom X requests are not paced."""
    return TelecomXClient(account=settings.account, base_url=settings.base_url,
                          token=credentials.get("token", ""), username=credentials.get("username", ""),
                          password=credentials.get("password", ""), customers=settings.customers,
                          grouping=settings.grouping_interval, grouping_tz=settings.grouping_timezone,
                          week_scheme=settings.week_scheme, ignore_below=settings.ignore_below,
                          ignore_local=settings.ignore_local, employees=settings.employees,
                          timeout_s=settings.http.timeout_s, retry=settings.http.retry_policy())
