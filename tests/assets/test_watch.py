"""What watches the loads: the freshness check and its sensor, the run-failure sensor and its
webhook (a real HTTP receiver on loopback), and the derived assets that follow a backfill of one
provider on their own. TENIOS over real HTTP, asserted on the warehouse's rows."""
from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterInstance,
    build_run_status_sensor_context,
    evaluate_automation_conditions,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.assets.watch import FAILURE_SENSOR, FRESHNESS_CHECK, WatchedAccount, freshness_requests, scrub
from pipelines.config import Configuration
from pipelines.errors import ConfigurationError
from pipelines.resources import WarehouseResource
from tests.conftest import rows, scalar
from tests.dagster_runs import failure_messages, load_definitions, run_range
from tests.simulator_driver import simulators

DAY = date(2026, 10, 5)
BERLIN = ZoneInfo("Europe/Berlin")  # TENIOS's default reporting zone: the deadline's hour is read there
LEGS = AssetKey(["tenios", "tenios_demo", "call_legs"])
RAW = AssetKey(["tenios", "tenios_demo", "raw_pages"])
FRESHNESS = AssetCheckKey(LEGS, FRESHNESS_CHECK)
DERIVED = (AssetKey("calls"), AssetKey("call_leg_aggregates"))


@pytest.fixture(scope="module")
def tenios():
    with simulators(["tenios"]) as drivers:
        yield drivers["tenios"]


@pytest.fixture
def sim(tenios, clean_warehouse):
    tenios.reset()
    return tenios


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def run_selected(defs, instance, first: date, last: date, assets=(), checks=(), run_config=None):
    """A run of some assets (or checks) only, over a range of days: what the UI's materialize or
    backfill of one provider launches."""
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(assets), asset_check_selection=set(checks))
    return job.execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config or {},
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
              ASSET_PARTITION_RANGE_END_TAG: last.isoformat()})


def judge_freshness(instance: DagsterInstance, now: datetime) -> tuple[bool, dict]:
    """Run tenios-demo's freshness check as of `now`; whether it passed, and its metadata."""
    defs = load_definitions(["tenios"])
    check = next(c for c in defs.asset_checks if FRESHNESS in c.check_keys)
    result = run_selected(defs, instance, DAY, DAY, checks=[FRESHNESS],
                          run_config={"ops": {check.node_def.name: {"config": {"now": now.isoformat()}}}})
    assert result.success, failure_messages(result)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def test_freshness_fails_until_yesterday_has_landed_by_the_hour(sim, warehouse_url, monkeypatch):
    instance = DagsterInstance.ephemeral()
    morning = berlin(DAY + timedelta(days=1), 7)  # past the default 06:00 deadline in Berlin
    passed, metadata = judge_freshness(instance, morning)
    assert (passed, metadata["day"]) == (False, DAY.isoformat())
    assert run_range(["tenios"], DAY.isoformat(), DAY.isoformat(), instance=instance).success
    assert scalar(warehouse_url, "SELECT count(*) FROM cdr.load_audit WHERE window_start::date = %s",
                  (DAY,)) == 1
    passed, metadata = judge_freshness(instance, morning)
    assert (passed, metadata["day"]) == (True, DAY.isoformat())
    # before the deadline the day before is the one due, and it was never loaded
    passed, metadata = judge_freshness(instance, berlin(DAY + timedelta(days=1), 5, 59))
    assert (passed, metadata["day"]) == (False, (DAY - timedelta(days=1)).isoformat())
    # the hour is a setting: at 07:00, an 08:00 deadline still expects the day before
    monkeypatch.setenv("CDR_FRESH_BY_HOUR", "8")
    passed, metadata = judge_freshness(instance, morning)
    assert (passed, metadata["day"]) == (False, (DAY - timedelta(days=1)).isoformat())


def test_the_freshness_sensor_asks_once_per_deadline_and_again_after_a_late_load(sim):
    instance = DagsterInstance.ephemeral()
    source = Configuration.from_env({"CDR_PROVIDERS": "tenios"}).account("tenios")
    watched = [WatchedAccount(source, FRESHNESS)]
    morning = berlin(DAY + timedelta(days=1), 7)
    (request,) = freshness_requests(instance, watched, morning)
    # one run key per deadline: Dagster's sensor machinery skips a key it has used
    deadline = berlin(DAY + timedelta(days=1), 6).astimezone(UTC)
    assert (request.run_key, request.asset_check_keys) == (f"{FRESHNESS_CHECK}@{deadline.isoformat()}",
                                                          [FRESHNESS])
    assert [r.run_key for r in freshness_requests(instance, watched, morning + timedelta(hours=22))] \
        == [request.run_key]
    assert judge_freshness(instance, morning)[0] is False
    assert [r.run_key for r in freshness_requests(instance, watched, morning)] == [request.run_key]
    # the late load: the failed check is asked for again, and passes
    assert run_range(["tenios"], DAY.isoformat(), DAY.isoformat(), instance=instance).success
    again = freshness_requests(instance, watched, morning)
    assert [r.asset_check_keys for r in again] == [[FRESHNESS], [FRESHNESS]]
    assert again[1].run_key.startswith(f"{FRESHNESS_CHECK}@loads:")
    assert judge_freshness(instance, morning)[0] is True
    assert len(freshness_requests(instance, watched, morning)) == 1  # green: only the deadline's


class Receiver:
    """An HTTP server on loopback that keeps every request it gets and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.path, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


ACCESS_KEY = "wrong-key-5d0c81e2aa"
TOKEN = "hook-token-9b1f07"


def failed_run_evaluated(warehouse_url: str):
    """A TENIOS run refused for its access key, then the failure sensor evaluated on it."""
    instance = DagsterInstance.ephemeral()
    result = run_range(["tenios"], DAY.isoformat(), (DAY + timedelta(days=1)).isoformat(), instance=instance)
    assert not result.success
    failure_sensor = load_definitions(["tenios"]).resolve_sensor_def(FAILURE_SENSOR)
    context = build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR, dagster_event=result.get_run_failure_event(), dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"warehouse": WarehouseResource(url=warehouse_url)})
    return result, failure_sensor, context


def recorded(url: str) -> list[tuple]:
    return rows(url, "SELECT job_name, provider, account, step, first_day, last_day, error, notified"
                     " FROM cdr.run_failure ORDER BY step")


def test_a_failed_run_is_recorded_and_posted_without_secrets(sim, warehouse_url, receiver, monkeypatch):
    monkeypatch.setenv("TENIOS_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("CDR_FAILURE_WEBHOOK_URL", receiver.url(f"/hooks/cdr?token={TOKEN}"))
    result, failure_sensor, context = failed_run_evaluated(warehouse_url)
    failure_sensor(context.for_run_failure())
    ((path, body),) = receiver.received
    assert path == f"/hooks/cdr?token={TOKEN}"
    for secret in (ACCESS_KEY, TOKEN, warehouse_url):
        assert secret.encode() not in body
    summary = json.loads(body)
    (failure,) = summary["failures"]
    assert (summary["run_id"], summary["job"]) == (result.run_id, "nightly_cdr_load")
    assert summary["days"] == {"first": DAY.isoformat(), "last": (DAY + timedelta(days=1)).isoformat()}
    assert (failure["provider"], failure["account"], failure["step"]) == \
        ("tenios", "tenios-demo", "tenios__tenios_demo__raw_pages")
    assert "access key refused" in failure["error"] and "HTTP 400" in failure["error"]
    assert failure["error"] in summary["text"] and "tenios tenios-demo" in summary["text"]
    assert recorded(warehouse_url) == [("nightly_cdr_load", "tenios", "tenios-demo",
                                        "tenios__tenios_demo__raw_pages", DAY, DAY + timedelta(days=1),
                                        failure["error"], "HTTP 200")]


def test_a_webhook_that_refuses_fails_the_tick_and_the_failure_stays_recorded(sim, warehouse_url, receiver,
                                                                               monkeypatch):
    monkeypatch.setenv("TENIOS_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("CDR_FAILURE_WEBHOOK_URL", receiver.url(f"/hooks/cdr?token={TOKEN}"))
    receiver.status = 500
    _, failure_sensor, context = failed_run_evaluated(warehouse_url)
    with pytest.raises(Exception, match=r"CDR_FAILURE_WEBHOOK_URL.*HTTP 500") as raised:
        failure_sensor(context.for_run_failure())
    assert TOKEN not in str(raised.value)
    assert len(receiver.received) == 1
    assert [r[-1] for r in recorded(warehouse_url)] == ["HTTP 500"]


def test_without_a_webhook_a_failure_is_only_recorded(sim, warehouse_url, receiver, monkeypatch):
    monkeypatch.setenv("TENIOS_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.delenv("CDR_FAILURE_WEBHOOK_URL", raising=False)
    _, failure_sensor, context = failed_run_evaluated(warehouse_url)
    failure_sensor(context.for_run_failure())
    assert receiver.received == []
    assert [(r[1], r[-1]) for r in recorded(warehouse_url)] == [("tenios", None)]


def test_scrub_hides_secrets_and_phone_numbers():
    text = "key k-123 refused for +4930123456 and 0049301234567 on 2026-10-05, HTTP 400, 1518 legs"
    assert scrub(text, ["k-123"]) == \
        "key *** refused for [number] and [number] on 2026-10-05, HTTP 400, 1518 legs"


def test_derived_assets_follow_a_backfill_of_one_provider(sim, warehouse_url):
    instance = DagsterInstance.ephemeral()
    defs = load_definitions(["tenios"])
    days = [DAY, DAY + timedelta(days=1)]
    first = evaluate_automation_conditions(defs, instance)
    assert first.total_requested == 0
    # the UI's backfill of one provider's assets: its load, not the derived assets
    loaded = run_selected(defs, instance, days[0], days[-1], assets=[RAW, LEGS])
    assert loaded.success, failure_messages(loaded)
    after_load = evaluate_automation_conditions(defs, instance, cursor=first.cursor)
    for key in DERIVED:
        assert after_load.get_requested_partitions(key) == {d.isoformat() for d in days}, key
    # what the automation sensor launches for those days
    derived = run_selected(defs, instance, days[0], days[-1], assets=DERIVED)
    assert derived.success, failure_messages(derived)
    assert {(e.asset_key, e.partition) for e in derived.get_asset_materialization_events()} == \
        {(key, d.isoformat()) for key in DERIVED for d in days}
    per_day = rows(warehouse_url, "SELECT (started_at AT TIME ZONE 'UTC')::date, count(*)"
                                  " FROM cdr.fact_call_leg GROUP BY 1 ORDER BY 1")
    assert [d for d, _ in per_day] == days
    assert rows(warehouse_url, "SELECT day, sum(legs) FROM cdr.agg_call_leg_daily GROUP BY 1 ORDER BY 1") \
        == per_day
    assert rows(warehouse_url, "SELECT (started_at AT TIME ZONE 'UTC')::date, sum(legs) FROM cdr.fact_call"
                               " GROUP BY 1 ORDER BY 1") == per_day
    handled = evaluate_automation_conditions(defs, instance, cursor=after_load.cursor)
    assert handled.total_requested == 0
    # the nightly job runs the derived assets itself: nothing left for the automation to request
    assert run_range(["tenios"], days[0].isoformat(), days[-1].isoformat(), instance=instance).success
    assert evaluate_automation_conditions(defs, instance, cursor=handled.cursor).total_requested == 0


def test_the_deadline_and_webhook_settings_are_read_once_and_checked(tmp_path):
    environ = {"CDR_PROVIDERS": "tenios", "CDR_FRESH_BY_HOUR": "7"}
    assert Configuration.from_env(environ).account("tenios").fresh_by_hour == 7
    with pytest.raises(ConfigurationError, match="CDR_FRESH_BY_HOUR='24': expected an hour from 0 to 23"):
        Configuration.from_env({**environ, "CDR_FRESH_BY_HOUR": "24"})
    # the file's own hour wins over the variable's for its account
    path = tmp_path / "accounts.toml"
    path.write_text('[[accounts]]\nprovider = "tenios"\nname = "early"\nfresh_by_hour = 4\n'
                    'credentials = { access_key = { env = "EARLY_KEY" } }\n'
                    '[[accounts]]\nprovider = "tenios"\nname = "usual"\n'
                    'credentials = { access_key = { env = "USUAL_KEY" } }\n')
    accounts = Configuration.from_env({**environ, "CDR_ACCOUNTS_FILE": str(path)}).accounts
    assert [(a.account, a.fresh_by_hour) for a in accounts] == [("early", 4), ("usual", 7)]
    path.write_text(path.read_text().replace("fresh_by_hour = 4", 'fresh_by_hour = "dawn"'))
    with pytest.raises(ConfigurationError, match="account 'early': fresh_by_hour='dawn'"):
        Configuration.from_env({**environ, "CDR_ACCOUNTS_FILE": str(path)})
    # the webhook's URL is kept as the name of its variable, and a bad one is refused unshown
    hook = {**environ, "CDR_FAILURE_WEBHOOK_URL": f"https://hooks.example/x?token={TOKEN}"}
    assert Configuration.from_env(hook).failure_webhook_variable == "CDR_FAILURE_WEBHOOK_URL"
    assert TOKEN not in repr(Configuration.from_env(hook))
    with pytest.raises(ConfigurationError, match="CDR_FAILURE_WEBHOOK_URL") as caught:
        Configuration.from_env({**hook, "CDR_FAILURE_WEBHOOK_URL": f"hooks.example/x?token={TOKEN}"})
    assert TOKEN not in str(caught.value)
