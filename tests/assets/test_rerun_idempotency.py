"""Re-running any partition leaves the warehouse row-for-row equal: for every registered provider,
two days loaded, then run again as the nightly job would (unchanged pages: each day skipped) and
once more with CDR_FORCE_RELOAD (every day parsed and merged again: the MERGE's guard rewrites
nothing). Every table the provider writes is compared whole, load timestamps included, and so is
the BI mart refreshed after it."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipelines.providers.spec import CALL_LEGS, QUARANTINE
from tests.conftest import rows, snapshot, truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.mart.recompute import MART_TABLES
from tests.providers_under_test import providers_under_test
from tests.simulator_driver import simulators

SPECS = providers_under_test()
FIRST = date(2026, 10, 5)
LAST = FIRST + timedelta(days=1)


@pytest.fixture(scope="module")
def drivers():
    with simulators(list(SPECS)) as running:
        yield running


def tables_of(provider: str) -> tuple[str, ...]:
    spec = SPECS[provider]
    # and the raw bodies, stored once however often fetched (cdr.window_fetch, which records each
    # fetch, rightly changes)
    return (*dict.fromkeys(table for kind in spec.items for table in kind.tables), QUARANTINE.table,
            "cdr.raw_response", *MART_TABLES)  # and the mart the nightly job refreshes after them


def changed_by_last_run(url: str, runs_before: int) -> list[tuple]:
    """(inserted, updated) of every window load after the first `runs_before` audit rows."""
    return rows(url, "SELECT inserted, updated FROM cdr.load_audit ORDER BY id OFFSET %s", (runs_before,))


@pytest.mark.parametrize("provider", list(SPECS))
def test_rerun_and_forced_reload_leave_every_table_row_for_row_equal(provider, drivers, warehouse_url,
                                                                      monkeypatch):
    drivers[provider].reset()
    truncate_warehouse(warehouse_url)
    loaded = run_range([provider], FIRST.isoformat(), LAST.isoformat())
    assert loaded.success, failure_messages(loaded)
    first = snapshot(warehouse_url, tables_of(provider))
    assert first[tables_of(provider)[0]], f"{provider} loaded nothing"
    if CALL_LEGS in SPECS[provider].items:  # the mart asset follows the call legs' loads
        assert first["mart.kpi_daily"] and first["mart.dim_account"], f"no mart refreshed after {provider}"
    audited = len(rows(warehouse_url, "SELECT id FROM cdr.load_audit"))

    again = run_range([provider], FIRST.isoformat(), LAST.isoformat())
    assert again.success, failure_messages(again)
    assert snapshot(warehouse_url, tables_of(provider)) == first
    assert set(changed_by_last_run(warehouse_url, audited)) == {(0, 0)}

    audited = len(rows(warehouse_url, "SELECT id FROM cdr.load_audit"))
    monkeypatch.setenv("CDR_FORCE_RELOAD", "1")
    forced = run_range([provider], FIRST.isoformat(), LAST.isoformat())
    assert forced.success, failure_messages(forced)
    assert snapshot(warehouse_url, tables_of(provider)) == first
    reloaded = rows(warehouse_url, "SELECT inserted, updated, legs_parsed, skipped FROM cdr.load_audit"
                                   " ORDER BY id OFFSET %s", (audited,))
    assert reloaded and all((i, u, skipped) == (0, 0, False) and parsed > 0
                            for i, u, parsed, skipped in reloaded), reloaded
