"""Drive a running simulator through its /_sim endpoints over HTTP, and keep the environment
pointing at it for the duration of a test module."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from pipelines.simulators import running_simulators

# Retries fast enough for tests, still bounded.
FAST_RETRIES = {"CDR_HTTP_BACKOFF_BASE_S": "0.01", "CDR_HTTP_BACKOFF_MAX_S": "0.05",
                "CDR_HTTP_MAX_ATTEMPTS": "6"}


class SimulatorDriver:
    def __init__(self, url: str):
        self.url = url

    def post(self, path: str, payload) -> None:
        httpx.post(self.url + path, json=payload).raise_for_status()

    def inject(self, *faults: dict) -> None:
        self.post("/_sim/faults", list(faults))
        self._injected = True

    def reset(self) -> None:
        """Back to normal. A test that injected faults since the last reset and reaches here
        without any having been served fails: it would have proved nothing about them."""
        injected, self._injected = getattr(self, "_injected", False), False
        served = self.stats()["faults_applied"] if injected else None
        self.post("/_sim/reset", {})
        assert served is None or served > 0, f"faults injected at {self.url} were never served"

    def stats(self) -> dict:
        return httpx.get(self.url + "/_sim/stats").raise_for_status().json()


@contextmanager
def restored_environment() -> Iterator[None]:
    """The process environment as it was on entry, whatever the block set (running_simulators
    sets each provider's quick-start variables)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def simulators(names: list[str], **environment: str) -> Iterator[dict[str, SimulatorDriver]]:
    """Start the named simulators with fast retries (plus `environment`); restore the
    environment afterwards."""
    with restored_environment():
        os.environ.update({**FAST_RETRIES, **environment})
        with running_simulators(names) as urls:
            yield {name: SimulatorDriver(url) for name, url in urls.items()}
