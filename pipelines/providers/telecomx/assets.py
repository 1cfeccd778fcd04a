"""Telecom X assets: `telecomx_raw_pages` (the shared raw landing asset) and `telecomx_pbx_stats`
(raw pages -> parsed statistics rows -> cdr.fact_pbx_stats), one transaction per UTC day."""

from pipelines.assets.provider import build_load_asset, build_raw_pages_asset
from pipelines.providers import ProviderSpec
from pipelines.providers.telecomx.load import load_stats


def build_telecomx_assets(spec: ProviderSpec) -> list:
    raw_pages = build_raw_pages_asset(spec)
    pbx_stats = build_load_asset(
        spec, raw_pages, suffix="pbx_stats",
        description=f"{spec.name} per-employee interval counters parsed from the raw pages, upserted into "
                    "cdr.fact_pbx_stats (a re-pull replaces counts); unreadable records go to cdr.quarantine.",
        load=lambda writer, provider, account, window, items: load_stats(writer, items),
        parse_options=lambda resource: resource.parse_options())
    return [raw_pages, pbx_stats]
