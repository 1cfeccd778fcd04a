"""Telecom X (DK): PBX call statistics per employee and interval from POST /pbx/cdrstats.

Counters, not call legs: its load asset `telecomx_pbx_stats` fills cdr.fact_pbx_stats, and
cdr.v_daily_activity shows them beside the leg aggregates.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.providers.spec import (
    ItemKind,
    ProviderCheck,
    ProviderSpec,
    SimulatedAccount,
    SimulatedProvider,
    simulated_account_name,
    simulated_environment,
    simulated_hex,
)
from pipelines.providers.telecomx.client import open_client
from pipelines.providers.telecomx.conformance import CONFORMANCE, SIM_PASSWORD, SIM_USERNAME
from pipelines.providers.telecomx.parse import PbxStatsRow, parse_pages
from pipelines.providers.telecomx.readings import observe_readings
from pipelines.providers.telecomx.settings import PROVIDER, TelecomXSettings
from pipelines.providers.telecomx.simulator import TelecomXData, build_simulator

SIM_TOKEN = "sim-telecomx-m2m-3b9d0c7e51a24f68"
SIM_CUSTOMER = "5f0c1d2e3a4b5c6d7e8f9a0b"
SIM_ACCOUNT = "telecomx-demo"
_SQL = Path(__file__).with_name("sql")

PBX_STATS = ItemKind(
    name="pbx_stats",
    row_type=PbxStatsRow,
    table="cdr.fact_pbx_stats",
    staging_table="stage_pbx_stats",
    stage_sql=_SQL / "stage_pbx_stats.sql",
    merge_sql=_SQL / "merge_pbx_stats.sql",
    description="per-employee interval counters upserted into cdr.fact_pbx_stats (a re-pull replaces counts)",
    day_column="interval_start",
)

# Counters that contradict each other: a provider-side inconsistency or a parser that put a
# counter in the wrong column. Not blocking: no asset is built from these rows.
COUNTERS_CONSISTENT = ProviderCheck(
    name="counters_consistent",
    description="Within each interval row, no answered, unanswered, failed or busy count exceeds its"
                " direction's calls (the only relation between the counters the docs imply).",
    sql=_SQL / "check_counters.sql",
)


def simulated_account(index: int, alone: bool = False) -> SimulatedAccount:
    """Account `index` (from 1): a machine-to-machine token that may see 2 or 3 customers. The
    first account, when it is the only one, sees just SIM_CUSTOMER (the quick start's)."""
    customers: tuple[str, ...]
    if index == 1:
        token = SIM_TOKEN
        customers = (SIM_CUSTOMER,) if alone else (SIM_CUSTOMER, simulated_hex(PROVIDER, 1, 2, length=24))
    else:
        token = f"sim-telecomx-m2m-{index}-{simulated_hex(PROVIDER, index)}"
        customers = tuple(simulated_hex(PROVIDER, index, n, length=24) for n in range(1, 3 + (index % 2)))
    return SimulatedAccount(simulated_account_name(PROVIDER, index), {"token": token}, customers)


def simulated(calls_per_day: int | None, accounts: int = 1) -> SimulatedProvider:
    """The simulator serving `accounts` accounts. Each token sees its own customers' counters; a
    customer it may not see is refused (403 access_denied), as the docs say. The password login
    (conformance.SIM_USERNAME) belongs to the first account."""
    data = TelecomXData(calls_per_day=calls_per_day) if calls_per_day else TelecomXData()
    served = tuple(simulated_account(index, alone=accounts == 1) for index in range(1, accounts + 1))
    first = served[0]
    return SimulatedProvider(
        app=build_simulator({SIM_USERNAME: (SIM_PASSWORD, list(first.customers))},
                            {account.credentials["token"]: list(account.customers) for account in served},
                            data),
        environment=simulated_environment(PROVIDER, account=first.name, customers=",".join(first.customers),
                                          **first.credentials),
        accounts=served,
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    package=__name__,
    settings_type=TelecomXSettings,
    credentials=(("token",), ("username", "password")),
    open_client=open_client,
    parse_pages=parse_pages,
    items=(PBX_STATS,),
    simulator=simulated,
    default_sim_port=18084,
    conformance=CONFORMANCE,
    customer_setting="customers",
    default_time_zone="Europe/Copenhagen",
    observe_readings=observe_readings,
    checks=(COUNTERS_CONSISTENT,),
)
