"""The retention job and its schedule (issue 18, docs/privacy.md): each account's expired legs,
calls, raw bodies and quarantined records deleted, nightly once the schedule is started.

An op job rather than an asset: it materializes nothing, it only removes, and it is not per
partition. Like the nightly schedule it starts STOPPED: deleting data is switched on deliberately.
"""

from dagster import (
    DefaultScheduleStatus,
    JobDefinition,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from pipelines.assets.metadata import OWNERS
from pipelines.config import Configuration
from pipelines.resources import WarehouseResource
from pipelines.warehouse.privacy import enforce_retention

RETENTION_JOB = "retention"
RETENTION_CRON = "0 4 * * *"  # 04:00 UTC: after the nightly load (02:30) and its retries


def build_retention(config: Configuration) -> tuple[JobDefinition, ScheduleDefinition]:
    """The job enforcing every account's retention (disabled accounts' too: their data stays in
    the warehouse), and its nightly schedule."""
    policies = {(a.provider, a.account): a.retention for a in (*config.accounts, *config.disabled_accounts)}

    @op(name="enforce_retention",
        description="Delete what each account's retention has expired (docs/privacy.md): monthly leg"
                    " partitions whole where every account's legs in them expired, else by account;"
                    " calls, raw pages (their windows marked not replayable) and quarantined records."
                    " Aggregates and KPIs are kept; Telecom X's counters lose their employee names.")
    def enforce(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
        with warehouse.connect() as conn:
            report = enforce_retention(conn, policies)
        context.log.info("retention: " + ", ".join(f"{name} {count}"
                                                   for name, count in report.as_metadata().items()))

    @job(name=RETENTION_JOB, description="Enforce each account's retention (accounts file `retention`).",
         tags={"kind": "retention"})
    def retention_job() -> None:
        enforce()

    schedule = ScheduleDefinition(
        name="retention_schedule", job=retention_job, cron_schedule=RETENTION_CRON,
        execution_timezone="UTC", default_status=DefaultScheduleStatus.STOPPED, owners=OWNERS,
        description="Nightly at 04:00 UTC: delete what each account's retention has expired"
                    " (docs/privacy.md). Stopped until started: it deletes data.")
    return retention_job, schedule
