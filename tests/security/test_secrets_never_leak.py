"""Credentials appear nowhere: every provider run end to end through Dagster, by each of its ways
of logging in, through success and every failure path the simulators can produce, while every
log record, exception, traceback, Dagster event (with its metadata) and every row of schema cdr
(raw bodies gunzipped) is collected and searched for the secrets.

Each provider's simulator accepts its own fake credentials; its conformance names the wrong ones
(which the simulator refuses) and how to choose each login. Their own server logs (uvicorn) are
left out: they are the provider's side of the wire, not this project's output.
"""
from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from dagster._serdes import serialize_value

from pipelines.providers.spec import Login, ProviderSpec, SimulatedProvider
from pipelines.simulation import Fault, SimulatorServer
from tests.conftest import all_warehouse_tables, rows
from tests.dagster_runs import failure_messages, run_range
from tests.providers_under_test import providers_under_test

DAY = date(2026, 10, 5).isoformat()
LEGS = 40  # a small day: the point is the paths taken, not the volume
SPECS = providers_under_test()


@dataclass
class Setup:
    """One way of running a provider: its simulator, and the environment for one of its logins."""

    spec: ProviderSpec
    login: Login
    simulated: SimulatedProvider

    def variables(self, credentials) -> dict[str, str]:
        return {f"{self.spec.env_prefix}_{name.upper()}": value for name, value in credentials.items()}

    @property
    def environment(self) -> dict[str, str]:
        return {**self.simulated.environment, **self.variables(self.login.credentials)}

    @property
    def wrong(self) -> dict[str, str]:  # what the simulator refuses
        return self.variables(self.login.wrong)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be written anywhere: the login's secrets, right and wrong."""
        return (*(self.environment[variable] for variable in self.wrong), *self.wrong.values())


SETUPS = {f"{name} by {login.name}": Setup(spec, login, spec.simulator(LEGS))
          for name, spec in SPECS.items() for login in spec.conformance.logins}
PATHS = ("success", "refused", "5xx_exhausted", "connection_resets", "truncated_bodies", "error_body",
         "rate_limited")


@pytest.fixture(scope="module")
def servers():
    saved = dict(os.environ)
    started = {}
    try:
        for name, setup in SETUPS.items():
            server = SimulatorServer(setup.simulated.app, port=0)
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
        "error_body": [Fault("body", times=many, body=error[0], content_type=error[1])]
                      if (error := setup.spec.conformance.error_answer) else [],
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
    for variable in list(os.environ):  # no other setup's (or run's) provider settings and credentials
        if variable.startswith(tuple(f"{spec.env_prefix}_" for spec in SPECS.values())):
            monkeypatch.delenv(variable)
    for variable, value in {**setup.environment, **(setup.wrong if path == "refused" else {}),
                            setup.spec.base_url_variable: servers[name],
                            "CDR_HTTP_MAX_ATTEMPTS": "2", "CDR_HTTP_BACKOFF_BASE_S": "0.01",
                            "CDR_HTTP_BACKOFF_MAX_S": "0.02", "CDR_HTTP_TIMEOUT_S": "5"}.items():
        monkeypatch.setenv(variable, value)
    state = setup.simulated.app.state.sim
    state.reset()
    for fault in faults:
        state.inject(fault)
    caplog.set_level(logging.DEBUG)  # the root: every logger that does not set its own level
    for logger in ("pipelines", "dagster", "httpx", "httpcore", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=logger)  # and the ones that do

    result = run_range([setup.spec.name], DAY, DAY)
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
