"""Telecom X assets: `telecomx_raw_pages` (the shared raw landing asset) and `telecomx_pbx_stats`
(raw pages -> parsed statistics rows -> cdr.fact_pbx_stats), one transaction per UTC day."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipelines.assets.provider import build_raw_pages_asset
from pipelines.partitions import daily_partitions, days_in, single_run
from pipelines.providers import ProviderSpec
from pipelines.providers.telecomx.load import load_stats
from pipelines.warehouse.load import lock_window
from pipelines.warehouse.raw import window_pages


def build_telecomx_assets(spec: ProviderSpec) -> list:
    name = spec.name
    raw_pages = build_raw_pages_asset(spec)

    @asset(
        name=f"{name}_pbx_stats",
        group_name=name,
        deps=[raw_pages],
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        required_resource_keys={name, "warehouse"},
        kinds={"postgres"},
        description=f"{name} per-employee interval counters parsed from the raw pages, upserted into "
                    "cdr.fact_pbx_stats (a re-pull replaces counts); unreadable records go to cdr.quarantine.",
    )
    def pbx_stats(context: AssetExecutionContext) -> MaterializeResult:
        resource = getattr(context.resources, name)
        account, options = resource.account, resource.parse_options()
        warehouse = context.resources.warehouse
        totals: dict[str, int] = {}
        with warehouse.connect(autocommit=True) as reader, warehouse.connect() as writer:
            for window in days_in(context.partition_time_window):
                with writer.transaction():
                    lock_window(writer, name, account, window)
                    pages = window_pages(reader, name, account, window)
                    stats = load_stats(writer, spec.parse_pages(pages, account, **options))
                for key, value in stats.as_metadata().items():
                    totals[key] = totals.get(key, 0) + value
                context.log.info(f"{name} {window[0].date()}: {stats}")
        return MaterializeResult(metadata=totals)

    return [raw_pages, pbx_stats]
