"""The Dagster resource for the warehouse. Provider accounts are not resources: each account's
settings object is handed to its assets when the definitions are built (pipelines.config)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource

from pipelines.warehouse.connection import warehouse_url


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL warehouse. `url` unset means the project's embedded PostgreSQL."""

    url: str | None = None

    def resolved_url(self) -> str:
        return self.url or warehouse_url()

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.resolved_url(), autocommit=autocommit) as conn:
            yield conn
