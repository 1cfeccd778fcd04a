"""The providers the warehouse knows: one line each. A provider that lives outside this package
(a plug-in) is named by its module in the `CDR_PROVIDER_MODULES` setting instead."""
from __future__ import annotations

import importlib
from collections.abc import Iterable

from pipelines.errors import ConfigurationError
from pipelines.providers import belfabriek, mixvoip, telecomx, tenios
from pipelines.providers.spec import ProviderSpec

BUILT_IN: tuple[ProviderSpec, ...] = (
    tenios.SPEC,
    belfabriek.SPEC,
    telecomx.SPEC,
    mixvoip.SPEC,
)


def registry(plugin_modules: Iterable[str] = ()) -> dict[str, ProviderSpec]:
    """Every provider by name: the built-in ones, then each plug-in module's `SPEC`."""
    specs = {spec.name: spec for spec in BUILT_IN}
    for module_name in plugin_modules:
        try:
            spec = importlib.import_module(module_name).SPEC
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError("CDR_PROVIDER_MODULES", module_name,
                                     f"cannot load a provider SPEC from it: {exc}") from None
        if spec.name in specs:
            raise ConfigurationError("CDR_PROVIDER_MODULES", module_name,
                                     f"provider name {spec.name!r} is already registered")
        specs[spec.name] = spec
    return specs
