"""Start provider simulators on loopback and point the pipeline's settings at them."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace

from pipelines.config import plugin_modules
from pipelines.providers.spec import SimulatedAccount
from pipelines.registry import registry
from pipelines.simulation import SimulatorServer


class RunningSimulators(dict[str, str]):
    """{provider: base URL} of the running simulators, and in `accounts` the accounts each
    serves, their `options` holding that base URL."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, tuple[SimulatedAccount, ...]] = {}


@contextmanager
def running_simulators(names: list[str], fixed_ports: bool = False, legs_per_day: int | None = None,
                       accounts_per_provider: int = 1) -> Iterator[RunningSimulators]:
    """Start the named simulators; yield {provider: base URL}; set each provider's variables
    (the quick start's, for the first account).

    `fixed_ports` uses each provider's default port (for `cdr-etl simulate` and the Dagster UI);
    otherwise a free port is picked. Each simulator serves `accounts_per_provider` accounts, each
    with its own credentials, customers and data: `.accounts` lists them.
    """
    if accounts_per_provider < 1:
        raise ValueError("accounts_per_provider: at least 1")
    specs = registry(plugin_modules(os.environ))
    with ExitStack() as stack:
        running = RunningSimulators()
        for name in names:
            spec = specs[name]
            # one account: the simulator as every provider (plug-ins too) has always served it
            simulated = (spec.simulator(legs_per_day) if accounts_per_provider == 1
                         else spec.simulator(legs_per_day, accounts=accounts_per_provider))
            port = spec.default_sim_port if fixed_ports else 0
            server = stack.enter_context(SimulatorServer(simulated.app, port=port))
            running[name] = server.url
            running.accounts[name] = tuple(
                replace(account, options={**account.options, "base_url": server.url})
                for account in simulated.accounts)
            os.environ.update(simulated.environment)
            os.environ[spec.base_url_variable] = server.url
        yield running


def credential_variable(prefix: str, provider: str, index: int, credential: str) -> str:
    """The variable holding account `index`'s (from 1) credential: `DEMO_TENIOS_2_ACCESS_KEY`."""
    return f"{prefix}_{provider}_{index}_{credential}".upper()


def accounts_file(accounts: Mapping[str, tuple[SimulatedAccount, ...]], prefix: str = "DEMO",
                  header: str = "") -> tuple[str, dict[str, str]]:
    """An accounts file (TOML, docs: cdr-accounts.example.toml) for the simulated `accounts`,
    and the environment its credential references name ({variable: secret}). The file holds
    only references, `{ env = "DEMO_TENIOS_2_ACCESS_KEY" }`, never a secret."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    environment: dict[str, str] = {}
    for provider, served in accounts.items():
        for index, account in enumerate(served, start=1):
            lines += ["", "[[accounts]]", f"provider = {_toml(provider)}", f"name = {_toml(account.name)}"]
            if account.customers:
                lines.append(f"customers = [{', '.join(_toml(c) for c in account.customers)}]")
            lines.append("[accounts.credentials]")
            for credential, secret in account.credentials.items():
                variable = credential_variable(prefix, provider, index, credential)
                environment[variable] = secret
                lines.append(f"{credential} = {{ env = {_toml(variable)} }}")
            if account.options:
                lines.append("[accounts.options]")
                lines += [f"{option} = {_toml(value)}" for option, value in account.options.items()]
    return "\n".join(lines).lstrip("\n") + "\n", environment


def _toml(text: str) -> str:
    """A TOML basic string: JSON's escapes are a subset of TOML's."""
    return json.dumps(text, ensure_ascii=False)
