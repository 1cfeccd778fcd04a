"""The MIXvoip Dagster resource."""
from __future__ import annotations

from pipelines.providers.mixvoip.settings import BASE_URL, DEFAULT_CHUNK_DAYS, DEFAULT_FORMAT, DEFAULT_TIMEZONE
from pipelines.resources import ProviderResource


class MixvoipResource(ProviderResource):
    """MIXvoip getcalls: `username`/`password` from MIXVOIP_USERNAME/MIXVOIP_PASSWORD (secrets);
    `profile_ids` a comma-separated list of customer numbers linked to that account."""

    username: str
    password: str
    profile_ids: str
    base_url: str = BASE_URL
    format: str = DEFAULT_FORMAT
    legacy_urls: bool = False
    chunk_days: int = DEFAULT_CHUNK_DAYS
    timezone: str = DEFAULT_TIMEZONE

    def open_client(self):
        from zoneinfo import ZoneInfo

        from pipelines.providers.mixvoip.client import MixvoipClient

        return MixvoipClient(self.username, self.password, account=self.account, profiles=self.profile_ids,
                             base_url=self.base_url, fmt=self.format, legacy_urls=self.legacy_urls,
                             chunk_days=self.chunk_days, tz=ZoneInfo(self.timezone), timeout_s=self.timeout_s,
                             retry=self.retry_policy())
