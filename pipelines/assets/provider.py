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
Each day partition's materialization shows that day's own figures (pipelines.assets.metadata); the
run's totals are in its log.
"""

import inspect
import re
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    CodeReferencesMetadataValue,
    Failure,
    LocalFileCodeReference,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipelines.assets.metadata import OWNERS, RAW_DAY_COLUMN, RAW_TABLE, ROW_COUNT, TABLE_NAME, DayFigures
from pipelines.config import ProviderAccount
from pipelines.errors import CdrEtlError
from pipelines.model import Window
from pipelines.partitions import days_in, single_run
from pipelines.providers.spec import CALL_LEGS, ItemKind
from pipelines.resources import WarehouseResource
from pipelines.warehouse.aggregates import RefreshBehind
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


def account_tags(source: ProviderAccount) -> dict[str, str]:
    """Tags to filter the asset graph by (a tag value is at most 63 letters, digits, `_`, `-`, `.`)."""
    return {"provider": source.provider, "account": account_key(source.account)[:63]}


def parser_reference(source: ProviderAccount) -> LocalFileCodeReference:
    """Where the provider's parser is, for the asset's code references in the UI."""
    parse = inspect.unwrap(source.spec.parse_pages)
    return LocalFileCodeReference(file_path=inspect.getsourcefile(parse) or "",
                                  line_number=inspect.getsourcelines(parse)[1],
                                  label=f"{source.provider} parser")


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
        metadata={TABLE_NAME: RAW_TABLE},
        owners=OWNERS,
        tags=account_tags(source),
    )
    def raw_pages(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        pages = records = days = 0
        figures = DayFigures(context)
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
                figures.add(window, {"pages": len(raw_ids), "records": day_records,
                                     **({"provider_count": provider_count}
                                        if provider_count is not None else {})})
        with warehouse.connect() as conn:
            figures.add_row_counts(conn, RAW_TABLE, RAW_DAY_COLUMN, name, source.account)
            figures.publish(conn, RAW_TABLE)
        context.log.info(f"{name} {source.account}, the run's totals: {pages} pages, {records} records"
                         f" over {days} day(s)")
        return MaterializeResult()

    return raw_pages


def log_window_load(context: AssetExecutionContext, figures: DayFigures, source: ProviderAccount,
                    window: Window, stats: LoadStats) -> None:
    """The day's figures, on its partition and in the log, and one warning for the day if the
    parser had to assume anything."""
    figures.add(window, stats.as_metadata())
    day = f"{source.provider} {source.account} {window[0].date()}"
    context.log.info(f"{day}: {stats}")
    warning = stats.note_warning()
    if warning:
        context.log.warning(f"{day}: {warning}")


def build_load_asset(source: ProviderAccount, raw_pages: AssetsDefinition, partitions: PartitionsDefinition,
                     force_reload: bool, secrets: Mapping[str, str] | None = None, *,
                     fresh_months: bool) -> AssetsDefinition:
    """`<provider>/<account>/<primary kind>`: each UTC day of the run's range parsed from its raw
    pages and loaded, one transaction per day (a month without legs in one, with `fresh_months`:
    CDR_FRESH_MONTHS), then the account's calls and aggregates for the days that changed. Each
    day's figures go on its own partition; their sums to the run's log."""
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
        # a new parser version (code, load SQL or parse settings) shows as a code change in the UI
        code_version=source.parser_version,
        metadata={TABLE_NAME: spec.primary.table,
                  "dagster/code_references": CodeReferencesMetadataValue(
                      code_references=[parser_reference(source)])},
        owners=OWNERS,
        tags=account_tags(source),
    )
    def loaded(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        start, end = context.partition_time_window
        figures = DayFigures(context)
        # the day before too: a call may have started there
        derived = ("calls", "aggregates") if CALL_LEGS in spec.items else ()
        with failures_named(source), RefreshBehind(warehouse.connect, spec.name, source.account,
                                                   start - timedelta(days=1), derived) as behind:
            def loaded_window(window: Window, stats: LoadStats) -> None:
                log_window_load(context, figures, source, window, stats)
                behind.loaded(window)

            totals = load_windows(
                warehouse.connect, spec.name, source.account, spec.items, account_days(source, (start, end)),
                parse=source.parse, parser_version=source.parser_version, force=force_reload,
                on_loaded=loaded_window, pseudonym_key=source.pseudonym_key(secrets or {}),
                fresh_months=fresh_months)
            with warehouse.connect() as conn:
                for target, marks in behind.finish(conn, end).items():
                    totals[f"{target}_days_recomputed"] = len(marks)
                    recomputed = dict.fromkeys((day for *_, day in marks), True)
                    figures.add_per_day(f"{target}_recomputed", recomputed, missing=False)
                for kind in spec.items:
                    if kind.day_column is not None:
                        figures.add_row_counts(conn, kind.table, kind.day_column, spec.name, source.account,
                                               ROW_COUNT if kind is spec.primary else f"{kind.name}_rows")
                figures.publish(conn, spec.primary.table)
        context.log.info(f"{spec.name} {source.account}, the run's totals: "
                         + ", ".join(f"{name} {value}" for name, value in totals.items()))
        return MaterializeResult()

    return loaded


def build_provider_assets(source: ProviderAccount, partitions: PartitionsDefinition, *,
                          force_reload: bool, secrets: Mapping[str, str],
                          fresh_months: bool) -> ProviderAssets:
    raw_pages = build_raw_pages_asset(source, partitions, secrets)
    load = build_load_asset(source, raw_pages, partitions, force_reload, secrets, fresh_months=fresh_months)
    return ProviderAssets(raw_pages, load, source.spec.items)


def load_asset_keys(built: list[ProviderAssets], kind: ItemKind) -> list[AssetKey]:
    """The keys of the load assets that produce rows of `kind`."""
    return [assets.load.key for assets in built if kind in assets.kinds]
