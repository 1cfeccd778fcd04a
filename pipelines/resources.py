"""The Dagster resource for the warehouse. Provider accounts are not resources: each account's
settings object is handed to its assets when the definitions are built (pipelines.config)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource

from pipelines.warehouse.connection import DEFAULT_DATABASE, PROJECT_ROOT, embedded_database_url


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL warehouse: `url` (given as an EnvVar: it may hold a password), or, unset,
    the database `embedded_database` of the embedded server whose data is in `pgdata`."""

    url: str | None = None
    embedded_database: str = DEFAULT_DATABASE
    pgdata: str = str(PROJECT_ROOT / ".pgdata")

    def resolved_url(self) -> str:
        return self.url or embedded_database_url(self.pgdata, self.embedded_database)

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.resolved_url(), autocommit=autocommit) as conn:
            yield conn
