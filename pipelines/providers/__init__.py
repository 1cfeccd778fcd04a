"""The providers the warehouse knows. Each lives in its own folder (client, parser, simulator,
settings) and describes itself with one ProviderSpec in its __init__.py; adding a provider is
adding its folder and one line to `registry()`."""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from pipelines.model import CallLeg, Quarantined


@dataclass(frozen=True)
class SimulatedProvider:
    """A running simulator's app and the environment variables that point the pipeline at it."""

    app: Any
    environment: dict[str, str]  # credentials and account; {NAME}_BASE_URL is added by the caller


@dataclass(frozen=True)
class ProviderSpec:
    """How the shared pipeline drives one provider."""

    name: str
    # (pages, account) -> canonical legs and quarantined records, in page order
    parse_pages: Callable[[Iterable, str], Iterator[CallLeg | Quarantined]]
    # a ConfigurableResource built from the provider's environment variables (secrets as EnvVar)
    resource_from_env: Callable[[], Any]
    # (legs_per_day or None) -> the simulator app and the credentials it accepts
    simulator: Callable[[int | None], SimulatedProvider]
    default_sim_port: int
    # a provider whose data is not call legs (Telecom X statistics) builds its own assets
    build_assets: Callable[["ProviderSpec"], list] | None = field(default=None)
    # False when its assets make no `<name>_call_legs` (the shared calls/aggregates skip it)
    produces_call_legs: bool = True
    # parsed items that are neither CallLeg nor Quarantined (e.g. MIXvoip billing items), by type:
    # loader(conn, items) -> rows changed; called in the same transaction after the legs merge
    extra_loaders: Mapping[type, Callable[[Any, list], int]] = field(default_factory=dict)

    @property
    def base_url_variable(self) -> str:
        return f"{self.name.upper()}_BASE_URL"

    @property
    def parser_version(self) -> str:
        """Changes whenever what this provider's parser makes of the same bytes could change: its
        code, the shared parsing code, the load SQL, or its parse settings in the environment.
        A window already loaded from identical pages with the same version is not parsed again."""
        return _parser_version(self.name, self.parse_pages.__module__)


_SECRET_WORDS = ("KEY", "PASSWORD", "TOKEN", "HASH", "SECRET", "USERNAME")


@lru_cache(maxsize=None)
def _code_digest(parse_module: str) -> bytes:
    package = Path(sys.modules[parse_module].__file__).parent
    shared = Path(__file__).resolve().parents[1]
    files = sorted(package.glob("*.py")) + [shared / "providers" / "common.py", shared / "numbers.py",
                                            shared / "model.py", *sorted((shared.parent / "sql" / "load").glob("*.sql"))]
    return hashlib.sha256(b"".join(path.read_bytes() for path in files)).digest()


def _parser_version(name: str, parse_module: str) -> str:
    digest = hashlib.sha256(_code_digest(parse_module))
    prefix = name.upper() + "_"
    for variable in sorted(os.environ):  # parse settings, never secrets
        if variable.startswith(prefix) and not any(word in variable for word in _SECRET_WORDS):
            digest.update(f"{variable}={os.environ[variable]}".encode())
    return digest.hexdigest()[:16]


def registry() -> dict[str, ProviderSpec]:
    from pipelines.providers import belfabriek, mixvoip, telecomx, tenios

    return {spec.name: spec for spec in (tenios.SPEC, belfabriek.SPEC, telecomx.SPEC, mixvoip.SPEC)}
