"""MIXvoip client against its simulator over real HTTP: URL variants, date chunks under the
3-month cap, profiles, refusals, and credentials that never leave the client."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from pipelines.config import account_from_env
from pipelines.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderRequestError,
    ProviderResponseError,
)
from pipelines.model import CallLeg, Quarantined, RawPage
from pipelines.providers.base import RetryPolicy
from pipelines.providers.mixvoip import SPEC
from pipelines.providers.mixvoip.billing import BillingItem
from pipelines.providers.mixvoip.client import MixvoipClient, date_chunks
from pipelines.providers.mixvoip.parse import loads_lenient, parse_pages
from pipelines.providers.mixvoip.simulator import LOCAL, MixvoipData, build_simulator, day_records
from pipelines.simulation import Fault, SimState, SimulatorServer

USER, PASSWORD = "reseller-x", "s3cret-pw-81c2"
PROFILES = ["100201", "100202"]
OTHER_PROFILE = "999999"
DAY = (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)


def serve(data: MixvoipData):
    state = SimState(fixed_now=datetime(2027, 1, 1, tzinfo=UTC))
    app = build_simulator({USER: (PASSWORD, PROFILES), "other": ("pw", [OTHER_PROFILE])}, data, state)
    return SimulatorServer(app), state


@pytest.fixture(scope="module")
def sim():
    server, state = serve(MixvoipData(calls_per_day=6))
    with server:
        yield server, state


def client(url: str, **kwargs) -> MixvoipClient:
    options = {"account": "acct", "profiles": ",".join(PROFILES), "base_url": url, "retry": FAST, **kwargs}
    return MixvoipClient(options.pop("username", USER), options.pop("password", PASSWORD), **options)


def parsed(pages, window):
    raw = [RawPage(i, p.page, p.body, p.content_type, p.request_params, window) for i, p in enumerate(pages)]
    return list(parse_pages(raw, "acct"))


def expected_keys(data: MixvoipData, window) -> Counter:
    """What the simulator holds for the window, straight from its generator: (type, UTC start) counts."""
    counts: Counter = Counter()
    day = window[0].astimezone(LOCAL).date() - timedelta(days=1)
    while day <= window[1].astimezone(LOCAL).date():
        for profile in PROFILES:
            for start, _, kind, _ in day_records(data, profile, USER, day):
                moment = start.replace(tzinfo=LOCAL).astimezone(UTC)
                if window[0] <= moment < window[1]:
                    counts[(profile, kind, moment)] += 1
        day += timedelta(days=1)
    return counts


def got_keys(items) -> Counter:
    seen = {}
    for item in items:
        assert type(item) is not Quarantined, item
        if type(item) is CallLeg:
            profile = orjson.loads(item.attributes)["profile_id"]
            seen[item.leg_key] = (profile, item.call_type, item.started_at)
        else:
            seen[item.item_key] = (item.profile_id, item.item_type, item.billed_at)
    return Counter(seen.values())


def test_day_window_asks_whole_local_days_per_profile(sim):
    server, _ = sim
    with client(server.url) as c:
        pages = list(c.fetch_window(DAY))
    assert [(p.page, p.endpoint) for p in pages] == [
        (1, "/cdrs/getcalls/100201/2026-10-05/2026-10-07/json"),
        (2, "/cdrs/getcalls/100202/2026-10-05/2026-10-07/json")]
    assert pages[0].request_params == {"profile_id": "100201", "start_date": "2026-10-05",
                                       "end_date": "2026-10-07", "format": "json"}
    assert all(p.http_status == 200 and p.records > 0 for p in pages)
    assert got_keys(parsed(pages, DAY)) == expected_keys(MixvoipData(calls_per_day=6), DAY)


@pytest.mark.parametrize("end_inclusive", [True, False])
def test_seven_month_window_is_split_into_valid_chunks(end_inclusive):
    data = MixvoipData(calls_per_day=3, end_inclusive=end_inclusive)
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))
    chunks = date_chunks(window, ZoneInfo("Europe/Luxembourg"))
    # 00:00 UTC is 02:00 local on Aug 1
    assert chunks[0][0] == date(2026, 1, 1) and chunks[-1][1] == date(2026, 8, 2)
    assert all(start < end <= start + timedelta(days=31) for start, end in chunks)
    assert all(a[1] == b[0] for a, b in pairwise(chunks))  # no gap whatever END's inclusivity
    server, state = serve(data)
    with server, client(server.url) as c:
        pages = list(c.fetch_window(window))
        assert state.requests_served == len(pages) == 2 * len(chunks) == 14
    assert len({p.page for p in pages}) == len(pages)
    items = parsed(pages, window)
    # boundary days fetched twice give their records the same keys: each record once
    assert got_keys(items) == expected_keys(data, window)


def test_csv_and_the_old_url_forms(sim):
    server, _ = sim
    with client(server.url) as c:
        json_items = parsed(list(c.fetch_window(DAY)), DAY)
    for options, suffix in [({"fmt": "csv"}, "/csv"), ({"fmt": "csv", "format_case": "upper"}, "/CSV"),
                            ({"fmt": "json", "format_case": "upper"}, "/JSON"),
                            ({"fmt": "CSV", "legacy_urls": True, "format_case": "upper"}, "/CSV"),
                            ({"fmt": "json", "legacy_urls": True}, "/2026-10-07")]:
        with client(server.url, **options) as c:
            pages = list(c.fetch_window(DAY))
        assert all(p.endpoint.endswith(suffix) for p in pages)
        items = parsed(pages, DAY)
        # the same rows, keys included, from either format; only JSON billing items carry call_end
        assert items == [i._replace(billed_until=None) if type(i) is BillingItem and "csv" in suffix.lower()
                         else i for i in json_items], options
    assert {type(i) for i in json_items} == {CallLeg, BillingItem}


@pytest.mark.parametrize("served", ["lower", "upper"])
def test_format_case_setting_against_a_simulator_that_takes_one_case(served):
    """The docs' revisions disagree on the segment's case; a server that takes only one refuses
    the other as an unknown format, and `format_case` is what makes the client speak its case."""
    state = SimState(fixed_now=datetime(2027, 1, 1, tzinfo=UTC))
    app = build_simulator({USER: (PASSWORD, PROFILES)}, MixvoipData(calls_per_day=4), state,
                          format_case=served)
    other = "upper" if served == "lower" else "lower"
    with SimulatorServer(app) as server:
        for fmt in ("json", "csv"):
            with client(server.url, fmt=fmt, format_case=served) as c:
                pages = list(c.fetch_window(DAY))
            segment = fmt.upper() if served == "upper" else fmt
            assert [p.endpoint.rsplit("/", 1)[1] for p in pages] == [segment, segment]
            assert got_keys(parsed(pages, DAY)) == expected_keys(MixvoipData(calls_per_day=4), DAY)
            with client(server.url, fmt=fmt, format_case=other) as c, \
                    pytest.raises(ProviderRequestError, match="Unknown format") as refused:
                list(c.fetch_window(DAY))
            assert str(refused.value).startswith("mixvoip: window [2026-10-05")
        seen = httpx.get(server.url + "/_sim/mixvoip").json()
    assert seen["format_case"] == served
    assert set(seen["format_segments"]) == {"json", "csv", "JSON", "CSV"}


def test_simulator_takes_either_case_by_default_and_is_switched_over_http(sim):
    server, _ = sim
    auth = {"username": USER, "password": PASSWORD}
    for segment in ("json", "JSON", "csv", "CSV"):
        answer = httpx.get(f"{server.url}/cdrs/getcalls/100201/2026-10-05/2026-10-06/{segment}", params=auth)
        assert answer.headers["content-type"].startswith("text/csv" if segment.lower() == "csv"
                                                         else "application/json"), segment
    try:
        assert httpx.post(server.url + "/_sim/mixvoip", json={"format_case": "upper"}).json()["format_case"] \
            == "upper"
        refused = loads_lenient(httpx.get(f"{server.url}/cdrs/getcalls/100201/2026-10-05/2026-10-06/json",
                                          params=auth).content)
        assert refused["return"] == {"code": 400, "message": "Unknown format json"}
        assert httpx.post(server.url + "/_sim/mixvoip", json={"format_case": "title"}).status_code == 400
    finally:
        httpx.post(server.url + "/_sim/mixvoip", json={"format_case": "any"})


@pytest.mark.parametrize("body, message", [
    ("{}", "empty JSON object"),
    ('{"return":{"code":200,"message":"OK","data":[]}}', "getBillingData"),
    ('{"calls": []}', "JSON object (keys calls)"),
])
def test_an_answer_that_is_not_getcalls_records_fails_the_window(body, message):
    server, state = serve(MixvoipData(calls_per_day=2))
    state.inject(Fault(kind="body", times=10, body=body))
    with server, client(server.url) as c, pytest.raises(ProviderResponseError) as caught:
        list(c.fetch_window(DAY))
    assert message in str(caught.value) and str(caught.value).startswith("mixvoip: window [2026-10-05")


def test_an_error_envelope_with_the_code_as_text_is_still_typed():
    server, state = serve(MixvoipData(calls_per_day=2))
    state.inject(Fault(kind="body", times=1, body='{"return":{"code":"403","message":"not linked"}}'))
    with server, client(server.url) as c, pytest.raises(ProviderAuthError, match="not linked"):
        list(c.fetch_window(DAY))
    assert state.requests_served == 1


def test_simulator_url_variants_and_range_rules(sim):
    server, _ = sim
    auth = {"username": USER, "password": PASSWORD}

    def get(path):
        return httpx.get(server.url + "/cdrs/getcalls/100201/" + path, params=auth)

    def envelope(path):
        return loads_lenient(get(path).content)

    assert get("2026-10-05/2026-10-06/CSV").headers["content-type"].startswith("text/csv")
    assert get("2026-10-05/2026-10-06/csv").headers["content-type"].startswith("text/csv")
    assert get("2026-10-05/2026-10-06").headers["content-type"].startswith("application/json")
    assert get("2026-12-20/csv").headers["content-type"].startswith("text/csv")  # END defaults to today
    for path, message in [("2026-10-06/2026-10-05", "must be smaller"),
                          ("2026-10-05/2026-10-05", "must be smaller"),
                          ("2026-01-01/2026-04-02", "cannot exceed 3 months"),
                          ("05.10.2026/2026-10-06", "Invalid date")]:
        body = envelope(path)
        assert body["return"]["code"] == 400 and message in body["return"]["message"], path
    assert isinstance(envelope("2026-01-01/2026-04-01"), list)  # exactly 3 months is allowed
    text = get("2026-10-05/2026-10-06").content
    assert b"N\\/A" in text or b"\\/" not in text


def test_client_enforces_the_range_rules_before_asking(sim):
    server, state = sim
    before = state.requests_served
    with client(server.url) as c:
        with pytest.raises(ProviderRequestError, match="not before END_DATE"):
            c.path("100201", date(2026, 10, 5), date(2026, 10, 5))
        with pytest.raises(ProviderRequestError, match="window end is not after its start"):
            list(c.fetch_window((DAY[0], DAY[0])))
    with pytest.raises(ProviderRequestError, match="chunk_days"):
        client(server.url, chunk_days=92)
    with pytest.raises(ProviderRequestError, match="MIXVOIP_BASE_URL"):
        client("")
    with pytest.raises(ProviderRequestError, match="plain customer number"):
        client(server.url, profiles="100201,../admin")
    assert state.requests_served == before



def test_settings_from_the_environment_are_checked_when_read(sim):
    server, state = sim
    before = state.requests_served
    for variable, value in (("MIXVOIP_CHUNK_DAYS", "92"), ("MIXVOIP_FORMAT", "xml"),
                            ("MIXVOIP_FORMAT_CASE", "title"), ("MIXVOIP_LEGACY_URLS", "maybe")):
        with pytest.raises(ConfigurationError, match=variable):
            account_from_env(SPEC, {variable: value})
    secrets = {"MIXVOIP_USERNAME": USER, "MIXVOIP_PASSWORD": PASSWORD}
    account = account_from_env(SPEC, {"MIXVOIP_PROFILE_IDS": ",".join(PROFILES), **secrets})
    # the base URL is not a checked setting: the client refuses to open without it, as before
    with pytest.raises(ProviderRequestError, match="MIXVOIP_BASE_URL"):
        account.open_client(secrets)
    with pytest.raises(ConfigurationError, match="MIXVOIP_USERNAME \\+ MIXVOIP_PASSWORD"):
        account.open_client({"MIXVOIP_USERNAME": USER})
    assert state.requests_served == before
    environment = {"MIXVOIP_BASE_URL": server.url, "MIXVOIP_PROFILE_IDS": ",".join(PROFILES),
                   "MIXVOIP_ACCOUNT": "acct", "MIXVOIP_CHUNK_DAYS": "2", **secrets}
    account = account_from_env(SPEC, environment)
    settings = account.settings
    assert (account.account, settings.profile_ids, settings.chunk_days) == ("acct", tuple(PROFILES), 2)
    with account.open_client(environment) as c:
        pages = list(c.fetch_window(DAY))
    assert got_keys(parsed(pages, DAY)) == expected_keys(MixvoipData(calls_per_day=6), DAY)


@pytest.mark.parametrize("error_status", [200, 401])
@pytest.mark.parametrize("options, message", [
    ({"password": "wrong-pass-77aa"}, "credentials or profile link refused"),
    ({"profiles": "100201," + OTHER_PROFILE},
     f"profile {OTHER_PROFILE}: Profile {OTHER_PROFILE} is not linked"),
])
def test_refusals_are_auth_errors_without_secrets(options, message, error_status):
    server, state = serve(MixvoipData(calls_per_day=2, error_status=error_status))
    with server, client(server.url, **options) as c:
        with pytest.raises(ProviderAuthError) as caught:
            list(c.fetch_window(DAY))
        text = str(caught.value)
        assert message in text and "mixvoip" in text and "2026-10-05" in text
        for secret in (PASSWORD, "wrong-pass-77aa", "password="):
            assert secret not in text
        assert caught.value.__cause__ is None
        served = state.requests_served
    assert served <= 2  # never retried


def test_server_echoing_the_credentials_is_scrubbed():
    server, state = serve(MixvoipData(calls_per_day=2))
    refusal = f'{{"return":{{"code":403,"message":"user {USER} / {PASSWORD} refused"}}}}'
    state.inject(Fault(kind="body", times=1, body=refusal))
    with server, client(server.url) as c, pytest.raises(ProviderAuthError) as caught:
        list(c.fetch_window(DAY))
    assert PASSWORD not in str(caught.value) and USER not in str(caught.value) and "***" in str(caught.value)


def test_transient_failures_are_retried(sim):
    server, state = sim
    state.inject(Fault(kind="status", status=503, times=1, body="<html>busy</html>",
                       content_type="text/html"))
    state.inject(Fault(kind="body", times=1, body="<html>proxy error</html>", content_type="text/html"))
    state.inject(Fault(kind="truncate", times=1))
    with client(server.url, retry=RetryPolicy(max_attempts=5, backoff_base_s=0.01, backoff_max_s=0.02)) as c:
        pages = list(c.fetch_window(DAY))
    assert len(pages) == 2 and all(p.body.startswith(b"[") for p in pages)


def test_provider_count_is_none(sim):
    server, _ = sim
    with client(server.url) as c:
        assert c.provider_count(DAY) is None
