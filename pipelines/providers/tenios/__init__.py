"""TENIOS (DE): raw per-leg CDRs from POST /cdrs/retrieve, JSON, access key in the body."""
from __future__ import annotations

import os

from pipelines.providers import ProviderSpec, SimulatedProvider
from pipelines.providers.tenios.parse import parse_pages
from pipelines.providers.tenios.settings import BASE_URL, PROVIDER

SIM_ACCESS_KEY = "sim-tenios-0f6c2d1e"
SIM_ACCOUNT = "tenios-demo"


def resource_from_env():
    """TENIOS_ACCESS_KEY (secret), TENIOS_ACCOUNT, TENIOS_BASE_URL, TENIOS_PAGE_SIZE, and the
    retry settings of `http_settings_from_env`."""
    from dagster import EnvVar

    from pipelines.providers.tenios.resource import TeniosResource
    from pipelines.resources import http_settings_from_env

    return TeniosResource(
        access_key=EnvVar("TENIOS_ACCESS_KEY"),
        account=os.environ.get("TENIOS_ACCOUNT", "default"),
        base_url=os.environ.get("TENIOS_BASE_URL", BASE_URL),
        page_size=int(os.environ.get("TENIOS_PAGE_SIZE", "500")),
        **http_settings_from_env("TENIOS"),
    )


def simulated(legs_per_day: int | None) -> SimulatedProvider:
    from pipelines.providers.tenios.simulator import TeniosData, build_simulator

    data = TeniosData(legs_per_day=legs_per_day) if legs_per_day else TeniosData()
    return SimulatedProvider(
        app=build_simulator({SIM_ACCESS_KEY: SIM_ACCOUNT}, data),
        environment={"TENIOS_ACCESS_KEY": SIM_ACCESS_KEY, "TENIOS_ACCOUNT": SIM_ACCOUNT},
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    parse_pages=parse_pages,
    resource_from_env=resource_from_env,
    simulator=simulated,
    default_sim_port=18081,
)
