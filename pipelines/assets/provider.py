"""The assets every provider account gets, built from its declaration alone, keyed
`<provider>/<account>/...` so that each account is visible, backfillable and failing on its own:

- `<provider>/<account>/raw_pages`: HTTP -> cdr.raw_response, every body as received;
- `<provider>/<account>/<primary kind>` (e.g. `tenios/acme/call_legs`): raw pages -> parsed rows
  of every kind the provider declares -> the shared load path; for call legs, then the account's
  own calls and aggregates for the days that changed, so one account's failure never holds back
  another's derived rows;
- the account's checks are built beside them (pipelines.assets.checks).

Both assets loop over the UTC days of the run's partition range with one transaction per day, so
a single-run backfill of a year holds one day at a time and a failure leaves earlier days loaded
and the failed day as it was. A failure is raised as a Dagster Failure naming provider and account.
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipelines.config import ProviderAccount
from pipelines.errors import CdrEtlError
from pipelines.model import Window
from pipelines.partitions import days_in, single_run
from pipelines.providers.spec import CALL_LEGS, ItemKind
from pipelines.resources import WarehouseResource
from pipelines.warehouse.aggregates import refresh_stale
from pipelines.warehouse.load import LoadStats, load_windows
from pipelines.warehouse.pacing import DatabasePacing
from pipelines.warehouse.raw import land_window


@dataclass(frozen=True)
class ProviderAssets:
    raw_pages: AssetsDefinition
    load: AssetsDefinition
    kinds: tuple[ItemKind, ...]


def account_key(account: str) -> str:
    """An account name as a Dagster asset key part (letters, digits and `_` only)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", account)


def key_prefix(source: ProviderAccount) -> list[str]:
    return [source.provider, account_key(source.account)]


def account_days(source: ProviderAccount, window: Window) -> list[Window]:
    """The UTC days of `window` on or after the account's start date (a backfill of a range that
    begins before an account existed loads it from its first day only)."""
    first = date.fromisoformat(source.start_date) if source.start_date else None
    return [day for day in days_in(window) if first is None or day[0].date() >= first]


@contextmanager
def failures_named(source: ProviderAccount) -> Iterator[None]:
    """A project error leaves the step as a Dagster Failure that names the provider and account
    first, so a run's failed steps read as the list of accounts that failed and why."""
    try:
        yield
    except CdrEtlError as exc:
        raise Failure(description=f"{source.provider} account {source.account!r}: {exc}",
                      metadata={"provider": source.provider, "account": source.account,
                                "error": type(exc).__name__}) from exc


def build_raw_pages_asset(source: ProviderAccount, partitions: PartitionsDefinition,
                          secrets: Mapping[str, str]) -> AssetsDefinition:
    """`<provider>/<account>/raw_pages`: every response body of the partition's days, as received."""
    name = source.provider

    @asset(
        key_prefix=key_prefix(source),
        name="raw_pages",
        group_name=name,
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"http", "postgres"},
        # at most the pool's limit of these steps at once across all runs: as each sends one request
        # at a time, a cap on the provider's concurrent requests (dagster.yaml, docs/rate-limits.md)
        pool=f"provider_{name}",
        description=f"Every {name} response body for the partition's days, landed as received "
                    "in cdr.raw_response; cdr.window_fetch records which pages make each day.",
    )
    def raw_pages(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        pages = records = days = 0
        # the account's request rate is shared with every other run on it (docs/rate-limits.md)
        with failures_named(source), \
                closing(DatabasePacing(warehouse.connect, name, source.account)) as pacing, \
                closing(source.open_client(secrets, pacing)) as client:
            for window in account_days(source, context.partition_time_window):
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


def log_window_load(context: AssetExecutionContext, source: ProviderAccount, window: Window,
                    stats: LoadStats) -> None:
    """The day's figures, and one warning for the day if the parser had to assume anything."""
    day = f"{source.provider} {source.account} {window[0].date()}"
    context.log.info(f"{day}: {stats}")
    warning = stats.note_warning()
    if warning:
        context.log.warning(f"{day}: {warning}")


def build_load_asset(source: ProviderAccount, raw_pages: AssetsDefinition, partitions: PartitionsDefinition,
                     force_reload: bool) -> AssetsDefinition:
    """`<provider>/<account>/<primary kind>`: each UTC day of the run's range parsed from its raw
    pages and loaded, one transaction per day, then the account's calls and aggregates for the
    days that changed; the figures summed over the days become its metadata."""
    spec = source.spec
    kinds = " and ".join(kind.description for kind in spec.items)

    @asset(
        key_prefix=key_prefix(source),
        name=spec.primary.name,
        group_name=spec.name,
        deps=[raw_pages],
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=f"{spec.name} {kinds}, parsed from the raw pages;"
                    " unreadable records go to cdr.quarantine.",
    )
    def loaded(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        start, end = context.partition_time_window
        with failures_named(source):
            totals = load_windows(
                warehouse.connect, spec.name, source.account, spec.items, account_days(source, (start, end)),
                parse=source.parse, parser_version=source.parser_version, force=force_reload,
                on_loaded=lambda window, stats: log_window_load(context, source, window, stats))
            if CALL_LEGS in spec.items:  # the day before too: a call may have started there
                with warehouse.connect() as conn:
                    for target in ("calls", "aggregates"):
                        totals[f"{target}_days_recomputed"] = refresh_stale(
                            conn, target, (start - timedelta(days=1), end),
                            provider=spec.name, account=source.account)
        return MaterializeResult(metadata=totals)

    return loaded


def build_provider_assets(source: ProviderAccount, partitions: PartitionsDefinition, *,
                          force_reload: bool, secrets: Mapping[str, str]) -> ProviderAssets:
    raw_pages = build_raw_pages_asset(source, partitions, secrets)
    load = build_load_asset(source, raw_pages, partitions, force_reload)
    return ProviderAssets(raw_pages, load, source.spec.items)


def load_asset_keys(built: list[ProviderAssets], kind: ItemKind) -> list[AssetKey]:
    """The keys of the load assets that produce rows of `kind`."""
    return [assets.load.key for assets in built if kind in assets.kinds]
