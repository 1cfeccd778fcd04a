"""The raw landing table: every response body as received, and which pages make up a window."""
from __future__ import annotations

import gzip
import hashlib
from datetime import datetime
from typing import Iterator

import orjson
import psycopg

from pipelines.errors import WindowInconsistentError
from pipelines.model import FetchedPage, RawPage
from pipelines.warehouse.locks import lock_window


def store_page(conn: psycopg.Connection, provider: str, account: str,
               window: tuple[datetime, datetime], fetched: FetchedPage) -> int:
    """Land one body; a byte-identical re-fetch of the same page returns the existing row's id."""
    digest = hashlib.sha256(fetched.body).digest()
    row = conn.execute(
        "INSERT INTO cdr.raw_response (provider, account, endpoint, request_params, window_start,"
        " window_end, page, http_status, content_type, body_sha256, body_bytes, body_gzip)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT ON CONSTRAINT raw_response_page_uq DO NOTHING RETURNING id",
        (provider, account, fetched.endpoint, orjson.dumps(fetched.request_params).decode(),
         window[0], window[1], fetched.page, fetched.http_status, fetched.content_type, digest,
         len(fetched.body), gzip.compress(fetched.body, compresslevel=1, mtime=0)),
    ).fetchone()
    if row is not None:
        return row[0]
    return conn.execute(
        "SELECT id FROM cdr.raw_response WHERE provider = %s AND account = %s AND endpoint = %s"
        " AND window_start = %s AND window_end = %s AND page = %s AND body_sha256 = %s",
        (provider, account, fetched.endpoint, window[0], window[1], fetched.page, digest),
    ).fetchone()[0]


def record_window_fetch(conn: psycopg.Connection, provider: str, account: str,
                        window: tuple[datetime, datetime], raw_ids: list[int], records: int,
                        provider_count: int | None) -> None:
    conn.execute(
        "INSERT INTO cdr.window_fetch AS w (provider, account, window_start, window_end,"
        " raw_response_ids, pages, records, provider_count)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (provider, account, window_start, window_end) DO UPDATE SET"
        " raw_response_ids = EXCLUDED.raw_response_ids, pages = EXCLUDED.pages,"
        " records = EXCLUDED.records, provider_count = EXCLUDED.provider_count, fetched_at = now()",
        (provider, account, window[0], window[1], raw_ids, len(raw_ids), records, provider_count),
    )


def land_window(connect, client, provider: str, window: tuple[datetime, datetime],
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
                provider_count = client.provider_count(window)
                if provider_count is not None and provider_count != records:
                    raise WindowInconsistentError(
                        provider, f"the pages hold {records} records but the provider counts {provider_count}",
                        window=window)
                record_window_fetch(conn, provider, client.account, window, raw_ids, records, provider_count)
            return raw_ids, records, provider_count
        except WindowInconsistentError as exc:
            if attempt == attempts:
                raise WindowInconsistentError(provider, f"still inconsistent after {attempts} fetches: {exc.detail}",
                                              window=window) from None
            if log is not None:
                log.warning(f"{exc}; fetching the window again ({attempt}/{attempts})")
    raise AssertionError("unreachable")


def window_page_ids(conn: psycopg.Connection, provider: str, account: str,
                    window: tuple[datetime, datetime]) -> list[int]:
    """The raw pages of the latest complete fetch of `window`, in page order ([] if never fetched)."""
    row = conn.execute(
        "SELECT raw_response_ids FROM cdr.window_fetch WHERE provider = %s AND account = %s"
        " AND window_start = %s AND window_end = %s",
        (provider, account, window[0], window[1]),
    ).fetchone()
    return [] if row is None else list(row[0])


def pages_by_id(conn: psycopg.Connection, raw_ids: list[int],
                window: tuple[datetime, datetime]) -> Iterator[RawPage]:
    """The bodies of `raw_ids`, one in memory at a time.

    Use a connection other than the one loading: a COPY cannot run beside an open cursor.
    """
    for raw_id in raw_ids:
        page, content_type, body, request_params = conn.execute(
            "SELECT page, content_type, body_gzip, request_params FROM cdr.raw_response WHERE id = %s", (raw_id,)
        ).fetchone()
        yield RawPage(raw_id, page, gzip.decompress(body), content_type, request_params, window)


def window_pages(conn: psycopg.Connection, provider: str, account: str,
                 window: tuple[datetime, datetime]) -> Iterator[RawPage]:
    """The pages of the latest complete fetch of `window`, one body in memory at a time."""
    yield from pages_by_id(conn, window_page_ids(conn, provider, account, window), window)
