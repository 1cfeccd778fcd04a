"""The provider-side fault matrix: every provider, every transport fault its API can throw at us,
and the paging faults of those that page by offset. Each case loads one day cleanly, empties the
warehouse, loads it again through the fault, and compares the two warehouses row for row. The
figures of each case (faults injected, rows lost, rows duplicated, outcome) are written to
.bench/fault_matrix.json (CDR_FAULT_MATRIX_FILE to put them elsewhere) and shown at the end of
the test run; docs/reliability.md quotes them."""
from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from pipelines.providers.spec import QUARANTINE
from pipelines.warehouse.connection import PROJECT_ROOT
from tests.conftest import scalar, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.providers_under_test import providers_under_test
from tests.simulator_driver import simulators

DAY = date(2026, 10, 7)
RESULTS_FILE = Path(os.environ.get("CDR_FAULT_MATRIX_FILE") or PROJECT_ROOT / ".bench" / "fault_matrix.json")

SPECS = providers_under_test()
# Which tables hold what each provider loads: its kinds' tables (the first holds its primary
# rows), then the quarantine.
TABLES = {name: (*(table for kind in spec.items for table in kind.tables), QUARANTINE.table)
          for name, spec in SPECS.items()}

TRANSPORT_FAULTS = {
    "timeout (answer after 2.5 s, client waits 1 s)": [{"kind": "delay", "seconds": 2.5, "times": 2}],
    "connection reset": [{"kind": "reset", "times": 2}],
    "5xx burst": [{"kind": "status", "status": 503, "times": 3, "body": "<html>Service Unavailable</html>",
                   "content_type": "text/html"}],
    "rate limit, HTTP 429": [{"kind": "rate_limited", "status": 429, "times": 3}],
    "rate limit in an HTTP 200 body": [{"kind": "rate_limited", "status": 200, "times": 3}],
    "truncated body": [{"kind": "truncate", "times": 2}],
}
PAGING_FAULTS = {  # for the providers that page by offset
    "record moves to an earlier page while paging": [{"kind": "shift", "skip": 1}],
    "record repeated across pages": [{"kind": "duplicate", "skip": 2}],
    "valid but empty answer for a day with calls": [{"kind": "empty"}],
}
CASES = [(p, f, faults) for p in SPECS for f, faults in TRANSPORT_FAULTS.items()] + \
        [(p, f, faults) for p, spec in SPECS.items() if spec.conformance.paging_faults
         for f, faults in PAGING_FAULTS.items()]

_results: list[dict] = []


# Settings under which a simulated day spans several pages, for the paging faults.
PAGING_SETTINGS = {f"{spec.env_prefix}_{name.upper()}": value
                   for spec in SPECS.values() for name, value in spec.conformance.paging_settings.items()}


@pytest.fixture(scope="module")
def drivers():
    with simulators(list(SPECS), CDR_HTTP_TIMEOUT_S="1", **PAGING_SETTINGS) as running:
        yield running
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(_results, indent=2))


@pytest.fixture(scope="module")
def clean_run(drivers, warehouse_url):
    """Each provider's day loaded without faults, as the reference its cases are compared to;
    loaded on first use, so running one provider's cases loads only that provider."""
    reference: dict[str, dict] = {}

    def load(provider: str) -> dict:
        if provider not in reference:
            drivers[provider].reset()
            truncate_warehouse(warehouse_url)
            result = run_range([provider], DAY.isoformat(), DAY.isoformat())
            assert result.success, failure_messages(result)
            reference[provider] = snapshot(warehouse_url, TABLES[provider], across_loads=True)
            assert reference[provider][TABLES[provider][0]], f"{provider} loaded nothing"
        return reference[provider]

    return load


def outcome(result) -> str:
    """"success", or "failed: " and the innermost error message (the provider's own words)."""
    return "success" if result.success else "failed: " + (failure_messages(result) or ["?"])[-1][:200]


def _hashable(row: tuple) -> tuple:
    return tuple(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for v in row)


def differences(clean: dict, faulty: dict) -> tuple[int, int]:
    """Rows the faulty load lacks, and rows it has that the clean load has not (duplicates)."""
    lost = extra = 0
    for table in clean:
        want, got = Counter(map(_hashable, clean[table])), Counter(map(_hashable, faulty[table]))
        lost += sum((want - got).values())
        extra += sum((got - want).values())
    return lost, extra


@pytest.mark.parametrize("provider, fault, faults", CASES, ids=[f"{p}: {f}" for p, f, _ in CASES])
def test_fault_ends_with_the_clean_warehouse(provider, fault, faults, drivers, clean_run, warehouse_url):
    clean = clean_run(provider)
    driver = drivers[provider]
    driver.reset()
    truncate_warehouse(warehouse_url)
    driver.inject(*({"path": SPECS[provider].conformance.data_path, **item} for item in faults))
    result = run_range([provider], DAY.isoformat(), DAY.isoformat())
    injected = driver.stats()["faults_applied"]
    lost, duplicated = differences(clean, snapshot(warehouse_url, TABLES[provider], across_loads=True))
    _results.append({"provider": provider, "fault": fault, "injected": injected, "partitions": 1,
                     "rows_lost": lost, "rows_duplicated": duplicated,
                     "outcome": outcome(result)})
    driver.reset()
    assert injected >= 1, "the fault never reached the client"
    assert result.success, failure_messages(result)
    assert (lost, duplicated) == (0, 0)


@pytest.mark.parametrize("provider", list(SPECS))
def test_empty_repull_of_a_loaded_day_loses_nothing(provider, drivers, clean_run, warehouse_url):
    """An empty answer on a re-pull cannot take back what an earlier pull loaded: facts are never
    deleted because a provider stopped reporting them. (A provider whose answers carry a record
    count exposes the empty answer and the pull fails after its window attempts; the others
    cannot tell it from a quiet day.)"""
    conformance = SPECS[provider].conformance
    clean = clean_run(provider)
    driver = drivers[provider]
    driver.reset()
    truncate_warehouse(warehouse_url)
    assert run_range([provider], DAY.isoformat(), DAY.isoformat()).success
    body, content_type = conformance.empty_answer
    driver.inject({"kind": "body", "body": body, "content_type": content_type, "times": 100,
                   "path": conformance.data_path})
    result = run_range([provider], DAY.isoformat(), DAY.isoformat())
    injected = driver.stats()["faults_applied"]
    driver.reset()
    lost, duplicated = differences(clean, snapshot(warehouse_url, TABLES[provider], across_loads=True))
    _results.append({"provider": provider, "fault": "empty answer on a re-pull of a loaded day",
                     "injected": injected, "partitions": 1, "rows_lost": lost, "rows_duplicated": duplicated,
                     "outcome": outcome(result)})
    assert injected >= 1
    assert (lost, duplicated) == (0, 0)
    assert result.success == (not conformance.reports_record_count)


@pytest.mark.parametrize("provider", list(SPECS))
def test_an_outage_longer_than_the_retries_fails_clearly_and_commits_nothing(provider, drivers,
                                                                             warehouse_url):
    driver = drivers[provider]
    driver.reset()
    truncate_warehouse(warehouse_url)
    driver.inject({"kind": "status", "status": 503, "times": 1000,
                   "path": SPECS[provider].conformance.data_path})
    result = run_range([provider], DAY.isoformat(), DAY.isoformat())
    injected = driver.stats()["faults_applied"]
    driver.reset()
    # measured against what a failed run must leave: nothing (rows it left count as duplicates)
    nothing: dict = {table: [] for table in TABLES[provider]}
    lost, extra = differences(nothing, snapshot(warehouse_url, TABLES[provider]))
    stored = scalar(warehouse_url, "SELECT count(*) FROM cdr.raw_response") + extra
    _results.append({"provider": provider, "fault": "5xx outage longer than the retries",
                     "injected": injected, "partitions": 1, "rows_lost": lost, "rows_duplicated": extra,
                     "outcome": outcome(result)})
    assert not result.success
    messages = failure_messages(result)
    assert any(f"{provider}:" in m and "gave up after 6 attempts" in m for m in messages), messages
    assert stored == 0, "nothing of the failed partition may be committed"
