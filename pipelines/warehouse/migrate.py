"""Apply the migrations (NNN_*.sql) in file-name order, each once, each in its own transaction.

The shared tables' migrations are in sql/migrations; a provider with tables of its own keeps
their migrations in its folder (pipelines/providers/<name>/sql/migrations), and a plug-in
provider's folder is passed in `extra_dirs`. All are ordered together by file name.

Hand-written (about forty lines) rather than alembic or yoyo: the migrations are plain SQL files
that a DBA can read and run with psql, and the runner only needs an applied-versions table, a
checksum to catch an edited migration, and an advisory lock so two processes never race.

The advisory lock is per database, but roles are per cluster: two warehouse databases in one
cluster (a test database per pytest-xdist worker, a staging copy) can migrate at once, both find
a role missing and both create it. The loser's migration fails on the role's unique name and is
applied once more, after the winner committed, when its `IF NOT EXISTS` finds the role.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import psycopg

from pipelines.errors import CdrEtlError
from pipelines.sql import SQL_DIR, sql_file

MIGRATIONS_DIR = SQL_DIR / "migrations"
PROVIDER_MIGRATIONS = Path(__file__).resolve().parents[1] / "providers"
_LOCK_KEY = 7_305_119_001
# Errors a concurrent creator of the same cluster-wide object causes. A migration that raises one
# on its own raises it again on the second attempt, and that error is the one reported.
_CLUSTER_RACE_ERRORS = (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject)


class MigrationError(CdrEtlError):
    """The migrations cannot be applied as they are (an edited or doubly named one): the command
    line shows it as one line, like every error the package raises on purpose."""


def pending_files(extra_dirs: Iterable[Path] = ()) -> list[Path]:
    """Every migration file, shared and per provider, in the order they apply."""
    dirs = [MIGRATIONS_DIR, *sorted(PROVIDER_MIGRATIONS.glob("*/sql/migrations")), *extra_dirs]
    folders = dict.fromkeys(folder.resolve() for folder in dirs)
    files = [path for folder in folders for path in folder.glob("[0-9][0-9][0-9]_*.sql")]
    names = [path.name for path in files]
    clash = sorted({name for name in names if names.count(name) > 1})
    if clash:
        raise MigrationError(f"two migrations are named {clash[0]}; give each a number and name of its own")
    return sorted(files, key=lambda path: path.name)


def migrate(url: str, extra_dirs: Iterable[Path] = ()) -> list[str]:
    """Bring the warehouse at `url` up to date; return the names of the migrations applied."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql_file("migrate/lock.sql"), {"key": _LOCK_KEY})
        try:
            conn.execute(sql_file("migrate/versions_table.sql"))
            done: dict[str, str] = dict(conn.execute(sql_file("migrate/applied.sql")).fetchall())
            for path in pending_files(extra_dirs):
                text = path.read_text()
                digest = hashlib.sha256(text.encode()).hexdigest()
                if path.stem in done:
                    if done[path.stem] != digest:
                        raise MigrationError(
                            f"migration {path.name} was edited after it was applied; add a new one instead")
                    continue
                try:
                    _apply(conn, text, path.stem, digest)
                except _CLUSTER_RACE_ERRORS:
                    _apply(conn, text, path.stem, digest)
                applied_now.append(path.stem)
        finally:
            conn.execute(sql_file("migrate/unlock.sql"), {"key": _LOCK_KEY})
    return applied_now


def _apply(conn: psycopg.Connection, text: str, version: str, digest: str) -> None:
    """Run one migration and record it, in one transaction: on an error neither is kept."""
    with conn.transaction():
        conn.execute(text)
        conn.execute(sql_file("migrate/record.sql"), {"version": version, "sha256": digest})
