"""Start every provider's simulator on loopback and point the pipeline's settings at them."""
from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from typing import Iterator

from pipelines.simulation import SimulatorServer

# Fixed ports for `cdr-etl simulate` (the Dagster UI needs them stable); 0 picks a free one.
DEFAULT_PORTS = {"tenios": 18081}
DEMO_CREDENTIALS = {"TENIOS_ACCESS_KEY": "sim-tenios-0f6c2d1e", "TENIOS_ACCOUNT": "tenios-demo"}


def build_app(name: str, legs_per_day: int | None = None):
    if name == "tenios":
        from pipelines.providers.tenios.simulator import TeniosData, build_simulator

        data = TeniosData(legs_per_day=legs_per_day) if legs_per_day else TeniosData()
        return build_simulator({DEMO_CREDENTIALS["TENIOS_ACCESS_KEY"]: DEMO_CREDENTIALS["TENIOS_ACCOUNT"]}, data)
    raise ValueError(f"no simulator for {name!r}")


def environment_for(urls: dict[str, str]) -> dict[str, str]:
    """The variables that point each provider resource at its simulator."""
    env = dict(DEMO_CREDENTIALS)
    for name, url in urls.items():
        env[f"{name.upper()}_BASE_URL"] = url
    return env


@contextmanager
def running_simulators(names: list[str], fixed_ports: bool = False,
                       legs_per_day: int | None = None) -> Iterator[dict[str, str]]:
    """Start the named simulators; yield {provider: base URL}; set the provider variables."""
    with ExitStack() as stack:
        urls = {}
        for name in names:
            server = SimulatorServer(build_app(name, legs_per_day), port=DEFAULT_PORTS[name] if fixed_ports else 0)
            stack.enter_context(server)
            urls[name] = server.url
        os.environ.update(environment_for(urls))
        yield urls
