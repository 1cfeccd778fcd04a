"""Request pacing shared across processes through PostgreSQL: a provider's per-account rate limit
holds for every run on that account together (a nightly run beside a backfill, runs on several
machines), not only for each client alone.

One row of cdr.request_pacing per (provider, account) holds the earliest moment the account's next
request may go out. `wait()` takes the slot with one statement on its own autocommit connection
(sql/pacing/take.sql): if the moment has come, the row moves on to now + one interval and the
request goes out at once; if not, it sleeps until then, outside any lock or transaction, and
tries again. The row lock lasts only that statement, never a load transaction.

The slot is taken when the request is about to go, not reserved ahead and slept towards: a
process that wakes late (a loaded machine) then pushes the next slot back by as much, instead of
sending late into the next request's second. `hold(seconds)` pushes the row to now + seconds
after the provider said "too many". The times are the database's clock, so processes on
different machines agree; a process only sleeps the durations it is told.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import psycopg

from pipelines.providers.base import pacing_interval
from pipelines.sql import sql_file

# `connect(autocommit=True)` as pipelines.resources.WarehouseResource.connect offers it
Connect = Callable[..., AbstractContextManager[psycopg.Connection]]


class DatabasePacing:
    """The pacers of one provider account (base.Pacing: called with a rate, returns a pacer),
    sharing one autocommit connection, opened at the first request and reopened once if it broke
    (a server restart). `close()` closes it."""

    def __init__(self, connect: Connect, provider: str, account: str,
                 sleep: Callable[[float], None] = time.sleep):
        self.provider, self.account, self.sleep = provider, account, sleep
        self._connect = connect
        self._stack = ExitStack()
        self._conn: psycopg.Connection | None = None

    def __call__(self, per_second: float) -> DatabasePacer:
        return DatabasePacer(self, pacing_interval(per_second))

    def execute(self, statement: str, **params: Any) -> psycopg.Cursor:
        """sql/<statement> for this account, on the pacing connection."""
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self.close()
                self._conn = self._stack.enter_context(self._connect(autocommit=True))
            try:
                return self._conn.execute(sql_file(statement),
                                          {"provider": self.provider, "account": self.account, **params})
            except psycopg.OperationalError:
                if attempt == 2 or not self._conn.closed:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conn = None
        self._stack.close()


class DatabasePacer:
    """A base.RequestPacer whose slots are shared with every process on the same account."""

    def __init__(self, pacing: DatabasePacing, interval_s: float):
        self._pacing, self.interval = pacing, interval_s

    def wait(self) -> None:
        while self._pacing.execute("pacing/take.sql", interval_s=self.interval).fetchone() is None:
            row = self._pacing.execute("pacing/until.sql").fetchone()
            # a millisecond more: waking a hair early would only cost one more round trip
            self._pacing.sleep(max(row[0] if row else 0.0, 0.0) + 0.001)

    def hold(self, seconds: float) -> None:
        self._pacing.execute("pacing/hold.sql", seconds=float(seconds))
