"""The asset checks of each account's load asset (`<provider>/<account>/<primary kind>`), run after
it in the same run. Each can fail on real damage (tests/assets/test_checks.py damages a warehouse
for every one) and none passes by checking nothing: a check exists only where its data does.

Every account:
- `quarantine_share_under_threshold` (WARN): each day's quarantined share of the records in its
  bodies is at most `CDR_QUARANTINE_WARN_SHARE`;
- the provider's own checks (`ProviderSpec.checks`, e.g. Telecom X's `counters_consistent`).

Accounts whose rows are call legs:
- `no_duplicate_leg_keys` (blocking): no leg stored twice under one key;
- `calls_match_legs` (blocking): the stored calls are what the legs assemble into (every leg in
  exactly one call, a call's leg count its legs', no call without legs);
- `aggregates_match_legs`: the hourly and daily aggregates equal a recomputation from the legs;
- `reconciles_with_provider_count`, only where the provider counts a window's records itself
  (`ProviderSpec.has_provider_count`).

A blocking check's failure stops the assets downstream of the load asset (the shared `calls` and
`call_leg_aggregates`, and what is built on them); the others are reported and stop nothing
(docs/operations.md, Checks, says why for each).

The checked days are the UTC days of the run's partition range: the days the run just loaded,
so a check reads a bounded slice, never the account's whole history. A check run without a
partition (launched on its own) checks the nightly run's days: the CDR_REPULL_DAYS days before
today. The days a load has changed but whose calls or aggregates are not yet recomputed
(cdr.stale_day) are pending, not wrong: those checks leave them out, reading under the account's
leg-changes lock so that marks and rows are seen at one consistent moment.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetsDefinition,
    asset_check,
)

from pipelines.config import Configuration, ProviderAccount
from pipelines.providers.spec import CALL_LEGS, ProviderCheck
from pipelines.resources import WarehouseResource
from pipelines.sql import run_script, sql_file
from pipelines.warehouse.aggregates import refresh_calls
from pipelines.warehouse.locks import exclude_leg_changes

_EXAMPLES = 20  # mismatching days or keys named in a result's metadata, at most


def checked_days(context: AssetCheckExecutionContext, repull_days: int) -> tuple[date, date]:
    """The UTC days [first, last) a check reads: the run's partition range, else the nightly's days."""
    if context.has_partition_key or context.has_partition_key_range:
        start, end = context.partition_time_window
        return start.astimezone(UTC).date(), end.astimezone(UTC).date()
    today = datetime.now(UTC).date()
    return today - timedelta(days=max(repull_days, 1)), today


def _scope(source: ProviderAccount, days: tuple[date, date]) -> dict[str, Any]:
    return scope_of(source.provider, source.account, days)


def scope_of(provider: str, account: str, days: tuple[date, date]) -> dict[str, Any]:
    """The parameters of the checks' SQL: the account and its checked days, as dates and as times."""
    first, last = days
    return {"provider": provider, "account": account, "first": first, "last": last,
            "from": datetime.combine(first, time(), UTC), "to": datetime.combine(last, time(), UTC),
            "skip_pending": True}


def calls_not_matching(conn: psycopg.Connection, scope: dict[str, Any]) -> list[tuple[date, int]]:
    """(day, calls) of the account's stored calls that are not what its legs assemble into, for
    days not pending a refresh. Writes: call it in a transaction that is rolled back."""
    # the refresh's own assembly, on a copy of the stored calls: the calls it would add, change
    # or remove are the ones that do not match
    run_script(conn, "checks/calls_before.sql", scope)
    refresh_calls(conn, (scope["from"], scope["to"]), scope["provider"], scope["account"])
    return conn.execute(sql_file("checks/calls_changed.sql"), scope).fetchall()


def aggregates_not_matching(conn: psycopg.Connection, scope: dict[str, Any]) -> list[tuple[str, date, int]]:
    """(aggregate, day, rows) of the account's hourly and daily aggregates that differ from a
    recomputation from its legs, for days not pending a refresh."""
    return conn.execute(sql_file("checks/aggregate_mismatches.sql"), scope).fetchall()


def _result(passed: bool, days: tuple[date, date], figures: dict[str, Any], details: list[str],
            severity: AssetCheckSeverity = AssetCheckSeverity.ERROR) -> AssetCheckResult:
    """The result, with the checked days and figures as metadata, and the first details if any."""
    metadata: dict[str, Any] = {"first_day": days[0].isoformat(),
                                "last_day": (days[1] - timedelta(days=1)).isoformat(), **figures}
    if details:
        metadata["details"] = "; ".join(details[:_EXAMPLES])
    return AssetCheckResult(passed=passed, severity=severity, metadata=metadata)


def _one_row(cursor: psycopg.Cursor) -> tuple:
    """The one row of an aggregate query; none would be a broken query, not a passed check."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("a check's query returned no row")
    return row


@contextmanager
def _consistent(warehouse: WarehouseResource, source: ProviderAccount) -> Iterator[psycopg.Connection]:
    """A transaction, rolled back at the end, holding the account's leg-changes lock: no load or
    refresh of the account commits while the check reads, so its legs, its derived rows and its
    stale marks are seen together."""
    with warehouse.connect() as conn, conn.transaction(force_rollback=True):
        exclude_leg_changes(conn, source.provider, source.account)
        yield conn


def build_account_checks(source: ProviderAccount, load: AssetsDefinition,
                         config: Configuration) -> list[AssetChecksDefinition]:
    """Every check of one account's load asset `load` (see the module docstring)."""
    checks = [_quarantine_share_check(source, load, config),
              *(_provider_check(source, load, declared, config) for declared in source.spec.checks)]
    if CALL_LEGS in source.spec.items:
        checks += _leg_checks(source, load, config)
    return checks


def _quarantine_share_check(source: ProviderAccount, load: AssetsDefinition,
                            config: Configuration) -> AssetChecksDefinition:
    limit = config.quarantine_warn_share

    @asset_check(asset=load, name="quarantine_share_under_threshold",
                 description=f"Each day's quarantined records are at most {limit:.2%} of the records in its"
                             " bodies (CDR_QUARANTINE_WARN_SHARE); above it, a warning.")
    def quarantine_share(context: AssetCheckExecutionContext,
                         warehouse: WarehouseResource) -> AssetCheckResult:
        days = checked_days(context, config.repull_days)
        with warehouse.connect() as conn:
            rows = conn.execute(sql_file("checks/quarantine_share.sql"), _scope(source, days)).fetchall()
        # a body quarantined whole holds records no one could count: it is the day's share alone
        shares = {day: quarantined / max(records, quarantined) if quarantined else 0.0
                  for day, records, quarantined in rows}
        over = [f"{day}: {share:.2%}" for day, share in shares.items() if share > limit]
        return _result(not over, days,
                       {"days_checked": len(rows), "days_over": len(over), "threshold": limit,
                        "highest_share": max(shares.values(), default=0.0)},
                       over, AssetCheckSeverity.WARN)

    return quarantine_share


def _provider_check(source: ProviderAccount, load: AssetsDefinition, declared: ProviderCheck,
                    config: Configuration) -> AssetChecksDefinition:
    @asset_check(asset=load, name=declared.name, description=declared.description,
                 blocking=declared.blocking)
    def provider_check(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        days = checked_days(context, config.repull_days)
        with warehouse.connect() as conn:
            violations, examples = _one_row(conn.execute(sql_file(declared.sql), _scope(source, days)))
        return _result(violations == 0, days, {"violations": violations}, list(examples))

    return provider_check


def _leg_checks(source: ProviderAccount, load: AssetsDefinition,
                config: Configuration) -> list[AssetChecksDefinition]:
    @asset_check(asset=load, blocking=True,
                 description="No leg key appears twice (e.g. a leg whose start time moved at the provider);"
                             " blocking: every such leg would count twice in calls and aggregates.")
    def no_duplicate_leg_keys(context: AssetCheckExecutionContext,
                              warehouse: WarehouseResource) -> AssetCheckResult:
        days = checked_days(context, config.repull_days)
        with warehouse.connect() as conn:
            duplicates, keys = _one_row(conn.execute(sql_file("checks/duplicate_leg_keys.sql"),
                                                     _scope(source, days)))
        return _result(duplicates == 0, days, {"duplicate_leg_keys": duplicates}, list(keys))

    @asset_check(asset=load, blocking=True,
                 description="The stored calls are what the legs assemble into: every leg in exactly one"
                             " call, each call's leg count its legs', no call without legs; blocking:"
                             " what is built on calls would be wrong.")
    def calls_match_legs(context: AssetCheckExecutionContext,
                         warehouse: WarehouseResource) -> AssetCheckResult:
        days = checked_days(context, config.repull_days)
        with _consistent(warehouse, source) as conn:
            rows = calls_not_matching(conn, _scope(source, days))
        differing = sum(count for _, count in rows)
        return _result(not rows, days, {"calls_differing": differing},
                       [f"{day}: {count} calls" for day, count in rows])

    @asset_check(asset=load,
                 description="The hourly and daily aggregates equal a recomputation from the legs.")
    def aggregates_match_legs(context: AssetCheckExecutionContext,
                              warehouse: WarehouseResource) -> AssetCheckResult:
        days = checked_days(context, config.repull_days)
        with _consistent(warehouse, source) as conn:
            rows = aggregates_not_matching(conn, _scope(source, days))
        differing = sum(count for _, _, count in rows)
        return _result(differing == 0, days, {"rows_differing": differing},
                       [f"{aggregate} {day}: {count} rows" for aggregate, day, count in rows])

    checks = [no_duplicate_leg_keys, calls_match_legs, aggregates_match_legs]
    if source.spec.has_provider_count:
        @asset_check(asset=load,
                     description="Legs plus quarantined records per fetched day equal the provider's"
                                 " own count.")
        def reconciles_with_provider_count(context: AssetCheckExecutionContext,
                                           warehouse: WarehouseResource) -> AssetCheckResult:
            days = checked_days(context, config.repull_days)
            with warehouse.connect() as conn:
                rows = conn.execute(sql_file("checks/reconcile_provider_count.sql"),
                                    _scope(source, days)).fetchall()
            mismatches = [f"{start.date()}: provider {count}, warehouse {loaded}"
                          for start, count, loaded in rows if count != loaded]
            return _result(not mismatches, days, {"days_checked": len(rows), "mismatches": len(mismatches)},
                           mismatches)

        checks.append(reconciles_with_provider_count)
    return checks
