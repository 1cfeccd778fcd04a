"""The two assets every provider gets: `<name>_raw_pages` (HTTP -> raw landing table) and
`<name>_call_legs` (raw pages -> parsed legs -> fact), plus its asset checks.

Both loop over the UTC days of the run's partition range with one transaction per day, so a
single-run backfill of a year holds one day at a time and a failure leaves earlier days loaded
and the failed day as it was.
"""

from typing import Any, Callable, Iterable

import psycopg
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
)

from pipelines.partitions import daily_partitions, days_in, single_run
from pipelines.providers import ProviderSpec
from pipelines.providers.base import Window
from pipelines.sql import sql_file
from pipelines.warehouse.load import load_window, load_windows
from pipelines.warehouse.raw import land_window


def build_raw_pages_asset(spec: ProviderSpec):
    """`<name>_raw_pages`: every response body of the partition's days, landed as received.
    Shared by the call-leg providers and by those that build their own assets (Telecom X)."""
    name = spec.name

    @asset(
        name=f"{name}_raw_pages",
        group_name=name,
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        required_resource_keys={name, "warehouse"},
        kinds={"http", "postgres"},
        description=f"Every {name} response body for the partition's days, landed as received "
                    "in cdr.raw_response; cdr.window_fetch records which pages make each day.",
    )
    def raw_pages(context: AssetExecutionContext) -> MaterializeResult:
        provider = getattr(context.resources, name)
        warehouse = context.resources.warehouse
        pages = records = 0
        counts = {}
        with provider.open_client() as client:
            for window in days_in(context.partition_time_window):
                raw_ids, day_records, provider_count = land_window(
                    warehouse.connect, client, name, window, provider.window_attempts, context.log)
                pages += len(raw_ids)
                records += day_records
                counts[window[0].date().isoformat()] = day_records
                context.log.info(f"{name} {window[0].date()}: {len(raw_ids)} pages, {day_records} records"
                                 + (f", provider counts {provider_count}" if provider_count is not None else ""))
        return MaterializeResult(metadata={"pages": pages, "records": records, "days": len(counts),
                                           "account": client.account})

    return raw_pages


def build_load_asset(spec: ProviderSpec, raw_pages, *, suffix: str, description: str,
                     load: Callable[[psycopg.Connection, str, str, Window, Iterable], Any],
                     parse_options: Callable[[Any], dict] = lambda resource: {},
                     parser_version: str | None = None):
    """`<name>_<suffix>`: each UTC day of the run's range parsed from its raw pages and written by
    `load(writer, provider, account, window, items)` (returning stats with `as_metadata()`), one
    transaction per day; the stats summed over the days become the asset's metadata."""
    name = spec.name

    @asset(
        name=f"{name}_{suffix}",
        group_name=name,
        deps=[raw_pages],
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        required_resource_keys={name, "warehouse"},
        kinds={"postgres"},
        description=description,
    )
    def loaded(context: AssetExecutionContext) -> MaterializeResult:
        resource = getattr(context.resources, name)
        account, options = resource.account, parse_options(resource)
        totals = load_windows(
            context.resources.warehouse.connect, name, account, list(days_in(context.partition_time_window)),
            parse=lambda pages: spec.parse_pages(pages, account, **options),
            load=lambda writer, window, items: load(writer, name, account, window, items),
            on_loaded=lambda window, stats: context.log.info(f"{name} {window[0].date()}: {stats}"),
            parser_version=parser_version)
        return MaterializeResult(metadata=totals)

    return loaded


def build_provider_assets(spec: ProviderSpec) -> list:
    name = spec.name
    raw_pages = build_raw_pages_asset(spec)
    call_legs = build_load_asset(
        spec, raw_pages, suffix="call_legs", parser_version=spec.parser_version,
        description=f"{name} legs parsed from the raw pages and merged into cdr.fact_call_leg "
                    "(deduplicated by leg key); unreadable records go to cdr.quarantine.",
        load=lambda writer, provider, account, window, items: load_window(
            writer, provider, account, window, items, spec.extra_loaders))

    @asset_check(asset=call_legs, required_resource_keys={"warehouse"},
                 description="No leg key appears twice (e.g. a leg whose start time moved).")
    def no_duplicate_leg_keys(context) -> AssetCheckResult:
        with context.resources.warehouse.connect() as conn:
            duplicates = conn.execute(sql_file("checks/duplicate_leg_keys.sql"), {"provider": name}).fetchone()[0]
        return AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_leg_keys": duplicates})

    checks = [no_duplicate_leg_keys]

    @asset_check(asset=call_legs, required_resource_keys={"warehouse"},
                 description="Legs plus quarantined records per fetched day equal the provider's own count.")
    def reconciles_with_provider_count(context) -> AssetCheckResult:
        with context.resources.warehouse.connect() as conn:
            rows = conn.execute(sql_file("checks/reconcile_provider_count.sql"), {"provider": name}).fetchall()
        mismatches = {f"{account} {start.date()}": f"provider {count}, warehouse {loaded}"
                      for account, start, count, loaded in rows if count != loaded}
        return AssetCheckResult(
            passed=not mismatches,
            severity=AssetCheckSeverity.ERROR,
            metadata={"days_checked": len(rows), "mismatches": len(mismatches),
                      **({"details": "; ".join(sorted(mismatches)[:20])} if mismatches else {})},
        )

    checks.append(reconciles_with_provider_count)
    return [raw_pages, call_legs, *checks]


def call_leg_asset_keys(specs: list[ProviderSpec]) -> list[AssetKey]:
    return [AssetKey(f"{spec.name}_call_legs") for spec in specs if spec.produces_call_legs]
