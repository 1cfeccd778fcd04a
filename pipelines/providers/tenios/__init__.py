"""TENIOS (DE): raw per-leg CDRs from POST /cdrs/retrieve, JSON, access key in the body."""
from __future__ import annotations

import os

from pipelines.providers.spec import (
    CALL_LEGS,
    ProviderSpec,
    SimulatedAccount,
    SimulatedProvider,
    simulated_account_name,
    simulated_environment,
    simulated_hex,
)
from pipelines.providers.tenios.client import open_client
from pipelines.providers.tenios.conformance import CONFORMANCE
from pipelines.providers.tenios.parse import parse_pages
from pipelines.providers.tenios.readings import observe_readings
from pipelines.providers.tenios.settings import PROVIDER, TeniosSettings
from pipelines.providers.tenios.simulator import TeniosData, build_simulator

SIM_ACCESS_KEY = "sim-tenios-0f6c2d1e"
SIM_ACCOUNT = "tenios-demo"


def simulated_account(index: int) -> SimulatedAccount:
    """Account `index` (from 1): its own access key; TENIOS has no customers under a key."""
    key = SIM_ACCESS_KEY if index == 1 else f"sim-tenios-{index}-{simulated_hex(PROVIDER, index, length=8)}"
    return SimulatedAccount(simulated_account_name(PROVIDER, index), {"access_key": key})


def simulated(legs_per_day: int | None, accounts: int = 1) -> SimulatedProvider:
    """The simulator serving `accounts` accounts, each key seeing only its own account's legs, its
    time stamps in the form TENIOS_SIM_STAMP_FORM names (simulator.STAMP_FORMS; default `z`), a
    call in each day's last second if TENIOS_SIM_CALL_BEFORE_MIDNIGHT is 1."""
    before_midnight = os.environ.get("TENIOS_SIM_CALL_BEFORE_MIDNIGHT", "").strip() == "1"
    data = TeniosData(legs_per_day=legs_per_day or TeniosData.legs_per_day,
                      call_before_midnight=before_midnight)
    served = tuple(simulated_account(index) for index in range(1, accounts + 1))
    first = served[0]
    stamp_form = os.environ.get("TENIOS_SIM_STAMP_FORM", "").strip() or "z"
    return SimulatedProvider(
        app=build_simulator({account.credentials["access_key"]: account.name for account in served}, data,
                            stamp_form=stamp_form),
        environment=simulated_environment(PROVIDER, account=first.name, **first.credentials),
        accounts=served,
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
    default_time_zone="Europe/Berlin",
    observe_readings=observe_readings,
    has_provider_count=True,  # POST /cdrs/count
)
