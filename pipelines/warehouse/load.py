"""The one load path, for every kind of row: COPY into staging -> one guarded MERGE -> counts.

A provider declares the kinds of rows its parser yields (pipelines.providers.spec.ItemKind);
each kind brings its SQL pair (stage, merge). A window's items are routed by type: the first
declared kind streams straight into its COPY, the others (few: billing items, quarantined
records) are held until that COPY ends; parse notes (pipelines.model.ParseNote) are summed.
Every merge returns (staged, distinct, inserted, updated). The caller owns the transaction, so a
failure part-way leaves the window as it was.

A month that holds no leg yet, of any account, is loaded faster as a whole (`FreshMonth`): its
windows' legs are collected, then become the month's partition, its keys built after the rows
are in; the results are the merge's, row for row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import groupby, pairwise
from typing import Any

import orjson
import psycopg
from psycopg import sql

from pipelines.model import CallLeg, ParseNote, Quarantined, RawPage, Window
from pipelines.providers.common import record_json
from pipelines.providers.spec import CALL_LEGS, QUARANTINE, ItemKind
from pipelines.sql import run_script, script_result, sql_file, sql_statements
from pipelines.warehouse.locks import enter_leg_changes, lock_account_loads
from pipelines.warehouse.prefetch import parse_ahead
from pipelines.warehouse.privacy import apply_to_staged, check_replayable, drop_pages
from pipelines.warehouse.raw import pages_by_id, window_page_ids

Connect = Callable[..., AbstractContextManager[psycopg.Connection]]


@dataclass(frozen=True)
class MergeCounts:
    """What one merge of one kind did."""

    parsed: int
    inserted: int
    updated: int
    unchanged: int
    duplicates_in_window: int  # staged more than once (records repeated across pages)

    @classmethod
    def from_merge(cls, staged: int, distinct: int, inserted: int, updated: int) -> MergeCounts:
        return cls(staged, inserted, updated, distinct - inserted - updated, staged - distinct)


NOTHING = MergeCounts(0, 0, 0, 0, 0)
# A leg that started further than this outside the window it was fetched for is quarantined, not
# loaded. Legitimate ones lie within a day of it (Belfabriek's legs across midnight, MIXvoip's
# local dates); loading one dated 2999 would create every monthly partition up to it (some 11,700,
# in one transaction: beyond PostgreSQL's lock table, so the window would fail however often it
# is retried).
LEG_WINDOW_TOLERANCE = timedelta(days=31)
# The record_index of such a leg in cdr.quarantine: below -1 (-1 is a whole body), numbered in
# the order the parser yielded them, so that a re-run quarantines the same rows.
_FAR_LEG_INDEX = -2


@dataclass(frozen=True)
class LoadStats:
    """One window's load: the counts of each kind (the provider's primary kind first, then its
    other kinds, then the quarantine), or a window skipped because nothing changed."""

    counts: dict[str, MergeCounts]
    skipped: bool = False
    # what the parser had to assume, by note name, counts summed over the window
    notes: dict[str, ParseNote] = field(default_factory=dict)

    @property
    def primary(self) -> MergeCounts:
        return next(iter(self.counts.values()))

    @property
    def quarantined(self) -> int:
        return self.counts.get(QUARANTINE.name, NOTHING).parsed

    def as_metadata(self) -> dict[str, int]:
        """Flat figures for Dagster: `<kind>_<count>` for every kind, `quarantined`, and
        `windows_skipped`, and each parse note's count under its name; summed over a run's
        windows by `load_windows`."""
        out = {"windows_skipped": int(self.skipped), "quarantined": self.quarantined}
        out.update({name: note.total for name, note in self.notes.items()})
        for name, counts in self.counts.items():
            if name != QUARANTINE.name:
                out.update({f"{name}_{figure}": value for figure, value in vars(counts).items()})
        return out

    def __str__(self) -> str:
        if self.skipped:
            return f"unchanged since its last load ({self.primary.unchanged} rows), not parsed again"
        return ", ".join(f"{name} {c.parsed} parsed, {c.inserted} new, {c.updated} changed"
                         for name, c in self.counts.items() if c.parsed or name != QUARANTINE.name)

    def note_warning(self) -> str | None:
        """One sentence for the window's parse notes, or None: what was assumed, how often."""
        if not self.notes:
            return None
        return "; ".join(map(str, self.notes.values()))


def _copy_statement(kind: ItemKind) -> sql.Composed:
    """COPY into the kind's staging table; the column list is the row type's fields (built from
    the declaration, so it cannot drift from the NamedTuple the parser fills)."""
    return sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(kind.staging_table), sql.SQL(", ").join(map(sql.Identifier, kind.columns)),
        sql.SQL(" (FORMAT BINARY)") if kind.copy_types else sql.SQL(""))


def _merge(conn: psycopg.Connection, kind: ItemKind, erased: set[int],
           pseudonym_key: bytes | None = None, first_load: bool = False) -> MergeCounts:
    # recorded erasures (and an account's pseudonyms) apply before the merge
    # (pipelines.warehouse.privacy); `erased` collects the raw pages of the rows erasures changed
    erased.update(apply_to_staged(conn, kind.name, pseudonym_key))
    if first_load:
        # the window was never loaded: its rows are inserted without being matched against the
        # table (sql/load/merge_call_legs.sql); one that exists after all fails the insert on the
        # primary key, and the merge runs again with the match, as any other load's does. Not
        # prepared: only a plan made for `false` leaves the table out (a generic one scans it).
        try:
            with conn.transaction():
                return MergeCounts.from_merge(*script_result(conn, kind.merge_sql, {"match_existing": False},
                                                             prepare=False))
        except psycopg.errors.UniqueViolation:
            pass
    return MergeCounts.from_merge(*script_result(conn, kind.merge_sql, {"match_existing": True}))


def _stage_and_merge(conn: psycopg.Connection, kind: ItemKind, rows: list, erased: set[int]) -> MergeCounts:
    if not rows:
        return NOTHING
    run_script(conn, kind.stage_sql)
    with conn.cursor() as cur, cur.copy(_copy_statement(kind)) as copy:
        if kind.copy_types:
            copy.set_types(kind.copy_types)
        for row in rows:
            copy.write_row(row)
    return _merge(conn, kind, erased)


def load_window(conn: psycopg.Connection, provider: str, account: str, window: Window,
                kinds: Sequence[ItemKind], items: Iterable[Any],
                pseudonym_key: bytes | None = None, first_load: bool = False,
                fresh: FreshMonth | None = None) -> LoadStats:
    """Stage and merge one window's parsed items (of `kinds`, plus Quarantined records), and
    write its audit row. The first kind streams into its COPY; the rest is held until it ends.
    `first_load`: the account never loaded this window, so its primary rows are most likely all
    new (the merge then inserts them without matching; `_merge`). With `fresh`, the legs are
    collected into that month's instead of merged, and the audit row waits for its `finish`."""
    primary, *others = kinds
    held: dict[type, tuple[ItemKind, list]] = {kind.row_type: (kind, []) for kind in (*others, QUARANTINE)}
    primary_type: Any = primary.row_type  # Any: the rows are NamedTuples COPY writes as they are
    notes: dict[str, ParseNote] = {}
    legs = primary.row_type is CallLeg
    earliest, latest = window[0] - LEG_WINDOW_TOLERANCE, window[1] + LEG_WINDOW_TOLERANCE
    quarantined: list[Quarantined] = held[Quarantined][1]
    far_legs = 0
    run_script(conn, primary.stage_sql)
    with conn.cursor() as cur, cur.copy(_copy_statement(primary)) as copy:
        if primary.copy_types:
            copy.set_types(primary.copy_types)
        for item in items:
            if type(item) is primary_type:  # the hot path: millions of legs
                if legs and not earliest <= item.started_at < latest:
                    quarantined.append(_far_leg(item, window, _FAR_LEG_INDEX - far_legs))
                    far_legs += 1
                    continue
                copy.write_row(item)
                continue
            if type(item) is ParseNote:
                seen = notes.get(item.name)
                notes[item.name] = item if seen is None else seen._replace(total=seen.total + item.total)
                continue
            kind_and_rows = held.get(type(item))
            if kind_and_rows is None:
                raise TypeError(f"{provider}: the parser yielded a {type(item).__name__}, which is not among"
                                f" the kinds of rows {provider} declares"
                                f" ({', '.join(k.name for k in kinds)})")
            kind_and_rows[1].append(item)
    erased: set[int] = set()
    if fresh is not None:  # no leg changes before the month's finish: no refresh waits for it
        counts = {primary.name: fresh.collect(conn, window, erased, pseudonym_key)}
    else:
        # from here to commit the account's legs change: only now is a refresh of its derived rows
        # kept waiting (pipelines.warehouse.locks), not while the COPY streams the window in
        enter_leg_changes(conn, provider, account)
        counts = {primary.name: _merge(conn, primary, erased, pseudonym_key, first_load)}
    for kind, rows in held.values():
        counts[kind.name] = _stage_and_merge(conn, kind, rows, erased)
    # a re-pull brought an erased number back: its bodies go again, as the erasure deleted them
    drop_pages(conn, sorted(erased), "erasure")
    stats = LoadStats(counts, notes=notes)
    if fresh is None:
        _record_audit(conn, provider, account, window, stats)
    return stats


def _far_leg(leg: CallLeg, window: Window, index: int) -> Quarantined:
    """`leg`, which started more than LEG_WINDOW_TOLERANCE outside `window`, as a quarantined record."""
    return Quarantined(leg.provider, leg.account, leg.raw_response_id or 0, index, "started_at",
                       f"the leg started at {leg.started_at.isoformat()}, more than"
                       f" {LEG_WINDOW_TOLERANCE.days} days outside the window it was fetched for"
                       f" [{window[0].isoformat()}, {window[1].isoformat()})",
                       record_json(leg._asdict()))


def _record_audit(conn: psycopg.Connection, provider: str, account: str, window: Window,
                  stats: LoadStats) -> None:
    primary, quarantine = stats.primary, stats.counts.get(QUARANTINE.name, NOTHING)
    conn.execute(sql_file("load/record_load_audit.sql"), {
        "provider": provider, "account": account, "start": window[0], "end": window[1],
        "legs_parsed": primary.parsed, "inserted": primary.inserted, "updated": primary.updated,
        "unchanged": primary.unchanged, "duplicates_in_window": primary.duplicates_in_window,
        "quarantined": quarantine.inserted + quarantine.updated, "skipped": stats.skipped,
        "notes": orjson.dumps({name: note.total for name, note in stats.notes.items()}).decode()})


class FreshMonth:
    """One month's legs loaded as a partition of their own, in the caller's transaction: for a
    month that holds no leg of any account, the first load's path without a merge.

    Each window is staged, erased and pseudonymised as for the merge, deduplicated within itself
    as the merge would, and collected (`collect`). `finish` then, under the partition lock and only
    if the month still holds no leg and every leg collected falls in it, fills a table of the
    fact's shape, builds the keys after the rows are in and attaches it as the month's partition
    (sql/load/fresh_partition.sql). Otherwise (a concurrent load got there first, a leg outside the
    month), it merges the collected windows one by one, in order. A leg two windows hold goes into
    the partition as its first version, the later versions merged after it, window by window, so
    that the merge's guard judges them. The merge path's result in every case.

    Legs two windows hold are looked for only when there can be any: when the windows overlap, or
    a window holds a leg that started outside it (Belfabriek's legs across midnight, TENIOS's
    request from a second early). Of disjoint windows, a leg both hold lies outside one of them.
    """

    def __init__(self, conn: psycopg.Connection, provider: str, account: str, month: Window):
        self.provider, self.account, self.month = provider, account, month
        self.collected: list[tuple[int, int]] = []  # per window: (staged, distinct)
        self.windows: list[Window] = []  # in collection order
        self.outside = 0  # legs that started outside the window that holds them
        self.starts: tuple[datetime, datetime] | None = None
        run_script(conn, CALL_LEGS.stage_sql)
        run_script(conn, "load/fresh_legs.sql")

    def collect(self, conn: psycopg.Connection, window: Window, erased: set[int],
                pseudonym_key: bytes | None) -> MergeCounts:
        """The staged window into the month; counts as if every distinct leg were new, until `finish`."""
        erased.update(apply_to_staged(conn, CALL_LEGS.name, pseudonym_key))
        staged, distinct, first, last, outside = script_result(
            conn, "load/collect_fresh_legs.sql", {"window": len(self.collected), "start": window[0],
                                                  "end": window[1]})
        self.collected.append((staged, distinct))
        self.windows.append(window)
        self.outside += outside
        if distinct:
            self.starts = (first, last) if self.starts is None else (min(first, self.starts[0]),
                                                                     max(last, self.starts[1]))
        return MergeCounts.from_merge(staged, distinct, distinct, 0)

    def finish(self, conn: psycopg.Connection) -> tuple[bool, list[MergeCounts]]:
        """Load what was collected; return whether it became the month's partition, and each
        window's counts in collection order."""
        enter_leg_changes(conn, self.provider, self.account)
        if self.starts is None:
            return False, [MergeCounts.from_merge(staged, 0, 0, 0) for staged, _ in self.collected]
        run_script(conn, "load/lock_partitions.sql")
        inside = self.month[0] <= self.starts[0] and self.starts[1] < self.month[1]
        if inside and not script_result(conn, "load/month_has_legs.sql",
                                        {"start": self.month[0], "end": self.month[1]})[0]:
            overlapping = any(a[1] > b[0] for a, b in pairwise(sorted(self.windows)))
            # a leg two windows hold: its first version only into the partition
            repeated = ((self.outside > 0 or overlapping)
                        and script_result(conn, "load/fresh_later_versions.sql", {"every_leg": overlapping},
                                          prepare=False)[0] > 0)
            self._attach(conn)
            run_script(conn, "load/fresh_mark_stale.sql")
            if not repeated:
                return True, [MergeCounts.from_merge(staged, distinct, distinct, 0)
                              for staged, distinct in self.collected]
            # the later versions merged in window order, as the merge path would have met them
            return True, [self._merge_window(conn, window, "fresh_later")
                          for window, _ in enumerate(self.collected)]
        return False, [self._merge_window(conn, window) for window, _ in enumerate(self.collected)]

    def _attach(self, conn: psycopg.Connection) -> None:
        start = self.month[0].astimezone(UTC)
        names = {"partition": sql.Identifier(f"fact_call_leg_{start:%Y_%m}"),
                 "bounds": sql.Identifier(f"fact_call_leg_{start:%Y_%m}_fresh_bounds"),
                 "start": sql.Literal(start.isoformat()), "end": sql.Literal(self.month[1].isoformat())}
        for statement in sql_statements("load/fresh_partition.sql"):
            conn.execute(sql.SQL(statement).format(**names))

    def _merge_window(self, conn: psycopg.Connection, window: int,
                      source: str = "fresh_call_leg") -> MergeCounts:
        """Merge window `window`'s legs from `source`: all of them (fresh_call_leg), or the later
        versions of legs an earlier window holds (fresh_later; the rest are in the partition)."""
        staged, distinct = self.collected[window]
        run_script(conn, CALL_LEGS.stage_sql)
        columns = sql.SQL(", ").join(map(sql.Identifier, CALL_LEGS.columns))
        conn.execute(sql.SQL(sql_file("load/restage_fresh_window.sql")).format(
            columns=columns, source=sql.Identifier(source)), {"window": window})
        merged = MergeCounts.from_merge(*script_result(conn, CALL_LEGS.merge_sql, {"match_existing": True}))
        attached = distinct - merged.parsed  # inserted with the partition
        return MergeCounts.from_merge(staged, distinct, attached + merged.inserted, merged.updated)


def window_month(window: Window) -> Window | None:
    """The UTC month `window` lies in, or None if it spans two."""
    start = window[0].astimezone(UTC)
    month = datetime(start.year, start.month, 1, tzinfo=UTC)
    following = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
    return (month, following) if window[1] <= following else None


def _window_key(provider: str, account: str, window: Window) -> dict[str, Any]:
    return {"provider": provider, "account": account, "start": window[0], "end": window[1]}


@dataclass(frozen=True)
class _Parsed:
    """What the background parser read for a window: its raw pages, and whether they (and the
    parser version) are exactly those of the window's last load, which found `rows` rows."""

    raw_ids: list[int]
    unchanged: bool
    rows: int
    never_loaded: bool


def load_windows(connect: Connect, provider: str, account: str, kinds: Sequence[ItemKind],
                 windows: list[Window], parse: Callable[[Iterator[RawPage]], Iterable[Any]],
                 parser_version: str, *, force: bool = False,
                 on_loaded: Callable[[Window, LoadStats], None] | None = None,
                 pseudonym_key: bytes | None = None, fresh_months: bool = False) -> dict[str, int]:
    """Load each window from its stored raw pages, one transaction per window; sum the figures.

    The next window is parsed in the background while this one merges (pipelines.warehouse.prefetch).
    Pages are read before the window's lock is taken, so after taking it the loader checks that
    they are still the window's latest fetch; if a concurrent fetch replaced them, it parses the
    current pages instead, so an older fetch can never overwrite a newer one.

    A window whose latest fetch is the very set of raw pages its last load read with the same
    `parser_version` is skipped without parsing: byte-identical bodies through the same parser
    cannot change a row. `force` parses and merges every window anyway.

    `fresh_months`: consecutive windows of a month that holds no leg yet (of any account) load in
    one transaction as that month's partition (`FreshMonth`), `on_loaded` called for each once it
    commits (the initial backfill's path: a failure rolls back the month's windows loaded before
    it); False, the default, merges every window.
    """
    totals: dict[str, int] = {}
    months_seen: dict[Window, bool] = {}
    with connect(autocommit=True) as reader, connect() as writer:
        def source(window: Window) -> tuple[_Parsed, Iterable[Any]]:
            raw_ids = window_page_ids(reader, provider, account, window)
            last = reader.execute(sql_file("load/last_window_load.sql"),
                                  _window_key(provider, account, window)).fetchone()
            if not force and last is not None and (list(last[0]), last[1]) == (raw_ids, parser_version):
                return _Parsed(raw_ids, True, last[2], False), ()
            check_replayable(reader, provider, account, window, raw_ids)
            return _Parsed(raw_ids, False, 0, last is None), parse(pages_by_id(reader, raw_ids, window))

        def fresh_month(loaded: tuple[Window, _Parsed, Iterable[Any]]) -> Window | None:
            """The window's month if it is loaded as a fresh one: asked when its first window comes
            up (after the windows before it committed); FreshMonth.finish asks again under the lock."""
            month = window_month(loaded[0])
            if not fresh_months or kinds[0] is not CALL_LEGS or month is None:
                return None
            if month not in months_seen:
                months_seen[month] = not script_result(reader, "load/month_has_legs.sql",
                                                       {"start": month[0], "end": month[1]})[0]
            return month if months_seen[month] else None

        def load_one(window: Window, parsed: _Parsed, items: Iterable[Any],
                     fresh: FreshMonth | None = None) -> LoadStats:
            lock_account_loads(writer, provider, account)
            current_ids = window_page_ids(writer, provider, account, window)
            if current_ids == parsed.raw_ids and parsed.unchanged:
                stats = LoadStats({kinds[0].name: MergeCounts(0, 0, 0, parsed.rows, 0)}, skipped=True)
                if fresh is None:
                    _record_audit(writer, provider, account, window, stats)
                return stats
            if current_ids != parsed.raw_ids:  # a fetch landed since: load what is current now
                with connect(autocommit=True) as current:
                    stats = load_window(writer, provider, account, window, kinds,
                                        parse(pages_by_id(current, current_ids, window)), pseudonym_key,
                                        parsed.never_loaded, fresh)
            else:
                stats = load_window(writer, provider, account, window, kinds, items, pseudonym_key,
                                    parsed.never_loaded, fresh)
            writer.execute(sql_file("load/record_window_load.sql"),
                           {**_window_key(provider, account, window), "ids": current_ids,
                            "version": parser_version, "legs": stats.primary.parsed})
            return stats

        def load_month(month: Window, loads: Iterable[tuple[Window, _Parsed, Iterable[Any]]]
                       ) -> list[tuple[Window, LoadStats]]:
            done: list[tuple[Window, LoadStats]] = []
            with writer.transaction():
                lock_account_loads(writer, provider, account)
                fresh = FreshMonth(writer, provider, account, month)
                for window, parsed, items in loads:
                    done.append((window, load_one(window, parsed, items, fresh)))
                _, counts = fresh.finish(writer)
                final = iter(counts)  # one per window that was collected, in window order
                for i, (window, stats) in enumerate(done):
                    if not stats.skipped:
                        stats = replace(stats, counts={**stats.counts, kinds[0].name: next(final)})
                        done[i] = (window, stats)
                    _record_audit(writer, provider, account, window, stats)
            return done

        for month, loads in groupby(parse_ahead(windows, source), key=fresh_month):
            if month is None:
                for window, parsed, items in loads:
                    with writer.transaction():
                        stats = load_one(window, parsed, items)
                    _loaded(totals, on_loaded, window, stats)
            else:
                for window, stats in load_month(month, loads):
                    _loaded(totals, on_loaded, window, stats)
    return totals


def _loaded(totals: dict[str, int], on_loaded: Callable[[Window, LoadStats], None] | None, window: Window,
            stats: LoadStats) -> None:
    for key, value in stats.as_metadata().items():
        totals[key] = totals.get(key, 0) + value
    if on_loaded is not None:
        on_loaded(window, stats)
