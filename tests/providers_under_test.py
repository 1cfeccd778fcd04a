"""The providers the shared suites cover: every registered one, plug-ins included (the modules
named in this process's CDR_PROVIDER_MODULES). Read at collection time, for parametrization."""
from __future__ import annotations

import os
from functools import cache

from pipelines.config import plugin_modules
from pipelines.providers.spec import ProviderSpec
from pipelines.registry import registry


@cache
def providers_under_test() -> dict[str, ProviderSpec]:
    specs = registry(plugin_modules(os.environ))
    lacking = [name for name, spec in specs.items() if spec.conformance is None]
    # a provider the suites know nothing of would silently go untested
    assert not lacking, f"no Conformance declared by {lacking}: the shared suites cannot cover them"
    return specs
