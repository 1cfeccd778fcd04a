"""What a user sees in Dagster after one ranged run of three days: each day partition's latest
materialization carries that day's own figures, equal to that day's rows in the warehouse (never
the run's totals); and the standard metadata: table name, column schema from the catalog, row count
per day, a code version that is the parser version, owners, tags, code references, the schedule's
description and the code location's name. Run with -s to see the figures next to the counts."""
from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
import yaml
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance
from dagster._core.workspace.load import location_origins_from_yaml_paths

from pipelines.assets.metadata import OWNERS
from pipelines.config import Configuration
from pipelines.definitions import NIGHTLY_JOB, definitions_from_env
from pipelines.registry import registry
from pipelines.warehouse.connection import PROJECT_ROOT
from tests.conftest import rows
from tests.dagster_runs import failure_messages, load_definitions, run_range
from tests.simulator_driver import simulators

FIRST = date(2026, 10, 5)
DAYS = [FIRST + timedelta(days=n) for n in range(3)]
PROVIDERS = ["tenios", "mixvoip"]


@pytest.fixture(scope="module")
def drivers():
    with simulators(PROVIDERS) as running:
        yield running


@pytest.fixture
def sims(drivers, clean_warehouse):
    for driver in drivers.values():
        driver.reset()
    return drivers


def keys(provider: str) -> dict[str, AssetKey]:
    """The provider account's assets by their last key part, and the shared derived ones."""
    graph = load_definitions([provider]).resolve_asset_graph()
    return {key.path[-1]: key for key in graph.get_all_asset_keys()
            if key.path[0] == provider or len(key.path) == 1}


def day_metadata(instance: DagsterInstance, key: AssetKey, day: date) -> dict:
    """The metadata of the latest materialization of `key`'s partition `day`, as the UI shows it."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()]), limit=1).records
    assert records, f"no materialization of {key.to_user_string()} {day}"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {name: entry.value for name, entry in materialization.metadata.items()}


def per_day(url: str, query: str, provider: str) -> dict[date, tuple]:
    """`query`'s rows, keyed by their first column (a UTC day), the rest as a tuple."""
    return {row[0]: row[1:] for row in rows(url, query, {"provider": provider})}


def counts(url: str, table: str, column: str, provider: str) -> dict[date, int]:
    found = per_day(url, f"SELECT ({column} AT TIME ZONE 'UTC')::date, count(*) FROM {table}"
                         " WHERE provider = %(provider)s GROUP BY 1", provider)
    return {day: found.get(day, (0,))[0] for day in DAYS}


def catalog_columns(url: str, table: str) -> list[str]:
    schema, name = table.split(".")
    return [column for (column,) in rows(
        url, "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
             " AND table_name = %s ORDER BY ordinal_position", (schema, name))]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_day_partition_shows_its_own_figures(sims, warehouse_url, provider):
    instance = DagsterInstance.ephemeral()
    result = run_range([provider], DAYS[0].isoformat(), DAYS[-1].isoformat(), instance=instance)
    assert result.success, failure_messages(result)
    spec = registry()[provider]
    key = keys(provider)
    legs = counts(warehouse_url, "cdr.fact_call_leg", "started_at", provider)
    assert len(set(legs.values())) > 1, "the days must differ for the test to tell a day from the run"
    audit = per_day(warehouse_url, "SELECT (window_start AT TIME ZONE 'UTC')::date, legs_parsed, inserted,"
                                   " updated, unchanged, quarantined FROM cdr.load_audit"
                                   " WHERE provider = %(provider)s", provider)
    fetches = per_day(warehouse_url, "SELECT (window_start AT TIME ZONE 'UTC')::date, pages, records"
                                     " FROM cdr.window_fetch WHERE provider = %(provider)s", provider)
    pages = counts(warehouse_url, "cdr.raw_response", "window_start", provider)
    calls = counts(warehouse_url, "cdr.fact_call", "started_at", provider)
    daily = per_day(warehouse_url, "SELECT day, count(*) FROM cdr.agg_call_leg_daily"
                                   " WHERE provider = %(provider)s GROUP BY 1", provider)
    hourly = counts(warehouse_url, "cdr.agg_call_leg_hourly", "hour", provider)

    print(f"\n{provider}: day, what the day partition shows, SELECT count(*) of fact_call_leg that day")
    for day in DAYS:
        load = day_metadata(instance, key["call_legs"], day)
        print(f"  {day}  legs_parsed {load['call_legs_parsed']}, inserted {load['call_legs_inserted']},"
              f" row count {load['dagster/row_count']}  |  SELECT count(*) = {legs[day]}")
        assert load["dagster/row_count"] == load["call_legs_inserted"] == legs[day]
        assert (load["call_legs_parsed"], load["call_legs_inserted"], load["call_legs_updated"],
                load["call_legs_unchanged"], load["quarantined"]) == audit[day]
        assert load["calls_recomputed"] is True and load["aggregates_recomputed"] is True
        assert [column.name for column in load["dagster/column_schema"].columns] == \
            catalog_columns(warehouse_url, "cdr.fact_call_leg")
        for kind in spec.items[1:]:  # MIXvoip's billing items, counted per day too
            assert load[f"{kind.name}_rows"] == counts(warehouse_url, kind.table, kind.day_column or "",
                                                       provider)[day]

        raw = day_metadata(instance, key["raw_pages"], day)
        assert (raw["pages"], raw["records"]) == fetches[day]
        assert raw["dagster/row_count"] == pages[day]
        assert [column.name for column in raw["dagster/column_schema"].columns] == \
            catalog_columns(warehouse_url, "cdr.raw_response")

        # the load asset recomputed its account's calls and aggregates itself: none left to do here
        assert day_metadata(instance, key["calls"], day) | {"dagster/column_schema": None} == \
            {"accounts_recomputed": 0, "dagster/row_count": calls[day], "dagster/column_schema": None}
        aggregates = day_metadata(instance, key["call_leg_aggregates"], day)
        assert (aggregates["accounts_recomputed"], aggregates["dagster/row_count"],
                aggregates["hourly_rows"]) == (0, daily[day][0], hourly[day])
    # summed over the days, the figures are the run's: nothing counted twice
    assert sum(day_metadata(instance, key["call_legs"], day)["call_legs_inserted"] for day in DAYS) == \
        sum(legs.values())


def tenios_versions() -> tuple[str | None, str | None, str]:
    """The code versions of TENIOS's load and raw assets, and the account's parser version."""
    environ = {**os.environ, "CDR_PROVIDERS": "tenios"}
    graph = definitions_from_env(environ).resolve_asset_graph()
    by_name = {key.path[-1]: graph.get(key).code_version for key in graph.get_all_asset_keys()
               if key.path[0] == "tenios"}
    parser_version = Configuration.from_env(environ).accounts[0].parser_version
    return by_name["call_legs"], by_name["raw_pages"], parser_version


def test_load_asset_code_version_is_the_parser_version_and_follows_a_parse_setting(monkeypatch):
    monkeypatch.delenv("TENIOS_STAMP_TIME_ZONE", raising=False)
    load, raw, parser_version = tenios_versions()
    assert load == parser_version
    monkeypatch.setenv("TENIOS_STAMP_TIME_ZONE", "America/New_York")
    changed_load, changed_raw, changed_parser_version = tenios_versions()
    assert changed_load == changed_parser_version != load, "a parse setting changed: so did the code version"
    assert changed_raw == raw


def test_standard_metadata_on_the_assets():
    defs = load_definitions(["tenios", "mixvoip"])
    graph = defs.resolve_asset_graph()
    tables = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        tables[key.to_user_string()] = node.metadata.get("dagster/table_name")  # a file: none
        assert list(node.owners) == OWNERS, key
        assert node.metadata["dagster/code_references"].code_references, key
        if len(key.path) == 3:
            assert {"provider": key.path[0], "account": key.path[1]}.items() <= node.tags.items(), key
    assert tables == {
        "tenios/tenios_demo/raw_pages": "cdr.raw_response",
        "tenios/tenios_demo/call_legs": "cdr.fact_call_leg",
        "mixvoip/mixvoip_demo/raw_pages": "cdr.raw_response",
        "mixvoip/mixvoip_demo/call_legs": "cdr.fact_call_leg",
        "calls": "cdr.fact_call", "call_leg_aggregates": "cdr.agg_call_leg_daily", "mart": "mart.kpi_daily",
        "number_dimension": "cdr.number_enrichment", "cdr_report": None}
    legs = graph.get(AssetKey(["tenios", "tenios_demo", "call_legs"]))
    labels = [ref.label for ref in legs.metadata["dagster/code_references"].code_references]
    assert "tenios parser" in labels


def test_schedule_describes_its_partitions_and_the_job_has_them(monkeypatch):
    monkeypatch.setenv("CDR_REPULL_DAYS", "4")
    defs = load_definitions(["tenios"])
    nightly = defs.resolve_schedule_def("nightly_schedule")
    assert "02:30 UTC" in (nightly.description or "") and "last 4 daily partitions" in nightly.description
    job = defs.resolve_job_def(NIGHTLY_JOB)
    assert job.partitions_def is not None
    assert job.partitions_def == next(iter(defs.resolve_asset_graph().asset_nodes)).partitions_def


def test_the_code_location_has_a_name_not_a_module_path():
    workspace = PROJECT_ROOT / "workspace.yaml"
    origins = location_origins_from_yaml_paths([str(workspace)])
    assert [origin.location_name for origin in origins] == ["cdr_warehouse"]
    # the production workspace names it the same
    production = yaml.safe_load((PROJECT_ROOT / "docker" / "workspace.yaml").read_text())
    assert production["load_from"][0]["grpc_server"]["location_name"] == "cdr_warehouse"
