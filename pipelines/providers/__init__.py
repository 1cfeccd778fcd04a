"""The providers: one folder each (client, parser, simulator, settings, its own SQL and the
knowledge the shared test suites need), described by the `SPEC` its `__init__.py` exports
(pipelines.providers.spec). pipelines/registry.py lists them; docs/adding-a-provider.md tells
how to add one. Nothing here imports a provider, so a provider importing the shared modules of
this package (base, common, settings, spec) closes no cycle."""
