"""What the BI tests share: a warehouse loaded the way `make demo` loads it (every provider's
simulator over HTTP, the nightly job in process, the mart refreshed by its asset), and login
roles holding the BI roles, as a BI user gets them (docs/mart.md)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import PAST_DAY, TEST_DATABASE, scalar, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.simulator_driver import simulators

PROVIDERS = ["tenios", "belfabriek", "mixvoip", "telecomx"]
DAYS = 2
PASSWORD = "bi-login-test-only"


def load_through_simulators(url: str) -> str:
    """Empty the warehouse at `url` and load DAYS days of every provider into it; return `url`."""
    truncate_warehouse(url)
    first, last = PAST_DAY, PAST_DAY + timedelta(days=DAYS - 1)
    with simulators(PROVIDERS):
        result = run_range(PROVIDERS, first.isoformat(), last.isoformat())
    assert result.success, failure_messages(result)
    assert scalar(url, "SELECT count(*) FROM mart.kpi_daily") > 0
    return url


def login_name(purpose: str) -> str:
    """A login role's name. Roles are cluster-wide: each test database has its own, so parallel
    test databases on one server never share or drop each other's."""
    return f"{TEST_DATABASE}_{purpose}"


@contextmanager
def login_role(url: str, name: str, *member_of: str) -> Iterator[str]:
    """A fresh login role `name` holding `member_of` and nothing else; yields its connection URL
    to the database of `url`, and drops the role afterwards."""
    role = sql.Identifier(name)
    granted = sql.SQL(", ").join(sql.Identifier(r) for r in member_of)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
            role, sql.Literal(PASSWORD), granted))
    try:
        yield make_conninfo(url, user=name, password=PASSWORD)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
