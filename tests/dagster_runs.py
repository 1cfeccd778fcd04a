"""Run the project's Dagster job in process, the way the schedule and backfills do."""
from __future__ import annotations

import os

from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.definitions import NIGHTLY_JOB, definitions_from_env


def load_definitions(providers: list[str]):
    """Fresh Definitions for the named providers, from the current environment (not changed)."""
    return definitions_from_env({**os.environ, "CDR_PROVIDERS": ",".join(providers)})


def run_range(providers: list[str], first: str, last: str, instance: DagsterInstance | None = None,
              raise_on_error: bool = False, ops_config: dict | None = None):
    defs = load_definitions(providers)
    job = defs.resolve_job_def(NIGHTLY_JOB)
    return job.execute_in_process(
        instance=instance or DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        raise_on_error=raise_on_error,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}},
                    **({"ops": ops_config} if ops_config else {})},
    )


def failure_messages(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            while error is not None:
                messages.append(error.message)
                error = error.cause
    return messages
