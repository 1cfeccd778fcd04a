"""A well-formed answer that is not the provider's record payload (another endpoint's answer,
an HTML page served with HTTP 200, an empty JSON object) is refused, by the parser (`cdr-etl
parse` and the load path quarantine the body, naming the provider) and by the client (a typed
error naming the provider and window), and a run that meets one fails and loads nothing. It is
never read as a quiet day. Every registered provider, with the answers its Conformance adds."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from pipelines.config import account_from_env
from pipelines.errors import ProviderAuthError, ProviderError
from pipelines.model import Quarantined, RawPage
from pipelines.warehouse.connection import PROJECT_ROOT
from tests.conftest import scalar, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.providers_under_test import providers_under_test
from tests.simulator_driver import simulators

SPECS = providers_under_test()
DAY = date(2026, 10, 7)
WINDOW = (datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))
MAINTENANCE_PAGE = ("<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>"
                    "<body><h1>We will be back soon</h1><p>Scheduled maintenance.</p></body></html>")
SHARED = (("HTML page with HTTP 200", MAINTENANCE_PAGE, "text/html; charset=utf-8"),
          ("empty JSON object", "{}", "application/json"))
CASES = [(provider, name, body, content_type)
         for provider, spec in SPECS.items()
         for name, body, content_type in (*SHARED, *spec.conformance.foreign_answers)]  # type: ignore[union-attr]
IDS = [f"{provider}: {name}" for provider, name, _, _ in CASES]


@pytest.fixture(scope="module")
def drivers():  # the test database is set up first for every module (tests/conftest.py)
    # two attempts: a refused answer is retried like any bad body, and Belfabriek paces 1 request/s
    with simulators(list(SPECS), CDR_HTTP_MAX_ATTEMPTS="2") as running:
        yield running


@pytest.mark.parametrize("provider, name, body, content_type", CASES, ids=IDS)
def test_the_parser_refuses_the_body(provider, name, body, content_type):
    account = account_from_env(SPECS[provider], os.environ)
    items = list(account.parse([RawPage(None, 1, body.encode(), content_type, {}, WINDOW)], "acct"))
    assert items, "the body was read as zero records"
    assert all(type(item) is Quarantined for item in items), items
    assert any(item.record_index == -1 and item.reason for item in items), items


@pytest.mark.parametrize("provider", list(SPECS))
def test_cdr_etl_parse_refuses_it_naming_the_provider(provider, tmp_path):
    page = tmp_path / "answer.html"
    page.write_text(MAINTENANCE_PAGE)
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "parse", "--provider", provider, str(page)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          # the project, and whatever else is on the path (a plug-in provider's package)
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              filter(None, (str(PROJECT_ROOT), os.environ.get("PYTHONPATH"))))})
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"{provider}: body:"), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("provider, name, body, content_type", CASES, ids=IDS)
def test_the_client_refuses_the_answer(provider, name, body, content_type, drivers):
    spec, driver = SPECS[provider], drivers[provider]
    driver.reset()
    driver.inject({"kind": "body", "body": body, "content_type": content_type, "times": 1000,
                   "path": spec.conformance.data_path})
    account = account_from_env(spec, os.environ)
    with account.open_client(os.environ) as client, pytest.raises(ProviderError) as raised:
        list(client.fetch_window(WINDOW))
    served = driver.stats()["faults_applied"]
    driver.reset()
    assert served >= 1, "the foreign answer never reached the client"
    assert not isinstance(raised.value, ProviderAuthError), raised.value
    assert str(raised.value).startswith(f"{provider}:"), raised.value
    assert raised.value.window is not None


@pytest.mark.parametrize("provider", list(SPECS))
def test_a_run_served_an_html_page_fails_clearly_and_loads_nothing(provider, drivers, warehouse_url):
    spec, driver = SPECS[provider], drivers[provider]
    driver.reset()
    truncate_warehouse(warehouse_url)
    driver.inject({"kind": "body", "body": MAINTENANCE_PAGE, "content_type": "text/html", "times": 1000,
                   "path": spec.conformance.data_path})
    result = run_range([provider], DAY.isoformat(), DAY.isoformat())
    served = driver.stats()["faults_applied"]
    driver.reset()
    assert served >= 1
    assert not result.success
    messages = failure_messages(result)
    assert any(f"{provider} account " in message for message in messages), messages
    assert any(f"{provider}:" in message for message in messages), messages
    for table in {table for kind in spec.items for table in kind.tables}:
        assert scalar(warehouse_url, f"SELECT count(*) FROM {table}") == 0, table
