"""Credentials appear nowhere: every provider run end to end through Dagster with recognisable
fake secrets, through success and every failure path the simulators can produce, while every log
record, exception, traceback, Dagster event (with its metadata) and every row of schema cdr
(raw bodies gunzipped) is collected and searched for the secrets.

The simulators are built here to accept exactly these fake credentials. Their own server logs
(uvicorn) are left out: they are the provider's side of the wire, not this project's output.
"""
from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass, field
from datetime import date

import psycopg
import pytest
from dagster._serdes import serialize_value

from pipelines.providers.belfabriek.simulator import BelfabriekData
from pipelines.providers.belfabriek.simulator import build_simulator as belfabriek_simulator
from pipelines.providers.mixvoip.simulator import MixvoipData
from pipelines.providers.mixvoip.simulator import build_simulator as mixvoip_simulator
from pipelines.providers.telecomx.simulator import TelecomXData
from pipelines.providers.telecomx.simulator import build_simulator as telecomx_simulator
from pipelines.providers.tenios.simulator import TeniosData
from pipelines.providers.tenios.simulator import build_simulator as tenios_simulator
from pipelines.simulation import Fault, SimulatorServer
from tests.conftest import all_warehouse_tables, rows
from tests.dagster_runs import failure_messages, run_range

DAY = date(2026, 10, 5).isoformat()
LEGS = 40  # a small day: the point is the paths taken, not the volume


@dataclass
class Setup:
    """One way of running a provider: the simulator app that accepts `secrets`, and the env."""

    provider: str
    app: object
    environment: dict[str, str]
    secrets: tuple[str, ...]  # every value that must never be written anywhere
    wrong: dict[str, str] = field(default_factory=dict)  # env that the simulator refuses
    error_body: Fault | None = None  # an error inside a success (HTTP 200), where the provider has one


TENIOS_KEY, TENIOS_WRONG = "SECRET-TENIOS-7f3a9c2e1d", "SECRET-TENIOS-WRONG-5b8e0a"
# the client checks the documented shape (32 letters and digits), so these keep it
HASH, HASH_WRONG = "SECRETBELFABRIEK2c6d1e9f0a7b3c4d", "SECRETBELFABRIEKWRONG0c4e1a9f3b7"
MIX_PASSWORD, MIX_WRONG = "SECRET-MIXVOIP-9d41b7c3e8", "SECRET-MIXVOIP-WRONG-0c77"
TX_TOKEN, TX_WRONG = "SECRET-TELECOMX-TOKEN-3b9d0c7e51", "SECRET-TELECOMX-TOKEN-WRONG-91aa"
TX_PASSWORD, TX_PASSWORD_WRONG = "SECRET-TELECOMX-PASSWORD-6e2f", "SECRET-TELECOMX-PASSWORD-WRONG-d0d0"
TX_CUSTOMER = "5f0c1d2e3a4b5c6d7e8f9a0b"


def setups() -> dict[str, Setup]:
    return {
        "tenios": Setup(
            "tenios", tenios_simulator({TENIOS_KEY: "acct-tenios"}, TeniosData(legs_per_day=LEGS)),
            {"TENIOS_ACCESS_KEY": TENIOS_KEY, "TENIOS_ACCOUNT": "acct-tenios"},
            (TENIOS_KEY, TENIOS_WRONG), {"TENIOS_ACCESS_KEY": TENIOS_WRONG},
            Fault("body", times=50, body='{"error_code": "INTERNAL_ERROR", "error_message": "try later"}')),
        "belfabriek": Setup(
            "belfabriek", belfabriek_simulator({(HASH, "100234"): "acct-belfabriek"}, BelfabriekData(calls_per_day=LEGS)),
            {"BELFABRIEK_CUSTOMER_HASH": HASH, "BELFABRIEK_CUSTOMER_ID": "100234",
             "BELFABRIEK_ACCOUNT": "acct-belfabriek", "BELFABRIEK_REQUESTS_PER_SECOND": "1000"},
            (HASH, HASH_WRONG), {"BELFABRIEK_CUSTOMER_HASH": HASH_WRONG},
            Fault("body", times=50, body="<ERROR>7</ERROR><MESSAGE>Internal error</MESSAGE>",
                  content_type="text/xml")),
        "mixvoip": Setup(
            "mixvoip", mixvoip_simulator({"etl-user": (MIX_PASSWORD, ["100201"])}, MixvoipData(calls_per_day=LEGS)),
            {"MIXVOIP_USERNAME": "etl-user", "MIXVOIP_PASSWORD": MIX_PASSWORD, "MIXVOIP_ACCOUNT": "acct-mixvoip",
             "MIXVOIP_PROFILE_IDS": "100201"},
            (MIX_PASSWORD, MIX_WRONG), {"MIXVOIP_PASSWORD": MIX_WRONG},
            Fault("body", times=50, body='{"return": {"code": 500, "message": "internal error"}}')),
        "telecomx-token": Setup(
            "telecomx", telecomx_simulator({}, {TX_TOKEN: [TX_CUSTOMER]}, TelecomXData(calls_per_day=LEGS)),
            {"TELECOMX_TOKEN": TX_TOKEN, "TELECOMX_ACCOUNT": "acct-telecomx", "TELECOMX_CUSTOMERS": TX_CUSTOMER},
            (TX_TOKEN, TX_WRONG), {"TELECOMX_TOKEN": TX_WRONG},
            Fault("body", times=50, body='{"error": "internal_error", "message": "try later"}')),
        "telecomx-password": Setup(
            "telecomx", telecomx_simulator({"etl@example.test": (TX_PASSWORD, [TX_CUSTOMER])}, {},
                                           TelecomXData(calls_per_day=LEGS)),
            {"TELECOMX_USERNAME": "etl@example.test", "TELECOMX_PASSWORD": TX_PASSWORD,
             "TELECOMX_ACCOUNT": "acct-telecomx", "TELECOMX_CUSTOMERS": TX_CUSTOMER},
            (TX_PASSWORD, TX_PASSWORD_WRONG), {"TELECOMX_PASSWORD": TX_PASSWORD_WRONG},
            Fault("body", times=50, body='{"error": "internal_error", "message": "try later"}')),
    }


SETUPS = setups()
PATHS = ("success", "refused", "5xx_exhausted", "connection_resets", "truncated_bodies", "error_body",
         "rate_limited")
# The variables every setup may set; cleared before each run so setups cannot mix.
PROVIDER_VARIABLES = sorted({name for s in SETUPS.values() for name in (*s.environment, *s.wrong)}
                            | {"TELECOMX_TOKEN", "TELECOMX_USERNAME", "TELECOMX_PASSWORD"})


@pytest.fixture(scope="module")
def servers():
    saved = dict(os.environ)
    started = {}
    try:
        for name, setup in SETUPS.items():
            server = SimulatorServer(setup.app, port=0)
            server.__enter__()
            started[name] = server
        yield {name: server.url for name, server in started.items()}
    finally:
        for server in started.values():
            server.__exit__(None, None, None)
        os.environ.clear()
        os.environ.update(saved)


def faults_for(path: str, setup: Setup) -> list[Fault]:
    many = 50  # more than any retry budget below
    return {
        "5xx_exhausted": [Fault("status", times=many, status=503, body="<html>upstream busy</html>",
                                content_type="text/html")],
        "connection_resets": [Fault("reset", times=many)],
        "truncated_bodies": [Fault("truncate", times=many)],
        "rate_limited": [Fault("rate_limited", times=many, status=429)],
        "error_body": [setup.error_body] if setup.error_body else [],
    }.get(path, [])


def everything_written(result, caplog, url: str) -> list[str]:
    """Every text the run left behind: logs (with tracebacks), Dagster events serialised whole
    (messages, metadata, errors and their stacks), every row of schema cdr, raw bodies unzipped."""
    texts = [record.getMessage() for record in caplog.records if not record.name.startswith("uvicorn")]
    texts += [logging.Formatter().format(r) for r in caplog.records
              if r.exc_info and not r.name.startswith("uvicorn")]
    texts += [serialize_value(event) for event in result.all_events]
    texts += failure_messages(result)
    with psycopg.connect(url) as conn:
        for table in all_warehouse_tables(conn):
            texts += [r[0] for r in conn.execute(f"SELECT t::text FROM {table} t").fetchall()]
    texts += [gzip.decompress(body).decode("utf-8", "replace")
              for (body,) in rows(url, "SELECT body_gzip FROM cdr.raw_response")]
    return texts


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", SETUPS)
def test_credentials_appear_nowhere(name, path, servers, clean_warehouse, caplog, monkeypatch):
    setup = SETUPS[name]
    faults = faults_for(path, setup)
    if path == "error_body" and not faults:
        pytest.skip(f"{name}: no error body inside a success to simulate")
    for variable in PROVIDER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in {**setup.environment, **(setup.wrong if path == "refused" else {}),
                            f"{setup.provider.upper()}_BASE_URL": servers[name],
                            "CDR_HTTP_MAX_ATTEMPTS": "2", "CDR_HTTP_BACKOFF_BASE_S": "0.01",
                            "CDR_HTTP_BACKOFF_MAX_S": "0.02", "CDR_HTTP_TIMEOUT_S": "5"}.items():
        monkeypatch.setenv(variable, value)
    state = setup.app.state.sim
    state.reset()
    for fault in faults:
        state.inject(fault)
    caplog.set_level(logging.DEBUG)  # the root: every logger that does not set its own level
    for logger in ("pipelines", "dagster", "httpx", "httpcore", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=logger)  # and the ones that do

    result = run_range([setup.provider], DAY, DAY)
    state.reset()

    assert result.success == (path == "success"), failure_messages(result)
    if path == "success":
        assert rows(clean_warehouse, "SELECT count(*) FROM cdr.raw_response")[0][0] > 0
    else:
        assert failure_messages(result)
    texts = everything_written(result, caplog, clean_warehouse)
    leaks = [(secret, text[max(0, text.find(secret) - 200):text.find(secret) + 60])
             for text in texts for secret in setup.secrets if secret in text]
    assert not leaks, leaks[:3]
