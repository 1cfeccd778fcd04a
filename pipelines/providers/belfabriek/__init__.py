"""Belfabriek (NL): call statistics per service number from GET /statistics/, XML, hash in the URL."""
from __future__ import annotations

import os

from pipelines.providers import ProviderSpec, SimulatedProvider
from pipelines.providers.belfabriek.parse import parse_pages
from pipelines.providers.belfabriek.settings import BASE_URL, DEFAULT_REQUESTS_PER_SECOND, PROVIDER

SIM_CUSTOMER_HASH = "5f1c9e0b7a3d4c2e8b6a1f0e9d8c7b6a"
SIM_CUSTOMER_ID = "100234"
SIM_ACCOUNT = "belfabriek-demo"


def resource_from_env():
    """BELFABRIEK_CUSTOMER_HASH (secret), BELFABRIEK_CUSTOMER_ID, BELFABRIEK_ACCOUNT (default: the
    customer id), BELFABRIEK_BASE_URL, BELFABRIEK_SERVICE_NUMBERS (comma-separated, international
    format; empty: every number), BELFABRIEK_EXTENSION_DISPLAY (1/0), BELFABRIEK_REQUESTS_PER_SECOND,
    and the retry settings of `http_settings_from_env`. BELFABRIEK_DST_REPEATED_HOUR is read by
    the parser (settings.repeated_hour_policy)."""
    from dagster import EnvVar

    from pipelines.providers.belfabriek.resource import BelfabriekResource
    from pipelines.resources import http_settings_from_env

    customer_id = os.environ.get("BELFABRIEK_CUSTOMER_ID", "")
    numbers = os.environ.get("BELFABRIEK_SERVICE_NUMBERS", "")
    rate = os.environ.get("BELFABRIEK_REQUESTS_PER_SECOND", DEFAULT_REQUESTS_PER_SECOND)
    return BelfabriekResource(
        customer_hash=EnvVar("BELFABRIEK_CUSTOMER_HASH"),
        customer_id=customer_id,
        account=os.environ.get("BELFABRIEK_ACCOUNT") or customer_id or "default",
        base_url=os.environ.get("BELFABRIEK_BASE_URL", BASE_URL),
        service_numbers=[n.strip() for n in numbers.split(",") if n.strip()],
        extension_display=os.environ.get("BELFABRIEK_EXTENSION_DISPLAY", "1").strip().lower()
        not in ("0", "false", "no", "off"),
        requests_per_second=float(rate),
        **http_settings_from_env("BELFABRIEK"),
    )


def simulated(legs_per_day: int | None) -> SimulatedProvider:
    from pipelines.providers.belfabriek.simulator import BelfabriekData, build_simulator

    data = BelfabriekData(calls_per_day=legs_per_day) if legs_per_day else BelfabriekData()
    return SimulatedProvider(
        app=build_simulator({(SIM_CUSTOMER_HASH, SIM_CUSTOMER_ID): SIM_ACCOUNT}, data),
        environment={"BELFABRIEK_CUSTOMER_HASH": SIM_CUSTOMER_HASH, "BELFABRIEK_CUSTOMER_ID": SIM_CUSTOMER_ID,
                     "BELFABRIEK_ACCOUNT": SIM_ACCOUNT},
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    parse_pages=parse_pages,
    resource_from_env=resource_from_env,
    simulator=simulated,
    default_sim_port=18082,
)
