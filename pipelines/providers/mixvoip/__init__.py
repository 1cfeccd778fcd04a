"""MIXvoip (LU): GET /cdrs/getcalls per profile, JSON or CSV, credentials in the query string.
Calls go to the call-leg fact, billing items (PAY, SETUP, SERVICE, SMS, …) to cdr.fact_billing_item."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pipelines.providers.mixvoip.billing import BillingItem
from pipelines.providers.mixvoip.client import open_client
from pipelines.providers.mixvoip.conformance import CONFORMANCE
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.providers.mixvoip.readings import observe_readings
from pipelines.providers.mixvoip.settings import PROVIDER, MixvoipSettings
from pipelines.providers.mixvoip.simulator import MixvoipData, build_simulator
from pipelines.providers.spec import (
    CALL_LEGS,
    ItemKind,
    ProviderSpec,
    SimulatedAccount,
    SimulatedProvider,
    simulated_account_name,
    simulated_environment,
    simulated_hex,
)

SIM_USERNAME = "sim-reseller"
SIM_PASSWORD = "sim-mixvoip-9d41b7"
SIM_ACCOUNT = "mixvoip-demo"
SIM_PROFILES = ("100201", "100202")
_SQL = Path(__file__).with_name("sql")

BILLING_ITEMS = ItemKind(
    name="billing_items",
    row_type=BillingItem,
    table="cdr.fact_billing_item",
    staging_table="stage_billing_item",
    stage_sql=_SQL / "stage_billing_items.sql",
    merge_sql=_SQL / "merge_billing_items.sql",
    description="billing items (PAY, SETUP, SMS, …) upserted into cdr.fact_billing_item",
    day_column="billed_at",
)


def simulated_account(index: int) -> SimulatedAccount:
    """Account `index` (from 1): a reseller login with 2 or 3 profile ids linked to it
    (100201-100202 for the first, 100301-100303 for the second, ...)."""
    if index == 1:
        username, password = SIM_USERNAME, SIM_PASSWORD
    else:
        username, password = f"sim-reseller-{index}", f"sim-mixvoip-{index}-{simulated_hex(PROVIDER, index)}"
    profiles = tuple(str(100_200 + 100 * (index - 1) + n) for n in range(1, 3 + (index % 2 == 0)))
    assert index > 1 or profiles == SIM_PROFILES
    return SimulatedAccount(simulated_account_name(PROVIDER, index),
                            {"username": username, "password": password}, profiles)


def simulated(legs_per_day: int | None, accounts: int = 1) -> SimulatedProvider:
    """The simulator serving `accounts` accounts. Each login sees its own profiles' records; a
    profile not linked to it is refused (403 envelope), as the docs say."""
    data = MixvoipData(calls_per_day=legs_per_day) if legs_per_day else MixvoipData()
    # the simulator's END_DATE reading is known (its own), so a run fetches each record once
    end_date = "inclusive" if data.end_inclusive else "exclusive"
    served = tuple(replace(simulated_account(index), options={"end_date": end_date})
                   for index in range(1, accounts + 1))
    first = served[0]
    return SimulatedProvider(
        app=build_simulator({account.credentials["username"]: (account.credentials["password"],
                                                                 list(account.customers))
                             for account in served}, data),
        environment=simulated_environment(PROVIDER, account=first.name, profile_ids=",".join(first.customers),
                                          end_date=end_date, **first.credentials),
        accounts=served,
    )


SPEC = ProviderSpec(
    name=PROVIDER,
    package=__name__,
    settings_type=MixvoipSettings,
    credentials=(("username", "password"),),
    open_client=open_client,
    parse_pages=parse_pages,
    items=(CALL_LEGS, BILLING_ITEMS),
    simulator=simulated,
    default_sim_port=18083,
    conformance=CONFORMANCE,
    customer_setting="profile_ids",
    default_time_zone="Europe/Luxembourg",
    observe_readings=observe_readings,
)
