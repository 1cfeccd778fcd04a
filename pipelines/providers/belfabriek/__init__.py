"""Belfabriek (NL): call statistics per service number from GET /statistics/, XML, hash in the URL."""
from __future__ import annotations

from pipelines.providers.belfabriek.client import open_client
from pipelines.providers.belfabriek.conformance import CONFORMANCE
from pipelines.providers.belfabriek.parse import parse_pages
from pipelines.providers.belfabriek.settings import PROVIDER, BelfabriekSettings
from pipelines.providers.belfabriek.simulator import BelfabriekData, build_simulator
from pipelines.providers.spec import (
    CALL_LEGS,
    ProviderSpec,
    SimulatedProvider,
    simulated_environment,
)

SIM_CUSTOMER_HASH = "5f1c9e0b7a3d4c2e8b6a1f0e9d8c7b6a"
SIM_CUSTOMER_ID = "100234"
SIM_ACCOUNT = "belfabriek-demo"


def simulated(legs_per_day: int | None) -> SimulatedProvider:
    data = BelfabriekData(calls_per_day=legs_per_day) if legs_per_day else BelfabriekData()
    return SimulatedProvider(
        app=build_simulator({(SIM_CUSTOMER_HASH, SIM_CUSTOMER_ID): SIM_ACCOUNT}, data),
        environment=simulated_environment(PROVIDER, customer_hash=SIM_CUSTOMER_HASH,
                                          customer_id=SIM_CUSTOMER_ID, account=SIM_ACCOUNT),
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    package=__name__,
    settings_type=BelfabriekSettings,
    credentials=(("customer_hash",),),
    open_client=open_client,
    parse_pages=parse_pages,
    items=(CALL_LEGS,),
    simulator=simulated,
    default_sim_port=18082,
    conformance=CONFORMANCE,
)
