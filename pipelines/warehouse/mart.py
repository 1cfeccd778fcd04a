"""The BI mart (schema `mart`, sql/migrations/012_mart.sql), kept current after each load.

`refresh_mart` is what the `mart` asset runs for a range of UTC days: the accounts' settings into
mart.dim_account, the local dates into mart.dim_date, then the KPIs of every account whose calls a
refresh recomputed (cdr.stale_day, target 'mart'), by whole local dates of the account's reporting
zone (sql/mart/refresh_kpis.sql). `enrich_new_numbers` is what the `number_dimension` asset runs
before it: the new numbers of those days into the number dimension. Two assets, because the
enrichment costs what the numbers cost (about 25 us each in phonenumbers) and the KPIs need none
of it: a day of mostly new numbers delays the dimension, never the KPIs.

The number dimension is enriched with `phonenumbers` here, once per distinct number and never on
the load path (pipelines/numbers.py says why the library is too slow per leg): the warehouse
picks out the numbers it has not seen (sql/mart/new_numbers.sql, set-based), Python enriches only
those, and they go back with COPY. The date dimension is filled from `holidays` the same way.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
import psycopg
from phonenumbers import PhoneNumberType, geocoder

from pipelines.model import Window
from pipelines.sql import run_script, sql_file
from pipelines.warehouse.aggregates import refresh_stale_marks

# The numbers read and COPYed per round trip: large enough that the round trips do not matter,
# small enough that one batch's rows stay a few MB.
BATCH = 10_000

# phonenumbers' types folded into the dimension's seven. FIXED_LINE_OR_MOBILE (e.g. the US, where
# the ranges do not tell) is `unknown` rather than a guess; pager, UAN, personal and voicemail
# numbers are rare in these CDRs and have no BI meaning of their own.
_TYPES: dict[int, str] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
}

# The provider countries whose public holidays dim_date flags: NL, LU, DE, DK, in the column order
# of mart.dim_date. Germany's are the nationwide ones only (no subdivision given).
HOLIDAY_COUNTRIES = ("NL", "LU", "DE", "DK")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class NumberRow(NamedTuple):
    """A row of mart.dim_number, in the COPY column order."""
    number: str
    e164: str | None
    country_iso: str | None
    country_name: str | None
    number_type: str
    region: str | None
    country_code: int | None


class AccountRow(NamedTuple):
    """A row of mart.dim_account as the accounts file gives it, in the COPY column order."""
    provider: str
    account: str
    customer: str | None
    account_name: str
    customer_name: str | None
    time_zone: str
    holiday_country: str | None
    peak_start_hour: int
    peak_end_hour: int


class DateRow(NamedTuple):
    """A row of mart.dim_date, in the table's column order."""
    date: date
    year: int
    quarter: int
    month: int
    iso_year: int
    iso_week: int
    iso_weekday: int
    weekday_name: str
    is_weekend: bool
    is_holiday_nl: bool
    is_holiday_lu: bool
    is_holiday_de: bool
    is_holiday_dk: bool


_COPY_NUMBERS = f"COPY mart_number_stage ({', '.join(NumberRow._fields)}) FROM STDIN"
_COPY_DATES = f"COPY mart_date_stage ({', '.join(DateRow._fields)}) FROM STDIN"
_COPY_ACCOUNTS = f"COPY mart_account_stage ({', '.join(AccountRow._fields)}) FROM STDIN"


def enrich_number(number: str) -> NumberRow:
    """What phonenumbers says about `number`, as stored.

    Only international numbers (`+...`) are parsed: the load path already rewrote every number it
    could place to E.164, so what is left without `+` (extensions such as `204`, short service
    numbers, `anonymous`) has no country to find and is kept as it is, type unknown.
    """
    if not number.startswith("+"):
        return NumberRow(number, None, None, None, "unknown", None, None)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return NumberRow(number, None, None, None, "unknown", None, None)
    region_code = phonenumbers.region_code_for_number(parsed)
    # "001" is the library's region for non-geographic codes (+800, +808, +870, ...): no country.
    country_iso = region_code if region_code and region_code != "001" else None
    country_name = _country_name(parsed, country_iso) if country_iso else None
    # The type is UNKNOWN exactly when the number is not valid (the library's own definition), so
    # one call answers both; is_valid_number would match the number against the ranges again.
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        # A +49 number too short or long for any German range: the country is still the country
        # code's, but its type and E.164 form would be a guess.
        return NumberRow(number, None, country_iso, country_name, "unknown", None, parsed.country_code)
    region = None
    # country_code is always set on a parsed number; the stubs type it Optional.
    if parsed.country_code and phonenumbers.is_number_type_geographical(kind, parsed.country_code):
        # For a geographic number the description is its area (Berlin); where the library knows no
        # finer area it repeats the country name, which is not a region.
        description = geocoder.description_for_valid_number(parsed, "en")
        region = description if description and description != country_name else None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return NumberRow(number, e164, country_iso, country_name, _TYPES.get(kind, "unknown"), region,
                     parsed.country_code)


# Country names by ISO code, as the geocoder gives them: looked up once per country, since the
# geocoder matches the number against every region of a shared country code (+1, +44) each time.
_COUNTRY_NAMES: dict[str, str] = {}


def _country_name(parsed: phonenumbers.PhoneNumber, country_iso: str) -> str | None:
    name = _COUNTRY_NAMES.get(country_iso)
    if name is None:
        name = geocoder.country_name_for_number(parsed, "en")
        if name:
            _COUNTRY_NAMES[country_iso] = name
    return name or None


def _batches(cursor: psycopg.Cursor, size: int) -> Iterator[list[str]]:
    while rows := cursor.fetchmany(size):
        yield [number for (number,) in rows]


def enrich_new_numbers(conn: psycopg.Connection, window: Window | None = None, batch: int = BATCH) -> int:
    """Add to the number dimension every number of the call legs (those starting in `window`;
    None: all) it does not have yet; return how many.

    Incremental: a number already in the dimension is neither read back nor enriched again, so a
    run after a day's load costs the new numbers only. One transaction: the named (server-side)
    cursor streams the new numbers while the batches go in, and nothing half-done is committed.
    """
    added = 0
    bounds = {"from": window[0] if window else None, "to": window[1] if window else None}
    with conn.transaction():
        run_script(conn, "mart/stage_numbers.sql")
        with conn.cursor(name="mart_new_numbers") as numbers:
            numbers.execute(sql_file("mart/new_numbers.sql"), bounds)
            for numbers_batch in _batches(numbers, batch):
                with conn.cursor() as cur, cur.copy(_COPY_NUMBERS) as copy:
                    for number in numbers_batch:
                        copy.write_row(enrich_number(number))
                run_script(conn, "mart/insert_numbers.sql")
                added += len(numbers_batch)
    return added


def date_rows(first: date, last: date) -> Iterator[DateRow]:
    """The dim_date rows from `first` to `last`, both included."""
    years = range(first.year, last.year + 1)
    calendars = [holidays.country_holidays(country, years=years) for country in HOLIDAY_COUNTRIES]
    day = first
    while day <= last:
        iso = day.isocalendar()
        nl, lu, de, dk = (day in calendar for calendar in calendars)
        yield DateRow(day, day.year, (day.month - 1) // 3 + 1, day.month, iso.year, iso.week, iso.weekday,
                      _WEEKDAYS[iso.weekday - 1], iso.weekday >= 6, nl, lu, de, dk)
        day += timedelta(days=1)


def fill_dates(conn: psycopg.Connection, first: date, last: date) -> int:
    """Insert or refresh the dim_date rows from `first` to `last`; return how many.

    Idempotent: running it again over an overlapping range rewrites the same rows (and picks up a
    holiday a newer `holidays` release added), never duplicates them.
    """
    if last < first:
        raise ValueError(f"fill_dates: last ({last}) is before first ({first})")
    return _upsert_dates(conn, date_rows(first, last))


def _upsert_dates(conn: psycopg.Connection, rows: Iterable[DateRow]) -> int:
    count = 0
    with conn.transaction():
        run_script(conn, "mart/stage_dates.sql")
        with conn.cursor() as cur, cur.copy(_COPY_DATES) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        run_script(conn, "mart/upsert_dates.sql")
    return count


def sync_accounts(conn: psycopg.Connection, accounts: Iterable[AccountRow]) -> list[tuple[str, str, Window]]:
    """Bring mart.dim_account in line with the accounts file (`accounts`: its rows, the accounts'
    own and their named customers'). An account whose reporting zone changed has every date of
    its KPIs marked for recomputation (local dates move with the zone); those accounts are
    returned as (provider, account, the span of their calls). Accounts no longer configured keep
    their rows (their calls are still in the warehouse)."""
    with conn.transaction():
        run_script(conn, "mart/stage_accounts.sql")
        with conn.cursor() as cur, cur.copy(_COPY_ACCOUNTS) as copy:
            for row in accounts:
                copy.write_row(row)
        run_script(conn, "mart/sync_accounts.sql")
        if conn.execute(sql_file("mart/count_rezoned.sql")).fetchone() == (0,):
            return []
        run_script(conn, "mart/rezone_accounts.sql")
        rezoned = conn.execute(sql_file("mart/rezoned_accounts.sql")).fetchall()
    return [(provider, account, (first, last + timedelta(microseconds=1)))
            for provider, account, first, last in rezoned]


def local_dates(window: Window, zones: Iterable[str]) -> tuple[date, date]:
    """The first and last local date `window` touches in any of `zones` (and in UTC)."""
    start, end = window[0].astimezone(UTC), window[1].astimezone(UTC) - timedelta(microseconds=1)
    firsts = [start.date()] + [start.astimezone(ZoneInfo(zone)).date() for zone in zones]
    lasts = [end.date()] + [end.astimezone(ZoneInfo(zone)).date() for zone in zones]
    return min(firsts), max(lasts)


def refresh_mart(conn: psycopg.Connection, window: Window, accounts: Sequence[AccountRow],
                 full: bool = False) -> list[tuple[str, str, date]]:
    """Bring the mart up to date for the UTC days of `window` (`accounts`: mart.dim_account's rows
    from the accounts file); return the (provider, account, UTC day) marks whose KPIs were
    recomputed. `full` recomputes every account's days in the window."""
    rezoned = sync_accounts(conn, accounts)
    zones = {row.time_zone for row in accounts}
    _fill_dates_once(conn, *local_dates(window, zones), full)
    marks = refresh_stale_marks(conn, "mart", window, full=full)
    # A re-zoned account's KPIs move on every date it has, not only in this run's range.
    for provider, account, calls in rezoned:
        whole = (_day_start(calls[0]), _day_start(calls[1]) + timedelta(days=1))
        _fill_dates_once(conn, *local_dates(whole, zones), full)
        marks += refresh_stale_marks(conn, "mart", whole, provider=provider, account=account)
    return marks


def _fill_dates_once(conn: psycopg.Connection, first: date, last: date, full: bool) -> None:
    """fill_dates where mart.dim_date lacks a date of the range, or `full`: a date's row is written
    once, since building the holiday calendars costs more than a day's KPIs; a full refresh writes
    them all again (and so picks up a newer `holidays` release)."""
    present = conn.execute(sql_file("mart/count_dates.sql"), {"first": first, "last": last}).fetchone()
    if full or present != ((last - first).days + 1,):
        fill_dates(conn, first, last)


def _day_start(moment: datetime) -> datetime:
    """The start of the UTC day of `moment`."""
    return datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)
