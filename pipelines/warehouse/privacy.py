"""Personal data (issue 18, docs/privacy.md): erasure of a subscriber number, and the load path's
side of it.

An erasure replaces the number in the legs, calls and billing items with one constant marker
(`erased`) rather than deleting the rows: the calls happened, and their counts, minutes and cost
are the company's own records (invoices, the KPIs); without the number no row names the person.
Quarantined records holding it (the provider's raw text) are deleted, the number dimension loses
it, and every raw page whose body holds it is deleted with the rest of its window's fetch, the
window marked not replayable: a body cannot be rewritten without changing what a re-parse gives
(some providers' leg keys hash the record's content). The calls, aggregates and mart KPIs of the
days touched are recomputed from the erased legs, so they stay consistent.

The request is recorded under a salted hash of the number (cdr.erasure; sql/migrations/013_privacy.sql
says where the salt is). Every load tests its staged rows against those hashes, set-based
(sql/privacy/erase_staged_*.sql): a re-pull that brings the number back stores the marker, and the
window's fresh raw pages are deleted again.
"""
from __future__ import annotations

import gzip
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import phonenumbers
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pipelines.errors import ConfigurationError, WindowNotReplayableError
from pipelines.model import Window
from pipelines.sql import run_script, script_result, sql_file
from pipelines.warehouse.aggregates import refresh_stale_marks
from pipelines.warehouse.mart import enrich_number

ERASED = "erased"  # cdr.erased_marker()
# what an erasure recomputes from the erased legs, in this order (the mart reads the calls)
DERIVED_TARGETS = ("calls", "aggregates", "mart")
RAW_PAGES = "cdr.raw_response"
WINDOWS_MARKED = "cdr.unreplayable_window"
# the load path's side, per kind of staged rows (pipelines.providers.spec: CALL_LEGS, QUARANTINE)
_STAGED_ERASURE = {"call_legs": "privacy/erase_staged_legs.sql",
                   "quarantine": "privacy/erase_staged_quarantine.sql"}
_SEPARATOR = "[ ./()-]?"  # what providers put between digits (pipelines.numbers strips the same)


@dataclass(frozen=True)
class Subject:
    """One subscriber number as an erasure or an access request looks for it: `numbers` as stored
    (the E.164 form, and its pseudonym in each account that stores pseudonyms), and `pattern`, a
    regular expression (Python's and PostgreSQL's alike) for it in a provider's own text."""

    number: str
    numbers: tuple[str, ...]
    pattern: str


def subject(number: str, keys: Iterable[bytes] = ()) -> Subject:
    """The subject for `number` (E.164: + and the country code), and its pseudonyms under `keys`
    (the keys of the accounts in scope that store pseudonyms). The pattern finds it as +49301234,
    0049301234, 49301234 and, nationally, 0301234, digits optionally separated."""
    text = number.strip()
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not text.startswith("+") or not re.fullmatch(r"\+[0-9]{7,15}", text):
        # not echoed: it is a phone number
        raise ConfigurationError("--number", None, "expected a number in E.164 form: + and 7 to 15"
                                 " digits, the country code first (e.g. +4930123456)")
    country = str(parsed.country_code)
    national = text[1 + len(country):]

    def digits(run: str) -> str:
        return _SEPARATOR.join(run)

    pattern = (f"(?<![0-9])((\\+|00)?{digits(country)}{_SEPARATOR}{digits(national)}"
               f"|0{digits(national)})(?![0-9])")
    return Subject(text, (text, *dict.fromkeys(pseudonym(key, text) for key in keys)), pattern)


def pseudonym(key: bytes, number: str) -> str:
    """The keyed pseudonym an account stores instead of `number` (HMAC-SHA256, hex): the same number
    and key always give the same pseudonym, so re-runs stay idempotent."""
    return "p:" + hmac.new(key, number.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Receipt:
    """What an erasure touched (or, dry, would touch): rows per table, raw pages deleted and
    windows marked not replayable."""

    touched: dict[str, int]
    dry_run: bool

    def lines(self) -> list[str]:
        width = max(map(len, self.touched))
        return [f"{name.ljust(width)}  {count} {_RECEIPT_WORDS.get(name, _ROWS)[self.dry_run]}"
                for name, count in self.touched.items()]


_ROWS = ("rows touched", "rows would be touched")
_RECEIPT_WORDS = {RAW_PAGES: ("pages deleted", "pages would be deleted"),
                  WINDOWS_MARKED: ("windows marked not replayable", "windows would be marked not replayable")}


def subject_rows(conn: psycopg.Connection, who: Subject, provider: str | None = None,
                 account: str | None = None) -> dict[str, int]:
    """Per table, the rows that hold the subject's number (in scope)."""
    found = conn.execute(sql_file("privacy/subject_rows.sql"), _params(who, provider, account)).fetchall()
    return dict(found)


def subject_legs(conn: psycopg.Connection, who: Subject, provider: str | None = None,
                 account: str | None = None) -> Iterator[dict]:
    """An access request's answer: every leg (in scope) that holds the subject's number, as stored."""
    with conn.cursor(name="privacy_subject_legs", row_factory=dict_row) as legs:
        legs.execute(sql_file("privacy/subject_legs.sql"), _params(who, provider, account))
        yield from legs


def pages_holding(conn: psycopg.Connection, who: Subject, provider: str | None = None,
                  account: str | None = None) -> list[int]:
    """The raw pages (in scope) whose decompressed body holds the subject's number, one body in
    memory at a time."""
    found = re.compile(who.pattern.encode())
    hits = []
    with conn.cursor(name="privacy_scan_pages") as pages:
        pages.execute(sql_file("privacy/scan_pages.sql"), {"provider": provider, "account": account})
        for page_id, body in pages:
            if found.search(gzip.decompress(body)):
                hits.append(page_id)
    return hits


def drop_pages(conn: psycopg.Connection, ids: list[int], reason: str) -> tuple[int, int]:
    """Delete the pages `ids` and the rest of their windows' current fetches; mark those windows
    not replayable for `reason` ('erasure' or 'retention'). Returns (pages, windows)."""
    if not ids:
        return 0, 0
    row = conn.execute(sql_file("privacy/drop_pages.sql"), {"ids": ids, "reason": reason}).fetchone()
    assert row is not None  # an aggregate: always one row
    return row[0], row[1]


def recompute_marked(conn: psycopg.Connection) -> None:
    """Recompute the calls, aggregates and mart KPIs of every day marked stale (what an erasure or
    a retention run changed), as the derived assets would."""
    row = conn.execute(sql_file("privacy/affected_days.sql")).fetchone()
    if row is None or row[0] is None:
        return
    first, end = row
    window = (datetime(first.year, first.month, first.day, tzinfo=UTC),
              datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1))
    for target in DERIVED_TARGETS:
        refresh_stale_marks(conn, target, window)


def erase(conn: psycopg.Connection, who: Subject, provider: str | None = None, account: str | None = None,
          dry_run: bool = False) -> Receipt:
    """Erase the subject's number (in scope) everywhere, in one transaction, and record the request
    under its salted hash. The receipt counts, per table, the rows that held the number, and the
    raw pages deleted (those holding it and the rest of their windows' fetches); after the erasure
    nothing holds it, which is checked before the transaction commits. `dry_run` does all of it
    and rolls it back: its receipt is exactly what the erasure would do."""
    receipt = None
    with conn.transaction(), conn.transaction() as attempt:
        touched = subject_rows(conn, who, provider, account)
        pages = pages_holding(conn, who, provider, account)
        params = _params(who, provider, account)
        if script_result(conn, "privacy/ensure_salt.sql")[0] != 1:
            raise AssertionError("cdr.privacy_salt is empty while erasures are recorded under it")
        run_script(conn, "privacy/record_erasure.sql", params)
        run_script(conn, "privacy/erase_rows.sql", params)
        _erase_kept_rows(conn, params)
        recompute_marked(conn)
        deleted, windows = drop_pages(conn, pages, "erasure")
        receipt = Receipt({**touched, RAW_PAGES: deleted, WINDOWS_MARKED: windows}, dry_run)
        conn.execute(sql_file("privacy/record_receipt.sql"),
                     {**params, "receipt": orjson.dumps(receipt.touched).decode()})
        left = {name: count for name, count in subject_rows(conn, who, provider, account).items() if count}
        if left or pages_holding(conn, who, provider, account):
            raise AssertionError(f"the erasure left the number in {sorted(left) or 'raw pages'}")
        if dry_run:
            raise psycopg.Rollback(attempt)
    assert receipt is not None
    return receipt


# The derived tables retention keeps after their legs expire that hold service numbers, each with
# its unique key (service_number and the columns a row is grouped by; sql/privacy/kept_columns.sql
# reads them, so a key column added later is not left out).
_KEPT_ROWS = (("cdr.agg_call_leg_daily", "agg_call_leg_daily_uq"),
              ("cdr.agg_call_leg_hourly", "agg_call_leg_hourly_uq"),
              ("mart.kpi_daily", "kpi_daily_uq"), ("mart.kpi_hourly", "kpi_hourly_uq"))


def _erase_kept_rows(conn: psycopg.Connection, params: dict) -> None:
    """sql/privacy/erase_kept_rows.sql for each table of `_KEPT_ROWS`."""
    addition = sql.SQL("CASE WHEN num_nonnulls(t.{0}, excluded.{0}) > 0"
                       " THEN coalesce(t.{0}, 0) + coalesce(excluded.{0}, 0) END")
    for table, constraint in _KEPT_ROWS:
        found = conn.execute(sql_file("privacy/kept_columns.sql"), {"table": table, "constraint": constraint})
        columns = found.fetchall()
        keys = [sql.Identifier(name) for name, in_key in columns if in_key]
        measures = [sql.Identifier(name) for name, in_key in columns if not in_key]
        conn.execute(sql.SQL(sql_file("privacy/erase_kept_rows.sql")).format(
            table=sql.Identifier(*table.split(".")), constraint=sql.Identifier(constraint),
            keys=sql.SQL(", ").join(keys), measures=sql.SQL(", ").join(measures),
            sums=sql.SQL(", ").join(sql.SQL("sum({})").format(c) for c in measures),
            additions=sql.SQL(", ").join(addition.format(c) for c in measures)),
            params)


def _params(who: Subject, provider: str | None, account: str | None) -> dict:
    return {"numbers": list(who.numbers), "pattern": who.pattern, "provider": provider, "account": account}


def apply_to_staged(conn: psycopg.Connection, kind: str, pseudonym_key: bytes | None = None) -> list[int]:
    """What the load path does to the staged rows of `kind` before they are merged: the recorded
    erasures applied, then, in an account that stores pseudonyms (`pseudonym_key`), the subscriber
    numbers replaced by them. Returns the raw pages of the rows an erasure changed."""
    script = _STAGED_ERASURE.get(kind)
    if script is None:
        return []
    erased = list(script_result(conn, script)[0])
    if pseudonym_key is not None and kind == "call_legs":
        _pseudonymise_staged(conn, pseudonym_key)
    return erased


_COPY_PSEUDONYMS = ("COPY stage_pseudonym (number, pseudonym, country_iso, country_name, number_type,"
                    " country_code) FROM STDIN")


def _pseudonymise_staged(conn: psycopg.Connection, key: bytes) -> None:
    """The staged legs' subscriber numbers as keyed pseudonyms; a pseudonym new to the number
    dimension is enriched from its clear number here, the only place that still sees it."""
    numbers = [number for (number,) in conn.execute(sql_file("privacy/staged_numbers.sql"))]
    pseudonyms = {number: pseudonym(key, number) for number in numbers}
    known = {p for (p,) in conn.execute(sql_file("privacy/known_pseudonyms.sql"),
                                        {"pseudonyms": list(pseudonyms.values())})}
    run_script(conn, "privacy/stage_pseudonyms.sql")
    with conn.cursor() as cur, cur.copy(_COPY_PSEUDONYMS) as copy:
        for number, alias in pseudonyms.items():
            if alias in known:
                copy.write_row((number, alias, None, None, None, None))
            else:
                row = enrich_number(number)
                copy.write_row((number, alias, row.country_iso, row.country_name, row.number_type,
                                row.country_code))
    run_script(conn, "privacy/pseudonymise_staged.sql")


def check_replayable(conn: psycopg.Connection, provider: str, account: str, window: Window,
                     raw_ids: list[int]) -> None:
    """Raise WindowNotReplayableError if pages of the window's current fetch are gone."""
    row = conn.execute(sql_file("privacy/window_replayable.sql"), {
        "ids": raw_ids, "provider": provider, "account": account, "start": window[0],
        "end": window[1]}).fetchone()
    assert row is not None  # scalar subqueries: always one row
    missing, reason = row
    if missing:
        raise WindowNotReplayableError(provider, account, window, missing, reason)


# Retention -------------------------------------------------------------------------------------
DEFAULT_CALLS_MONTHS = 24
DEFAULT_RAW_DAYS = 90
DEFAULT_QUARANTINE_DAYS = 90


@dataclass(frozen=True)
class Retention:
    """How long an account's data is kept (accounts file `retention`): legs and calls for the
    current month and `calls_months` whole months before it, raw bodies `raw_days` days after
    their window ended, quarantined records `quarantine_days` days after they were quarantined.
    The aggregates and KPIs, which name no subscriber, are kept."""

    calls_months: int = DEFAULT_CALLS_MONTHS
    raw_days: int = DEFAULT_RAW_DAYS
    quarantine_days: int = DEFAULT_QUARANTINE_DAYS

    def cutoffs(self, now: datetime) -> tuple[datetime, datetime, datetime]:
        """(calls, raw bodies, quarantine): what started, ended or was quarantined before is expired."""
        months = now.year * 12 + now.month - 1 - self.calls_months
        calls = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
        return calls, now - timedelta(days=self.raw_days), now - timedelta(days=self.quarantine_days)


DEFAULT_RETENTION = Retention()


@dataclass(frozen=True)
class RetentionReport:
    """What a retention run removed: rows per (provider, account, table), the partitions dropped
    whole, raw pages deleted and windows marked not replayable."""

    removed: dict[tuple[str, str, str], int]
    partitions_dropped: list[str]
    raw_pages: int
    windows_marked: int

    def as_metadata(self) -> dict[str, int]:
        """Counts for Dagster, by table (no account is a person; no number is in them)."""
        totals: dict[str, int] = {"partitions_dropped": len(self.partitions_dropped),
                                  "raw_pages_deleted": self.raw_pages, "windows_marked": self.windows_marked}
        for (_, _, table), count in self.removed.items():
            totals[f"{table}_deleted"] = totals.get(f"{table}_deleted", 0) + count
        return totals


def enforce_retention(conn: psycopg.Connection, policies: dict[tuple[str, str], Retention],
                      now: datetime | None = None) -> RetentionReport:
    """Delete what has expired under each account's retention (`policies`, by (provider, account);
    an account not listed gets the defaults), in one transaction: monthly partitions of the legs
    in which every account's legs expired are dropped whole, other expired legs deleted by account;
    expired calls, quarantined records and raw pages deleted, the windows of deleted pages marked
    not replayable; aggregates and KPIs kept."""
    now = now or datetime.now(UTC)
    cut = {key: policy.cutoffs(now) for key, policy in policies.items()}
    defaults = DEFAULT_RETENTION.cutoffs(now)
    params = {"providers": [p for p, _ in cut], "accounts": [a for _, a in cut],
              "calls_before": [c[0] for c in cut.values()], "raw_before": [c[1] for c in cut.values()],
              "quarantine_before": [c[2] for c in cut.values()], "default_calls_before": defaults[0],
              "default_raw_before": defaults[1], "default_quarantine_before": defaults[2]}
    removed: dict[tuple[str, str, str], int] = {}
    dropped: list[str] = []
    with conn.transaction():
        run_script(conn, "retention/stage_policies.sql", params)
        conn.execute(sql_file("retention/record_horizon.sql"), params)
        partitions = conn.execute(sql_file("retention/partitions.sql"), params).fetchall()
        for name, start, end, expired in partitions:
            if not expired:
                continue
            for provider, account, count in conn.execute(sql_file("retention/count_partition.sql"),
                                                         {"start": start, "end": end}).fetchall():
                removed[(provider, account, "cdr.fact_call_leg")] = count
            conn.execute(sql.SQL("DROP TABLE cdr.{}").format(sql.Identifier(name)))
            dropped.append(name)
        for provider, account, table, count in conn.execute(
                sql_file("retention/delete_expired.sql"), params).fetchall():
            removed[(provider, account, table)] = removed.get((provider, account, table), 0) + count
        run_script(conn, "retention/prune_numbers.sql")
        expired_pages = [page for (page,) in conn.execute(sql_file("retention/expired_pages.sql"), params)]
        pages, windows = drop_pages(conn, expired_pages, "retention")
    return RetentionReport(removed, dropped, pages, windows)
