"""The Belfabriek Dagster resource."""
from __future__ import annotations

from typing import List

from pipelines.providers.belfabriek.settings import BASE_URL, DEFAULT_REQUESTS_PER_SECOND
from pipelines.resources import ProviderResource


class BelfabriekResource(ProviderResource):
    """Belfabriek: `customer_hash` from BELFABRIEK_CUSTOMER_HASH; `base_url` for the simulator or a proxy.

    `service_numbers` empty means every number of the account in one request per day; otherwise
    one request per day and number, each validated as international format before any request.
    """

    customer_hash: str
    customer_id: str
    base_url: str = BASE_URL
    service_numbers: List[str] = []
    extension_display: bool = True
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND

    def open_client(self):
        from pipelines.providers.belfabriek.client import BelfabriekClient

        return BelfabriekClient(self.customer_hash, customer_id=self.customer_id, account=self.account,
                                base_url=self.base_url, service_numbers=self.service_numbers,
                                extension_display=self.extension_display,
                                requests_per_second=self.requests_per_second, timeout_s=self.timeout_s,
                                retry=self.retry_policy())
