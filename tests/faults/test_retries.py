"""Retries as README and docs/reliability.md describe them, measured rather than assumed: the
delays a client waits (recorded through the retry policy's injected sleep, so no test waits them
out) are bounded, grow with each attempt, are jittered, and honour Retry-After; refused
credentials are never retried; and every client gives up at its own timeout instead of waiting
for a slow provider. Faults are served by the simulators over HTTP and counted there."""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from pipelines.config import account_from_env
from pipelines.errors import ProviderAuthError, ProviderUnavailableError
from pipelines.providers.base import RetryPolicy
from pipelines.providers.tenios.client import TeniosClient
from tests.providers_under_test import providers_under_test
from tests.simulator_driver import simulators

SPECS = providers_under_test()
WINDOW = (datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))
BASE_S, MAX_S = 1.0, 8.0


@pytest.fixture(scope="module")
def drivers():
    with simulators(list(SPECS)) as running:
        yield running


class RecordedSleep:
    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def tenios_client(sleep: RecordedSleep, attempts: int = 6) -> TeniosClient:
    """The retry loop is shared by every client (providers.base.call_with_retries); TENIOS's client
    takes a policy directly, so the recording sleep goes in through it."""
    policy = RetryPolicy(max_attempts=attempts, backoff_base_s=BASE_S, backoff_max_s=MAX_S, sleep=sleep)
    return TeniosClient(os.environ["TENIOS_ACCESS_KEY"], account="retries",
                        base_url=os.environ["TENIOS_BASE_URL"], retry=policy)


def test_the_backoff_ceiling_doubles_up_to_its_bound_and_each_delay_is_jittered_below_it():
    policy = RetryPolicy(backoff_base_s=BASE_S, backoff_max_s=MAX_S)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)):
        delays = [policy.delay(attempt) for _ in range(400)]
        assert all(0 <= d <= ceiling for d in delays), (attempt, max(delays))
        # full jitter: spread over the whole range, not pinned to the ceiling
        assert min(delays) < ceiling * 0.2, (attempt, min(delays))
        assert max(delays) > ceiling * 0.8, (attempt, max(delays))
        assert len(set(delays)) > 350


def test_a_5xx_burst_is_retried_with_growing_bounded_waits(drivers):
    driver = drivers["tenios"]
    driver.reset()
    driver.inject({"kind": "status", "status": 503, "times": 4, "path": "/cdrs/retrieve"})
    sleep = RecordedSleep()
    with tenios_client(sleep) as client:
        pages = list(client.fetch_window(WINDOW))
    assert pages and driver.stats()["faults_applied"] == 4
    assert len(sleep.waits) == 4, sleep.waits
    for attempt, wait in enumerate(sleep.waits, 1):
        assert 0 <= wait <= min(MAX_S, BASE_S * 2 ** (attempt - 1)), (attempt, wait)
    assert sum(sleep.waits) > 0.5, sleep.waits  # four draws under 1, 2, 4, 8 s: about 7.5 s on average


def test_retry_after_is_honoured(drivers):
    driver = drivers["tenios"]
    driver.reset()
    driver.inject({"kind": "status", "status": 503, "times": 1, "path": "/cdrs/retrieve",
                   "headers": {"Retry-After": "6"}})
    sleep = RecordedSleep()
    with tenios_client(sleep) as client:
        list(client.fetch_window(WINDOW))
    assert driver.stats()["faults_applied"] == 1
    assert len(sleep.waits) == 1 and 6 <= sleep.waits[0] <= MAX_S, sleep.waits


def test_retries_run_out_after_max_attempts_with_the_waits_between_them(drivers):
    driver = drivers["tenios"]
    driver.reset()
    driver.inject({"kind": "status", "status": 503, "times": 100, "path": "/cdrs/retrieve"})
    sleep = RecordedSleep()
    with tenios_client(sleep, attempts=3) as client, pytest.raises(ProviderUnavailableError) as raised:
        list(client.fetch_window(WINDOW))
    assert driver.stats()["faults_applied"] == 3
    assert len(sleep.waits) == 2  # between attempts, not after the last
    assert "gave up after 3 attempts" in str(raised.value)


@pytest.mark.parametrize("provider", list(SPECS))
def test_refused_credentials_fail_at_once_without_a_retry(provider, drivers):
    spec, driver = SPECS[provider], drivers[provider]
    driver.reset()
    login = spec.conformance.logins[0]  # type: ignore[union-attr]
    environ = {**os.environ, **login.credentials,
               **{f"{spec.env_prefix}_{name.upper()}": value for name, value in login.wrong.items()}}
    environ = {name: value for name, value in environ.items() if value != ""}
    account = account_from_env(spec, environ)
    before = driver.stats()["requests_served"]
    # a client may log in when it opens, so opening is inside the raises block
    with pytest.raises(ProviderAuthError), account.open_client(environ) as client:
        list(client.fetch_window(WINDOW))
    assert driver.stats()["requests_served"] - before == 1, "a refused credential was sent again"


@pytest.mark.parametrize("provider", list(SPECS))
def test_the_client_gives_up_at_its_own_timeout(provider, drivers):
    """The simulator answers after 4 s; a client with a 0.5 s timeout and one attempt must fail
    with a timeout well before the answer would have come, not wait it out."""
    spec, driver = SPECS[provider], drivers[provider]
    driver.reset()
    driver.inject({"kind": "delay", "seconds": 4.0, "times": 5, "path": spec.conformance.data_path})  # type: ignore[union-attr]
    environ = {**os.environ, f"{spec.env_prefix}_TIMEOUT_S": "0.5", f"{spec.env_prefix}_MAX_ATTEMPTS": "1"}
    account = account_from_env(spec, environ)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError) as raised, account.open_client(environ) as client:
        list(client.fetch_window(WINDOW))
    elapsed = time.monotonic() - started
    assert driver.stats()["faults_applied"] >= 1
    assert "Timeout" in str(raised.value), raised.value
    assert elapsed < 3.0, f"waited {elapsed:.1f} s: the client did not give up at its 0.5 s timeout"
