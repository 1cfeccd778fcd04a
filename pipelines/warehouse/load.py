"""The one load path: parsed legs -> COPY into staging -> one guarded upsert into the fact.

The caller owns the transaction. Everything a window changes (fact rows, quarantine, the audit
row) happens inside it, so a failure part-way leaves the partition exactly as it was before.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Callable, ContextManager, Iterable, Iterator, Mapping

import psycopg

from pipelines.model import LEG_COLUMNS, QUARANTINE_COLUMNS, CallLeg, Quarantined
from pipelines.sql import sql_file
from pipelines.warehouse.locks import enter_leg_changes, lock_account_loads
from pipelines.warehouse.prefetch import parse_ahead
from pipelines.warehouse.raw import RawPage, pages_by_id, window_page_ids

_COPY_LEGS = "COPY stage_call_leg ({}) FROM STDIN (FORMAT BINARY)".format(", ".join(LEG_COLUMNS))
# Binary COPY: about twice the rows per second of text COPY (Python -> PostgreSQL). The types
# match sql/load/stage_call_legs.sql column for column.
_LEG_COPY_TYPES = {
    "duration_s": "int4", "billable_s": "float8", "cost_eur": "float8", "raw_response_id": "int8",
    "started_at": "timestamptz", "answered_at": "timestamptz", "ended_at": "timestamptz",
}
LEG_COPY_TYPES = [_LEG_COPY_TYPES.get(column, "text") for column in LEG_COLUMNS]
_COPY_QUARANTINE = "COPY stage_quarantine ({}) FROM STDIN".format(", ".join(QUARANTINE_COLUMNS))


@dataclass(frozen=True)
class LoadStats:
    legs_parsed: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    duplicates_in_window: int

    def as_metadata(self) -> dict[str, int]:
        return asdict(self)


def merge_quarantined(conn: psycopg.Connection, quarantined: list[Quarantined]) -> int:
    """Stage and merge a window's quarantined records (any provider); returns the rows added or
    changed. Keyed by raw page and place in it, so a re-run adds nothing."""
    if not quarantined:
        return 0
    conn.execute(sql_file("load/stage_quarantine.sql"))
    with conn.cursor() as cur:
        with cur.copy(_COPY_QUARANTINE) as copy:
            for record in quarantined:
                copy.write_row(record)
        return cur.execute(sql_file("load/merge_quarantine.sql")).fetchone()[0]


def load_window(conn: psycopg.Connection, provider: str, account: str,
                window: tuple[datetime, datetime],
                items: Iterable[CallLeg | Quarantined | Any],
                extra_loaders: Mapping[type, Callable[[psycopg.Connection, list], int]] | None = None) -> LoadStats:
    """Stage and merge one window's parsed items.

    Legs stream straight into the COPY; quarantined records and any other item types (handed to
    `extra_loaders` by type after the legs merge) are few and are held until the COPY ends.
    """
    conn.execute(sql_file("load/stage_call_legs.sql"))
    quarantined: list[Quarantined] = []
    others: dict[type, list] = {}
    with conn.cursor() as cur:
        with cur.copy(_COPY_LEGS) as copy:
            copy.set_types(LEG_COPY_TYPES)
            for item in items:
                kind = type(item)
                if kind is CallLeg:
                    copy.write_row(item)
                elif kind is Quarantined:
                    quarantined.append(item)
                else:
                    others.setdefault(kind, []).append(item)
        low, high = cur.execute("SELECT min(started_at), max(started_at) FROM stage_call_leg").fetchone()
        if low is not None:
            cur.execute("SELECT cdr.ensure_call_leg_partitions(%s, %s)", (low, high))
        staged, distinct, inserted, updated = cur.execute(sql_file("load/merge_call_legs.sql")).fetchone()
        new_quarantined = merge_quarantined(conn, quarantined)
        for kind, batch in others.items():
            loader = (extra_loaders or {}).get(kind)
            if loader is None:
                raise TypeError(f"{provider}: parser yielded {kind.__name__} items and no loader takes them")
            loader(conn, batch)
        stats = LoadStats(
            legs_parsed=staged,
            inserted=inserted,
            updated=updated,
            unchanged=distinct - inserted - updated,
            quarantined=len(quarantined),
            duplicates_in_window=staged - distinct,
        )
        cur.execute(sql_file("load/record_load_audit.sql"),
                    {**stats.as_metadata(), "quarantined": new_quarantined, "provider": provider,
                     "account": account, "start": window[0], "end": window[1], "skipped": False})
    return stats


@dataclass(frozen=True)
class SkippedWindow:
    """A window whose raw pages are those of its last load, read by the same parser: nothing to do."""

    legs: int

    def as_metadata(self) -> dict[str, int]:
        return {"windows_skipped": 1, "unchanged": self.legs}


def _last_load(conn: psycopg.Connection, provider: str, account: str, window) -> tuple[list[int], str] | None:
    row = conn.execute(
        "SELECT raw_response_ids, parser_version FROM cdr.window_load WHERE provider = %s AND account = %s"
        " AND window_start = %s AND window_end = %s", (provider, account, window[0], window[1])).fetchone()
    return None if row is None else (list(row[0]), row[1])


def load_windows(connect: Callable[..., ContextManager[psycopg.Connection]], provider: str, account: str,
                 windows: list[tuple[datetime, datetime]],
                 parse: Callable[[Iterator[RawPage]], Iterable],
                 load: Callable[[psycopg.Connection, tuple[datetime, datetime], Iterable], Any],
                 on_loaded: Callable[[tuple[datetime, datetime], Any], None] | None = None,
                 parser_version: str | None = None) -> dict[str, int]:
    """Load each window from its stored raw pages, one transaction per window, and sum the stats.

    The next window is parsed in the background while this one merges (pipelines.warehouse.prefetch).
    Pages are read before the window's lock is taken, so after taking it the loader checks that
    they are still the window's latest fetch; if a concurrent fetch replaced them, it parses the
    current pages instead, so an older fetch can never overwrite a newer one.

    With a `parser_version`, a window whose latest fetch is the very set of raw pages its last
    load read with that parser version is skipped without parsing: byte-identical bodies through
    the same parser cannot change a row. (`CDR_FORCE_RELOAD=1` turns the skipping off.)
    """
    skipping = parser_version is not None and os.environ.get("CDR_FORCE_RELOAD", "") not in ("1", "true", "yes")
    totals: dict[str, int] = {}
    with connect(autocommit=True) as reader, connect() as writer:
        def source(window):
            raw_ids = window_page_ids(reader, provider, account, window)
            if skipping and _last_load(reader, provider, account, window) == (raw_ids, parser_version):
                return (raw_ids, True), ()
            return (raw_ids, False), parse(pages_by_id(reader, raw_ids, window))

        for window, (parsed_ids, unchanged), items in parse_ahead(windows, source):
            with writer.transaction():
                lock_account_loads(writer, provider, account)
                enter_leg_changes(writer)
                current_ids = window_page_ids(writer, provider, account, window)
                if current_ids == parsed_ids and unchanged:
                    stats = SkippedWindow(writer.execute(
                        "SELECT legs FROM cdr.window_load WHERE provider = %s AND account = %s AND window_start = %s"
                        " AND window_end = %s", (provider, account, window[0], window[1])).fetchone()[0])
                    writer.execute(sql_file("load/record_load_audit.sql"), {
                        "provider": provider, "account": account, "start": window[0], "end": window[1],
                        "legs_parsed": 0, "inserted": 0, "updated": 0, "unchanged": stats.legs, "quarantined": 0,
                        "duplicates_in_window": 0, "skipped": True})
                elif current_ids == parsed_ids:
                    stats = load(writer, window, items)
                else:  # a fetch landed since the pages were parsed: load what is current now
                    with connect(autocommit=True) as fresh:
                        stats = load(writer, window, parse(pages_by_id(fresh, current_ids, window)))
                if parser_version is not None and not isinstance(stats, SkippedWindow):
                    writer.execute(sql_file("load/record_window_load.sql"),
                                   {"provider": provider, "account": account, "start": window[0], "end": window[1],
                                    "ids": current_ids, "version": parser_version,
                                    "legs": getattr(stats, "legs_parsed", 0)})
            for key, value in stats.as_metadata().items():
                totals[key] = totals.get(key, 0) + value
            if on_loaded is not None:
                on_loaded(window, stats)
    return totals
