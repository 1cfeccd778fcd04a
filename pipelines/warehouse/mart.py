"""The BI schema's dimensions (issue 16): mart.dim_number and mart.dim_date.

The number dimension is enriched with `phonenumbers` here, once per distinct number and never on
the load path (pipelines/numbers.py says why the library is too slow per leg): the warehouse
picks out the numbers it has not seen (sql/mart/new_numbers.sql, set-based), Python enriches only
those, and they go back with COPY. The date dimension is filled from `holidays` the same way.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import NamedTuple

import holidays
import phonenumbers
import psycopg
from phonenumbers import PhoneNumberType, geocoder

from pipelines.sql import run_script, sql_file

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


def enrich_number(number: str) -> NumberRow:
    """What phonenumbers says about `number`, as stored.

    Only international numbers (`+...`) are parsed: the load path already rewrote every number it
    could place to E.164, so what is left without `+` (extensions such as `204`, short service
    numbers, `anonymous`) has no country to find and is kept as it is, type unknown.
    """
    if not number.startswith("+"):
        return NumberRow(number, None, None, None, "unknown", None)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return NumberRow(number, None, None, None, "unknown", None)
    region_code = phonenumbers.region_code_for_number(parsed)
    # "001" is the library's region for non-geographic codes (+800, +808, +870, ...): no country.
    country_iso = region_code if region_code and region_code != "001" else None
    country_name = (geocoder.country_name_for_number(parsed, "en") or None) if country_iso else None
    if not phonenumbers.is_valid_number(parsed):
        # A +49 number too short or long for any German range: the country is still the country
        # code's, but its type and E.164 form would be a guess.
        return NumberRow(number, None, country_iso, country_name, "unknown", None)
    kind = phonenumbers.number_type(parsed)
    region = None
    # country_code is always set on a parsed number; the stubs type it Optional.
    if parsed.country_code and phonenumbers.is_number_type_geographical(kind, parsed.country_code):
        # For a geographic number the description is its area (Berlin); where the library knows no
        # finer area it repeats the country name, which is not a region.
        description = geocoder.description_for_valid_number(parsed, "en")
        region = description if description and description != country_name else None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return NumberRow(number, e164, country_iso, country_name, _TYPES.get(kind, "unknown"), region)


def _batches(cursor: psycopg.Cursor, size: int) -> Iterator[list[str]]:
    while rows := cursor.fetchmany(size):
        yield [number for (number,) in rows]


def enrich_new_numbers(conn: psycopg.Connection, batch: int = BATCH) -> int:
    """Add to mart.dim_number every number of the call legs it does not have yet; return how many.

    Incremental: a number already in the dimension is neither read back nor enriched again, so a
    run after a day's load costs the new numbers only. One transaction: the named (server-side)
    cursor streams the new numbers while the batches go in, and nothing half-done is committed.
    """
    added = 0
    with conn.transaction():
        run_script(conn, "mart/stage_numbers.sql")
        with conn.cursor(name="mart_new_numbers") as numbers:
            numbers.execute(sql_file("mart/new_numbers.sql"))
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
