"""Telecom X client against the simulator over real HTTP: auth, token masking, documented errors."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from openpyxl import load_workbook

from pipelines.errors import ProviderAuthError, ProviderRequestError, ProviderResponseError
from pipelines.providers.base import RetryPolicy
from pipelines.providers.telecomx.client import TelecomXClient
from pipelines.providers.telecomx.parse import AmbiguousWindowError
from pipelines.providers.telecomx.simulator import build_simulator
from pipelines.simulation import Fault, SimState, SimulatorServer

TOKEN = "m2m-secret-7f3e9a"
DAY = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.001, backoff_max_s=0.01)


@pytest.fixture(scope="module")
def sim():
    state = SimState()
    app = build_simulator({"bo@example.dk": ("pw-secret", ["C1", "C2"])}, {TOKEN: ["C1"]}, state=state)
    with SimulatorServer(app) as server:
        yield server.url, state, app.state.telecomx


@pytest.fixture(autouse=True)
def fresh(sim):
    _, state, controls = sim
    state.reset()
    controls.blacklisted, controls.ip_bound_tokens = False, set()
    controls.logins = controls.logouts = controls.stats_requests = 0


def client(sim, **options) -> TelecomXClient:
    credentials = {} if "username" in options else {"token": TOKEN}
    return TelecomXClient(account="acct", base_url=sim[0], retry=FAST,
                          **{"customers": ["C1"], **credentials, **options})


def test_m2m_token_goes_in_the_query_and_never_into_request_params(sim):
    with client(sim) as c:
        (page,) = c.fetch_window(DAY)
    assert TOKEN not in orjson.dumps(page.request_params).decode()
    assert page.request_params["from"] == "2026-11-02T00:00:00.000Z"
    assert page.request_params["to"] == "2026-11-02T23:59:59.999Z"
    assert (page.request_params["direction"], page.request_params["groupingInterval"]) == ("BOTH", "HOUR")
    assert page.request_params["fields"][:2] == ["employeeId", "employeeName"] and page.records == 6


def test_one_page_per_customer(sim):
    with client(sim, username="bo@example.dk", password="pw-secret", customers=["C1", "C2"]) as c:
        pages = list(c.fetch_window(DAY))
    assert [(p.page, p.request_params["customer"]) for p in pages] == [(1, "C1"), (2, "C2")]
    assert pages[0].body != pages[1].body


def test_password_session_expires_after_15_simulated_minutes_and_logs_in_again(sim):
    _, state, controls = sim
    with client(sim, username="bo@example.dk", password="pw-secret") as c:
        list(c.fetch_window(DAY))
        state.clock_offset += timedelta(minutes=16)
        (page,) = c.fetch_window((DAY[1], DAY[1] + timedelta(days=1)))
        assert page.records == 6 and c.logins == 2
    assert controls.logouts == 0  # never /auth/logout: it would end every token of the user


def test_login_refused_is_fatal_and_names_no_secret(sim):
    with pytest.raises(ProviderAuthError, match="login refused") as caught:
        list(client(sim, username="bo@example.dk", password="wrong-pw").fetch_window(DAY))
    assert "wrong-pw" not in str(caught.value)


@pytest.mark.parametrize("setup, message, code", [
    (lambda c: setattr(c, "blacklisted", True), "blacklisted by Telecom X", "blacklisted"),
    (lambda c: setattr(c, "ip_bound_tokens", {TOKEN}), "bound to another IP", "invalid_token"),
])
def test_ip_errors_are_fatal_with_a_clear_message(sim, setup, message, code):
    setup(sim[2])
    with pytest.raises(ProviderAuthError, match=message) as caught:
        list(client(sim).fetch_window(DAY))
    assert caught.value.code == code and sim[2].stats_requests == 1 and TOKEN not in str(caught.value)


def test_access_denied_is_fatal(sim):
    with pytest.raises(ProviderAuthError, match="access denied") as caught:
        list(client(sim, customers=["C9"]).fetch_window(DAY))
    assert caught.value.status == 403 and caught.value.code == "access_denied" and sim[2].stats_requests == 1


@pytest.mark.parametrize("code", ["from", "format", "groupingInterval"])
def test_422_field_errors_are_typed_request_errors(sim, code):
    body = orjson.dumps({"error": code, "message": "Invalid"}).decode()
    sim[1].inject(Fault("status", status=422, body=body, path="/pbx/cdrstats"))
    with pytest.raises(ProviderRequestError, match=f"request field '{code}' refused") as caught:
        list(client(sim).fetch_window(DAY))
    assert caught.value.code == code and "window [2026-11-02" in str(caught.value)


def test_internal_error_is_retried(sim):
    sim[1].inject(Fault("status", status=500, times=2, body='{"error": "internal_error"}',
                        path="/pbx/cdrstats"))
    with client(sim) as c:
        (page,) = c.fetch_window(DAY)
    assert page.records == 6 and sim[2].stats_requests == 1  # faults answer before the handler counts


def test_token_echoed_in_an_error_body_is_masked(sim):
    body = f'{{"error": "bad request", "message": "token {TOKEN} odd"}}'
    sim[1].inject(Fault("status", status=400, body=body, path="/pbx/cdrstats"))
    with pytest.raises(ProviderRequestError) as caught:
        list(client(sim).fetch_window(DAY))
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize("body, message", [
    ("{}", "empty JSON object"),
    ('{"token": "login-token-55e1", "expiresInMinutes": 15}', "an /auth/login answer"),
    ('[{"_id": "x", "started": "2020-11-24T09:15:02.000Z"}]', "none of them an employee's statistics"),
])
def test_an_answer_that_is_not_cdrstats_fails_the_window(sim, body, message):
    sim[1].inject(Fault("body", times=5, body=body, path="/pbx/cdrstats"))
    with pytest.raises(ProviderResponseError) as caught:
        list(client(sim).fetch_window(DAY))
    text = str(caught.value)
    assert message in text and text.startswith("telecomx: window [2026-11-02")
    assert "login-token-55e1" not in text


def test_ambiguous_window_is_refused_before_sending(sim):
    with pytest.raises(AmbiguousWindowError, match="HOUR key 0 would name both"):
        list(client(sim).fetch_window((DAY[0], DAY[1] + timedelta(hours=3))))
    with pytest.raises(AmbiguousWindowError, match="DAY key"):
        list(client(sim, grouping="DAY").fetch_window((DAY[0], DAY[0] + timedelta(days=40))))
    assert sim[2].stats_requests == 0


def test_no_credentials_and_bad_settings_are_refused():
    with pytest.raises(ProviderAuthError, match="TELECOMX_TOKEN"):
        TelecomXClient(account="a", base_url="http://127.0.0.1:9")
    with pytest.raises(ProviderRequestError, match="groupingInterval 'YEAR'"):
        TelecomXClient(account="a", base_url="http://127.0.0.1:9", token="t", grouping="YEAR")
    with pytest.raises(ProviderRequestError, match="not an IANA zone"):
        TelecomXClient(account="a", base_url="http://127.0.0.1:9", token="t", grouping_tz="Mars/Olympus")


def stats(sim, **body):
    payload = {"customer": "C1", "from": "2026-11-02T00:00:00.000Z", "to": "2026-11-02T23:59:59.999Z",
               "groupingInterval": "HOUR", **body}
    return httpx.post(f"{sim[0]}/pbx/cdrstats", params={"token": TOKEN}, content=orjson.dumps(payload))


@pytest.mark.parametrize("body, status, code", [
    ({"format": "PDF"}, 422, "format"),
    ({"groupingInterval": "YEAR"}, 422, "groupingInterval"),
    ({"from": "2026-11-03T00:00:00.000Z"}, 422, "from"),
    ({"from": "2020-01-01-T00:00:00.000Z"}, 422, "from"),  # the doc's own stray hyphen
    ({"customer": "C2"}, 403, "access_denied"),
])
def test_simulator_answers_documented_errors(sim, body, status, code):
    response = stats(sim, **body)
    assert (response.status_code, response.json()["error"]) == (status, code)


def test_simulator_serves_csv_and_excel_with_the_same_rows(sim):
    intervals = sum(len(e["data"]) for e in stats(sim).json())
    csv_lines = stats(sim, format="CSV").text.splitlines()
    assert csv_lines[0].startswith(
        "employeeId,employeeName,extensionId,extensionNumber,interval,outboundCalls")
    sheet = load_workbook(io.BytesIO(stats(sim, format="EXCEL").content)).active
    assert len(csv_lines) - 1 == sheet.max_row - 1 == intervals > 0


def test_simulator_filters_and_logout_ends_sessions(sim):
    everything = stats(sim).json()
    inbound_only = stats(sim, direction="IN", fields=["employeeId", "outboundCalls", "inboundCalls"]).json()
    assert set(inbound_only[0]) == {"employeeId", "data"}
    assert all(v["outboundCalls"] == 0 for e in inbound_only for v in e["data"].values())
    assert sum(v["inboundCalls"] for e in inbound_only for v in e["data"].values()) == sum(
        v["inboundCalls"] for e in everything for v in e["data"].values())
    login = httpx.post(f"{sim[0]}/auth/login",
                       json={"username": "bo@example.dk", "password": "pw-secret"}).json()
    assert login["expiresInMinutes"] == 15
    assert httpx.get(f"{sim[0]}/auth/logout", params={"token": login["token"]}).status_code == 200
    after_logout = httpx.post(f"{sim[0]}/pbx/cdrstats", params={"token": login["token"]}).json()
    assert after_logout["error"] == "credentials_invalid"
