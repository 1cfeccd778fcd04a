"""Every asset check fails on the damage it is there to catch. Each case loads a day of TENIOS
through Dagster (checks green), damages the warehouse the way the check describes, runs the day
again (an unchanged day is not reloaded, so the damage stays) and expects that check to fail."""
from __future__ import annotations

from datetime import date

import psycopg
import pytest

from pipelines.model import LEG_COLUMNS
from tests.conftest import truncate_warehouse
from tests.dagster_runs import failure_messages, run_range
from tests.simulator_driver import simulators

DAY = date(2026, 10, 5)

# check name -> the damage it must catch
DAMAGE = {
    # a leg whose start time moved at the provider: a second row under the same key
    "no_duplicate_leg_keys": f"""
        INSERT INTO cdr.fact_call_leg ({", ".join(LEG_COLUMNS)})
        SELECT {", ".join("started_at + interval '1 min'" if c == "started_at" else c for c in LEG_COLUMNS)}
        FROM cdr.fact_call_leg ORDER BY leg_key LIMIT 1""",
    # a leg lost after its load: the provider counts more than the warehouse holds
    "reconciles_with_provider_count": """
        DELETE FROM cdr.fact_call_leg WHERE leg_key = (SELECT min(leg_key) FROM cdr.fact_call_leg)""",
}


@pytest.fixture(scope="module")
def tenios():
    with simulators(["tenios"]) as drivers:
        yield drivers["tenios"]


def check_results(result) -> dict[str, bool]:
    return {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("check", list(DAMAGE))
def test_the_check_fails_on_a_damaged_warehouse(check, tenios, warehouse_url):
    tenios.reset()
    truncate_warehouse(warehouse_url)
    clean = run_range(["tenios"], DAY.isoformat(), DAY.isoformat())
    assert clean.success, failure_messages(clean)
    assert check_results(clean) == dict.fromkeys(DAMAGE, True)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        assert conn.execute(DAMAGE[check]).rowcount == 1
    damaged = run_range(["tenios"], DAY.isoformat(), DAY.isoformat())
    assert check_results(damaged)[check] is False
