"""The migration runner and the choice between the embedded server and CDR_WAREHOUSE_URL."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from pipelines.cli import main
from pipelines.registry import registry
from pipelines.warehouse import connection
from pipelines.warehouse.migrate import MIGRATIONS_DIR, MigrationError, migrate, pending_files
from tests.conftest import rows


def test_migrations_are_applied_once_in_order(warehouse_url):
    applied = [v for (v,) in rows(warehouse_url,
                                  "SELECT version FROM public.cdr_schema_migrations ORDER BY version")]
    assert applied == [p.stem for p in pending_files()]
    assert migrate(warehouse_url) == []  # a second run is a no-op


def test_provider_migrations_live_in_their_folders_and_apply_in_one_order(tmp_path):
    files = pending_files()
    assert [p.name for p in files] == sorted(p.name for p in files)
    provider_dirs = {spec.migrations_dir for spec in registry().values() if spec.migrations_dir.is_dir()}
    assert {p.parent for p in files} == {MIGRATIONS_DIR, *provider_dirs}
    assert {p.name for p in files if p.parent != MIGRATIONS_DIR} == {"002_mixvoip_billing.sql",
                                                                     "003_telecomx_stats.sql",
                                                                     "008_mixvoip_billing_customer.sql"}
    (tmp_path / "002_mixvoip_billing.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"two migrations are named 002_mixvoip_billing\.sql"):
        pending_files([tmp_path])


def test_an_edited_migration_is_refused(warehouse_url, monkeypatch, capsys):
    first = pending_files()[0].stem
    with psycopg.connect(warehouse_url) as conn:
        original = conn.execute("SELECT sha256 FROM public.cdr_schema_migrations WHERE version = %s",
                                (first,)).fetchone()[0]
        conn.execute("UPDATE public.cdr_schema_migrations SET sha256 = 'edited' WHERE version = %s", (first,))
    try:
        with pytest.raises(MigrationError, match="edited after it was applied"):
            migrate(warehouse_url)
        # on the command line: one line naming the migration, no traceback
        monkeypatch.setenv("CDR_WAREHOUSE_URL", warehouse_url)
        assert main(["db", "migrate"]) == 1
        assert capsys.readouterr().err == (f"error: migration {first}.sql was edited after it was applied;"
                                           " add a new one instead\n")
    finally:
        with psycopg.connect(warehouse_url) as conn:
            conn.execute("UPDATE public.cdr_schema_migrations SET sha256 = %s WHERE version = %s",
                         (original, first))


def test_two_databases_of_one_cluster_migrate_at_once_though_roles_are_shared(warehouse_url, tmp_path):
    """The runner's advisory lock is per database; roles are per cluster. Both runs find the role
    missing (the sleep holds each between its check and its CREATE ROLE) and the run that loses
    the race applies the migration again instead of failing (CI's first run of two workers did)."""
    role = f"cdr_race_{uuid.uuid4().hex[:12]}"
    (tmp_path / "999_race_for_a_role.sql").write_text(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
                PERFORM pg_sleep(1);
                CREATE ROLE {role} NOLOGIN;
            END IF;
        END
        $$;""")
    urls = [connection.ensure_database(warehouse_url, f"{role}_{side}") for side in ("a", "b")]
    try:
        for url in urls:
            migrate(url)  # everything but the racing migration, one after the other
        both_ready = threading.Barrier(len(urls))

        def migrate_at_once(url: str) -> list[str]:
            both_ready.wait()
            return migrate(url, [tmp_path])

        with ThreadPoolExecutor(len(urls)) as pool:
            applied = list(pool.map(migrate_at_once, urls))  # re-raises either run's error
        assert applied == [["999_race_for_a_role"]] * len(urls)
        assert rows(warehouse_url, "SELECT rolname FROM pg_roles WHERE rolname = %s", (role,)) == [(role,)]
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            for side in ("a", "b"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(f"{role}_{side}")))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_configured_url_is_used_and_nothing_embedded_starts(monkeypatch):
    def refuse():
        raise AssertionError("the embedded server must not start when CDR_WAREHOUSE_URL is set")

    monkeypatch.setattr(connection, "start_embedded", refuse)
    monkeypatch.setenv("CDR_WAREHOUSE_URL", "postgresql://etl:secret@db.example:5432/cdr")
    assert connection.warehouse_url() == "postgresql://etl:secret@db.example:5432/cdr"
    assert connection.redact_url(connection.warehouse_url()) == "postgresql://etl:***@db.example:5432/cdr"
