"""Credentials appear nowhere: every provider run end to end through Dagster, by each of its ways
of logging in, through success and every failure path the simulators can produce, while every
log record, exception, traceback, Dagster event (with its metadata) and every row of schema cdr
(raw bodies gunzipped) is collected and searched for the secrets. Then the same for accounts
from an accounts file (docs/accounts.md): two accounts per provider, each with its own credential
variables, the second's refused in one run; and `cdr-etl accounts check`'s output.

Each provider's simulator accepts its own fake credentials; its conformance names the wrong ones
(which the simulator refuses) and how to choose each login. Their own server logs (uvicorn) are
left out: they are the provider's side of the wire, not this project's output.
"""
from __future__ import annotations

import gzip
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import orjson
import psycopg
import pytest
from dagster._serdes import serialize_value

from pipelines.providers.spec import Conformance, Login, ProviderSpec, SimulatedAccount, SimulatedProvider
from pipelines.simulation import Fault, SimulatorServer
from pipelines.simulators import RunningSimulators, accounts_file, credential_variable, running_simulators
from tests.conftest import all_warehouse_tables, rows
from tests.dagster_runs import failure_messages, run_range
from tests.providers_under_test import providers_under_test
from tests.simulator_driver import restored_environment

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
    def held(self) -> list[str]:
        """The secrets the client is given (the right ones)."""
        return [self.environment[variable] for variable in self.wrong]

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be written anywhere: the login's secrets, right and wrong."""
        return (*(self.environment[variable] for variable in self.wrong), *self.wrong.values())


def conformance(spec: ProviderSpec) -> Conformance:
    assert spec.conformance is not None  # providers_under_test() refuses a provider without one
    return spec.conformance


SETUPS = {f"{name} by {login.name}": Setup(spec, login, spec.simulator(LEGS))
          for name, spec in SPECS.items() for login in conformance(spec).logins}
PATHS = ("success", "refused", "5xx_exhausted", "connection_resets", "truncated_bodies", "error_body",
         "rate_limited", "secret_echoed")


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
                      if (error := conformance(setup.spec).error_answer) else [],
        # a provider that quotes the request back in its error: the client must not pass it on
        "secret_echoed": [Fault("status", times=many, status=400, content_type="application/json",
                                body=orjson.dumps({"error_code": "INVALID_VALUE", "success": False,
                                                   "error_message": "refused " + " ".join(setup.held),
                                                   "fields": list(setup.held)}).decode())],
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


def without_provider_variables(monkeypatch) -> None:
    """No provider's quick-start settings and credentials (another setup's, or a run's)."""
    for variable in list(os.environ):
        if variable.startswith(tuple(f"{spec.env_prefix}_" for spec in SPECS.values())):
            monkeypatch.delenv(variable)


def debug_logging(caplog) -> None:
    caplog.set_level(logging.DEBUG)  # the root: every logger that does not set its own level
    for logger in ("pipelines", "dagster", "httpx", "httpcore", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=logger)  # and the ones that do


def leaks_in(texts: list[str], secrets) -> list[tuple[str, str]]:
    return [(secret, text[max(0, text.find(secret) - 200):text.find(secret) + 60])
            for text in texts for secret in secrets if secret in text]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", SETUPS)
def test_credentials_appear_nowhere(name, path, servers, clean_warehouse, caplog, monkeypatch):
    setup = SETUPS[name]
    faults = faults_for(path, setup)
    if path == "error_body" and not faults:
        pytest.skip(f"{name}: no error body inside a success to simulate")
    without_provider_variables(monkeypatch)
    for variable, value in {**setup.environment, **(setup.wrong if path == "refused" else {}),
                            setup.spec.base_url_variable: servers[name],
                            "CDR_HTTP_MAX_ATTEMPTS": "2", "CDR_HTTP_BACKOFF_BASE_S": "0.01",
                            "CDR_HTTP_BACKOFF_MAX_S": "0.02", "CDR_HTTP_TIMEOUT_S": "5"}.items():
        monkeypatch.setenv(variable, value)
    state = setup.simulated.app.state.sim
    state.reset()
    for fault in faults:
        state.inject(fault)
    debug_logging(caplog)

    result = run_range([setup.spec.name], DAY, DAY)
    served = state.faults_applied
    state.reset()
    assert served >= len(faults), f"{path}: the faults were never served"

    assert result.success == (path == "success"), failure_messages(result)
    if path == "success":
        assert rows(clean_warehouse, "SELECT count(*) FROM cdr.raw_response")[0][0] > 0
    else:
        assert failure_messages(result)
    texts = everything_written(result, caplog, clean_warehouse)
    leaks = leaks_in(texts, setup.secrets)
    assert not leaks, leaks[:3]


# --- accounts from the accounts file ---------------------------------------------------------

FILE_ACCOUNTS = 2
FILE_PATHS = ("success", "second_refused")


@pytest.fixture(scope="module")
def served_accounts() -> Iterator[RunningSimulators]:
    """Every provider's simulator, serving two accounts, each with its own credentials."""
    with restored_environment(), running_simulators(
            list(SPECS), legs_per_day=LEGS, accounts_per_provider=FILE_ACCOUNTS) as running:
        yield running


def file_login(spec: ProviderSpec, account: SimulatedAccount) -> Login:
    """The login the simulated account uses: the one whose secret credentials it holds."""
    return next(login for login in conformance(spec).logins if set(login.wrong) <= set(account.credentials))


@pytest.mark.parametrize("path", FILE_PATHS)
@pytest.mark.parametrize("name", SPECS)
def test_credentials_from_the_accounts_file_appear_nowhere(name, path, served_accounts, clean_warehouse,
                                                           caplog, monkeypatch, tmp_path):
    spec, served = SPECS[name], served_accounts.accounts[name]
    assert len(served) == FILE_ACCOUNTS
    text, secrets = accounts_file({name: served}, prefix="LEAK")
    login = file_login(spec, served[-1])
    if path == "second_refused":  # the second account's variables hold what the simulator refuses
        secrets |= {credential_variable("LEAK", name, FILE_ACCOUNTS, credential): value
                    for credential, value in login.wrong.items()}
    accounts_path = tmp_path / "cdr-accounts.toml"
    accounts_path.write_text(text)
    # every account's secret credentials, right and wrong (a user name is not a secret)
    searched = {*(account.credentials[credential] for account in served
                  for credential in file_login(spec, account).wrong), *login.wrong.values()}
    assert len(searched) == FILE_ACCOUNTS * len(login.wrong) + len(login.wrong)
    assert not [secret for secret in searched if secret in text], "the file holds only references"
    without_provider_variables(monkeypatch)  # the file is the only source of accounts
    for variable, value in {**secrets, "CDR_ACCOUNTS_FILE": str(accounts_path),
                            "CDR_HTTP_MAX_ATTEMPTS": "2", "CDR_HTTP_BACKOFF_BASE_S": "0.01",
                            "CDR_HTTP_BACKOFF_MAX_S": "0.02", "CDR_HTTP_TIMEOUT_S": "5"}.items():
        monkeypatch.setenv(variable, value)
    debug_logging(caplog)

    result = run_range([name], DAY, DAY)

    assert result.success == (path == "success"), failure_messages(result)
    loaded = {account for (account,) in rows(clean_warehouse,
                                             "SELECT DISTINCT account FROM cdr.raw_response")}
    if path == "success":
        assert loaded == {account.name for account in served}
    else:  # the first account loads; the second fails alone, named
        assert loaded == {served[0].name}
        failures = " ".join(failure_messages(result))
        assert f"account '{served[-1].name}'" in failures, failures
    leaks = leaks_in(everything_written(result, caplog, clean_warehouse), searched)
    assert not leaks, leaks[:3]

    for command in (["check"], ["check", "--probe"]):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", "accounts", *command],
                              env=dict(os.environ), capture_output=True, text=True, timeout=120)
        probed_refused = path == "second_refused" and "--probe" in command
        assert done.returncode == (1 if probed_refused else 0), done.stdout + done.stderr
        leaks = leaks_in([done.stdout, done.stderr], searched)
        assert not leaks, (command, leaks[:3])
