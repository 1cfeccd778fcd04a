"""Telecom X (DK): PBX call statistics per employee and interval from POST /pbx/cdrstats.

Counters, not call legs: its load asset `telecomx_pbx_stats` fills cdr.fact_pbx_stats, and
cdr.v_daily_activity shows them beside the leg aggregates.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.providers.spec import (
    ItemKind,
    ProviderSpec,
    SimulatedProvider,
    simulated_environment,
)
from pipelines.providers.telecomx.client import open_client
from pipelines.providers.telecomx.conformance import CONFORMANCE, SIM_PASSWORD, SIM_USERNAME
from pipelines.providers.telecomx.parse import PbxStatsRow, parse_pages
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
)


def simulated(calls_per_day: int | None) -> SimulatedProvider:
    data = TelecomXData(calls_per_day=calls_per_day) if calls_per_day else TelecomXData()
    return SimulatedProvider(
        app=build_simulator({SIM_USERNAME: (SIM_PASSWORD, [SIM_CUSTOMER])}, {SIM_TOKEN: [SIM_CUSTOMER]},
                            data),
        environment=simulated_environment(PROVIDER, token=SIM_TOKEN, account=SIM_ACCOUNT,
                                          customers=SIM_CUSTOMER),
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
)
