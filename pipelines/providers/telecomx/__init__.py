"""Telecom X (DK): PBX call statistics per employee and interval from POST /pbx/cdrstats.

Aggregates, not call legs: its own assets (`telecomx_raw_pages`, `telecomx_pbx_stats`) load
cdr.fact_pbx_stats, and cdr.v_daily_activity shows them beside the leg aggregates.
"""
from __future__ import annotations

import os

from pipelines.providers import ProviderSpec, SimulatedProvider
from pipelines.providers.telecomx.parse import parse_pages
from pipelines.providers.telecomx.settings import BASE_URL, DEFAULT_GROUPING, PROVIDER

SIM_TOKEN = "sim-telecomx-m2m-3b9d0c7e51a24f68"
SIM_CUSTOMER = "5f0c1d2e3a4b5c6d7e8f9a0b"
SIM_ACCOUNT = "telecomx-demo"
SIM_USERNAME, SIM_PASSWORD = "etl@telecomx-sim.example", "sim-telecomx-password"  # password login


def _optional(variable: str, cast):
    value = os.environ.get(variable, "").strip()
    return cast(value) if value else None


def resource_from_env():
    """TELECOMX_TOKEN or TELECOMX_USERNAME + TELECOMX_PASSWORD (secrets), TELECOMX_ACCOUNT,
    TELECOMX_BASE_URL, TELECOMX_CUSTOMERS, TELECOMX_GROUPING_INTERVAL, TELECOMX_GROUPING_TIMEZONE,
    TELECOMX_WEEK_SCHEME, TELECOMX_IGNORE_BELOW, TELECOMX_IGNORE_LOCAL, TELECOMX_EMPLOYEES, and the
    retry settings of `http_settings_from_env`."""
    from dagster import EnvVar

    from pipelines.providers.telecomx.resource import TelecomXResource
    from pipelines.resources import http_settings_from_env

    secrets = {name: EnvVar(f"TELECOMX_{name.upper()}") for name in ("token", "username", "password")
               if os.environ.get(f"TELECOMX_{name.upper()}")}
    return TelecomXResource(
        **secrets,
        account=os.environ.get("TELECOMX_ACCOUNT", "default"),
        base_url=os.environ.get("TELECOMX_BASE_URL", BASE_URL),
        customers=os.environ.get("TELECOMX_CUSTOMERS", ""),
        grouping_interval=os.environ.get("TELECOMX_GROUPING_INTERVAL", DEFAULT_GROUPING).upper(),
        grouping_timezone=os.environ.get("TELECOMX_GROUPING_TIMEZONE", "UTC"),
        week_scheme=os.environ.get("TELECOMX_WEEK_SCHEME", "iso").lower(),
        ignore_below=_optional("TELECOMX_IGNORE_BELOW", int),
        ignore_local=_optional("TELECOMX_IGNORE_LOCAL", lambda v: v.lower() in ("1", "true", "yes")),
        employees=os.environ.get("TELECOMX_EMPLOYEES", ""),
        **http_settings_from_env("TELECOMX"),
    )


def simulated(calls_per_day: int | None) -> SimulatedProvider:
    from pipelines.providers.telecomx.simulator import TelecomXData, build_simulator

    data = TelecomXData(calls_per_day=calls_per_day) if calls_per_day else TelecomXData()
    return SimulatedProvider(
        app=build_simulator({SIM_USERNAME: (SIM_PASSWORD, [SIM_CUSTOMER])}, {SIM_TOKEN: [SIM_CUSTOMER]}, data),
        environment={"TELECOMX_TOKEN": SIM_TOKEN, "TELECOMX_ACCOUNT": SIM_ACCOUNT,
                     "TELECOMX_CUSTOMERS": SIM_CUSTOMER},
    )


def build_assets(spec: ProviderSpec) -> list:
    from pipelines.providers.telecomx.assets import build_telecomx_assets

    return build_telecomx_assets(spec)


SPEC = ProviderSpec(
    name=PROVIDER,
    parse_pages=parse_pages,
    resource_from_env=resource_from_env,
    simulator=simulated,
    default_sim_port=18084,
    build_assets=build_assets,
    produces_call_legs=False,
)
