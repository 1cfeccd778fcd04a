"""Dagster resources: the warehouse and one per provider. Secrets come from environment variables."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

import psycopg
from dagster import ConfigurableResource

from pipelines.providers.base import RetryPolicy
from pipelines.warehouse.connection import warehouse_url


class WarehouseResource(ConfigurableResource):
    """The PostgreSQL warehouse. `url` unset means the project's embedded PostgreSQL."""

    url: Optional[str] = None

    def resolved_url(self) -> str:
        return self.url or warehouse_url()

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.resolved_url(), autocommit=autocommit) as conn:
            yield conn


def http_settings_from_env(prefix: str) -> dict:
    """Retry and timeout settings: `<PREFIX>_<SETTING>` overrides `CDR_HTTP_<SETTING>`."""
    settings = {}
    for field_name, cast in (("timeout_s", float), ("max_attempts", int), ("backoff_base_s", float),
                             ("backoff_max_s", float), ("window_attempts", int)):
        for variable in (f"{prefix}_{field_name.upper()}", f"CDR_HTTP_{field_name.upper()}"):
            if os.environ.get(variable):
                settings[field_name] = cast(os.environ[variable])
                break
    return settings


class ProviderResource(ConfigurableResource):
    """What every provider resource carries: which account, and how hard to retry."""

    account: str = "default"
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    # a window whose pages contradict each other (records shifting while paging) is fetched
    # again from its first page this many times in all
    window_attempts: int = 3

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s,
                           backoff_max_s=self.backoff_max_s)
