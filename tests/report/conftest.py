"""A warehouse loaded the way `make demo` loads it: every provider's simulator, three days, one
ranged run of the nightly job, whose last step, the `cdr_report` asset, writes the demo's report
(its days, every account) to a path of the tests' own. Loaded once for every test in this folder.

The days are fixed past days (the simulators are deterministic per day), so the report, and the
screenshot of it in docs/, shows the same calls on every run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipelines.registry import registry
from tests.conftest import PAST_DAY, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.simulator_driver import simulators

FIRST = PAST_DAY
LAST = PAST_DAY + timedelta(days=2)
PROVIDERS = list(registry())


@dataclass
class Loaded:
    url: str            # the warehouse
    report: Path        # what the cdr_report asset wrote
    first: date
    last: date
    result: object      # the run's ExecuteInProcessResult


@pytest.fixture(scope="package")
def loaded(warehouse_url, tmp_path_factory) -> Loaded:
    truncate_warehouse(warehouse_url)
    report = tmp_path_factory.mktemp("report") / "demo-report.html"
    days = (LAST - FIRST).days + 1
    with simulators(PROVIDERS, CDR_REPORT_PATH=str(report)):
        result = run_range(PROVIDERS, FIRST.isoformat(), LAST.isoformat(),
                           ops_config={"cdr_report": {"config": {"days": days}}})
    assert result.success, failure_messages(result)
    return Loaded(warehouse_url, report, FIRST, LAST, result)
