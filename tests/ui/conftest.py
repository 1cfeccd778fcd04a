"""The Dagster UI as a user gets it: a demo-like ranged run launched the way `make demo` launches
it, into the test database and an instance of its own (DAGSTER_HOME and storage made for the
tests), then `cdr-etl ui` (webserver and daemon, the simulators on free ports) serving that
instance on a free loopback port. Started once for every test in this folder."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest
from dagster import DagsterInstance, DagsterRun

from pipelines.demo import launch_backfill
from pipelines.environment import prepare_dagster_home
from pipelines.warehouse.connection import PROJECT_ROOT, ensure_database, start_embedded
from tests.conftest import TEST_DATABASE, truncate_warehouse
from tests.simulator_driver import SimulatorDriver, simulators

FIRST, LAST = date(2026, 11, 25), date(2026, 11, 27)
PROVIDER = "tenios"
# the code location's name in workspace.yaml
LOCATION = "cdr_warehouse"
STARTUP_TIMEOUT_S = 120


@dataclass
class DemoUi:
    url: str                 # the webserver, http://127.0.0.1:PORT
    instance: DagsterInstance
    run: DagsterRun          # the demo-like run, launched before the UI started
    warehouse_url: str
    stdout: Path             # what `cdr-etl ui` printed
    stderr: Path
    simulator: SimulatorDriver  # the one the demo-like runs fetch from

    def launch_again(self) -> DagsterRun:
        """Another demo-like run of the same days (the simulators of the first still serving)."""
        return launch_backfill(FIRST, LAST, self.instance)

    def graphql(self, query: str, **variables) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables},
                              timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def wait_for_run(self, run_id: str, timeout_s: float = 120) -> DagsterRun:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                return run
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} not finished in {timeout_s} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="package")
def demo_ui(warehouse_url, tmp_path_factory) -> Iterator[DemoUi]:
    truncate_warehouse(warehouse_url)
    server = start_embedded()
    storage = f"{TEST_DATABASE}_dagster"  # an instance of the tests' own, empty
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{storage}" WITH (FORCE)')
    folder = tmp_path_factory.mktemp("ui")
    environment = {"DAGSTER_HOME": str(folder / "dagster_home"), "CDR_PROVIDERS": PROVIDER,
                   "DAGSTER_PG_URL": ensure_database(server, storage)}
    port = free_port()
    stdout, stderr = folder / "ui.stdout", folder / "ui.stderr"
    with simulators([PROVIDER], **environment) as drivers:
        prepare_dagster_home()
        ui_environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        # `make ui` from the project's folder, its simulators on free ports
        with stdout.open("wb") as out, stderr.open("wb") as err:
            ui = subprocess.Popen(
                [sys.executable, "-m", "pipelines.cli", "ui", "--any-port", "--port", str(port)],
                cwd=PROJECT_ROOT, env=ui_environment, stdout=out, stderr=err)
        try:
            with DagsterInstance.get() as instance:
                # while the UI starts: the demo's run
                run = launch_backfill(FIRST, LAST, instance)
                demo = DemoUi(f"http://127.0.0.1:{port}", instance, run, warehouse_url, stdout, stderr,
                              drivers[PROVIDER])
                _wait_until_served(demo, ui)
                yield demo
        finally:
            ui.send_signal(signal.SIGINT)  # Ctrl-C: it stops its webserver and daemon
            try:
                ui.wait(timeout=60)
            except subprocess.TimeoutExpired:
                ui.kill()
                ui.wait()


def _wait_until_served(demo: DemoUi, ui: subprocess.Popen) -> None:
    """Until the webserver answers with the code location loaded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert ui.poll() is None, f"cdr-etl ui exited ({ui.returncode}): {demo.stderr.read_text()[-3000:]}"
        try:
            data = demo.graphql("{ workspaceOrError { ... on Workspace { locationEntries {"
                                " name loadStatus locationOrLoadError { __typename } } } } }")
        except httpx.TransportError:
            data = None
        if data is not None:
            entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
            entry = entries.get(LOCATION)
            if entry and entry["loadStatus"] == "LOADED":
                assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
                return
        time.sleep(0.5)
    raise AssertionError(f"the UI did not serve {LOCATION} in {STARTUP_TIMEOUT_S} s:"
                         f" {demo.stderr.read_text()[-3000:]}")
