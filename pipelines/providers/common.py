"""Small, strict value readers shared by the parsers. Each raises ParseError naming the field."""
from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Literal, overload

import orjson

from pipelines.errors import ParseError

_COLON_MILLIS = re.compile(r"(\d{2}:\d{2}:\d{2}):(\d{1,6})(?=Z|[+-]\d{2}:?\d{2}|$)")
RECORD_TEXT_LIMIT = 2000
# What the warehouse's columns hold: integer durations and counters, numeric(14, 6) money and
# seconds. A value beyond them would fail the whole window's COPY or merge instead of one record.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
NUMERIC_14_6_LIMIT = Decimal(10) ** 8 - 1


def text_or_none(provider: str, record: dict, field: str) -> str | None:
    return text_value(provider, record.get(field), field)


def text_value(provider: str, value, field: str) -> str | None:
    """text_or_none of a value already taken from its record."""
    if type(value) is str:  # the common case first: parsers call this millions of times
        refuse_nul(provider, field, value)
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, str):
        refuse_nul(provider, field, value)
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # numbers sent as JSON numbers are still numbers
    raise ParseError(provider, field, f"expected text, got {type(value).__name__}")


def required_text(provider: str, record: dict, field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ParseError(provider, field,
                         "missing" if value is None else f"expected non-empty text, got {value!r:.60}")
    refuse_nul(provider, field, value)
    return value.strip()


# A JSON `\u0000` escape (U+0000, which jsonb cannot hold): after an even number of backslashes.
# `\\u0000` is an escaped backslash followed by "u0000", text like any other.
NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def refuse_nul(provider: str, field: str, value: str) -> None:
    """PostgreSQL text cannot hold U+0000 (a JSON `\\u0000`): refuse the record, not the load."""
    if "\x00" in value:
        raise ParseError(provider, field, "contains a NUL character")


# `required=True` never returns None: the overloads let callers use the result without a check.
@overload
def timestamp(provider: str, value, field: str, naive_tz: tzinfo,
              required: Literal[True]) -> datetime: ...


@overload
def timestamp(provider: str, value, field: str, naive_tz: tzinfo = ..., *,
              required: Literal[True]) -> datetime: ...


@overload
def timestamp(provider: str, value, field: str, naive_tz: tzinfo = ...,
              required: bool = ...) -> datetime | None: ...


def timestamp(provider: str, value, field: str, naive_tz: tzinfo = UTC,
              required: bool = False) -> datetime | None:
    """An ISO-8601 timestamp as UTC. Naive values are read in `naive_tz` (documented per provider).

    Accepts `T` or space, an optional fraction (also TENIOS's `:000` colon variant), `Z` or an offset.
    """
    if type(value) is str:  # fast path for the well-formed common case
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is UTC:
                return parsed
            try:
                return (parsed.replace(tzinfo=naive_tz) if parsed.tzinfo is None else parsed).astimezone(UTC)
            except OverflowError:
                pass  # year 1 or 9999 shifted out of range: the slow path below names the field
    written = iso_datetime(provider, value, field, required=required)
    if written is None:
        return None
    try:
        return (written.replace(tzinfo=naive_tz) if written.tzinfo is None else written).astimezone(UTC)
    except OverflowError:
        raise ParseError(provider, field, f"out of range in UTC: {value.strip()[:40]!r}") from None


def iso_datetime(provider: str, value, field: str, required: bool = False) -> datetime | None:
    """An ISO-8601 text as written: aware when it carries `Z` or an offset, naive when it does not
    (for a parser that must know which). Accepts what `timestamp` accepts."""
    if value is None or value == "":
        if required:
            raise ParseError(provider, field, "missing")
        return None
    if not isinstance(value, str):
        raise ParseError(provider, field, f"expected a timestamp string, got {type(value).__name__}")
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.fromisoformat(_COLON_MILLIS.sub(r"\1.\2", text))
        except ValueError:
            raise ParseError(provider, field, f"not a timestamp: {text[:40]!r}") from None


def wall_clock_to_utc(local: datetime, zone: tzinfo, later: bool = False) -> tuple[datetime, bool]:
    """A naive wall-clock time in `zone` as UTC, and whether it fell in the hour the end of summer
    time repeats (read as its first pass, summer time, unless `later`). ValueError for a time in
    the hour skipped when summer time starts: no clock in `zone` shows it. OverflowError at the
    ends of time."""
    first = local.replace(tzinfo=zone)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC), False
    utc = first.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        raise ValueError(f"{local.isoformat(sep=' ')} does not exist in {zone}"
                         " (skipped when summer time starts)")
    return (second.astimezone(UTC) if later else utc), True


def number(provider: str, value, field: str) -> Decimal | None:
    """A JSON number or numeric string as Decimal (via str, so 0.1 stays 0.1). Bools are refused."""
    if type(value) is int:
        return Decimal(value)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParseError(provider, field, f"expected a number, got {type(value).__name__}")
    try:
        result = Decimal(value.strip().replace(",", ".")) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        raise ParseError(provider, field, f"not a number: {str(value)[:40]!r}") from None
    if not result.is_finite():
        raise ParseError(provider, field, f"not a finite number: {value!r}")
    return result


def whole_seconds(provider: str, value, field: str) -> int | None:
    if type(value) is int and 0 <= value <= INT4_MAX:
        return value
    # ASCII digits, as CSV and JSON strings send them: the number is the digits, whatever the
    # leading zeros, and nine of them stay below INT4_MAX
    if type(value) is str and 0 < len(value) <= 9 and value.isascii() and value.isdigit():
        return int(value)
    result = number(provider, value, field)
    if result is None:
        return None
    if result < 0:
        raise ParseError(provider, field, f"negative duration {result}")
    seconds = int(result.to_integral_value())
    if seconds > INT4_MAX:
        raise ParseError(provider, field, f"duration {str(value)[:40]} is beyond any call")
    return seconds


def within(provider: str, value, field: str, limit=NUMERIC_14_6_LIMIT):
    """`value` unchanged if its magnitude fits the column (numeric(14, 6) by default), else ParseError."""
    if value is not None and abs(value) > limit:
        raise ParseError(provider, field, f"{str(value)[:40]} is beyond what the warehouse stores")
    return value


def attributes_json(provider: str, attributes: dict) -> str:
    """Attributes as the JSON text of a jsonb column; ParseError where jsonb would refuse it
    (a `\\u0000` escape) or a value is nested too deeply to write."""
    try:
        text = orjson.dumps(attributes, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        raise ParseError(provider, "attributes", "a value is nested too deeply") from None
    if "\\u0000" in text and NUL_ESCAPE.search(text):  # the escape is in every match of the pattern
        raise ParseError(provider, "attributes", "a value contains a NUL character")
    return text


def record_text(raw) -> str:
    """The quarantine's readable copy of a record: cut short, and with NUL (which PostgreSQL text
    cannot hold, so the quarantine insert itself would fail) shown as `\\x00`."""
    text = raw if isinstance(raw, str) else repr(raw)
    return text[:RECORD_TEXT_LIMIT].replace("\x00", "\\x00")


def record_json(record) -> str:
    """record_text of a decoded JSON record; one nested too deeply to write back is described."""
    try:
        return record_text(orjson.dumps(record, default=str).decode())
    except (TypeError, orjson.JSONEncodeError):
        return f"<a JSON {type(record).__name__} nested too deeply to show; the raw body has it>"
