"""TENIOS (DE): raw per-leg CDRs from POST /cdrs/retrieve, JSON, access key in the body."""
from __future__ import annotations

from pipelines.providers.spec import (
    CALL_LEGS,
    ProviderSpec,
    SimulatedProvider,
    simulated_environment,
)
from pipelines.providers.tenios.client import open_client
from pipelines.providers.tenios.conformance import CONFORMANCE
from pipelines.providers.tenios.parse import parse_pages
from pipelines.providers.tenios.settings import PROVIDER, TeniosSettings
from pipelines.providers.tenios.simulator import TeniosData, build_simulator

SIM_ACCESS_KEY = "sim-tenios-0f6c2d1e"
SIM_ACCOUNT = "tenios-demo"


def simulated(legs_per_day: int | None) -> SimulatedProvider:
    data = TeniosData(legs_per_day=legs_per_day) if legs_per_day else TeniosData()
    return SimulatedProvider(
        app=build_simulator({SIM_ACCESS_KEY: SIM_ACCOUNT}, data),
        environment=simulated_environment(PROVIDER, access_key=SIM_ACCESS_KEY, account=SIM_ACCOUNT),
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    package=__name__,
    settings_type=TeniosSettings,
    credentials=(("access_key",),),
    open_client=open_client,
    parse_pages=parse_pages,
    items=(CALL_LEGS,),
    simulator=simulated,
    default_sim_port=18081,
    conformance=CONFORMANCE,
)
