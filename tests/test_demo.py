"""Simulators serving many accounts, and `cdr-etl demo --accounts-per-provider N`.

Every simulator serves three accounts, each with its own credentials, customers and data: over
real HTTP, each account's credentials fetch its own customers' records only, records no other
account gets, and a customer not linked to the login is refused the way the provider's docs
say. The accounts file the demo writes reads back (pipelines.config) into the accounts served,
and the demo itself, run as `cdr-etl demo --days 1 --accounts-per-provider 2`, loads every
account and lists each in its summary, its run one of the code location's (so the UI can
re-execute it: tests/ui).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import psycopg
import pytest
from dagster import DagsterInstance

from pipelines.config import read_accounts_file
from pipelines.demo import DEMO_ACCOUNTS_FILE
from pipelines.model import RawPage
from pipelines.providers.spec import SimulatedAccount
from pipelines.registry import registry
from pipelines.simulators import RunningSimulators, accounts_file, credential_variable, running_simulators
from pipelines.warehouse.connection import PROJECT_ROOT, ensure_database, start_embedded
from tests.conftest import TEST_DATABASE
from tests.simulator_driver import restored_environment
from tests.ui.conftest import LOCATION

SPECS = registry()
PROVIDERS = list(SPECS)
ACCOUNTS = 3
LEGS = 30
# a past day: every record of it is visible
WINDOW = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
# what identifies a record's content, not who fetched it
_WHO = frozenset({"provider", "account", "customer", "raw_response_id", "attributes"})


@pytest.fixture(scope="module")
def served() -> Iterator[RunningSimulators]:
    with restored_environment(), \
            running_simulators(PROVIDERS, legs_per_day=LEGS, accounts_per_provider=ACCOUNTS) as running:
        yield running


@pytest.fixture(scope="module")
def configured(served, tmp_path_factory):
    """The served accounts written as an accounts file and read back as the pipeline reads it,
    with the environment holding the secrets its references name."""
    text, secrets = accounts_file(served.accounts)
    path = tmp_path_factory.mktemp("accounts") / DEMO_ACCOUNTS_FILE
    path.write_text(text)
    return read_accounts_file(path, SPECS, {}), secrets


def fetch(account, secrets) -> list:
    """The primary rows the account's own client fetches and parses for DAY."""
    client = account.open_client(secrets)
    try:
        pages = [RawPage(None, p.page, p.body, p.content_type, p.request_params, WINDOW)
                 for p in client.fetch_window(WINDOW)]
    finally:
        client.close()
    return [row for row in account.parse(pages) if isinstance(row, account.spec.primary.row_type)]


def fingerprint(row) -> tuple:
    return tuple(value for name, value in row._asdict().items() if name not in _WHO)


def test_every_simulator_serves_accounts_with_their_own_credentials_and_customers(served):
    for provider in PROVIDERS:
        accounts = served.accounts[provider]
        assert [a.name for a in accounts] == [f"{provider}-demo", f"{provider}-demo-2", f"{provider}-demo-3"]
        secrets = [tuple(a.credentials.values()) for a in accounts]
        assert len(set(secrets)) == ACCOUNTS, f"{provider}: accounts share credentials"
        # recognisably fake (the first account keeps the quick start's, Belfabriek's a bare hash)
        assert all(value.startswith("sim") for values in secrets[1:] for value in values), provider
        assert all(a.options["base_url"] == served[provider] for a in accounts)
        customers = [c for a in accounts for c in a.customers]
        assert len(customers) == len(set(customers)), f"{provider}: a customer under two accounts"
        expected = {None: range(1), "customer_id": range(1, 2)}.get(SPECS[provider].customer_setting,
                                                                      range(2, 4))
        assert all(len(a.customers) in expected for a in accounts), (provider, accounts)


def test_the_first_account_is_the_quick_start_environment(served):
    for provider in PROVIDERS:
        first = served.accounts[provider][0]
        prefix = SPECS[provider].env_prefix
        assert os.environ[f"{prefix}_ACCOUNT"] == first.name
        assert all(os.environ[f"{prefix}_{name.upper()}"] == value
                   for name, value in first.credentials.items())


def test_the_accounts_file_reads_back_into_the_accounts_served(served, configured):
    accounts, secrets = configured
    listed = {(a.provider, a.account): a for a in accounts}
    assert len(listed) == len(PROVIDERS) * ACCOUNTS
    for provider in PROVIDERS:
        for index, expected in enumerate(served.accounts[provider], start=1):
            account = listed[provider, expected.name]
            assert account.customers == expected.customers
            assert account.settings.base_url == served[provider]
            # only references in the file; the secrets are in the environment it names
            assert dict(account.credential_variables) == {
                name: credential_variable("DEMO", provider, index, name) for name in expected.credentials}
            resolved = {name: secrets[v] for name, v in account.credential_variables.items()}
            assert resolved == expected.credentials


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_accounts_credentials_fetch_its_own_data_only(configured, provider):
    accounts, secrets = configured
    fetched = {}
    for account in (a for a in accounts if a.provider == provider):
        rows = fetch(account, secrets)
        assert rows, f"{account.account}: nothing fetched"
        assert {row.account for row in rows} == {account.account}
        # rows of its own customers only (TENIOS has none under a key)
        assert {row.customer for row in rows} == (set(account.customers) or {None}), account.account
        fetched[account.account] = {fingerprint(row) for row in rows}
    names = sorted(fetched)
    for i, one in enumerate(names):
        for other in names[i + 1:]:
            assert not fetched[one] & fetched[other], f"{one} and {other} got the same records"


def _mixvoip(url: str, mine: SimulatedAccount, theirs: SimulatedAccount) -> httpx.Response:
    return httpx.get(f"{url}/cdrs/getcalls/{theirs.customers[0]}/2026-11-02/2026-11-03/json",
                     params=dict(mine.credentials))


def _telecomx(url: str, mine: SimulatedAccount, theirs: SimulatedAccount) -> httpx.Response:
    return httpx.post(f"{url}/pbx/cdrstats", params=dict(mine.credentials),
                      content=orjson.dumps({"customer": theirs.customers[0], "from": "2026-11-02T00:00:00Z",
                                            "to": "2026-11-02T23:59:59Z"}))


def _belfabriek(url: str, mine: SimulatedAccount, theirs: SimulatedAccount) -> httpx.Response:
    return httpx.get(f"{url}/statistics/", params={**mine.credentials, "customer_id": theirs.customers[0],
                                                   "start_timestamp": int(WINDOW[0].timestamp()),
                                                   "end_timestamp": int(WINDOW[1].timestamp())})


def _tenios(url: str, mine: SimulatedAccount, theirs: SimulatedAccount) -> httpx.Response:
    # no customers under a key: another account's data is reachable only by its key
    return httpx.post(f"{url}/cdrs/count", content=orjson.dumps({
        "access_key": mine.credentials["access_key"] + theirs.credentials["access_key"][-4:],
        "start_date_from": "2026-11-02T00:00:00.000Z", "start_date_to": "2026-11-02T23:59:59.000Z"}))


# the request with one account's credentials for another account's customer, and the refusal the
# provider's docs give (shared/providers/NOTES.md; each simulator's docstring)
REFUSALS: dict[str, tuple[Callable[..., httpx.Response], Callable[[httpx.Response], bool]]] = {
    "mixvoip": (_mixvoip, lambda r: r.content.startswith(b'{"return"') and r.json()["return"]["code"] == 403),
    "telecomx": (_telecomx, lambda r: r.status_code == 403 and r.json()["error"] == "access_denied"),
    "belfabriek": (_belfabriek, lambda r: r.status_code == 200 and b"<ERROR>1</ERROR>" in r.content),
    "tenios": (_tenios, lambda r: r.status_code == 400 and r.json()["error_code"] == "BAD_CREDENTIALS"),
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_another_accounts_customer_is_refused_as_the_docs_say(served, provider):
    request, refused = REFUSALS[provider]
    accounts = served.accounts[provider]
    # lifts the rate limit (Belfabriek's 4 a second would answer error 5 to this burst)
    httpx.post(served[provider] + "/_sim/reset", json={}).raise_for_status()
    for mine in accounts:
        for theirs in accounts:
            if mine is not theirs:
                response = request(served[provider], mine, theirs)
                assert refused(response), (mine.name, theirs.name, response.status_code, response.text[:200])
        # and its own customer is served
        own = request(served[provider], mine, mine) if provider != "tenios" else None
        assert own is None or not refused(own), (mine.name, own.text[:200])


def test_the_demo_with_two_accounts_per_provider_loads_and_lists_every_account(tmp_path, monkeypatch):
    database = f"{TEST_DATABASE}_demo"
    server = start_embedded()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    # the demo's own: no quick-start variables, warehouse URL or accounts file of this process
    left_out = ("CDR_WAREHOUSE_URL", "CDR_ACCOUNTS_FILE", "CDR_PROVIDERS", "DAGSTER_HOME")
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(tuple(f"{spec.env_prefix}_" for spec in SPECS.values()))
                   and name not in left_out}
    environment.update(CDR_DATABASE=database, DAGSTER_HOME=str(tmp_path / "dagster_home"),
                       DAGSTER_PG_URL=ensure_database(server, f"{TEST_DATABASE}_demo_dagster"),
                       PYTHONPATH=str(PROJECT_ROOT), CDR_HTTP_BACKOFF_BASE_S="0.05",
                       CDR_REPORT_PATH=str(tmp_path / "demo-report.html"))
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "demo", "--days", "1",
                           "--accounts-per-provider", "2"], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # its run is one of the code location's (tests/ui re-executes such a run from the UI)
    [run_id] = re.findall(r"^dagster run (\S+): SUCCESS", done.stdout, re.MULTILINE)
    monkeypatch.setenv("DAGSTER_PG_URL", environment["DAGSTER_PG_URL"])
    with DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        run = instance.get_run_by_id(run_id)
    assert run is not None and run.remote_job_origin is not None
    assert run.remote_job_origin.location_name == LOCATION

    # the report of its day, every account, its path printed (tests/report checks what is in one)
    assert f"report: {tmp_path / 'demo-report.html'}" in done.stdout
    report = (tmp_path / "demo-report.html").read_text()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert f'data-from="{yesterday}" data-to="{yesterday}"' in report
    assert all(f"{provider} · {provider}-demo-2" in report for provider in PROVIDERS)

    # the file it loaded from, in its working directory, reads back into two accounts a provider
    written = read_accounts_file(tmp_path / DEMO_ACCOUNTS_FILE, SPECS, {})
    expected = {(p, a.name): a.customers for p in PROVIDERS
                for a in SPECS[p].simulator(None, accounts=2).accounts}
    assert {(a.provider, a.account): a.customers for a in written} == expected
    assert all(v.startswith("DEMO_") for a in written for v in a.credential_variables.values())

    # the summary has a row for every account, and the warehouse rows of each account are its own
    # customers'
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("provider    account"))
    table = lines[header + 1: lines.index("", header)]
    listed = {tuple(line.split()[:2]) for line in table}
    assert listed == set(expected), done.stdout
    url = ensure_database(server, database)
    with psycopg.connect(url) as conn:
        loaded = conn.execute(
            "SELECT provider, account, array_agg(DISTINCT customer) FILTER (WHERE customer IS NOT NULL)"
            " FROM (SELECT provider, account, customer FROM cdr.fact_call_leg"
            "       UNION ALL SELECT provider, account, customer FROM cdr.fact_pbx_stats) r"
            " GROUP BY provider, account").fetchall()
    assert {(p, a): tuple(sorted(c or ())) for p, a, c in loaded} == {
        key: tuple(sorted(customers)) for key, customers in expected.items()}


def test_one_account_per_provider_keeps_the_quick_start_of_before():
    """`simulated(legs)` serves the one account it always served, with the same variables."""
    before = {
        "tenios": {"TENIOS_ACCESS_KEY": "sim-tenios-0f6c2d1e", "TENIOS_ACCOUNT": "tenios-demo"},
        "belfabriek": {"BELFABRIEK_CUSTOMER_HASH": "5f1c9e0b7a3d4c2e8b6a1f0e9d8c7b6a",
                       "BELFABRIEK_CUSTOMER_ID": "100234", "BELFABRIEK_ACCOUNT": "belfabriek-demo"},
        "mixvoip": {"MIXVOIP_USERNAME": "sim-reseller", "MIXVOIP_PASSWORD": "sim-mixvoip-9d41b7",
                    "MIXVOIP_ACCOUNT": "mixvoip-demo", "MIXVOIP_PROFILE_IDS": "100201,100202",
                    "MIXVOIP_END_DATE": "inclusive"},  # the simulator's own reading of END_DATE
        "telecomx": {"TELECOMX_TOKEN": "sim-telecomx-m2m-3b9d0c7e51a24f68",
                     "TELECOMX_ACCOUNT": "telecomx-demo", "TELECOMX_CUSTOMERS": "5f0c1d2e3a4b5c6d7e8f9a0b"},
    }
    for provider, spec in SPECS.items():
        one = spec.simulator(None)
        assert one.environment == before[provider]
        assert len(one.accounts) == 1 and one.accounts[0].name == f"{provider}-demo"
        # the first of many keeps its name and credentials
        first = spec.simulator(None, accounts=ACCOUNTS).accounts[0]
        assert (first.name, first.credentials) == (one.accounts[0].name, one.accounts[0].credentials)
