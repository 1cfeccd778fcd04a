"""The assets every provider account gets, built from its declaration alone:

- `<name>_raw_pages`: HTTP -> cdr.raw_response, every body as received;
- `<name>_<primary kind>` (e.g. `tenios_call_legs`, `telecomx_pbx_stats`): raw pages -> parsed
  rows of every kind the provider declares -> the shared load path;
- for a provider whose rows include call legs, the leg checks.

Both assets loop over the UTC days of the run's partition range with one transaction per day, so
a single-run backfill of a year holds one day at a time and a failure leaves earlier days loaded
and the failed day as it was.
"""

from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    PartitionsDefinition,
    asset,
    asset_check,
)

from pipelines.config import ProviderAccount
from pipelines.partitions import days_in, single_run
from pipelines.providers.spec import CALL_LEGS, ItemKind
from pipelines.resources import WarehouseResource
from pipelines.sql import sql_file
from pipelines.warehouse.load import load_windows
from pipelines.warehouse.raw import land_window


@dataclass(frozen=True)
class ProviderAssets:
    raw_pages: AssetsDefinition
    load: AssetsDefinition
    checks: tuple[AssetChecksDefinition, ...]
    kinds: tuple[ItemKind, ...]

    @property
    def loads_call_legs(self) -> bool:
        return CALL_LEGS in self.kinds


def build_raw_pages_asset(source: ProviderAccount, partitions: PartitionsDefinition,
                          secrets: Mapping[str, str]) -> AssetsDefinition:
    """`<name>_raw_pages`: every response body of the partition's days, landed as received."""
    name = source.provider

    @asset(
        name=f"{name}_raw_pages",
        group_name=name,
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"http", "postgres"},
        description=f"Every {name} response body for the partition's days, landed as received "
                    "in cdr.raw_response; cdr.window_fetch records which pages make each day.",
    )
    def raw_pages(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        pages = records = days = 0
        with closing(source.open_client(secrets)) as client:
            for window in days_in(context.partition_time_window):
                raw_ids, day_records, provider_count = land_window(
                    warehouse.connect, client, name, window, source.settings.http.window_attempts,
                    context.log)
                pages, records, days = pages + len(raw_ids), records + day_records, days + 1
                context.log.info(f"{name} {window[0].date()}: {len(raw_ids)} pages, {day_records} records"
                                 + (f", provider counts {provider_count}"
                                    if provider_count is not None else ""))
        return MaterializeResult(metadata={"pages": pages, "records": records, "days": days,
                                           "account": source.account})

    return raw_pages


def build_load_asset(source: ProviderAccount, raw_pages: AssetsDefinition, partitions: PartitionsDefinition,
                     force_reload: bool) -> AssetsDefinition:
    """`<name>_<primary kind>`: each UTC day of the run's range parsed from its raw pages and
    loaded, one transaction per day; the figures summed over the days become its metadata."""
    spec = source.spec
    kinds = " and ".join(kind.description for kind in spec.items)

    @asset(
        name=f"{spec.name}_{spec.primary.name}",
        group_name=spec.name,
        deps=[raw_pages],
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=f"{spec.name} {kinds}, parsed from the raw pages;"
                    " unreadable records go to cdr.quarantine.",
    )
    def loaded(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        totals = load_windows(
            warehouse.connect, spec.name, source.account, spec.items,
            list(days_in(context.partition_time_window)), parse=source.parse,
            parser_version=source.parser_version, force=force_reload,
            on_loaded=lambda window, stats: context.log.info(f"{spec.name} {window[0].date()}: {stats}"))
        return MaterializeResult(metadata=totals)

    return loaded


def build_leg_checks(source: ProviderAccount,
                     call_legs: AssetsDefinition) -> tuple[AssetChecksDefinition, ...]:
    name = source.provider

    @asset_check(asset=call_legs, description="No leg key appears twice (e.g. a leg whose start time moved).")
    def no_duplicate_leg_keys(warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect() as conn:
            row = conn.execute(sql_file("checks/duplicate_leg_keys.sql"), {"provider": name}).fetchone()
        duplicates = row[0] if row else 0
        return AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_leg_keys": duplicates})

    @asset_check(asset=call_legs,
                 description="Legs plus quarantined records per fetched day equal the provider's own count.")
    def reconciles_with_provider_count(warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect() as conn:
            rows = conn.execute(sql_file("checks/reconcile_provider_count.sql"),
                                {"provider": name}).fetchall()
        mismatches = {f"{account} {start.date()}": f"provider {count}, warehouse {loaded}"
                      for account, start, count, loaded in rows if count != loaded}
        return AssetCheckResult(
            passed=not mismatches,
            severity=AssetCheckSeverity.ERROR,
            metadata={"days_checked": len(rows), "mismatches": len(mismatches),
                      **({"details": "; ".join(sorted(mismatches)[:20])} if mismatches else {})},
        )

    return no_duplicate_leg_keys, reconciles_with_provider_count


def build_provider_assets(source: ProviderAccount, partitions: PartitionsDefinition, *,
                          force_reload: bool, secrets: Mapping[str, str]) -> ProviderAssets:
    raw_pages = build_raw_pages_asset(source, partitions, secrets)
    load = build_load_asset(source, raw_pages, partitions, force_reload)
    checks = build_leg_checks(source, load) if CALL_LEGS in source.spec.items else ()
    return ProviderAssets(raw_pages, load, checks, source.spec.items)


def load_asset_keys(built: list[ProviderAssets], kind: ItemKind) -> list[AssetKey]:
    """The keys of the load assets that produce rows of `kind`."""
    return [assets.load.key for assets in built if kind in assets.kinds]
