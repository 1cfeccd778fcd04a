"""Pseudonymised accounts (issue 18): subscriber numbers stored as keyed HMACs with their country
and type, so the KPIs by country and type equal a clear-text load's; re-runs rewrite nothing; an
erasure finds the pseudonym. Simulators over HTTP, an accounts file, the nightly job in process."""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import date, timedelta

import pytest
from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines import cli
from pipelines.definitions import NIGHTLY_JOB, definitions_from_env
from pipelines.simulators import accounts_file, running_simulators
from tests.conftest import LEG_TABLES, rows, scalar, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages
from tests.privacy.helpers import where_found
from tests.simulator_driver import FAST_RETRIES, restored_environment

DAY = date(2026, 10, 5)
PROVIDERS = ["tenios", "belfabriek"]
KEY = "a-test-key-of-at-least-thirty-two-characters"
BY_COUNTRY = ("SELECT provider, caller_country_iso, caller_number_type, destination_country_iso,"
              " destination_number_type, count(*), sum(talk_s), sum(duration_s)"
              " FROM mart.calls GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")
TABLES = (*LEG_TABLES, "cdr.number_enrichment")


@pytest.fixture(scope="module")
def served():
    with restored_environment(), running_simulators(PROVIDERS) as running:
        yield running


def environment(served, tmp_path, pseudonymise: bool) -> dict[str, str]:
    text, secrets = accounts_file({p: served.accounts[p][:1] for p in PROVIDERS}, prefix="PRIV")
    if pseudonymise:
        text = re.sub(r"^(name = .*)$", r'\1\npseudonymise = { env = "PRIV_PSEUDONYM_KEY" }', text,
                      flags=re.MULTILINE)
    path = tmp_path / f"accounts-{pseudonymise}.toml"
    path.write_text(text)
    return {**os.environ, **FAST_RETRIES, **secrets, "PRIV_PSEUDONYM_KEY": KEY,
            "CDR_ACCOUNTS_FILE": str(path), "CDR_PROVIDERS": ""}


def run(environ: dict[str, str], first: date = DAY, days: int = 2):
    job = definitions_from_env(environ).resolve_job_def(NIGHTLY_JOB)
    result = job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
              ASSET_PARTITION_RANGE_END_TAG: (first + timedelta(days=days - 1)).isoformat()},
        raise_on_error=False, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    assert result.success, failure_messages(result)


def test_pseudonymised_loads_keep_kpis_by_country_and_rewrite_nothing_on_rerun(served, warehouse_url,
                                                                                 tmp_path, monkeypatch):
    url = warehouse_url
    truncate_warehouse(url)
    run(environment(served, tmp_path, pseudonymise=False))
    clear_kpis = rows(url, BY_COUNTRY)
    caller = scalar(url, "SELECT caller_number FROM cdr.fact_call_leg WHERE provider = 'tenios'"
                         " AND caller_number LIKE '+49%%' ORDER BY started_at LIMIT 1")
    assert len(clear_kpis) > 5 and {r[1] for r in clear_kpis} >= {"DE"}

    truncate_warehouse(url)
    environ = environment(served, tmp_path, pseudonymise=True)
    run(environ)
    # no subscriber number is stored clear, nor a caller's name
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number LIKE '+%%'"
                       " OR called_number LIKE '+%%' OR attributes->>'number' LIKE '+%%'"
                       " OR attributes ? 'callerid_name'") == 0
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call WHERE caller_number LIKE '+%%'"
                       " OR called_number LIKE '+%%'") == 0
    assert scalar(url, "SELECT count(*) FROM cdr.number_enrichment WHERE number LIKE '+%%'"
                       " AND number NOT IN (SELECT service_number FROM cdr.fact_call_leg)") == 0
    # the keyed HMAC of the number, the same one every time
    alias = "p:" + hmac.new(KEY.encode(), caller.encode(), hashlib.sha256).hexdigest()
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number = %s", (alias,)) > 0
    # the KPIs by country and type are those of the clear-text load
    assert rows(url, BY_COUNTRY) == clear_kpis

    # idempotent: a re-run, and a forced re-parse of the same pages, rewrite nothing
    first = snapshot(url, TABLES)
    run(environ)
    assert snapshot(url, TABLES) == first
    run({**environ, "CDR_FORCE_RELOAD": "1"})
    assert snapshot(url, TABLES) == first

    # an erasure finds the number by its pseudonym, and a re-pull keeps it erased
    monkeypatch.setattr(os, "environ", environ)
    assert cli.main(["erase", "--number", caller]) == 0
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number = %s", (alias,)) == 0
    assert where_found(url, caller) == {}
    run(environ)
    assert scalar(url, "SELECT count(*) FROM cdr.fact_call_leg WHERE caller_number = %s", (alias,)) == 0
    assert where_found(url, caller) == {}


def test_a_missing_key_stops_the_load_naming_the_variable_not_the_key(served, warehouse_url, tmp_path):
    truncate_warehouse(warehouse_url)
    environ = environment(served, tmp_path, pseudonymise=True)
    environ["PRIV_PSEUDONYM_KEY"] = "short"
    job = definitions_from_env(environ).resolve_job_def(NIGHTLY_JOB)
    result = job.execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False,
        tags={ASSET_PARTITION_RANGE_START_TAG: DAY.isoformat(),
              ASSET_PARTITION_RANGE_END_TAG: DAY.isoformat()})
    assert not result.success
    messages = " ".join(failure_messages(result))
    assert "PRIV_PSEUDONYM_KEY" in messages and "at least 32 characters" in messages
    assert "short" not in messages
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.fact_call_leg") == 0
