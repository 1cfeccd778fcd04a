"""Belfabriek client against the simulator over real HTTP: the request, the secret, error codes
1-5, retries and pacing (alone, and shared through PostgreSQL with other clients on the account)."""
from __future__ import annotations

import itertools
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from pipelines.config import account_from_env
from pipelines.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from pipelines.providers.base import RetryPolicy
from pipelines.providers.belfabriek import SPEC
from pipelines.providers.belfabriek.client import (
    BelfabriekClient,
    InvalidEndTimestamp,
    InvalidPeriod,
    InvalidStartTimestamp,
    Pacer,
)
from pipelines.providers.belfabriek.simulator import BelfabriekData, build_simulator, error_body
from pipelines.simulation import Fault, SimState, SimulatorServer
from pipelines.warehouse.pacing import DatabasePacing
from tests.conftest import scalar
from tests.providers.belfabriek.conftest import ACCOUNT, CUSTOMER, HASH

DAY = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))


def client(sim, customer_hash: str = HASH, **options) -> BelfabriekClient:
    settings = {"customer_id": CUSTOMER, "account": ACCOUNT, "base_url": sim.url, "requests_per_second": 200,
                "retry": RetryPolicy(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05)}
    settings.update(options)
    return BelfabriekClient(customer_hash, **settings)


def fetch(sim, window=DAY, **options):
    with client(sim, **options) as c:
        return list(c.fetch_window(window))


def test_the_window_goes_out_as_epoch_seconds_and_the_hash_is_not_kept(sim):
    (page,) = fetch(sim)
    assert page.endpoint == "/statistics/" and page.page == 1 and page.http_status == 200
    assert page.request_params == {"customer_id": CUSTOMER, "start_timestamp": 1793577600,
                                   "end_timestamp": 1793664000, "extension_display": 1}
    assert HASH not in orjson.dumps(page.request_params).decode()
    assert page.records == page.body.count(b"<RECORD>") > 200
    assert b"<EXTENSION_NAME>" in page.body and b"<CALLERS_DATA_RECORDS>" in page.body


def test_the_statistics_path_is_a_setting(sim):
    # The docs' URL line lost its prefix: a simulator serving the statistics elsewhere
    app = build_simulator({(HASH, CUSTOMER): ACCOUNT}, BelfabriekData(), SimState(),
                          statistics_path="/api/statistieken.asp")
    with SimulatorServer(app) as elsewhere:
        moved = type(sim)(elsewhere.url, app.state.sim, app.state.counters, sim.data, app)
        (page,) = fetch(moved, statistics_path="/api/statistieken.asp")
        assert page.endpoint == "/api/statistieken.asp"
        assert page.body == fetch(sim)[0].body  # the same answer as at the default path
        with pytest.raises(ProviderRequestError, match="HTTP 404"):  # the default path is not there
            fetch(moved)


def test_the_statistics_path_setting_is_read_and_checked():
    account = account_from_env(SPEC, {"BELFABRIEK_STATISTICS_PATH": "/stats/v1/"})
    assert account.settings.statistics_path == "/stats/v1/"
    assert account_from_env(SPEC, {}).settings.statistics_path == "/statistics/"
    for wrong in ("statistics/", "https://api.belfabriek.nl/statistics/", "/statistics/?x=1"):
        with pytest.raises(ConfigurationError, match="BELFABRIEK_STATISTICS_PATH"):
            account_from_env(SPEC, {"BELFABRIEK_STATISTICS_PATH": wrong})


@pytest.mark.parametrize("shape", [{"encoding": "ISO-8859-1", "declaration": False},
                                   {"encoding": "ISO-8859-1"}, {"wrapper": "STATISTICS"}])
def test_latin1_and_wrapped_answers_are_read_not_refused(sim, shape):
    expected = fetch(sim)[0].records
    sim.answer(**shape)
    before = sim.requests()
    (page,) = fetch(sim)
    assert page.records == expected
    assert sim.requests() == before + 1  # read at the first attempt


def test_extension_display_can_be_switched_off(sim):
    (page,) = fetch(sim, extension_display=False)
    assert "extension_display" not in page.request_params
    assert b"EXTENSION_ID" not in page.body


def test_one_request_per_service_number_validated_and_normalised(sim):
    pages = fetch(sim, service_numbers=["+31 800 1234567", "319001122334", "00318001234567"])
    assert [(p.page, p.request_params["servicenumber"]) for p in pages] == [(1, "318001234567"),
                                                                            (2, "319001122334")]
    assert pages[1].body.count(b"servicenumber=") == 1 and b'servicenumber="319001122334"' in pages[1].body


@pytest.mark.parametrize("number", ["08001234567", "0800-1234567", "31800", "318001234567x",
                                    "+0031800123456"])
def test_a_service_number_not_in_international_format_is_refused_before_any_request(sim, number):
    before = sim.requests()
    with pytest.raises(ProviderRequestError, match="not in international format"):
        client(sim, service_numbers=[number])
    assert sim.requests() == before


@pytest.mark.parametrize("code, error", [("2", InvalidStartTimestamp), ("3", InvalidEndTimestamp),
                                         ("4", InvalidPeriod)])
def test_codes_2_to_4_are_typed_client_errors_not_retried(sim, code, error):
    sim.state.inject(Fault("body", times=5, body=error_body(code).decode(), content_type="text/xml"))
    before = sim.requests()
    with pytest.raises(error) as caught:
        fetch(sim)
    assert sim.requests() == before + 1
    assert isinstance(caught.value, ProviderRequestError) and not caught.value.retryable
    assert f"[code {code}]" in str(caught.value) and "(HTTP 200)" in str(caught.value)


def test_code_1_fails_without_retry_and_without_the_secret(sim):
    wrong = "ffffffffffffffffffffffffffffffff"
    before = sim.requests()
    with pytest.raises(ProviderAuthError) as caught:
        fetch(sim, customer_hash=wrong)
    message = str(caught.value)
    assert "customer hash and/or id refused: Invalid hash and/or user" in message and "[code 1]" in message
    assert wrong not in message and "customer_hash" not in message and "/statistics" not in message
    assert sim.requests() == before + 1 and sim.counters.errors == {"1": 1}


def test_an_error_body_with_an_http_error_status_is_still_read_by_its_code(sim):
    sim.state.inject(Fault("status", status=400, body=error_body("4").decode(), content_type="text/xml"))
    with pytest.raises(InvalidPeriod):
        fetch(sim)


def test_provider_text_echoing_the_hash_is_masked(sim):
    body = f"<ERROR>2</ERROR><MESSAGE>start_timestamp wrong for {HASH}</MESSAGE>"
    sim.state.inject(Fault("body", body=body, content_type="text/xml"))
    with pytest.raises(InvalidStartTimestamp) as caught:
        fetch(sim)
    assert HASH not in str(caught.value) and "***" in str(caught.value)


def test_code_5_backs_off_and_the_result_equals_an_unlimited_run(sim):
    numbers = ["318001234567", "319001122334", "318503036000", "31202404040"]
    clean = [p.body for p in fetch(sim, service_numbers=numbers)]
    sim.state.rate_limit_per_s = 1
    sim.state.inject(Fault("body", times=2, body=error_body("5").decode(), content_type="text/xml"))
    limited = fetch(sim, service_numbers=numbers, retry=RetryPolicy(max_attempts=8, backoff_base_s=0.01,
                                                                  backoff_max_s=0.05))
    assert [p.body for p in limited] == clean
    assert sim.counters.errors.get("5", 0) >= 1  # the server's own limit answered too, not only the faults


def test_code_5_that_never_ends_gives_up(sim):
    sim.state.inject(Fault("body", times=20, body=error_body("5").decode(), content_type="text/xml"))
    with pytest.raises(ProviderUnavailableError, match=r"gave up after 4 attempts: .*rate limited"):
        fetch(sim, retry=RetryPolicy(max_attempts=4, backoff_base_s=0.0, backoff_max_s=0.0),
              requests_per_second=500)


@pytest.mark.parametrize("fault", [
    Fault("status", times=2, status=503, body="<html>busy</html>", content_type="text/html"),
    Fault("truncate", times=1),
    Fault("body", times=2, body="<CALLER_DATA_RECORDS servicenumber='1'><RECORD>", content_type="text/xml"),
    Fault("body", times=1, body="<html><body>Onderhoud</body></html>", content_type="text/html"),
])
def test_transient_failures_are_retried(sim, fault):
    expected = fetch(sim)[0].body
    sim.state.inject(fault)
    assert fetch(sim)[0].body == expected


def test_an_unreadable_body_that_persists_fails_loudly(sim):
    sim.state.inject(Fault("body", times=10, body="<CALLER_DATA_RECORDS servicenumber='1'><RECORD>",
                           content_type="text/xml"))
    expected = "gave up after 4 attempts: .*not a statistics document.*truncated"
    with pytest.raises(ProviderResponseError, match=expected):
        fetch(sim)


def test_a_refused_connection_names_neither_url_nor_secret():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = BelfabriekClient(HASH, customer_id=CUSTOMER, account=ACCOUNT, base_url=f"http://127.0.0.1:{port}",
                         retry=RetryPolicy(max_attempts=2, backoff_base_s=0.0, backoff_max_s=0.0))
    with pytest.raises(ProviderUnavailableError) as caught:
        list(c.fetch_window(DAY))
    assert "ConnectError" in str(caught.value)
    assert HASH not in str(caught.value) and str(port) not in str(caught.value)
    assert caught.value.__suppress_context__  # no httpx exception, whose text holds the URL, is chained


@pytest.mark.parametrize("customer_hash, customer_id, match", [
    ("", CUSTOMER, "no customer hash"),
    ("tooshort", CUSTOMER, "32 letters and digits"),
    ("0f1e2d3c4b5a69788796a5b4c3d2e1f0 ", CUSTOMER, "32 letters and digits"),
    (HASH, " ", "no customer id"),
])
def test_bad_credentials_are_refused_before_any_request(customer_hash, customer_id, match):
    with pytest.raises(ProviderAuthError, match=match) as caught:
        BelfabriekClient(customer_hash, customer_id=customer_id, account=ACCOUNT, base_url="http://127.0.0.1:9")
    assert not customer_hash.strip() or customer_hash.strip() not in str(caught.value)


def test_pacer_spaces_requests_and_holds_after_a_rate_limit():
    now = [100.0]
    waits = []

    def sleep(seconds):
        waits.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert waits == [0.275, 0.275]  # 1.1 / 4: base.PACING_HEADROOM
    pacer.hold(1.0)
    pacer.wait()
    assert waits[-1] == 1.0
    now[0] += 5
    pacer.wait()
    assert len(waits) == 3  # idle long enough: no wait


def test_the_client_paces_itself_to_the_configured_rate(sim):
    sim.state.rate_limit_per_s = 5
    numbers = ["318001234567", "319001122334", "318503036000", "31202404040"]
    started = time.monotonic()
    pages = fetch(sim, service_numbers=numbers, requests_per_second=4)
    elapsed = time.monotonic() - started
    assert len(pages) == 4 and elapsed >= 0.75
    assert sim.counters.errors == {}  # never over the server's limit


def test_there_is_no_count_endpoint(sim):
    with client(sim) as c:
        assert c.provider_count(DAY) is None


def test_an_empty_window_is_refused(sim):
    with client(sim) as c, pytest.raises(ProviderRequestError, match="empty or reversed"):
        list(c.fetch_window((DAY[1], DAY[0])))


def test_a_window_off_whole_seconds_is_widened_never_narrowed(sim):
    start = DAY[0] + timedelta(microseconds=500)
    end = DAY[1] - timedelta(microseconds=500)
    (page,) = fetch(sim, window=(start, end))
    params = page.request_params
    assert (params["start_timestamp"], params["end_timestamp"]) == (1793577600, 1793664000)


NUMBERS = ["318001234567", "319001122334", "318503036000", "31202404040"]


def connector(url: str, application_name: str = "cdr-pacing-test"):
    """What the raw-pages asset hands DatabasePacing: connect(autocommit=...) as a context manager."""
    def connect(autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(url, autocommit=autocommit, application_name=application_name)

    return connect


@pytest.mark.parametrize("shared", [True, False], ids=["shared pacer", "each client alone"])
def test_two_clients_on_one_account_keep_its_rate_together_only_with_the_shared_pacer(
        sim, clean_warehouse, shared):
    """Two clients on one account at once (as two runs would be), 4 requests a second each
    allowed: the simulator sees at most 4 in any second with the pacer shared through PostgreSQL,
    and more when each paces itself alone (so the measurement can fail)."""
    pacings = [DatabasePacing(connector(clean_warehouse), "belfabriek", ACCOUNT) for _ in range(2)]
    clients = [client(sim, service_numbers=NUMBERS, requests_per_second=4,
                      pacer=pacing(4) if shared else None) for pacing in pacings]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(lambda c=c: list(c.fetch_window(DAY))) for c in clients]
        fetched = [future.result() for future in futures]
    for item in (*clients, *pacings):
        item.close()
    assert [len(pages) for pages in fetched] == [4, 4]
    most = sim.state.max_per_second[ACCOUNT]
    assert most <= 4 if shared else most > 4, sim.state.max_per_second


def test_the_database_pacer_spaces_slots_by_the_interval_from_when_each_was_taken(clean_warehouse):
    taken = []
    with closing(DatabasePacing(connector(clean_warehouse), "belfabriek", "slots")) as pacing:
        pacer = pacing(10)
        for pause in (0, 0, 0, 0.3, 0):
            time.sleep(pause)
            pacer.wait()
            taken.append(time.monotonic())
    gaps = [later - earlier for earlier, later in itertools.pairwise(taken)]
    # 1.1 / 10 apart (never earlier; a loaded machine, as CI's two cores are, may wake well
    # later, so the upper bounds only catch a pacer that waits far too long); after the
    # pause the slot had come: no wait, and the next is one interval after that one
    assert all(0.1 < gaps[i] < 0.6 for i in (0, 1, 3)), gaps
    assert 0.29 < gaps[2] < 0.9, gaps
    assert scalar(clean_warehouse, "SELECT count(*) FROM cdr.request_pacing"
                                   " WHERE provider = 'belfabriek' AND account = 'slots'") == 1


def test_an_error_5_holds_every_client_on_the_account(sim, clean_warehouse):
    slept: list[float] = []
    first = DatabasePacing(connector(clean_warehouse), "belfabriek", ACCOUNT)
    sim.state.inject(Fault("body", body=error_body("5").decode(), content_type="text/xml"))
    with closing(first), \
            client(sim, pacer=first(100), retry=RetryPolicy(max_attempts=1)) as limited, \
            pytest.raises(ProviderUnavailableError, match="rate limited"):
        list(limited.fetch_window(DAY))
    later = DatabasePacing(connector(clean_warehouse), "belfabriek", ACCOUNT,
                           sleep=lambda seconds: (slept.append(seconds), time.sleep(seconds)))
    with closing(later):
        later(100).wait()
    # RATE_LIMIT_HOLD_S after the error, less the milliseconds since
    assert 0.8 < sum(slept) <= 1.05 and len(slept) <= 2


def test_the_database_pacer_reconnects_when_its_connection_is_cut(clean_warehouse):
    name = f"cdr-pacing-{uuid.uuid4().hex[:8]}"
    with closing(DatabasePacing(connector(clean_warehouse, name), "belfabriek", "cut")) as pacing:
        pacer = pacing(1000)
        pacer.wait()
        with psycopg.connect(clean_warehouse, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = %s", (name,))
        pacer.wait()
        pacer.hold(0.0)
