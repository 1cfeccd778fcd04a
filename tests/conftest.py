"""Shared fixtures: a real PostgreSQL (the embedded one, or CDR_TEST_DATABASE_URL), simulators
on loopback, and Dagster runs in process against an ephemeral instance."""
from __future__ import annotations

import os
from datetime import date, timedelta

import psycopg
import pytest

from pipelines.warehouse.connection import ensure_database, start_embedded
from pipelines.warehouse.migrate import migrate

# Parallel developers (or CI shards) can keep apart with CDR_TEST_DATABASE; each pytest-xdist
# worker (`make test` runs two) gets a database of its own under that name.
TEST_DATABASE = os.environ.get("CDR_TEST_DATABASE", "cdr_test") + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else "")



@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """A freshly migrated test database; never the demo's `cdr_warehouse`."""
    url = os.environ.get("CDR_TEST_DATABASE_URL")
    if not url:
        server = os.environ.get("CDR_WAREHOUSE_URL") or start_embedded()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
        url = ensure_database(server, TEST_DATABASE)
    migrate(url)
    os.environ["CDR_WAREHOUSE_URL"] = url  # what the Dagster resources read
    return url


@pytest.fixture(scope="session", autouse=True)
def _warehouse_before_anything_else(warehouse_url) -> None:
    """The test database exists, and CDR_WAREHOUSE_URL names it, before any module's fixtures
    run: a fixture that saves and restores the environment (simulators) must never restore one
    without it, or later Dagster runs would fall back to the demo's database."""


@pytest.fixture
def clean_warehouse(warehouse_url) -> str:
    truncate_warehouse(warehouse_url)
    return warehouse_url


def truncate_warehouse(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE " + ", ".join(all_warehouse_tables(conn)) + " RESTART IDENTITY")


def all_warehouse_tables(conn) -> list[str]:
    """Every table in schemas cdr (later providers add their own) and mart, without partitions."""
    rows = conn.execute(
        "SELECT format('%I.%I', n.nspname, c.relname)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname IN ('cdr', 'mart') AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


LEG_TABLES = ("cdr.fact_call_leg", "cdr.fact_call", "cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily",
              "cdr.quarantine")
# Columns that record when or from which fetch a row was loaded: equal within one warehouse across
# re-runs, but not between two separately loaded warehouses.
LOAD_TIME_COLUMNS = frozenset({"first_seen_at", "last_changed_at", "quarantined_at", "raw_response_id",
                               "enriched_at"})


def snapshot(url: str, tables=LEG_TABLES, *, across_loads: bool = False) -> dict[str, list[tuple]]:
    """Every row of `tables`, ordered, for row-for-row comparisons.

    `across_loads=True` leaves out LOAD_TIME_COLUMNS, to compare a faulty run with a clean one.
    """
    out = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            schema, name = table.split(".")
            columns = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s"
                " ORDER BY ordinal_position", (schema, name)).fetchall()
                if not (across_loads and c in LOAD_TIME_COLUMNS)]
            column_list = ", ".join(f'"{c}"' for c in columns)
            out[table] = conn.execute(f"SELECT {column_list} FROM {table} ORDER BY {column_list}").fetchall()
    return out


def rows(url: str, query: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def scalar(url: str, query: str, params=None):
    return rows(url, query, params)[0][0]


PAST_DAY = date(2026, 11, 2)  # a fixed day: the simulators are deterministic per day


def day_range(first: date, days: int) -> tuple[str, str]:
    return first.isoformat(), (first + timedelta(days=days - 1)).isoformat()
