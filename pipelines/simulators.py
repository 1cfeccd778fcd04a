"""Start provider simulators on loopback and point the pipeline's settings at them."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from pipelines.config import plugin_modules
from pipelines.registry import registry
from pipelines.simulation import SimulatorServer


@contextmanager
def running_simulators(names: list[str], fixed_ports: bool = False,
                       legs_per_day: int | None = None) -> Iterator[dict[str, str]]:
    """Start the named simulators; yield {provider: base URL}; set each provider's variables.

    `fixed_ports` uses each provider's default port (for `cdr-etl simulate` and the Dagster UI);
    otherwise a free port is picked.
    """
    specs = registry(plugin_modules(os.environ))
    with ExitStack() as stack:
        urls = {}
        for name in names:
            spec = specs[name]
            simulated = spec.simulator(legs_per_day)
            port = spec.default_sim_port if fixed_ports else 0
            server = stack.enter_context(SimulatorServer(simulated.app, port=port))
            urls[name] = server.url
            os.environ.update(simulated.environment)
            os.environ[spec.base_url_variable] = server.url
        yield urls
