"""What the privacy tests share: where a number can be found, looked for independently of the
code under test (its national significant digits, in every relation's row text and every
decompressed raw body)."""
from __future__ import annotations

import gzip

import phonenumbers
import psycopg


def national_digits(number: str) -> str:
    """The digits after the country code: every form a provider sends the number in holds them."""
    parsed = phonenumbers.parse(number, None)
    return number[1 + len(str(parsed.country_code)):]


def relations(conn) -> list[str]:
    """Every table (partitions included: read through their parent anyway) and view of cdr and mart."""
    return [name for (name,) in conn.execute(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('cdr', 'mart') AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1").fetchall()]


def where_found(url: str, number: str) -> dict[str, int]:
    """Per relation (and `raw bodies`), the rows holding the number's digits; empty: nowhere."""
    digits = national_digits(number)
    found: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        for relation in relations(conn):
            count = conn.execute(f"SELECT count(*) FROM {relation} t WHERE t::text LIKE %s",
                                 (f"%{digits}%",)).fetchone()[0]
            if count:
                found[relation] = count
        bodies = sum(digits.encode() in gzip.decompress(body)
                     for (body,) in conn.execute("SELECT body_gzip FROM cdr.raw_response"))
    if bodies:
        found["raw bodies"] = bodies
    return found
