"""Phone numbers to E.164 where that can be done without guessing.

Hand-written rather than `phonenumbers`: that library validates against per-country metadata at
~20 µs a number, far too slow for millions of legs, and its validation would reject the short
service numbers and SIP extensions that CDRs legitimately carry. The rules here only rewrite
prefixes; anything they cannot place is kept exactly as the provider sent it.
"""
from __future__ import annotations

from functools import lru_cache

_STRIP = str.maketrans("", "", " -./()\u00a0")


@lru_cache(maxsize=32_768)  # service numbers and frequent callers; bounded memory
def to_e164(number: str | None, country_code: str = "", *, bare_is_international: bool = False) -> str | None:
    """Return `number` as E.164 (`+<digits>`) where the form is unambiguous, else unchanged.

    - `+4930...`, `004930...` become `+4930...`.
    - `030...` (one national trunk zero) becomes `+<country_code>30...` when a country is given.
    - Bare digits without a prefix (`352...`) are international only when the provider documents
      that (`bare_is_international=True`, e.g. MIXvoip destinations); otherwise kept as sent.
    - Anything else (`anonymous`, SIP URIs, extensions, empty) is returned stripped, or None if empty.
    """
    if number is None:
        return None
    text = number.strip()
    if not text:
        return None
    compact = text.translate(_STRIP)
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    elif compact.startswith("0") and country_code and compact[1:2].isdigit() and compact[1] != "0":
        digits = country_code + compact[1:]
    elif bare_is_international and compact[:1].isdigit():
        digits = compact
    else:
        return text
    if digits.isdigit() and 7 <= len(digits) <= 15:
        return "+" + digits
    return text
