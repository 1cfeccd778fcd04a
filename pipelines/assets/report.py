"""The `cdr_report` asset: the HTML report (pipelines.report) rewritten after the mart, for the
local dates that end with the last day of the run's range, every account: the nightly run's ends
yesterday; a backfill of past days leaves the report of those days (of the range it loaded)."""
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipelines.assets.derived import FOLLOW_LOADS
from pipelines.assets.metadata import OWNERS
from pipelines.partitions import single_run
from pipelines.report import DEFAULT_DAYS, ReportRequest, write_report
from pipelines.resources import WarehouseResource


class ReportConfig(Config):
    days: int = DEFAULT_DAYS  # local dates in the report, ending with the run's last day


def build_report_asset(mart: AssetsDefinition, partitions: PartitionsDefinition, path: str,
                       quarantine_warn_share: float) -> AssetsDefinition:
    """`cdr_report`, after `mart`, writing `path` (Configuration.report_path)."""

    @asset(
        name="cdr_report",
        group_name="mart",
        deps=[mart],
        partitions_def=partitions,
        backfill_policy=single_run,
        kinds={"html"},
        description=f"The HTML report of the mart (calls, ASR, minutes, cost, heatmap, destinations, data"
                    f" quality) for the {DEFAULT_DAYS} local dates ending with the run's last day, written to"
                    f" {path} (CDR_REPORT_PATH).",
        owners=OWNERS,
        automation_condition=FOLLOW_LOADS,
    )
    def cdr_report(context: AssetExecutionContext, config: ReportConfig,
                   warehouse: WarehouseResource) -> MaterializeResult:
        last = context.partition_time_window.end.date() - timedelta(days=1)
        request = ReportRequest(last - timedelta(days=max(config.days, 1) - 1), last,
                                quarantine_warn_share=quarantine_warn_share)
        with warehouse.connect() as conn:
            written = write_report(conn, request, Path(path))
        context.log.info(f"report of {request.first} .. {request.last}: {written.bytes:,} bytes in"
                         f" {written.seconds:.1f} s")
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(written.path)),
            "url": MetadataValue.url(written.path.resolve().as_uri()),
            "period": MetadataValue.text(f"{request.first} .. {request.last}"),
            "calls": MetadataValue.int(written.calls),
            "bytes": MetadataValue.int(written.bytes),
            "build_seconds": MetadataValue.float(round(written.seconds, 3)),
        })

    return cdr_report
