"""The BI mart (schema `mart`, sql/migrations/012_mart.sql), kept current after each load.

`refresh_mart` is what the `mart` asset runs for a range of UTC days: the accounts' settings into
mart.dim_account, the local dates into mart.dim_date, then the KPIs of every account whose calls a
refresh recomputed (cdr.stale_day, target 'mart'), by whole local dates of the account's reporting
zone (sql/mart/refresh_kpis.sql). `enrich_new_numbers` is what the `number_dimension` asset runs
before it: the new numbers of those days into the number dimension. Two assets, because the
enrichment costs what the numbers cost (phonenumbers' range matching, once per new number) and
the KPIs need none of it: a day of mostly new numbers delays the dimension, never the KPIs.

The number dimension is enriched with `phonenumbers` here, once per distinct number and never on
the load path (pipelines/numbers.py says why the library is too slow per leg): the warehouse
picks out the numbers it has not seen (sql/mart/new_numbers.sql, set-based), Python enriches only
those, and they go back with COPY. The date dimension is filled from `holidays` the same way.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from types import ModuleType
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
import psycopg
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    PhoneNumberType,
    ValidationResult,
    region_code_for_country_code,
)
from phonenumbers.phonemetadata import PhoneNumberDesc
from phonenumbers.phonenumberutil import (
    _maybe_strip_national_prefix_carrier_code,
    _set_italian_leading_zeros_for_phone_number,
    _test_number_length,
)
from phonenumbers.prefix import _prefix_description_for_number

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


def enrich_number_reference(number: str) -> NumberRow:
    """What phonenumbers says about `number`, as stored, field by field through the library's
    public calls: the definition `enrich_number` must equal (tests/mart/test_number_enrichment_paths.py).

    Only international numbers (`+...`) are parsed: the load path already rewrote every number it
    could place to E.164, so what is left without `+` (extensions such as `204`, short service
    numbers, `anonymous`) has no country to find and is kept as it is, type unknown.
    """
    if not number.startswith("+"):
        return _unplaced(number)
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return _unplaced(number)
    region_code = phonenumbers.region_code_for_number(parsed)
    # "001" is the library's region for non-geographic codes (+800, +808, +870, ...): no country.
    country_iso = region_code if region_code and region_code != "001" else None
    country_name = (_geocoder().country_name_for_number(parsed, "en") or None) if country_iso else None
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
        description = _geocoder().description_for_valid_number(parsed, "en")
        region = description if description and description != country_name else None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return NumberRow(number, e164, country_iso, country_name, _TYPES.get(kind, "unknown"), region,
                     parsed.country_code)


@cache
def _geocoder() -> ModuleType:
    """phonenumbers' geocoder, imported when the first number is enriched: its data takes a third
    of a second to import, which every process that imports this module (each `cdr-etl` command,
    each Dagster code location and run) would otherwise pay whether it enriches a number or not."""
    from phonenumbers import geocoder  # noqa: PLC0415

    return geocoder


def _unplaced(number: str) -> NumberRow:
    return NumberRow(number, None, None, None, "unknown", None, None)


class _Ranges:
    """One region's number ranges (a PhoneMetadata's), compiled once.

    `kind` is phonenumbers' _number_type_helper, on patterns compiled once: the library looks
    each pattern up by its text for every range of every number (re.compile's cache), which with
    its four calls per range was most of the enrichment's time. The types are then tried in one
    match per number, not one per type (a fifth less time for 250,000 new German numbers)."""

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.country_code = metadata.country_code
        self.general = self._desc(metadata.general_desc)
        # In the library's order: the first that matches is the type. A type without ranges never
        # matches, so it is left out.
        self.special = [(kind, desc) for kind, desc in (
            (PhoneNumberType.PREMIUM_RATE, self._desc(metadata.premium_rate)),
            (PhoneNumberType.TOLL_FREE, self._desc(metadata.toll_free)),
            (PhoneNumberType.SHARED_COST, self._desc(metadata.shared_cost)),
            (PhoneNumberType.VOIP, self._desc(metadata.voip)),
            (PhoneNumberType.PERSONAL_NUMBER, self._desc(metadata.personal_number)),
            (PhoneNumberType.PAGER, self._desc(metadata.pager)),
            (PhoneNumberType.UAN, self._desc(metadata.uan)),
            (PhoneNumberType.VOICEMAIL, self._desc(metadata.voicemail))) if desc is not None]
        self.fixed = self._desc(metadata.fixed_line)
        self.mobile = self._desc(metadata.mobile)
        self.same_mobile_and_fixed = metadata.same_mobile_and_fixed_line_pattern
        leading = metadata.leading_digits
        self.leading_digits = re.compile(leading) if leading is not None else None
        self._by_length: dict[int, tuple[re.Pattern[str], tuple[int, ...]] | None] = {}

    @staticmethod
    def _desc(desc: PhoneNumberDesc | None) -> _Desc | None:
        # No description or no pattern never matches (_match_national_number); no lengths means
        # the general description's, already checked.
        if desc is None or not desc.national_number_pattern:
            return None
        return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)

    def kind(self, national: str) -> int:
        if not self._matches(self.general, national):
            return PhoneNumberType.UNKNOWN
        length = len(national)
        if length not in self._by_length:
            self._by_length[length] = self._candidates(length)
        candidates = self._by_length[length]
        if candidates is None:
            return PhoneNumberType.UNKNOWN
        pattern, kinds = candidates
        found = pattern.fullmatch(national)
        if found is None or found.lastindex is None:
            return PhoneNumberType.UNKNOWN
        kind = kinds[found.lastindex - 1]
        if kind == PhoneNumberType.FIXED_LINE and (self.same_mobile_and_fixed
                                                  or self._matches(self.mobile, national)):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return kind

    def _candidates(self, length: int) -> tuple[re.Pattern[str], tuple[int, ...]] | None:
        """The types a number of `length` digits can be, in the library's order (the first whose
        ranges hold it is its type), as one pattern of one group per type: a single match finds the
        first, where the library matched each type's pattern in turn."""
        ranges = [*self.special, (PhoneNumberType.FIXED_LINE, self.fixed)]
        if not self.same_mobile_and_fixed:  # else a number the fixed ranges do not hold has no type
            ranges.append((PhoneNumberType.MOBILE, self.mobile))
        fitting = [(kind, desc[1].pattern) for kind, desc in ranges
                   if desc is not None and (not desc[0] or length in desc[0])]
        if not fitting:
            return None
        # each type's own groups made non-capturing, so the type's group is the only one: lastindex
        pattern = "|".join(f"({_non_capturing(text)})" for _, text in fitting)
        return re.compile(pattern), tuple(kind for kind, _ in fitting)

    @staticmethod
    def _matches(desc: _Desc | None, national: str) -> bool:
        return (desc is not None and (not desc[0] or len(national) in desc[0])
                and desc[1].fullmatch(national) is not None)


def _non_capturing(pattern: str) -> str:
    """`pattern` with its capturing groups made non-capturing (phonenumbers' range patterns have
    no escaped parentheses or back-references)."""
    if "\\(" in pattern or re.search(r"\\[1-9]", pattern):
        raise ValueError(f"a range pattern this cannot regroup: {pattern}")
    return re.sub(r"\((?!\?)", "(?:", pattern)


# A number description's possible lengths (empty: any) and its pattern.
_Desc = tuple[frozenset[int], re.Pattern[str]]


class _CallingCode(NamedTuple):
    """What the library derives from a country calling code alone, looked up once per code."""
    code: int
    digits: int  # how many digits the code has
    metadata: PhoneMetadata  # parse's: the code's main region's
    # The code's regions with their ranges (None: the library has no metadata for it), in the
    # library's order. Where there is one, it is the number's region and names its country
    # whatever the number; where several share the code (+1, +44, +7), the number decides.
    regions: tuple[tuple[str, _Ranges | None], ...]
    name: str  # country_name_for_number, for a code of one region ("" where the library has none)
    # parse's national prefix (the code's metadata's national_prefix_for_parsing), compiled once:
    # a number it does not start has nothing to strip (None: the code has none)
    national_prefix: re.Pattern[str] | None


@cache
def _calling_code(digits: str) -> _CallingCode | None:
    if digits not in _CODE_DIGITS:
        return None
    code = int(digits)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region_code_for_country_code(code))
    assert metadata is not None  # a code of the map always has metadata, as parse asserts
    regions = tuple((region, _ranges(code, region)) for region in COUNTRY_CODE_TO_REGION_CODE[code])
    sample = phonenumbers.PhoneNumber(country_code=code, national_number=0)
    name = _geocoder().country_name_for_number(sample, "en") if len(regions) == 1 else ""
    prefix = metadata.national_prefix_for_parsing
    return _CallingCode(code, len(digits), metadata, regions, name, re.compile(prefix) if prefix else None)


@cache
def _ranges(code: int, region: str) -> _Ranges | None:
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    return _Ranges(metadata) if metadata is not None else None


_CODE_DIGITS = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
# parse keeps a national prefix it could strip where the rest would be of one of these lengths.
_KEEP_PREFIX = (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                ValidationResult.INVALID_LENGTH)


def enrich_number(number: str) -> NumberRow:
    """`enrich_number_reference(number)`, at a fraction of its cost for the numbers the load path
    writes: `+` and ASCII digits (`e164_row`). Anything else takes the reference path."""
    return e164_row(number) or enrich_number_reference(number)


def e164_row(number: str) -> NumberRow | None:
    """`enrich_number_reference(number)` for `+` and 3-20 ASCII digits; None for anything else.

    It does what `phonenumbers.parse` does after its general normalisation (which such a string
    does not need): the country code, the national prefix, the length checks. It then matches
    the number against its region's ranges, compiled once, once per region: for a code several
    regions share, region_code_for_number, number_type and country_name_for_number each matched
    it again.
    """
    digits = number[1:]
    # Outside 3-20 digits parse refuses the string or its national number (too short after the
    # +, or longer than 17 digits however a prefix is stripped); the reference says so.
    if number[:1] != "+" or not (3 <= len(digits) <= 20 and digits.isascii() and digits.isdigit()):
        return None
    # parse's _extract_country_code: the shortest prefix that is a known code; none starts with 0.
    calling = _calling_code(digits[:1]) or _calling_code(digits[:2]) or _calling_code(digits[:3])
    if calling is None:
        return _unplaced(number)
    national = digits[calling.digits:]
    if len(national) < 2:
        return _unplaced(number)
    if calling.national_prefix is not None and calling.national_prefix.match(national):
        _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, calling.metadata)
        if _test_number_length(stripped, calling.metadata) not in _KEEP_PREFIX:
            national = stripped
    if not 2 <= len(national) <= 17:
        return _unplaced(number)
    # `national` is now the national significant number, leading zeros included (+39 06...).
    if len(calling.regions) == 1:
        region_code: str | None
        (region_code, ranges), = calling.regions
        kind = ranges.kind(national) if ranges is not None else PhoneNumberType.UNKNOWN
        name = calling.name
    else:
        region_code, kind, name = _shared_code(calling, national)
    country_iso = region_code if region_code and region_code != "001" else None
    country_name = (name or None) if country_iso else None
    if kind == PhoneNumberType.UNKNOWN:
        return NumberRow(number, None, country_iso, country_name, "unknown", None, calling.code)
    e164 = f"+{calling.code}{national}"  # format_number's E.164 form
    region = None
    if phonenumbers.is_number_type_geographical(kind, calling.code):
        description = _description(calling, national, name)
        region = description if description and description != country_name else None
    return NumberRow(number, e164, country_iso, country_name, _TYPES.get(kind, "unknown"), region,
                     calling.code)


def _shared_code(calling: _CallingCode, national: str) -> tuple[str | None, int, str]:
    """Region, type and country name of a number whose code several regions share, as
    region_code_for_number, number_type and country_name_for_number find them: the region is the
    first whose leading digits start the number or (having none) whose ranges hold it; the name
    is that of the only region whose ranges hold it (none where two or none do)."""
    kinds: dict[str, int] = {}

    def kind_in(region: str, ranges: _Ranges | None) -> int:
        if region not in kinds:
            # is_valid_number_for_region: no metadata, or another code's, is not valid
            if ranges is None or ranges.country_code != calling.code:
                kinds[region] = PhoneNumberType.UNKNOWN
            else:
                kinds[region] = ranges.kind(national)
        return kinds[region]

    region_code = None
    for region, ranges in calling.regions:
        if ranges is None:
            continue
        if ranges.leading_digits is not None:
            if ranges.leading_digits.match(national):
                region_code = region
                break
        elif kind_in(region, ranges) != PhoneNumberType.UNKNOWN:
            region_code = region
            break
    kind = PhoneNumberType.UNKNOWN
    if region_code is not None:
        ranges = _ranges(calling.code, region_code)
        kind = ranges.kind(national) if ranges is not None else PhoneNumberType.UNKNOWN
    valid = [region for region, ranges in calling.regions
             if kind_in(region, ranges) != PhoneNumberType.UNKNOWN]
    # country_name_for_number names "ZZ" (no name) where no region or two hold the number
    name = _geocoder()._region_display_name(valid[0] if len(valid) == 1 else "ZZ", "en")
    return region_code, kind, name


def _description(calling: _CallingCode, national: str, name: str) -> str:
    """geocoder.description_for_valid_number: the area of the longest prefix the geocoder
    knows, else the country's name (`name`, country_name_for_number's)."""
    parsed = phonenumbers.PhoneNumber(country_code=calling.code, national_number=int(national))
    _set_italian_leading_zeros_for_phone_number(national, parsed)
    token = phonenumbers.country_mobile_token(calling.code)
    if token and national.startswith(token):
        # Argentina's mobile 9 is dropped before the prefix lookup: the library's own path.
        return _geocoder().description_for_valid_number(parsed, "en")
    data, longest = _geocoder().GEOCODE_DATA, _geocoder().GEOCODE_LONGEST_PREFIX
    return _prefix_description_for_number(data, longest, parsed, "en") or name


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
    with conn.transaction(), conn.cursor(name="mart_new_numbers") as numbers:
        run_script(conn, "mart/window_numbers.sql", bounds)
        numbers.execute(sql_file("mart/new_numbers.sql"))
        for numbers_batch in _batches(numbers, batch):
            _insert_numbers(conn, [enrich_number(number) for number in numbers_batch])
            added += len(numbers_batch)
    return added


_COPY_NEW_NUMBERS = f"COPY cdr.number_enrichment ({', '.join(NumberRow._fields)}) FROM STDIN"


def _insert_numbers(conn: psycopg.Connection, rows: list[NumberRow]) -> None:
    """COPY `rows` straight into the dimension, the common case. Where another run added some of
    them since this one picked them (two runs enriching the same new number at once), the COPY
    fails on the key: the batch then goes through a stage and in with ON CONFLICT DO NOTHING,
    keeping the other run's rows. The stage on every batch cost more than the COPY itself."""
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY_NEW_NUMBERS) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.errors.UniqueViolation:
        run_script(conn, "mart/stage_numbers.sql")
        with conn.cursor() as cur, cur.copy(_COPY_NUMBERS) as copy:
            for row in rows:
                copy.write_row(row)
        run_script(conn, "mart/insert_numbers.sql")


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
