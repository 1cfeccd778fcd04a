"""TENIOS (DE): raw per-leg CDRs from POST /cdrs/retrieve, JSON, access key in the body."""
from pipelines.providers import ProviderSpec
from pipelines.providers.tenios.parse import parse_pages
from pipelines.providers.tenios.settings import PROVIDER

SPEC = ProviderSpec(name=PROVIDER, parse_pages=parse_pages)
