"""The TENIOS Dagster resource."""
from __future__ import annotations

from pipelines.providers.tenios.settings import BASE_URL, DEFAULT_PAGE_SIZE
from pipelines.resources import ProviderResource


class TeniosResource(ProviderResource):
    """TENIOS: `access_key` from TENIOS_ACCESS_KEY; `base_url` for the simulator or a proxy."""

    access_key: str
    base_url: str = BASE_URL
    page_size: int = DEFAULT_PAGE_SIZE

    def open_client(self):
        from pipelines.providers.tenios.client import TeniosClient

        return TeniosClient(self.access_key, account=self.account, base_url=self.base_url,
                            page_size=self.page_size, timeout_s=self.timeout_s, retry=self.retry_policy())
