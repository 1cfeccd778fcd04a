"""Belfabriek (NL): call statistics per service number from GET /statistics/ (a setting), XML, hash in
the URL."""
from __future__ import annotations

import dataclasses
import os

from pipelines.providers.belfabriek.client import open_client
from pipelines.providers.belfabriek.conformance import CONFORMANCE
from pipelines.providers.belfabriek.parse import parse_pages
from pipelines.providers.belfabriek.readings import observe_readings
from pipelines.providers.belfabriek.settings import PROVIDER, STATISTICS_PATH, BelfabriekSettings
from pipelines.providers.belfabriek.simulator import STATISTICS_PATH_VARIABLE, BelfabriekData, build_simulator
from pipelines.providers.spec import (
    CALL_LEGS,
    ProviderSpec,
    SimulatedAccount,
    SimulatedProvider,
    simulated_account_name,
    simulated_environment,
    simulated_hex,
)

SIM_CUSTOMER_HASH = "5f1c9e0b7a3d4c2e8b6a1f0e9d8c7b6a"
SIM_CUSTOMER_ID = "100234"
SIM_ACCOUNT = "belfabriek-demo"


def simulated_account(index: int) -> SimulatedAccount:
    """Account `index` (from 1): one customer id per hash, as Belfabriek issues them; the hash is
    the documented 32 letters and digits."""
    if index == 1:
        customer_hash, customer_id = SIM_CUSTOMER_HASH, SIM_CUSTOMER_ID
    else:
        customer_hash = f"simbelfabriek{index}{simulated_hex(PROVIDER, index, length=32)}"[:32]
        customer_id = str(int(SIM_CUSTOMER_ID) + 1000 * (index - 1))
    return SimulatedAccount(simulated_account_name(PROVIDER, index), {"customer_hash": customer_hash},
                            (customer_id,))


def simulated(legs_per_day: int | None, accounts: int = 1) -> SimulatedProvider:
    """The simulator serving `accounts` accounts. Each (hash, customer id) pair sees its own
    account's calls; a hash with another account's customer id gets error 1, as the docs say.
    BELFABRIEK_SIM_STATISTICS_PATH serves the statistics at another path (the environment and
    the accounts' options then point the client there)."""
    data = BelfabriekData(calls_per_day=legs_per_day) if legs_per_day else BelfabriekData()
    path = os.environ.get(STATISTICS_PATH_VARIABLE) or STATISTICS_PATH
    moved = {"statistics_path": path} if path != STATISTICS_PATH else {}
    served = tuple(dataclasses.replace(simulated_account(index), options=moved)
                   for index in range(1, accounts + 1))
    first = served[0]
    return SimulatedProvider(
        app=build_simulator({(account.credentials["customer_hash"], account.customers[0]): account.name
                             for account in served}, data, statistics_path=path),
        environment=simulated_environment(PROVIDER, customer_id=first.customers[0], account=first.name,
                                          **moved, **first.credentials),
        accounts=served,
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
    customer_setting="customer_id",
    default_time_zone="Europe/Amsterdam",
    observe_readings=observe_readings,
)
