"""The BI role from sql/migrations/005_bi_reader_role.sql: a login role granted cdr_bi_reader reads
every table and view of schema cdr, including tables created after the migration, and can write,
delete, truncate or create nothing."""
from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pipelines.warehouse.migrate import migrate
from tests.conftest import TEST_DATABASE, all_warehouse_tables

# Roles are cluster-wide: one login role per test database, so parallel test databases do not meet.
LOGIN_ROLE = f"{TEST_DATABASE}_bi_login"
PASSWORD = "bi-reader-test-only"


@pytest.fixture(scope="module")
def bi_url(warehouse_url):
    """A connection URL for a fresh login role that holds nothing but cdr_bi_reader."""
    role = sql.Identifier(LOGIN_ROLE)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE cdr_bi_reader").format(
            role, sql.Literal(PASSWORD)))
    yield make_conninfo(warehouse_url, user=LOGIN_ROLE, password=PASSWORD)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))


def reader_tables_and_views(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        views = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, viewname) FROM pg_views WHERE schemaname = 'cdr'").fetchall()]
        return all_warehouse_tables(conn) + views


def test_the_migration_is_idempotent_across_databases_of_one_cluster(warehouse_url):
    # the role already exists (this database's migration, or another test database's): no error
    assert migrate(warehouse_url) == []
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("DELETE FROM public.cdr_schema_migrations WHERE version = '005_bi_reader_role'")
        conn.commit()
    assert migrate(warehouse_url) == ["005_bi_reader_role"]
    with psycopg.connect(warehouse_url) as conn:
        login = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'cdr_bi_reader'").fetchone()
        assert login == (False,)


def test_reader_selects_every_table_and_view(bi_url, warehouse_url):
    objects = reader_tables_and_views(warehouse_url)
    assert {"cdr.fact_call_leg", "cdr.raw_response", "cdr.quarantine", "cdr.v_daily_activity"} <= set(objects)
    with psycopg.connect(bi_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (LOGIN_ROLE,)
        for name in objects:
            conn.execute(f"SELECT count(*) FROM {name}").fetchone()


def test_reader_reads_tables_created_after_the_migration(bi_url, warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS cdr.bi_later_table")
        conn.execute("CREATE TABLE cdr.bi_later_table AS SELECT 1 AS x")
    try:
        with psycopg.connect(bi_url) as conn:
            assert conn.execute("SELECT x FROM cdr.bi_later_table").fetchall() == [(1,)]
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute("DROP TABLE cdr.bi_later_table")


WRITES = [
    ("INSERT INTO cdr.load_audit (provider, account, window_start, window_end, legs_parsed, inserted,"
     " updated, unchanged, quarantined, duplicates_in_window)"
     " VALUES ('x', 'x', now(), now(), 0, 0, 0, 0, 0, 0)"),
    "UPDATE cdr.fact_call_leg SET account = 'x'",
    "DELETE FROM cdr.quarantine",
    "TRUNCATE cdr.fact_call",
    "CREATE TABLE cdr.bi_reader_was_here (x int)",
    "CREATE VIEW cdr.bi_reader_view AS SELECT 1",
    "CREATE TABLE public.bi_reader_was_here (x int)",
    "ALTER TABLE cdr.fact_call ADD COLUMN bi int",
    "DROP TABLE cdr.fact_call_leg",
    "SELECT cdr.ensure_call_leg_partitions('1999-01-01', '1999-01-01')",  # would create a partition
]


@pytest.mark.parametrize("statement", WRITES)
def test_reader_cannot_write(bi_url, statement):
    with psycopg.connect(bi_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
