"""A fifth provider is one folder plus one registration, and inherits everything else.

The test builds a throwaway provider `acmetel` from a copy of the TENIOS folder under a new name
(outside the package, registered as a plug-in through CDR_PROVIDER_MODULES, so no file of the
project is edited), then shows that:
- the shared test suites (fault matrix, fuzzing, one bad record, secrets, hostile strings,
  configuration) collect and pass cases for it, run as a user would run them;
- a Dagster materialization of its assets loads its legs, assembles its calls and aggregates,
  and a re-run rewrites nothing.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import pytest

from pipelines.config import plugin_modules
from pipelines.registry import registry
from pipelines.simulators import running_simulators
from pipelines.warehouse.connection import PROJECT_ROOT
from tests.conftest import PAST_DAY, TEST_DATABASE, scalar
from tests.dagster_runs import failure_messages, run_range

NAME = "acmetel"
# Every suite that must cover a registered provider without being edited for it.
SHARED_SUITES = ("tests/faults/test_provider_fault_matrix.py", "tests/fuzz/test_parsers_fuzz.py",
                 "tests/fuzz/test_bad_records_quarantined.py", "tests/security/test_secrets_never_leak.py",
                 "tests/security/test_hostile_strings_are_parameters.py", "tests/test_configuration.py",
                 "tests/faults/test_foreign_bodies.py", "tests/faults/test_retries.py",
                 "tests/assets/test_rerun_idempotency.py")


def copy_provider(source: str, name: str, into: Path) -> Path:
    """`pipelines/providers/<source>` as the top-level package `<name>`, every mention renamed."""
    folder = into / name
    shutil.copytree(PROJECT_ROOT / "pipelines" / "providers" / source, folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path in folder.rglob("*.py"):
        text = path.read_text().replace(f"pipelines.providers.{source}", name)
        for old, new in ((source, name), (source.upper(), name.upper()), (source.title(), name.title())):
            text = text.replace(old, new)
        path.write_text(re.sub(r"default_sim_port=\d+", "default_sim_port=18091", text))
    return folder


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugins")
    copy_provider("tenios", NAME, root)
    return root


@pytest.fixture
def registered(plugin, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin))
    monkeypatch.setenv("CDR_PROVIDER_MODULES", NAME)
    return registry(plugin_modules(os.environ))[NAME]


def test_the_copy_is_a_provider_of_its_own(registered):
    assert registered.name == NAME and registered.env_prefix == "ACMETEL"
    assert registered.folder.name == NAME and "pipelines" not in registered.folder.parts[-2:]
    assert registered.parse_pages.__module__ == f"{NAME}.parse"


def test_a_dagster_materialization_loads_it_end_to_end(registered, clean_warehouse):
    first = last = PAST_DAY.isoformat()
    with running_simulators([NAME]):
        result = run_range([NAME], first, last)
        assert result.success, failure_messages(result)
        keys = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
        account = f"{NAME}_demo"  # the copied simulator's account, `acmetel-demo`, as a key part
        assert keys == {f"{NAME}/{account}/raw_pages", f"{NAME}/{account}/call_legs", "calls",
                        "call_leg_aggregates", "number_dimension", "mart", "cdr_report"}
        legs = scalar(clean_warehouse, "SELECT count(*) FROM cdr.fact_call_leg WHERE provider = %s", (NAME,))
        calls = scalar(clean_warehouse, "SELECT count(*) FROM cdr.fact_call WHERE provider = %s", (NAME,))
        daily = scalar(clean_warehouse, "SELECT count(*) FROM cdr.agg_call_leg_daily WHERE provider = %s",
                       (NAME,))
        assert legs > 100 and 0 < calls <= legs and daily > 0
        again = run_range([NAME], first, last)
        assert again.success, failure_messages(again)
    rewritten = scalar(clean_warehouse, "SELECT count(*) FROM cdr.fact_call_leg WHERE provider = %s"
                       " AND last_changed_at > first_seen_at", (NAME,))
    assert rewritten == 0
    assert scalar(clean_warehouse, "SELECT bool_and(skipped) FROM cdr.load_audit WHERE provider = %s"
                  " AND id > (SELECT min(id) FROM cdr.load_audit WHERE provider = %s)", (NAME, NAME))


def test_the_shared_suites_cover_it_without_an_edit(plugin, tmp_path):
    report = tmp_path / "junit.xml"
    environment = {**os.environ, "CDR_PROVIDER_MODULES": NAME,
                   "PYTHONPATH": os.pathsep.join([str(plugin), str(PROJECT_ROOT)]),
                   "CDR_TEST_DATABASE": f"{TEST_DATABASE}_plugin", "CDR_FUZZ_EXAMPLES": "100",
                   "CDR_FAULT_MATRIX_FILE": str(tmp_path / "fault_matrix.json")}
    environment.pop("CDR_WAREHOUSE_URL", None)  # the session fixture set it to this run's test database
    completed = subprocess.run(
        # two workers: a third of the suites' time is waiting (timeouts, backoff)
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
         "-k", NAME, f"--junitxml={report}", *SHARED_SUITES],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    passed = Counter(case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
                     for case in cases if NAME in (case.get("name") or "")
                     and not list(case))  # no failure, error or skipped child
    for suite in SHARED_SUITES:
        assert any(suite.removesuffix(".py") in file.removesuffix(".py") for file in passed), (suite, passed)
