"""The providers the warehouse knows. Each lives in its own folder: client, parser, simulator."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from pipelines.model import CallLeg, Quarantined


@dataclass(frozen=True)
class ProviderSpec:
    """How the shared pipeline drives one provider."""

    name: str
    # (pages, account) -> canonical legs and quarantined records, in page order
    parse_pages: Callable[[Iterable, str], Iterator[CallLeg | Quarantined]]


def registry() -> dict[str, ProviderSpec]:
    from pipelines.providers import tenios

    return {spec.name: spec for spec in (tenios.SPEC,)}
