"""Apply sql/migrations/NNN_*.sql in order, each once, each in its own transaction.

Hand-written (about forty lines) rather than alembic or yoyo: the migrations are plain SQL files
that a DBA can read and run with psql, and the runner only needs an applied-versions table, a
checksum to catch an edited migration, and an advisory lock so two processes never race.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

from pipelines.sql import SQL_DIR

MIGRATIONS_DIR = SQL_DIR / "migrations"
_LOCK_KEY = 7_305_119_001


class MigrationError(RuntimeError):
    pass


def pending_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql"))


def migrate(url: str) -> list[str]:
    """Bring the warehouse at `url` up to date; return the names of the migrations applied."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS public.cdr_schema_migrations ("
                " version text PRIMARY KEY, sha256 text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = dict(conn.execute("SELECT version, sha256 FROM public.cdr_schema_migrations").fetchall())
            for path in pending_files():
                text = path.read_text()
                digest = hashlib.sha256(text.encode()).hexdigest()
                if path.stem in done:
                    if done[path.stem] != digest:
                        raise MigrationError(
                            f"migration {path.name} was edited after it was applied; add a new one instead")
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO public.cdr_schema_migrations (version, sha256) VALUES (%s, %s)",
                        (path.stem, digest))
                applied_now.append(path.stem)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
