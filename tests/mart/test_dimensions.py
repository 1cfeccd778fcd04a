"""The mart's number and date dimensions (issue 16) on a real PostgreSQL: legs are loaded with the
shared load path, then the dimensions are filled from what the warehouse holds."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from pipelines.model import CallLeg
from pipelines.providers.spec import CALL_LEGS
from pipelines.warehouse import mart
from pipelines.warehouse.load import load_window
from tests.conftest import rows, scalar

WINDOW = (datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))


def leg(key: str, caller: str | None, called: str | None, service: str | None, minute: int = 0) -> CallLeg:
    started = WINDOW[0] + timedelta(hours=9, minutes=minute)
    return CallLeg("tenios", "acct", None, key, key, started, started, started + timedelta(minutes=2), 120,
                   120.0, "inbound", caller, called, service, "INBOUND", "answered", "NORMAL_CLEARING",
                   Decimal("0.10"), None, None, None, "{}", None)


def load(url: str, legs: list[CallLeg]) -> None:
    with psycopg.connect(url) as conn:
        load_window(conn, "tenios", "acct", WINDOW, (CALL_LEGS,), legs)


def enrich(url: str) -> int:
    with psycopg.connect(url) as conn:
        return mart.enrich_new_numbers(conn)


def dim_number(url: str) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(
        url, "SELECT number, e164, country_iso, country_name, number_type, region"
             " FROM cdr.number_enrichment")}


@pytest.fixture
def clean_mart(clean_warehouse):
    """clean_warehouse empties schema cdr only; the mart's tables are emptied here."""
    with psycopg.connect(clean_warehouse) as conn:
        conn.execute("TRUNCATE cdr.number_enrichment, mart.dim_date")
    return clean_warehouse


def test_numbers_get_their_country_and_type(clean_mart):
    load(clean_mart, [
        leg("a", "+31612345678", "204", "+493012345678"),      # NL mobile -> an extension, via Berlin
        leg("b", "+80012345678", "+493012345678", None, 1),   # a universal toll-free caller
    ])
    assert enrich(clean_mart) == 4
    numbers = dim_number(clean_mart)
    assert numbers["+31612345678"] == ("+31612345678", "NL", "Netherlands", "mobile", None)
    assert numbers["+493012345678"] == ("+493012345678", "DE", "Germany", "fixed", "Berlin")
    # +800 is non-geographic: a type, but no country
    assert numbers["+80012345678"] == ("+80012345678", None, None, "toll_free", None)
    assert numbers["204"] == (None, None, None, "unknown", None)


def test_a_second_run_enriches_only_the_new_numbers(clean_mart, monkeypatch):
    load(clean_mart, [leg("a", "+31612345678", "204", None)])
    assert enrich(clean_mart) == 2
    first_seen = dict(rows(clean_mart, "SELECT number, enriched_at FROM cdr.number_enrichment"))

    enriched: list[str] = []
    real = mart.enrich_number

    def spy(number: str) -> mart.NumberRow:
        enriched.append(number)
        return real(number)

    monkeypatch.setattr(mart, "enrich_number", spy)
    load(clean_mart, [leg("a", "+31612345678", "204", None),
                      leg("b", "+4533123456", "+31612345678", "+35227123456", 1)])
    assert enrich(clean_mart) == 2
    assert sorted(enriched) == ["+35227123456", "+4533123456"]
    assert enrich(clean_mart) == 0 and len(enriched) == 2
    assert scalar(clean_mart, "SELECT count(*) FROM cdr.number_enrichment") == 4
    # the numbers enriched in the first run were left alone
    assert {n: t for n, t in rows(clean_mart, "SELECT number, enriched_at FROM cdr.number_enrichment")
            if n in first_seen} == first_seen
    # Danish ranges do not tell fixed from mobile (FIXED_LINE_OR_MOBILE): unknown, not a guess
    assert dim_number(clean_mart)["+4533123456"][1:4] == ("DK", "Denmark", "unknown")
    assert dim_number(clean_mart)["+35227123456"][1:4] == ("LU", "Luxembourg", "fixed")


def test_a_number_another_run_adds_meanwhile_keeps_its_row(clean_mart):
    """Two runs enriching the same new number at once: this run picked it while the other's
    insert was not committed, so its COPY into the dimension waits and then fails on the key.
    The batch goes in through the stage instead: the other run's row stays, the rest is added."""
    load(clean_mart, [leg("a", "+31612345678", "+493012345678", None)])
    with psycopg.connect(clean_mart) as other, psycopg.connect(clean_mart) as conn, \
            psycopg.connect(clean_mart, autocommit=True) as watcher, ThreadPoolExecutor(1) as pool:
        other.execute("INSERT INTO cdr.number_enrichment (number, number_type)"
                      " VALUES ('+31612345678', 'voip')")
        running = pool.submit(mart.enrich_new_numbers, conn)
        waiting = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s"
        deadline = time.monotonic() + 30
        while not watcher.execute(waiting, (conn.info.backend_pid,)).fetchone()[0]:
            assert time.monotonic() < deadline and not running.done(), "no wait on the other's row"
            time.sleep(0.02)
        other.commit()
        assert running.result(timeout=30) == 2
        conn.commit()
    numbers = dim_number(clean_mart)
    assert numbers["+31612345678"] == (None, None, None, "voip", None)
    assert numbers["+493012345678"] == ("+493012345678", "DE", "Germany", "fixed", "Berlin")


def test_enrich_number_keeps_what_it_cannot_place():
    assert mart.enrich_number("anonymous") == mart.NumberRow("anonymous", None, None, None, "unknown", None,
                                                             None)
    assert mart.enrich_number("112").number_type == "unknown"
    assert mart.enrich_number("+4930").number_type == "unknown"  # too short for any German range
    assert mart.enrich_number("+4930").country_iso == "DE"


def holidays_on(url: str, day: date) -> tuple:
    return rows(url, "SELECT is_holiday_nl, is_holiday_lu, is_holiday_de, is_holiday_dk FROM mart.dim_date"
                     " WHERE date = %s", (day,))[0]


def test_dim_date_flags_the_holidays_of_each_country(clean_mart):
    with psycopg.connect(clean_mart) as conn:
        assert mart.fill_dates(conn, date(2026, 1, 1), date(2026, 12, 31)) == 365
    assert holidays_on(clean_mart, date(2026, 12, 25)) == (True, True, True, True)
    assert holidays_on(clean_mart, date(2026, 4, 27)) == (True, False, False, False)  # King's Day
    assert holidays_on(clean_mart, date(2026, 4, 28)) == (False, False, False, False)
    assert rows(clean_mart, "SELECT year, quarter, month, iso_year, iso_week, iso_weekday, weekday_name,"
                            " is_weekend FROM mart.dim_date WHERE date = '2026-12-26'") \
        == [(2026, 4, 12, 2026, 52, 6, "Saturday", True)]
    # 2026-01-01 is a Thursday: ISO week 1 of 2026
    assert rows(clean_mart, "SELECT iso_year, iso_week, is_weekend FROM mart.dim_date"
                            " WHERE date = '2026-01-01'") \
        == [(2026, 1, False)]


def test_fill_dates_is_idempotent(clean_mart):
    with psycopg.connect(clean_mart) as conn:
        mart.fill_dates(conn, date(2026, 12, 1), date(2026, 12, 31))
        before = rows(clean_mart, "SELECT * FROM mart.dim_date ORDER BY date")
        # an overlapping range again: the same rows, none twice, and the new ones added
        assert mart.fill_dates(conn, date(2026, 12, 20), date(2027, 1, 10)) == 22
    after = rows(clean_mart, "SELECT * FROM mart.dim_date ORDER BY date")
    assert after[:31] == before and len(after) == 41
    assert after[-1][0] == date(2027, 1, 10)
    with psycopg.connect(clean_mart) as conn, pytest.raises(ValueError, match="before first"):
        mart.fill_dates(conn, date(2026, 2, 1), date(2026, 1, 1))
