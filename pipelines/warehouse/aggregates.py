"""Derived tables, recomputed per provider account for the days a load changed: assembled calls
and leg aggregates.

The leg merge marks the (provider, account, day)s it changed in cdr.stale_day; `refresh_stale`
recomputes a target for the marked days of a range, one account and up to a month of consecutive
days per statement, and clears those marks in the same transaction. It can be limited to one
account (each account's load asset refreshes its own days, so one account's failure never holds
back another's calls and aggregates) or cover every account with marks in the range. A full
refresh marks every day of the range first.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any

import psycopg

from pipelines.model import Window
from pipelines.sql import run_script, sql_file
from pipelines.warehouse.locks import exclude_leg_changes

UTC = UTC
# Consecutive stale days are recomputed up to a month per statement: far cheaper per day than one
# day at a time (the call assembly reads a day either side of its range), still bounded for a
# multi-year backfill.
DERIVED_CHUNK_DAYS = 31
# RefreshBehind recomputes settled days once this many are waiting: one day's call assembly reads
# three days of legs (a 10-day one twelve), so day by day it would cost about twice the work of
# one refresh after the load (measured on 400k MIXvoip legs: 0.6-1.1 s a day, 3-6 s for 10 days).
BEHIND_BATCH_DAYS = 3


def assemble_calls(conn, params: dict[str, Any]) -> None:
    """Re-assemble the calls of `params`' provider account that start in [from, to): changed and
    vanished calls in refresh_calls.sql, new ones in insert_new_calls.sql as plain inserts; where
    one of those is stored with a start outside the range, it is deleted and inserted again."""
    with conn.transaction():
        run_script(conn, "aggregates/refresh_calls.sql", params)
        try:
            with conn.transaction():
                run_script(conn, "aggregates/insert_new_calls.sql", params)
        except psycopg.errors.UniqueViolation:
            run_script(conn, "aggregates/drop_moved_calls.sql", params)
            run_script(conn, "aggregates/insert_new_calls.sql", params)


# The SQL files each target's recomputation runs (its assets' code version), and the recomputation
# of one account's range: the calls' in assemble_calls, the others' their one script.
REFRESH_SQL = {"calls": ("aggregates/refresh_calls.sql", "aggregates/insert_new_calls.sql",
                         "aggregates/drop_moved_calls.sql"),
               "aggregates": ("aggregates/refresh_leg_aggregates.sql",), "mart": ("mart/refresh_kpis.sql",)}


def _script(target: str) -> Callable[[Any, dict[str, Any]], None]:
    (name,) = REFRESH_SQL[target]
    return lambda conn, params: run_script(conn, name, params)


REFRESHES: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "calls": assemble_calls, "aggregates": _script("aggregates"), "mart": _script("mart")}


def refresh_calls(conn, window: Window, provider: str, account: str) -> None:
    """Re-assemble the calls of one provider account that start in `window`."""
    assemble_calls(conn, {"provider": provider, "account": account, "from": window[0], "to": window[1]})


def refresh_leg_aggregates(conn, window: Window, provider: str, account: str) -> None:
    """Recompute the hourly and daily aggregates of one provider account for the UTC days of `window`."""
    REFRESHES["aggregates"](conn, {"provider": provider, "account": account,
                                   "from": window[0], "to": window[1]})


def _day_runs(days: list[date], longest: int) -> Iterator[Window]:
    """Consecutive days as half-open UTC windows of at most `longest` days."""
    run: list[date] = []
    for day in days:
        if run and (day - run[-1] != timedelta(days=1) or len(run) == longest):
            yield _window(run)
            run = []
        run.append(day)
    if run:
        yield _window(run)


def _window(days: list[date]) -> Window:
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC)
    return start, start + timedelta(days=len(days))


def refresh_stale(conn, target: str, window: Window, full: bool = False, provider: str | None = None,
                  account: str | None = None) -> int:
    """`refresh_stale_marks`, returning how many (account, day) pairs it recomputed."""
    return len(refresh_stale_marks(conn, target, window, full, provider, account))


def refresh_stale_marks(conn, target: str, window: Window, full: bool = False, provider: str | None = None,
                        account: str | None = None) -> list[tuple[str, str, date]]:
    """Recompute `target` ('calls', 'aggregates' or 'mart') for the stale days in `window`; return the
    (provider, account, day) marks it recomputed (each day's figures in Dagster name them).

    With `provider` and `account`, only that account's marks are dealt with (with `provider`
    alone, that provider's accounts'); without, every account's marks in the window, one statement
    per account and run of consecutive days. `full` marks every day of the window first (for each
    account in scope: the one named, else every one with legs, calls or aggregates in the window).

    Each transaction excludes the account's leg loads (locks.exclude_leg_changes), so the marks it
    clears are exactly the changes its recomputation saw; two refreshes of an account are
    serialised the same way.
    """
    span = {"target": target, "first": window[0].astimezone(UTC).date(),
            "last": window[1].astimezone(UTC).date(), "provider": provider, "account": account}
    with conn.transaction():
        if full:
            accounts = ([(provider, account)] if provider is not None and account is not None else
                        conn.execute(sql_file("aggregates/accounts_in_range.sql"), span).fetchall())
            for marked_provider, marked_account in accounts:
                conn.execute(sql_file("aggregates/mark_all_stale.sql"),
                             {**span, "provider": marked_provider, "account": marked_account})
        marks = conn.execute(sql_file("aggregates/stale_days.sql"), span).fetchall()
    for (stale_provider, stale_account), account_marks in groupby(marks, key=lambda mark: mark[:2]):
        days = [day for _, _, day in account_marks]
        for run in _day_runs(days, DERIVED_CHUNK_DAYS):
            with conn.transaction():
                exclude_leg_changes(conn, stale_provider, stale_account)
                REFRESHES[target](conn, {"provider": stale_provider, "account": stale_account,
                                         "from": run[0], "to": run[1]})
                conn.execute(sql_file("aggregates/clear_stale.sql"),
                             {"target": target, "provider": stale_provider, "account": stale_account,
                              "first": run[0].date(), "last": run[1].date()})
    return [(marked, account_name, day) for marked, account_name, day in marks]


class RefreshBehind:
    """An account's derived rows recomputed behind its load, on a connection and thread of their
    own: after each window commits (`loaded`, in window order), the days it settled are refreshed
    while the load goes on with the next window (parsing it, streaming its COPY), instead of all
    of them after the last window. The leg-change locks keep the two apart only while a window
    merges (pipelines.warehouse.locks), so the refresh overlaps the rest of the load.

    A window's load marks its own day's aggregates and calls stale, and the calls of the day
    before (a call may start there); its calls read the next day's legs too. So once window
    [start, end) is loaded, the aggregates before `end` and the calls before `start` are settled.
    The marks decide what is recomputed, as in any refresh: a later window that changes a settled
    day marks it again, and `finish` recomputes whatever is still marked in the whole range.
    """

    def __init__(self, connect, provider: str, account: str, since: datetime,
                 targets: tuple[str, ...] = ("calls", "aggregates"), batch_days: int = BEHIND_BATCH_DAYS):
        self._connect, self._provider, self._account = connect, provider, account
        self._since, self._targets = since, targets
        self._batch = timedelta(days=batch_days)
        self._settled: dict[str, datetime] = {}
        self._wanted = threading.Condition()
        self._closing = False
        self._error: BaseException | None = None
        self.marks: dict[str, list[tuple[str, str, date]]] = {target: [] for target in targets}
        self._thread = threading.Thread(target=self._run, name="refresh-behind", daemon=True)
        if targets:
            self._thread.start()

    def loaded(self, window: Window) -> None:
        """Window `window` committed: refresh what it settled (in the background)."""
        if self._error is not None:
            raise self._error
        with self._wanted:
            self._settled = {"aggregates": window[1], "calls": window[0]}
            self._wanted.notify()

    def _run(self) -> None:
        done: dict[str, datetime] = {}

        def behind() -> list[str]:
            return [t for t in self._targets
                    if self._settled.get(t, self._since) - done.get(t, self._since) >= self._batch]

        try:
            with self._connect() as conn:
                while True:
                    with self._wanted:
                        self._wanted.wait_for(lambda: self._closing or behind())
                        if self._closing:
                            return
                        due = {target: self._settled[target] for target in behind()}
                    for target, upto in due.items():
                        self._refresh(conn, target, upto)
                        done[target] = upto
        except BaseException as exc:  # noqa: BLE001 -- not swallowed: raised by loaded() or finish()
            self._error = exc

    def _refresh(self, conn, target: str, upto: datetime) -> None:
        self.marks[target] += refresh_stale_marks(conn, target, (self._since, upto), provider=self._provider,
                                                  account=self._account)

    def _stop(self) -> None:
        with self._wanted:
            self._closing = True
            self._wanted.notify()
        if self._thread.is_alive():
            self._thread.join()

    def finish(self, conn, end: datetime) -> dict[str, list[tuple[str, str, date]]]:
        """Wait for the background refresh, recompute what is still marked in [since, end) on
        `conn`, and return every mark recomputed, per target."""
        self._stop()
        if self._error is not None:
            raise self._error
        for target in self._targets:
            self._refresh(conn, target, end)
        # a day a later window changed again was recomputed twice: it is one day recomputed
        return {target: list(dict.fromkeys(marks)) for target, marks in self.marks.items()}

    def __enter__(self) -> RefreshBehind:
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop()
