"""Derived tables, recomputed for the days a load changed: assembled calls and leg aggregates.

The leg merge marks the days it changed in cdr.stale_day; `refresh_stale` recomputes a target
for the marked days of a range, a month of consecutive days per statement, and clears the marks
in the same transaction. A full refresh marks every day of the range first.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from pipelines.model import Window
from pipelines.sql import run_script, sql_file
from pipelines.warehouse.locks import exclude_leg_changes

UTC = UTC
# Consecutive stale days are recomputed up to a month per statement: far cheaper per day than one
# day at a time (the call assembly reads a day either side of its range), still bounded for a
# multi-year backfill.
DERIVED_CHUNK_DAYS = 31
REFRESH_SQL = {"calls": "aggregates/refresh_calls.sql", "aggregates": "aggregates/refresh_leg_aggregates.sql"}


def refresh_calls(conn, window: Window) -> None:
    run_script(conn, REFRESH_SQL["calls"], {"from": window[0], "to": window[1]})


def refresh_leg_aggregates(conn, window: Window) -> None:
    run_script(conn, REFRESH_SQL["aggregates"], {"from": window[0], "to": window[1]})


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


def refresh_stale(conn, target: str, window: Window, full: bool = False) -> int:
    """Recompute `target` ('calls' or 'aggregates') for the stale days in `window`; return how many.

    Each transaction excludes leg loads (locks.exclude_leg_changes), so the marks it clears are
    exactly the changes its recomputation saw; two refreshes are serialised the same way.
    """
    span = {"target": target, "first": window[0].astimezone(UTC).date(),
            "last": window[1].astimezone(UTC).date()}
    with conn.transaction():
        if full:
            conn.execute(sql_file("aggregates/mark_all_stale.sql"), span)
        days = [d for (d,) in conn.execute(sql_file("aggregates/stale_days.sql"), span).fetchall()]
    for run in _day_runs(days, DERIVED_CHUNK_DAYS):
        with conn.transaction():
            exclude_leg_changes(conn)
            run_script(conn, REFRESH_SQL[target], {"from": run[0], "to": run[1]})
            conn.execute(sql_file("aggregates/clear_stale.sql"),
                         {"target": target, "first": run[0].date(), "last": run[1].date()})
    return len(days)
