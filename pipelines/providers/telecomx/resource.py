"""The Telecom X Dagster resource."""
from __future__ import annotations

from typing import Optional

from pipelines.providers.telecomx.settings import BASE_URL, DEFAULT_GROUPING
from pipelines.resources import ProviderResource


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class TelecomXResource(ProviderResource):
    """Telecom X: a machine-to-machine `token` (TELECOMX_TOKEN), or `username`/`password`
    (TELECOMX_USERNAME, TELECOMX_PASSWORD); which customers to pull and how to group."""

    token: str = ""
    username: str = ""
    password: str = ""
    base_url: str = BASE_URL
    customers: str = ""  # comma-separated customer ids; empty: the token's own customer
    grouping_interval: str = DEFAULT_GROUPING
    grouping_timezone: str = "UTC"
    week_scheme: str = "iso"
    ignore_below: Optional[int] = None
    ignore_local: Optional[bool] = None
    employees: str = ""  # comma-separated employee ids; empty: all

    def parse_options(self) -> dict:
        """What the parser needs beyond the page to read interval keys."""
        return {"grouping_tz": self.grouping_timezone, "week_scheme": self.week_scheme}

    def open_client(self):
        from pipelines.providers.telecomx.client import TelecomXClient

        return TelecomXClient(account=self.account, base_url=self.base_url, token=self.token,
                              username=self.username, password=self.password,
                              customers=_names(self.customers), grouping=self.grouping_interval,
                              ignore_below=self.ignore_below, ignore_local=self.ignore_local,
                              employees=_names(self.employees), timeout_s=self.timeout_s,
                              retry=self.retry_policy(), **self.parse_options())
