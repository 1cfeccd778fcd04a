"""Small, strict value readers shared by the parsers. Each raises ParseError naming the field."""
from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from decimal import Decimal, InvalidOperation

from pipelines.errors import ParseError

UTC = timezone.utc
_COLON_MILLIS = re.compile(r"(\d{2}:\d{2}:\d{2}):(\d{1,6})(?=Z|[+-]\d{2}:?\d{2}|$)")
RECORD_TEXT_LIMIT = 2000


def text_or_none(provider: str, record: dict, field: str) -> str | None:
    value = record.get(field)
    if type(value) is str:  # the common case first: parsers call this millions of times
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # numbers sent as JSON numbers are still numbers
    raise ParseError(provider, field, f"expected text, got {type(value).__name__}")


def required_text(provider: str, record: dict, field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ParseError(provider, field, "missing" if value is None else f"expected non-empty text, got {value!r:.60}")
    return value.strip()


def timestamp(provider: str, value, field: str, naive_tz: tzinfo = UTC, required: bool = False) -> datetime | None:
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
            return (parsed.replace(tzinfo=naive_tz) if parsed.tzinfo is None else parsed).astimezone(UTC)
    if value is None or value == "":
        if required:
            raise ParseError(provider, field, "missing")
        return None
    if not isinstance(value, str):
        raise ParseError(provider, field, f"expected a timestamp string, got {type(value).__name__}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(_COLON_MILLIS.sub(r"\1.\2", text))
        except ValueError:
            raise ParseError(provider, field, f"not a timestamp: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed.astimezone(UTC)


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
    if type(value) is int and value >= 0:
        return value
    result = number(provider, value, field)
    if result is None:
        return None
    if result < 0:
        raise ParseError(provider, field, f"negative duration {result}")
    return int(result.to_integral_value())


def record_text(raw) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return text[:RECORD_TEXT_LIMIT]
