"""TENIOS client against its simulator over real HTTP: the API's error answers, the window's
bounds (a leg at exactly midnight, the previous day's legs an early start brings along) and the
count reconciled under the same reading."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import orjson
import pytest

from pipelines.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailableError,
)
from pipelines.model import CallLeg, RawPage
from pipelines.providers.base import RetryPolicy
from pipelines.providers.settings import settings_from_env
from pipelines.providers.tenios import SPEC
from pipelines.providers.tenios.client import TeniosClient, window_bounds
from pipelines.providers.tenios.parse import parse_pages
from pipelines.providers.tenios.settings import DEFAULT_PARSE_SETTINGS, TeniosSettings
from pipelines.providers.tenios.simulator import STAMP_FORMS, TeniosData, build_simulator, day_legs
from pipelines.simulation import Fault, SimState, SimulatorServer

KEY = "sim-key-5d0e7c1f3a"
DATA = TeniosData(legs_per_day=40, late_fraction=0.0, call_before_midnight=True)
DAY = date(2026, 10, 5)
WINDOW = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)


NOW = datetime(2027, 1, 1, tzinfo=UTC)  # every leg visible


@pytest.fixture(scope="module")
def sim():
    state = SimState(fixed_now=NOW)
    with SimulatorServer(build_simulator({KEY: "acct"}, DATA, state)) as server:
        yield server, state


@pytest.fixture
def url(sim):
    server, state = sim
    state.reset()
    state.fixed_now = NOW
    yield server.url
    httpx.post(f"{server.url}/_sim/stamp_form", json={"form": "z"}).raise_for_status()


def requests(state: SimState, since: int) -> int:
    return state.requests_served - since


def client(url: str, key: str = KEY, **kwargs) -> TeniosClient:
    return TeniosClient(key, account="acct", base_url=url, retry=FAST, page_size=15,
                        stamp_zone=DEFAULT_PARSE_SETTINGS.zone, **kwargs)


def served(window=WINDOW) -> list[str]:
    """The uuids of the legs that started in `window`, straight from the simulator's generator."""
    legs = [leg for day in (DAY - timedelta(days=1), DAY) for leg in day_legs(DATA, "acct", day)]
    return sorted(record["uuid"] for start, _, record in legs if window[0] <= start < window[1])


def loaded(pages, window=WINDOW) -> list[CallLeg]:
    raw = [RawPage(i, p.page, p.body, p.content_type, p.request_params, window) for i, p in enumerate(pages)]
    return [item for item in parse_pages(raw, "acct") if type(item) is CallLeg]


# --- error answers --------------------------------------------------------------------------------

def test_a_wrong_key_is_bad_credentials_an_auth_error_tried_once(url, sim):
    wrong, before = "wrong-key-3c9e11aa70", sim[1].requests_served
    with client(url, wrong) as c, pytest.raises(ProviderAuthError) as raised:
        list(c.fetch_window(WINDOW))
    error = raised.value
    assert (error.code, error.status) == ("BAD_CREDENTIALS", 400)
    assert str(error).startswith("tenios: window [2026-10-05T00:00:00+00:00, 2026-10-06T00:00:00+00:00):"
                                 " access key refused: Invalid access key (HTTP 400) [code BAD_CREDENTIALS]")
    assert wrong not in str(error) and KEY not in str(error)
    assert requests(sim[1], before) == 1  # never retried


def test_the_simulator_answers_errors_as_the_api_does(url):
    wrong = httpx.post(f"{url}/cdrs/retrieve", content=b'{"access_key": "nope", "page": 1}')
    assert wrong.status_code == 400
    assert wrong.json() == {"error_code": "BAD_CREDENTIALS", "error_message": "Invalid access key",
                            "fields": [], "success": False}
    missing = httpx.post(f"{url}/cdrs/retrieve", content=orjson.dumps({"access_key": KEY, "page": 1}))
    assert (missing.status_code, missing.json()["error_code"], missing.json()["fields"]) \
        == (400, "INVALID_FIELD", ["start_date_from", "start_date_to", "page_size"])
    broken = httpx.post(f"{url}/cdrs/count", content=b'{"access_key": ')
    assert (broken.status_code, broken.json()["error_code"]) == (400, "INVALID_JSON")


def test_a_bad_request_value_is_a_request_error_naming_the_field(url, sim):
    before = sim[1].requests_served
    with client(url) as c:
        c._page_size = 0  # what the simulator refuses
        with pytest.raises(ProviderRequestError) as raised:
            list(c.fetch_window(WINDOW))
    error = raised.value
    assert not isinstance(error, ProviderAuthError)
    assert (error.code, error.status) == ("INVALID_VALUE", 400)
    assert "(fields: page_size)" in str(error) and KEY not in str(error)
    assert requests(sim[1], before) == 1


@pytest.mark.parametrize("status, body, error_type, code", [
    (400, {"error_code": "INVALID_JSON", "error_message": "Malformed JSON", "fields": []},
     ProviderRequestError, "INVALID_JSON"),
    (400, {"error_code": "INVALID_FIELD", "error_message": "Unknown field", "fields": ["start_date_from"],
           "success": False}, ProviderRequestError, "INVALID_FIELD"),
    (200, {"error_code": "INVALID_VALUE", "error_message": "bad date", "fields": ["start_date_to"]},
     ProviderRequestError, "INVALID_VALUE"),
    # codes the client knew before the API's were seen are still read
    (401, {"error_code": "INVALID_ACCESS_KEY", "error_message": "The access key is invalid"},
     ProviderAuthError, "INVALID_ACCESS_KEY"),
    (200, {"success": False, "error_code": "BAD_CREDENTIALS"}, ProviderAuthError, "BAD_CREDENTIALS"),
])
def test_error_answers_are_typed_with_their_code_and_fields(url, sim, status, body, error_type, code):
    sim[1].inject(Fault("status", times=5, status=status, body=orjson.dumps(body).decode()))
    with client(url) as c, pytest.raises(error_type) as raised:
        list(c.fetch_window(WINDOW))
    assert raised.value.code == code and type(raised.value) is error_type
    assert sim[1].faults_applied == 1, "a refused request is not retried"
    for field in body.get("fields", []):
        assert f"fields: {field}" in str(raised.value)


def test_rate_limits_and_5xx_are_still_retried(url, sim):
    sim[1].inject(Fault("rate_limited", times=1, status=429))
    sim[1].inject(Fault("status", times=1, status=503, body="<html>busy</html>"))
    with client(url) as c:
        assert sum(page.records for page in c.fetch_window(WINDOW)) == len(served())
    sim[1].inject(Fault("status", times=10, status=502, body=""))
    with client(url) as c, pytest.raises(ProviderUnavailableError):
        list(c.fetch_window(WINDOW))


# --- window bounds --------------------------------------------------------------------------------

def test_requests_ask_from_a_second_before_the_window_to_its_last_millisecond():
    assert window_bounds(WINDOW) == {"start_date_from": "2026-10-04T23:59:59.000Z",
                                     "start_date_to": "2026-10-05T23:59:59.999Z"}
    assert window_bounds(WINDOW, 1)["start_date_from"] == "2026-10-04T23:59:59.999Z"


def test_a_leg_at_exactly_midnight_is_the_windows_and_the_previous_days_are_not(url):
    midnight = day_legs(DATA, "acct", DAY)[0]
    assert midnight[0] == WINDOW[0], "the simulator starts a call at exactly 00:00:00.000"
    before = [r["uuid"] for s, _, r in day_legs(DATA, "acct", DAY - timedelta(days=1))
              if WINDOW[0] - timedelta(seconds=1) < s < WINDOW[0]]
    assert before, "and one in the second before it"
    with client(url) as c:
        pages = list(c.fetch_window(WINDOW))
        count = c.provider_count(WINDOW)
    held = {item["uuid"] for page in pages for item in orjson.loads(page.body)["items"]}
    assert midnight[2]["uuid"] in held and set(before) <= held  # the bodies hold what was fetched
    legs = loaded(pages)
    assert sorted(leg.leg_key for leg in legs) == served()
    assert all(WINDOW[0] <= leg.started_at < WINDOW[1] for leg in legs)
    # records and the count are the window's own legs: the previous day's are not counted
    assert sum(page.records for page in pages) == count == len(served())


def test_without_the_early_start_the_strict_api_loses_the_midnight_leg(url):
    """What the lead is for: the simulator reads start_date_from as "started after"."""
    with client(url, start_lead_ms=0) as c:
        legs = loaded(c.fetch_window(WINDOW))
    assert len(legs) == len(served()) - 1
    assert WINDOW[0] not in {leg.started_at for leg in legs}


def test_the_count_is_asked_for_the_same_bounds_and_the_legs_outside_subtracted(url):
    bounds = window_bounds(WINDOW)
    answered = httpx.post(f"{url}/cdrs/count", content=orjson.dumps({"access_key": KEY, **bounds})).json()
    with client(url) as c:
        assert c.provider_count(WINDOW) == answered["total_items"], "no fetch yet: as answered"
        list(c.fetch_window(WINDOW))
        count = c.provider_count(WINDOW)
    assert answered["total_items"] > count == len(served())


@pytest.mark.parametrize("form", STAMP_FORMS)
def test_every_stamp_form_gives_the_same_window(url, form):
    httpx.post(f"{url}/_sim/stamp_form", json={"form": form}).raise_for_status()
    with client(url) as c:
        pages = list(c.fetch_window(WINDOW))
        count = c.provider_count(WINDOW)
    legs = loaded(pages)
    assert sorted(leg.leg_key for leg in legs) == served()
    assert sum(page.records for page in pages) == count == len(served())
    if form.startswith("naive"):
        assert all(orjson.loads(leg.attributes)["stamp_without_offset"] for leg in legs)


@pytest.mark.parametrize("variable, value, message", [
    ("TENIOS_STAMP_TIME_ZONE", "Mars/Olympus", "not an IANA time zone"),
    ("TENIOS_REQUEST_START_LEAD_MS", "-1", "expected 0 to 60000 milliseconds"),
    ("TENIOS_REQUEST_START_LEAD_MS", "90000", "expected 0 to 60000 milliseconds"),
])
def test_the_new_settings_are_checked_as_they_are_read(variable, value, message):
    with pytest.raises(ConfigurationError) as raised:
        settings_from_env(TeniosSettings, "TENIOS", {variable: value})
    assert str(raised.value).startswith(f"{variable}={value!r}: {message}")


def test_the_zone_setting_is_part_of_the_parser_version():
    berlin, utc = TeniosSettings(), TeniosSettings(stamp_time_zone="UTC")
    assert SPEC.parser_version(berlin) != SPEC.parser_version(utc)
    assert SPEC.parser_version(berlin) == SPEC.parser_version(TeniosSettings(request_start_lead_ms=1))
