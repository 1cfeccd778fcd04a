"""Telecom X assets: `telecomx_raw_pages` (the shared raw landing asset) and `telecomx_pbx_stats`
(raw pages -> parsed statistics rows -> cdr.fact_pbx_stats), one transaction per UTC day."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipelines.assets.provider import build_raw_pages_asset, load_days
from pipelines.partitions import daily_partitions, single_run
from pipelines.providers import ProviderSpec
from pipelines.providers.telecomx.load import load_stats


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

        def parse(pages):
            return spec.parse_pages(pages, account, **options)

        def load(writer, window, items):
            return load_stats(writer, items)

        return load_days(context, name, account, parse, load)

    return [raw_pages, pbx_stats]
