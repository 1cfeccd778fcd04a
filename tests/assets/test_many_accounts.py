"""Many accounts per provider, first-class end to end (issue 12's tests).

Fifty-two accounts, thirteen at each of the four providers' simulators (MIXvoip and Telecom X
with two or three customers each, Belfabriek with one customer id each), written as an accounts
file with credentials as references, loaded for three days in one Dagster run:
- every account's and customer's rows are exactly what its own credentials fetch from the
  simulator, and no row carries another account or customer;
- an account whose credentials are refused fails alone, named in the run's failures, while the
  others load, calls and aggregates included;
- a backfill of one account leaves every other account's rows as they were, row for row.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.assets.provider import account_key
from pipelines.config import ProviderAccount, read_accounts_file
from pipelines.definitions import NIGHTLY_JOB, definitions_from_env
from pipelines.model import RawPage
from pipelines.partitions import day_window
from pipelines.registry import registry
from pipelines.simulators import RunningSimulators, accounts_file, running_simulators
from tests.conftest import LEG_TABLES, PAST_DAY, rows, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages
from tests.simulator_driver import FAST_RETRIES, restored_environment

SPECS = registry()
ACCOUNTS_PER_PROVIDER = 13
LEGS_PER_DAY = 12
DAYS = [PAST_DAY + timedelta(days=i) for i in range(3)]
FIRST, LAST = DAYS[0].isoformat(), DAYS[-1].isoformat()
BROKEN = "tenios-refused"  # an account whose key the simulator refuses


def _paced_freely(provider: str, account):
    """Belfabriek paces itself at one request a second per account by default; the test's
    simulator allows more, so the 39 Belfabriek requests do not take 39 seconds."""
    if provider != "belfabriek":
        return account
    return dataclasses.replace(account, options={**account.options, "requests_per_second": "50"})


@pytest.fixture(scope="module")
def served() -> Iterator[RunningSimulators]:
    with restored_environment(), running_simulators(
            list(SPECS), legs_per_day=LEGS_PER_DAY, accounts_per_provider=ACCOUNTS_PER_PROVIDER) as running:
        yield running


@pytest.fixture(scope="module")
def environment(served, tmp_path_factory) -> dict[str, str]:
    """The process environment a user would have: the accounts file, the secrets its references
    name, fast retries; plus one TENIOS account whose key the simulator refuses."""
    accounts = {p: tuple(_paced_freely(p, a) for a in served.accounts[p]) for p in served.accounts}
    text, secrets = accounts_file(accounts, prefix="MANY")
    tenios = served.accounts["tenios"][0]
    text += "\n".join(["", "[[accounts]]", 'provider = "tenios"', f'name = "{BROKEN}"',
                       "[accounts.credentials]", 'access_key = { env = "MANY_REFUSED_KEY" }',
                       "[accounts.options]", f'base_url = "{tenios.options["base_url"]}"', ""])
    path = tmp_path_factory.mktemp("accounts") / "cdr-accounts.toml"
    path.write_text(text)
    return {**os.environ, **FAST_RETRIES, **secrets, "MANY_REFUSED_KEY": "sim-tenios-not-a-key",
            "CDR_ACCOUNTS_FILE": str(path), "CDR_PROVIDERS": ""}


def run(environ: dict[str, str], selection: list[AssetKey] | None = None, force: bool = False):
    defs = definitions_from_env({**environ, **({"CDR_FORCE_RELOAD": "1"} if force else {})})
    job = defs.resolve_job_def(NIGHTLY_JOB) if selection is None else \
        defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=selection,
        tags={ASSET_PARTITION_RANGE_START_TAG: FIRST, ASSET_PARTITION_RANGE_END_TAG: LAST},
        raise_on_error=False, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})


@pytest.fixture(scope="module")
def loaded(environment, warehouse_url):
    truncate_warehouse(warehouse_url)
    result = run(environment)
    return result


def accounts(environment) -> list[ProviderAccount]:
    return [a for a in read_accounts_file(Path(environment["CDR_ACCOUNTS_FILE"]), SPECS, environment)
            if a.account != BROKEN]


def served_rows(account: ProviderAccount, environment) -> set[tuple]:
    """(customer, key) of every primary row the account's own client fetches for the days,
    parsed; the key is what identifies the row in its table. A leg that two days' answers both
    hold (Belfabriek's on the stroke of midnight) is one leg, stored under the day it started."""
    keys = set()
    start, end = day_window(FIRST)[0], day_window(LAST)[1]
    with closing(account.open_client(environment)) as client:
        for day in DAYS:
            window = day_window(day.isoformat())
            pages = [RawPage(None, p.page, p.body, p.content_type, p.request_params, window)
                     for p in client.fetch_window(window)]
            for row in account.parse(pages):
                if type(row) is account.spec.primary.row_type and start <= _start(row) < end:
                    keys.add((row.customer or None, _key(row)))
    return keys


def _start(row) -> datetime:
    return row.started_at if hasattr(row, "started_at") else row.interval_start


def _key(row) -> tuple:
    fields = row._asdict()
    if "leg_key" in fields:
        return (fields["leg_key"],)
    return (fields["employee_id"], fields["extension_id"], fields["interval_start"].isoformat(),
            fields["grain"])


def stored_rows(url: str, account: ProviderAccount) -> set[tuple]:
    if account.spec.primary.table == "cdr.fact_call_leg":
        found = rows(url, "SELECT customer, leg_key FROM cdr.fact_call_leg"
                     " WHERE provider = %s AND account = %s AND started_at >= %s AND started_at < %s",
                     (account.provider, account.account, day_window(FIRST)[0], day_window(LAST)[1]))
        assert len(found) == len(set(found))
        return {(customer, (key,)) for customer, key in found}
    found = rows(url, "SELECT nullif(customer, ''), employee_id, extension_id, interval_start, grain"
                 " FROM cdr.fact_pbx_stats WHERE provider = %s AND account = %s",
                 (account.provider, account.account))
    return {(customer, (employee, extension, start.isoformat(), grain))
            for customer, employee, extension, start, grain in found}


def test_fifty_accounts_load_each_with_exactly_its_own_rows(loaded, environment, warehouse_url):
    configured = accounts(environment)
    assert len(configured) >= 50 and {a.provider for a in configured} == set(SPECS)
    for account in configured:
        expected, stored = served_rows(account, environment), stored_rows(warehouse_url, account)
        assert expected, f"{account.provider} {account.account}: the simulator served nothing"
        assert stored == expected, (account.provider, account.account)
        customers = {customer for customer, _ in stored}
        assert customers == (set(account.customers) or {None}), (account.account, customers)
    # the derived tables carry the account's own customers too
    mixed = rows(warehouse_url, "SELECT c.provider, c.account, c.customer FROM cdr.fact_call c"
                 " LEFT JOIN cdr.fact_call_leg l ON l.provider = c.provider AND l.account = c.account"
                 " AND l.call_key = c.call_key AND l.customer IS NOT DISTINCT FROM c.customer"
                 " WHERE l.leg_key IS NULL")
    assert mixed == []


def test_refused_credentials_fail_that_account_alone(loaded, environment, warehouse_url):
    assert not loaded.success
    failed = [event.step_key for event in loaded.all_events if event.is_step_failure]
    assert failed and all(account_key(BROKEN) in step for step in failed), failed
    messages = " ".join(failure_messages(loaded))
    assert f"tenios account '{BROKEN}'" in messages and "sim-tenios-not-a-key" not in messages
    for account in accounts(environment):
        tables = ("cdr.fact_call_leg", "cdr.fact_call", "cdr.agg_call_leg_daily") \
            if account.spec.primary.table == "cdr.fact_call_leg" else (account.spec.primary.table,)
        for table in tables:
            assert count(warehouse_url, table, account.provider, account.account), (table, account.account)
    assert count(warehouse_url, "cdr.raw_response", "tenios", BROKEN) == 0


def test_a_backfill_of_one_account_leaves_every_other_account_as_it_was(loaded, environment, warehouse_url):
    chosen = next(a for a in accounts(environment) if a.provider == "mixvoip")
    tables = (*LEG_TABLES, "cdr.fact_billing_item", "cdr.fact_pbx_stats")
    before = _others(snapshot(warehouse_url, tables), chosen)
    last_audit = rows(warehouse_url, "SELECT max(id) FROM cdr.load_audit")[0][0]
    prefix = [chosen.provider, account_key(chosen.account)]
    result = run(environment, selection=[AssetKey([*prefix, "raw_pages"]),
                                         AssetKey([*prefix, chosen.spec.primary.name])], force=True)
    assert result.success, failure_messages(result)
    audited = rows(warehouse_url, "SELECT DISTINCT provider, account, skipped FROM cdr.load_audit"
                   " WHERE id > %s", (last_audit,))
    assert audited == [(chosen.provider, chosen.account, False)]  # that account loaded again, and only it
    assert _others(snapshot(warehouse_url, tables), chosen) == before


def count(url: str, table: str, provider: str, account: str) -> int:
    return rows(url, f"SELECT count(*) FROM {table} WHERE provider = %s AND account = %s",
                (provider, account))[0][0]


def _others(snapshot_: dict[str, list[tuple]], chosen: ProviderAccount) -> dict[str, list[tuple]]:
    """Every row not of `chosen` (rows begin with provider, account in every table compared)."""
    return {table: [row for row in found if (row[0], row[1]) != (chosen.provider, chosen.account)]
            for table, found in snapshot_.items()}
