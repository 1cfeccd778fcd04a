"""The raw landing table: every response body as received, and which pages make up a window."""
from __future__ import annotations

import gzip
from collections.abc import Iterator

import orjson
import psycopg

from pipelines.errors import WindowInconsistentError
from pipelines.model import FetchedPage, RawPage, Window
from pipelines.providers.base import digest
from pipelines.sql import sql_file
from pipelines.warehouse.locks import lock_window


def store_page(conn: psycopg.Connection, provider: str, account: str, window: Window,
               fetched: FetchedPage) -> int:
    """Land one body; a byte-identical re-fetch of the same page returns the existing row's id."""
    stored = fetched.digest or digest(fetched.body)
    key = {"provider": provider, "account": account, "endpoint": fetched.endpoint, "start": window[0],
           "end": window[1], "page": fetched.page, "sha256": stored.sha256}
    row = conn.execute(sql_file("raw/store_page.sql"), {
        **key, "request_params": orjson.dumps(fetched.request_params).decode(),
        "http_status": fetched.http_status, "content_type": fetched.content_type, "bytes": stored.size,
        "gzip": stored.gzip}).fetchone()
    if row is None:
        row = conn.execute(sql_file("raw/find_page.sql"), key).fetchone()
    assert row is not None  # inserted, or there already
    return row[0]


def record_window_fetch(conn: psycopg.Connection, provider: str, account: str, window: Window,
                        raw_ids: list[int], records: int, provider_count: int | None) -> None:
    conn.execute(sql_file("raw/record_window_fetch.sql"), {
        "provider": provider, "account": account, "start": window[0], "end": window[1], "ids": raw_ids,
        "pages": len(raw_ids), "records": records, "provider_count": provider_count})


def land_window(connect, client, provider: str, window: Window,
                attempts: int = 3, log=None) -> tuple[list[int], int, int | None]:
    """Fetch one window and land its pages, all in one transaction: either the whole window's
    latest fetch is committed, or nothing is.

    A window whose pages contradict each other or the provider's own count (WindowInconsistentError:
    records shifting between pages, a page empty too early, an empty answer for a day the count
    says has calls) is fetched again from its first page, up to `attempts` times.
    Returns (raw ids, records in the bodies, the provider's own count or None).
    """
    for attempt in range(1, attempts + 1):
        try:
            with connect() as conn, conn.transaction():
                lock_window(conn, provider, client.account, window)
                raw_ids, records = [], 0
                for fetched in client.fetch_window(window):
                    raw_ids.append(store_page(conn, provider, client.account, window, fetched))
                    records += fetched.records
                    # not bound to the loop variable while the next page arrives: one body at a time
                    del fetched
                provider_count = client.provider_count(window)
                if provider_count is not None and provider_count != records:
                    raise WindowInconsistentError(
                        provider,
                        f"the pages hold {records} records but the provider counts {provider_count}",
                        window=window)
                record_window_fetch(conn, provider, client.account, window, raw_ids, records, provider_count)
            return raw_ids, records, provider_count
        except WindowInconsistentError as exc:
            if attempt == attempts:
                raise WindowInconsistentError(
                    provider, f"still inconsistent after {attempts} fetches: {exc.detail}",
                    window=window) from None
            if log is not None:
                log.warning(f"{exc}; fetching the window again ({attempt}/{attempts})")
    raise AssertionError("unreachable")


def window_page_ids(conn: psycopg.Connection, provider: str, account: str, window: Window) -> list[int]:
    """The raw pages of the latest complete fetch of `window`, in page order ([] if never fetched)."""
    row = conn.execute(sql_file("raw/window_page_ids.sql"),
                       {"provider": provider, "account": account, "start": window[0],
                        "end": window[1]}).fetchone()
    return [] if row is None else list(row[0])


def pages_by_id(conn: psycopg.Connection, raw_ids: list[int], window: Window) -> Iterator[RawPage]:
    """The bodies of `raw_ids`, one in memory at a time.

    Use a connection other than the one loading: a COPY cannot run beside an open cursor.
    """
    for raw_id in raw_ids:
        row = conn.execute(sql_file("raw/page_body.sql"), {"id": raw_id}).fetchone()
        if row is None:
            raise LookupError(f"raw response {raw_id} is listed by a window fetch but not stored")
        page, content_type, body, request_params = row
        yield RawPage(raw_id, page, gzip.decompress(body), content_type, request_params, window)


def window_pages(conn: psycopg.Connection, provider: str, account: str, window: Window) -> Iterator[RawPage]:
    """The pages of the latest complete fetch of `window`, one body in memory at a time."""
    yield from pages_by_id(conn, window_page_ids(conn, provider, account, window), window)
