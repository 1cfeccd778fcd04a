"""Advisory locks that keep concurrent runs (a backfill overlapping the nightly run) apart."""
from __future__ import annotations

from datetime import datetime

import psycopg

from pipelines.sql import sql_file


def advisory_lock(conn: psycopg.Connection, *key_parts: object) -> None:
    """A transaction-scoped advisory lock on `key_parts`: released at commit or rollback, and by
    the server if the process dies, so a killed run never leaves it held."""
    conn.execute(sql_file("locks/exclusive.sql"), {"key": "|".join(map(str, key_parts))})


def advisory_lock_shared(conn: psycopg.Connection, *key_parts: object) -> None:
    """The shared form of `advisory_lock`: any number of holders, excluding the exclusive one."""
    conn.execute(sql_file("locks/shared.sql"), {"key": "|".join(map(str, key_parts))})


def enter_leg_changes(conn: psycopg.Connection, provider: str, account: str) -> None:
    """Taken (shared) by every transaction that changes an account's legs and marks its stale
    days, and (exclusive) by every refresh of that account's derived rows: a refresh then sees
    every committed change whose mark it clears, and no load can slip a change in between its
    recomputation and its clearing. Per account, as the marks and refreshes are: one account's
    refresh never waits for another account's loads."""
    advisory_lock_shared(conn, "leg changes", provider, account)


def exclude_leg_changes(conn: psycopg.Connection, provider: str, account: str) -> None:
    advisory_lock(conn, "leg changes", provider, account)


def lock_window(conn: psycopg.Connection, provider: str, account: str,
                window: tuple[datetime, datetime]) -> None:
    """Serialise fetches of one provider/account/window across processes (nightly run vs backfill)."""
    advisory_lock(conn, "fetch", provider, account, window[0].isoformat(), window[1].isoformat())


def lock_account_loads(conn: psycopg.Connection, provider: str, account: str) -> None:
    """Serialise the loads of one provider account: a load reads which pages are its window's
    current fetch and merges them as one step relative to the account's other loads, so a load of
    an older fetch can never commit after a load of a newer one (tests/recovery/test_interleavings.py).

    (Concurrent MERGEs of the same key are already kept apart, for every account at once, by the
    partition-creation lock `cdr.ensure_call_leg_partitions` takes until commit.)"""
    advisory_lock(conn, "load", provider, account)
