"""MIXvoip (LU): GET /cdrs/getcalls per profile, JSON or CSV, credentials in the query string.
Calls go to the call-leg fact, billing items (PAY, SETUP, SERVICE, SMS, …) to cdr.fact_billing_item."""
from __future__ import annotations

import os

from pipelines.providers import ProviderSpec, SimulatedProvider
from pipelines.providers.mixvoip.billing import BillingItem, load_billing_items
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.providers.mixvoip.settings import (
    BASE_URL,
    DEFAULT_CHUNK_DAYS,
    DEFAULT_FORMAT,
    DEFAULT_TIMEZONE,
    PROVIDER,
)

SIM_USERNAME = "sim-reseller"
SIM_PASSWORD = "sim-mixvoip-9d41b7"
SIM_ACCOUNT = "mixvoip-demo"
SIM_PROFILES = ("100201", "100202")


def resource_from_env():
    """MIXVOIP_USERNAME and MIXVOIP_PASSWORD (secrets), MIXVOIP_PROFILE_IDS, MIXVOIP_ACCOUNT,
    MIXVOIP_BASE_URL (required: the docs give none), MIXVOIP_FORMAT (json|csv), MIXVOIP_LEGACY_URLS,
    MIXVOIP_CHUNK_DAYS, MIXVOIP_TIMEZONE, and the retry settings of `http_settings_from_env`.
    The parser also reads MIXVOIP_TIMEZONE, MIXVOIP_PRICE_MEANING and MIXVOIP_EXTRA_CALL_TYPES."""
    from dagster import EnvVar

    from pipelines.providers.mixvoip.resource import MixvoipResource
    from pipelines.resources import http_settings_from_env

    return MixvoipResource(
        username=EnvVar("MIXVOIP_USERNAME"),
        password=EnvVar("MIXVOIP_PASSWORD"),
        profile_ids=os.environ.get("MIXVOIP_PROFILE_IDS", ""),
        account=os.environ.get("MIXVOIP_ACCOUNT", "default"),
        base_url=os.environ.get("MIXVOIP_BASE_URL", BASE_URL),
        format=os.environ.get("MIXVOIP_FORMAT", DEFAULT_FORMAT),
        legacy_urls=os.environ.get("MIXVOIP_LEGACY_URLS", "").strip().lower() in ("1", "true", "yes"),
        chunk_days=int(os.environ.get("MIXVOIP_CHUNK_DAYS") or DEFAULT_CHUNK_DAYS),
        timezone=os.environ.get("MIXVOIP_TIMEZONE") or DEFAULT_TIMEZONE,
        **http_settings_from_env("MIXVOIP"),
    )


def simulated(legs_per_day: int | None) -> SimulatedProvider:
    from pipelines.providers.mixvoip.simulator import MixvoipData, build_simulator

    data = MixvoipData(calls_per_day=legs_per_day) if legs_per_day else MixvoipData()
    return SimulatedProvider(
        app=build_simulator({SIM_USERNAME: (SIM_PASSWORD, list(SIM_PROFILES))}, data),
        environment={"MIXVOIP_USERNAME": SIM_USERNAME, "MIXVOIP_PASSWORD": SIM_PASSWORD,
                     "MIXVOIP_ACCOUNT": SIM_ACCOUNT, "MIXVOIP_PROFILE_IDS": ",".join(SIM_PROFILES)},
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    parse_pages=parse_pages,
    resource_from_env=resource_from_env,
    simulator=simulated,
    default_sim_port=18083,
    extra_loaders={BillingItem: load_billing_items},
)
