"""`make ui` starts without warnings a user has to wonder about, and the demo's run is an
ordinary run of the code location: it records its origin (code location `cdr_warehouse`, the
nightly job) and the UI re-executes it, through the same GraphQL mutation the UI's
"Re-execute all" sends, queued and then launched by the UI's daemon."""
from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from dagster import DagsterEventType, DagsterRunStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.definitions import NIGHTLY_JOB
from tests.ui.conftest import FIRST, LAST, LOCATION

# what `dagster dev` printed at every start: that it is superseded, and that the dagster.yaml in
# the project's folder "will not be used" (it is: DAGSTER_HOME links to it)
NOISE = re.compile(r"warning|will not be used|superseded", re.IGNORECASE)
# a run's own log lines (`… - dagster - LEVEL - <job> - <run id> - …`): what the runs the UI's
# sensors launch report (a freshness check warning of a day not loaded), not the UI's start
RUN_EVENT = re.compile(r" - dagster - [A-Z]+ - \S+ - [0-9a-f]{8}-[0-9a-f]{4}-")

REEXECUTE_ALL = """
mutation($parent: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""


def test_the_ui_starts_without_warnings(demo_ui):
    for output in (demo_ui.stderr, demo_ui.stdout):
        noise = [line for line in output.read_text().splitlines()
                 if NOISE.search(line) and not RUN_EVENT.search(line)]
        assert not noise, f"{output.name}:\n" + "\n".join(noise)
    # it did start: the webserver said where it serves (Dagster's services log to stdout)
    assert f"Serving dagster-webserver on {demo_ui.url}" in demo_ui.stdout.read_text()


def test_the_demos_run_records_its_code_location(demo_ui):
    run = demo_ui.run
    assert run.status == DagsterRunStatus.SUCCESS
    origin = run.remote_job_origin
    assert origin is not None, "launched in process: the UI can neither re-execute nor list it"
    assert (origin.location_name, origin.job_name) == (LOCATION, NIGHTLY_JOB)
    # still one ranged run for the days
    assert (run.tags[ASSET_PARTITION_RANGE_START_TAG], run.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        FIRST.isoformat(), LAST.isoformat())


def test_the_ui_reexecutes_the_demos_run(demo_ui):
    launched = demo_ui.graphql(REEXECUTE_ALL, parent=demo_ui.run.run_id)["launchRunReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = demo_ui.wait_for_run(launched["run"]["runId"])
    assert child.status == DagsterRunStatus.SUCCESS
    assert child.parent_run_id == demo_ui.run.run_id
    origin = child.remote_job_origin
    assert origin is not None and (origin.location_name, origin.job_name) == (LOCATION, NIGHTLY_JOB)
    # the same days again, in one run
    assert (child.tags[ASSET_PARTITION_RANGE_START_TAG], child.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        FIRST.isoformat(), LAST.isoformat())
    materialized = demo_ui.instance.all_logs(child.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    assert {entry.dagster_event.partition for entry in materialized if entry.dagster_event} == {
        (FIRST + timedelta(days=n)).isoformat() for n in range((LAST - FIRST).days + 1)}


def test_a_demo_run_whose_process_dies_is_reported_failed(demo_ui):
    """The demo waits for its run to end; a run whose process was killed ends too (the code
    location's server that started it marks it failed): the demo does not wait for ever."""
    before = {run.run_id for run in demo_ui.instance.get_runs()}
    demo_ui.simulator.inject({"kind": "delay", "seconds": 20, "times": 1})  # holds the run's first fetch
    with ThreadPoolExecutor(1) as pool:
        launched = pool.submit(demo_ui.launch_again)
        os.kill(_run_process(demo_ui, before), signal.SIGKILL)
        run = launched.result(timeout=60)
    assert run.status == DagsterRunStatus.FAILURE
    # the delay only made sure the run was still running when killed: it may not have been served
    demo_ui.simulator.post("/_sim/reset", {})


def _run_process(demo_ui, before: set[str], timeout_s: float = 60) -> int:
    """The process id of the run that started after `before`, once its process has said it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run in demo_ui.instance.get_runs(limit=1):
            if run.run_id not in before:
                for entry in demo_ui.instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
                    if entry.message.startswith("Started process for run"):
                        return int(entry.message.rsplit("pid: ", 1)[1].rstrip(")."))
        time.sleep(0.2)
    raise AssertionError("no run process started")
