"""MIXvoip (LU): GET /cdrs/getcalls per profile, JSON or CSV, credentials in the query string.
Calls go to the call-leg fact, billing items (PAY, SETUP, SERVICE, SMS, …) to cdr.fact_billing_item."""
from __future__ import annotations

from pathlib import Path

from pipelines.providers.mixvoip.billing import BillingItem
from pipelines.providers.mixvoip.client import open_client
from pipelines.providers.mixvoip.conformance import CONFORMANCE
from pipelines.providers.mixvoip.parse import parse_pages
from pipelines.providers.mixvoip.settings import PROVIDER, MixvoipSettings
from pipelines.providers.mixvoip.simulator import MixvoipData, build_simulator
from pipelines.providers.spec import (
    CALL_LEGS,
    ItemKind,
    ProviderSpec,
    SimulatedProvider,
    simulated_environment,
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
)


def simulated(legs_per_day: int | None) -> SimulatedProvider:
    data = MixvoipData(calls_per_day=legs_per_day) if legs_per_day else MixvoipData()
    return SimulatedProvider(
        app=build_simulator({SIM_USERNAME: (SIM_PASSWORD, list(SIM_PROFILES))}, data),
        environment=simulated_environment(PROVIDER, username=SIM_USERNAME, password=SIM_PASSWORD,
                                          account=SIM_ACCOUNT, profile_ids=",".join(SIM_PROFILES)),
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
)
