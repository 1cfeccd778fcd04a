"""The nightly schedule asks for one ranged run: yesterday and the CDR_REPULL_DAYS-1 days before."""
from __future__ import annotations

from datetime import UTC, datetime

from dagster import build_schedule_context
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from tests.dagster_runs import load_definitions


def test_nightly_run_repulls_the_last_days(monkeypatch):
    monkeypatch.setenv("CDR_REPULL_DAYS", "4")
    nightly_schedule = load_definitions(["tenios"]).resolve_schedule_def("nightly_schedule")
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 25, 2, 30, tzinfo=UTC))
    request = nightly_schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2026-11-21"
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == "2026-11-24"
    assert request.run_key == "nightly-2026-11-25"
