"""What watches the loads (docs/operations.md, "Watching the loads"):

- per account, the asset check `yesterday_landed` on its load asset: fails when the last UTC day
  complete at the account's deadline (`fresh_by_hour` o'clock in its time zone) has no load in
  cdr.load_audit; the sensor `freshness_checks` runs it after each deadline, and again once a
  late load has come in;
- the run-failure sensor `record_run_failures`: each failed run becomes rows of cdr.run_failure
  and, when CDR_FAILURE_WEBHOOK_URL is set, one JSON POST naming provider, account, days and
  error, scrubbed of credentials and phone numbers.

A custom check rather than Dagster's `build_time_partition_freshness_checks`: that one and its
sensor are superseded in Dagster 1.13 (they warn at every load), they judge Dagster's records
rather than the warehouse, and their clock can only be frozen by patching Dagster; this one is
handed the time it judges at (`now`), so a test sets it.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetsDefinition,
    AssetSelection,
    AutomationConditionSensorDefinition,
    Config,
    DagsterEvent,
    DagsterInstance,
    DefaultSensorStatus,
    MetadataValue,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    asset_check,
    run_failure_sensor,
    sensor,
)
from dagster._core.definitions.automation_condition_sensor_definition import (
    DEFAULT_AUTOMATION_CONDITION_SENSOR_NAME,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from pipelines.assets.provider import ProviderAssets
from pipelines.config import Configuration, ProviderAccount
from pipelines.resources import WarehouseResource
from pipelines.sql import sql_file

FRESHNESS_CHECK = "yesterday_landed"
FRESHNESS_SENSOR = "freshness_checks"
FAILURE_SENSOR = "record_run_failures"
WEBHOOK_TIMEOUT_SECONDS = 10.0
ERROR_CHARACTERS = 500  # of an error's first line: enough to act on, short enough for a chat message

# A phone number as a provider writes it: seven digits or more, perhaps after a +. Dates, counts and
# HTTP statuses have fewer digits in a row.
_PHONE_NUMBER = re.compile(r"\+?\d{7,}")


# ---------------------------------------------------------------------------------------------
# freshness


def freshness_deadline(source: ProviderAccount, now: datetime) -> datetime:
    """The account's latest deadline at or before `now`: `fresh_by_hour` o'clock in its time zone,
    today's or, before it, yesterday's."""
    zone = ZoneInfo(source.time_zone)
    local = now.astimezone(zone)
    deadline = datetime.combine(local.date(), time(source.fresh_by_hour), tzinfo=zone)
    if deadline > local:
        deadline = datetime.combine(local.date() - timedelta(days=1), time(source.fresh_by_hour), tzinfo=zone)
    return deadline


def expected_day(source: ProviderAccount, now: datetime) -> tuple[date, datetime]:
    """The day that must have landed by `now`, and the deadline that made it due: the last UTC
    day (the warehouse's and the partitions' day) complete at the latest deadline."""
    deadline = freshness_deadline(source, now)
    return deadline.astimezone(UTC).date() - timedelta(days=1), deadline


class FreshnessConfig(Config):
    # the instant to judge at, ISO 8601 with its offset; empty: the current time. A test, or a
    # replay of a past morning, sets it.
    now: str = ""


def build_freshness_check(source: ProviderAccount, load: AssetsDefinition) -> AssetChecksDefinition:
    """`yesterday_landed` on the account's load asset."""
    scope = {"provider": source.provider, "account": source.account}
    deadline_words = f"{source.fresh_by_hour:02d}:00 {source.time_zone}"

    @asset_check(asset=load, name=FRESHNESS_CHECK,
                 description=f"Yesterday (UTC) has been loaded by {deadline_words}: fails while the"
                             " last UTC day complete at that hour has no load in cdr.load_audit.")
    def yesterday_landed(context: AssetCheckExecutionContext, config: FreshnessConfig,
                         warehouse: WarehouseResource) -> AssetCheckResult:
        now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
        day, deadline = expected_day(source, now)
        metadata: dict[str, MetadataValue] = {
            "day": MetadataValue.text(day.isoformat()),
            "deadline": MetadataValue.timestamp(deadline),
        }
        if source.start_date and day < date.fromisoformat(source.start_date):
            return AssetCheckResult(passed=True, metadata=metadata,
                                    description=f"{day} is before the account's first day")
        start = datetime.combine(day, time(), tzinfo=UTC)
        with warehouse.connect() as conn:
            row = conn.execute(sql_file("watch/day_landed.sql"), {**scope, "day_start": start}).fetchone()
        landed_at = row[0] if row else None
        if landed_at is not None:
            metadata["landed_at"] = MetadataValue.timestamp(landed_at)
        late = landed_at is None or landed_at > deadline
        if late:
            context.log.warning(f"{source.provider} {source.account}: {day} not loaded by {deadline_words}")
        return AssetCheckResult(
            passed=landed_at is not None,
            severity=AssetCheckSeverity.ERROR,
            metadata=metadata,
            description=(f"{day} not loaded yet; due by {deadline_words}" if landed_at is None
                         else f"{day} loaded" + (" after the deadline" if late else "")),
        )

    return yesterday_landed


@dataclass(frozen=True)
class WatchedAccount:
    source: ProviderAccount
    check: AssetCheckKey


def freshness_requests(instance: DagsterInstance, watched: Sequence[WatchedAccount],
                       now: datetime) -> list[RunRequest]:
    """The check runs due at `now`: every check once after each of its account's deadlines
    (batched by deadline, the run key naming it, so Dagster requests each once), and a failed
    check again once its load asset has materialized since (a late load turns it green)."""
    summaries = instance.event_log_storage.get_asset_check_summary_records([w.check for w in watched])
    by_deadline: dict[datetime, list[AssetCheckKey]] = {}
    after_load: dict[AssetCheckKey, int] = {}
    for account in watched:
        deadline = freshness_deadline(account.source, now).astimezone(UTC)
        by_deadline.setdefault(deadline, []).append(account.check)
        last = summaries[account.check].last_completed_check_execution_record
        if last is None or last.status != AssetCheckExecutionRecordStatus.FAILED or last.event is None:
            continue
        loaded = instance.fetch_materializations(account.check.asset_key, limit=1).records
        if loaded and loaded[0].timestamp > last.event.timestamp:
            after_load[account.check] = loaded[0].storage_id
    requests = [RunRequest(run_key=f"{FRESHNESS_CHECK}@{deadline.isoformat()}", asset_check_keys=keys)
                for deadline, keys in sorted(by_deadline.items())]
    if after_load:
        ids = "+".join(str(after_load[key]) for key in sorted(after_load, key=str))
        requests.append(RunRequest(run_key=f"{FRESHNESS_CHECK}@loads:{ids}",
                                   asset_check_keys=sorted(after_load, key=str)))
    return requests


def build_freshness_sensor(watched: Sequence[WatchedAccount], checks: Sequence[AssetChecksDefinition],
                           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> SensorDefinition:
    @sensor(name=FRESHNESS_SENSOR, minimum_interval_seconds=15 * 60,
            asset_selection=AssetSelection.checks(*checks), default_status=DefaultSensorStatus.RUNNING,
            description="Runs each account's yesterday_landed check after its deadline, and again"
                        " after a late load.")
    def freshness_checks(context: SensorEvaluationContext) -> list[RunRequest] | SkipReason:
        # a run key already used is skipped by Dagster: most ticks request nothing new
        return freshness_requests(context.instance, watched, clock()) \
            or SkipReason("no account has a deadline or a late load to check")

    return freshness_checks


# ---------------------------------------------------------------------------------------------
# run failures


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` and without phone numbers."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _PHONE_NUMBER.sub("[number]", text)


def _error_line(event: DagsterEvent) -> str:
    """The failure's own words: a Failure's description, else the innermost error's first line."""
    data = event.step_failure_data if event.is_step_failure else None
    if data is not None and data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error if data is not None else getattr(event.event_specific_data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    text = error.message if error is not None else (event.message or "the run failed")
    return (text.strip().splitlines() or [""])[0][:ERROR_CHARACTERS]


def run_days(tags: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The first and last day a run covered, from its partition tags (None: not a daily run)."""
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        return tags[ASSET_PARTITION_RANGE_START_TAG], tags.get(ASSET_PARTITION_RANGE_END_TAG)
    day = tags.get(PARTITION_NAME_TAG)
    return day, day


def failure_summary(context: RunFailureSensorContext, accounts_by_step: Mapping[str, ProviderAccount],
                    secrets: Iterable[str]) -> dict:
    """The JSON a failed run is reported as: no credential, no URL, no phone number."""
    run = context.dagster_run
    first, last = run_days(run.tags)
    record = context.instance.get_run_record_by_id(run.run_id)
    failed_at = datetime.fromtimestamp(record.end_time, UTC) if record and record.end_time \
        else datetime.now(UTC)
    secret_values = [s for s in secrets if s]
    failures = []
    for event in context.get_step_failure_events() or [context.failure_event]:
        source = accounts_by_step.get(event.step_key or "")
        failures.append({"provider": source.provider if source else "",
                         "account": source.account if source else "",
                         "step": event.step_key or "",
                         "error": scrub(_error_line(event), secret_values)})
    named = "; ".join(f"{f['provider']} {f['account']}: {f['error']}" if f["provider"] else
                      f"{f['step'] or 'run'}: {f['error']}" for f in failures)
    days = f"{first}" + (f" to {last}" if last and last != first else "") if first else "no day range"
    return {
        # `text` first: a Slack, Mattermost or Rocket.Chat incoming webhook shows it as it is
        "text": f"cdr-etl run {run.run_id[:8]} ({run.job_name}) failed, {days}: {named}",
        "run_id": run.run_id,
        "job": run.job_name,
        "days": {"first": first, "last": last},
        "failed_at": failed_at.isoformat(),
        "failures": failures,
    }


def post_summary(url: str, summary: dict) -> str:
    """POST the summary; the answer as recorded ('HTTP 200', or the error's type: an httpx error's
    text can name the URL, which may hold a token)."""
    try:
        response = httpx.post(url, json=summary, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return f"HTTP {response.status_code}"


def build_failure_sensor(accounts_by_step: Mapping[str, ProviderAccount], secrets: Mapping[str, str],
                         webhook_variable: str | None, secret_variables: Iterable[str]) -> SensorDefinition:
    """`record_run_failures`: every failed run of this code location, recorded and, with a
    webhook set, POSTed. `secret_variables` name the values never to appear in what is sent."""
    hidden = sorted({v for v in secret_variables if v})

    @run_failure_sensor(name=FAILURE_SENSOR, default_status=DefaultSensorStatus.RUNNING,
                        description="Records each failed run in cdr.run_failure and, when"
                                    " CDR_FAILURE_WEBHOOK_URL is set, POSTs a JSON summary there.")
    def record_run_failures(context: RunFailureSensorContext, warehouse: WarehouseResource) -> None:
        summary = failure_summary(context, accounts_by_step, (secrets.get(v, "") for v in hidden))
        url = secrets.get(webhook_variable, "") if webhook_variable else ""
        notified = post_summary(url, summary) if url else None
        with warehouse.connect() as conn:
            for failure in summary["failures"]:
                conn.execute(sql_file("watch/record_run_failure.sql"), {
                    "run_id": summary["run_id"], "job_name": summary["job"],
                    "first_day": summary["days"]["first"], "last_day": summary["days"]["last"],
                    "failed_at": summary["failed_at"], "notified": notified, **failure})
        context.log.info(f"run {summary['run_id']}: {len(summary['failures'])} failure(s) recorded"
                         + (f"; webhook answered {notified}" if notified else ""))
        if notified is not None and not notified.startswith("HTTP 2"):
            # the tick shows as failed in the UI: the failure is recorded, its notice was not taken
            raise RuntimeError(f"the failure webhook ({webhook_variable}) answered {notified}")

    return record_run_failures


# ---------------------------------------------------------------------------------------------
# what build_definitions registers


@dataclass(frozen=True)
class Watch:
    checks: tuple[AssetChecksDefinition, ...]  # not in the nightly job: they judge the clock, not its run
    sensors: tuple[SensorDefinition, ...]


def build_watch(config: Configuration, built: Sequence[ProviderAssets]) -> Watch:
    """The freshness checks and sensors over the accounts of `config` (built in the same order),
    the failure sensor, and the automation sensor, running, that makes the derived assets follow
    their loads (Dagster's own default one starts stopped)."""
    checks = tuple(build_freshness_check(source, assets.load) for source, assets in
                   zip(config.accounts, built, strict=True))
    watched = [WatchedAccount(source, next(iter(check.check_keys)))
               for source, check in zip(config.accounts, checks, strict=True)]
    accounts_by_step = {asset.op.name: source for source, assets in zip(config.accounts, built, strict=True)
                        for asset in (assets.raw_pages, assets.load)}
    secret_variables = [*(v for source in config.accounts for v in source.credential_variables.values()),
                        config.failure_webhook_variable or "", config.warehouse.url_variable or ""]
    automation = AutomationConditionSensorDefinition(
        DEFAULT_AUTOMATION_CONDITION_SENSOR_NAME, target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING)
    return Watch(checks, (
        build_freshness_sensor(watched, checks),
        build_failure_sensor(accounts_by_step, config.secrets, config.failure_webhook_variable,
                             secret_variables),
        automation,
    ))
