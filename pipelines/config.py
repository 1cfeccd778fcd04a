"""The configuration, read once from the environment into one object that the definitions, the
assets and the commands are handed. Nothing else in the package reads os.environ for a setting.

| variable | default | meaning |
|---|---|---|
| `CDR_PROVIDERS` | all | comma-separated providers to load |
| `CDR_START_DATE` | 2024-01-01 | first daily partition |
| `CDR_REPULL_DAYS` | 3 | days the nightly run loads (yesterday and the days before it) |
| `CDR_FORCE_RELOAD` | off | parse and merge every day, even one whose raw pages did not change |
| `CDR_PROVIDER_MODULES` | none | plug-in providers: modules exporting a `SPEC` |
| `CDR_WAREHOUSE_URL` | embedded | the warehouse; else database `CDR_DATABASE` of the embedded server \
in `CDR_PGDATA` |
| `<PROVIDER>_<SETTING>` | per provider | that provider's settings (docs/providers/) |
| `CDR_HTTP_<SETTING>` | 30 s, 5 attempts, … | HTTP settings of every provider not set per provider |
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.errors import ConfigurationError
from pipelines.providers.base import ProviderClient
from pipelines.providers.settings import ProviderSettings, settings_from_env
from pipelines.providers.spec import ProviderSpec, resolve_credentials
from pipelines.registry import registry
from pipelines.warehouse.connection import DEFAULT_DATABASE, PROJECT_ROOT

DEFAULT_START_DATE = "2024-01-01"
DEFAULT_REPULL_DAYS = 3


@dataclass(frozen=True)
class ProviderAccount:
    """One account at one provider: its settings, and where its secrets are (the names of the
    environment variables holding them, never the values)."""

    spec: ProviderSpec
    settings: ProviderSettings
    credential_variables: Mapping[str, str]

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def account(self) -> str:
        return self.settings.account

    @property
    def parser_version(self) -> str:
        return self.spec.parser_version(self.settings)

    def open_client(self, secrets: Mapping[str, str]) -> ProviderClient:
        """A client for this account, its credentials read from `secrets` (the environment)."""
        credentials = resolve_credentials(self.spec, self.account, self.credential_variables, secrets)
        return self.spec.open_client(self.settings, credentials)

    def parse(self, pages, account: str | None = None):
        """The provider's parser over `pages`, with this account's parse settings."""
        return self.spec.parse_pages(pages, account or self.account, self.settings.parse_settings())


def account_from_env(spec: ProviderSpec, environ: Mapping[str, str]) -> ProviderAccount:
    """The quick start: one account per provider from `<PROVIDER>_<SETTING>` variables, its
    credentials in `<PROVIDER>_<CREDENTIAL>` (e.g. TENIOS_ACCESS_KEY)."""
    prefix = spec.env_prefix
    return ProviderAccount(spec, settings_from_env(spec.settings_type, prefix, environ),
                           {name: f"{prefix}_{name.upper()}" for name in spec.credential_names})


@dataclass(frozen=True)
class Configuration:
    accounts: tuple[ProviderAccount, ...]
    start_date: str = DEFAULT_START_DATE
    repull_days: int = DEFAULT_REPULL_DAYS
    force_reload: bool = False
    # the warehouse: the variable holding its URL (a secret: it may hold a password), or, unset,
    # a database of the embedded server
    warehouse_url_variable: str | None = None
    embedded_database: str = DEFAULT_DATABASE
    pgdata: str = str(PROJECT_ROOT / ".pgdata")
    # where credential references are resolved: the environment, read when a client opens
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Configuration:
        known = registry(plugin_modules(environ))
        wanted = [n.strip() for n in environ.get("CDR_PROVIDERS", "").split(",") if n.strip()] or list(known)
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise ConfigurationError("CDR_PROVIDERS", ",".join(wanted),
                                     f"unknown provider {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return cls(
            accounts=tuple(account_from_env(known[name], environ) for name in dict.fromkeys(wanted)),
            start_date=_date(environ, "CDR_START_DATE", DEFAULT_START_DATE),
            repull_days=_positive(environ, "CDR_REPULL_DAYS", DEFAULT_REPULL_DAYS),
            force_reload=_flag(environ, "CDR_FORCE_RELOAD"),
            warehouse_url_variable=("CDR_WAREHOUSE_URL" if environ.get("CDR_WAREHOUSE_URL", "").strip()
                                    else None),
            embedded_database=environ.get("CDR_DATABASE", "").strip() or DEFAULT_DATABASE,
            pgdata=str(Path(environ.get("CDR_PGDATA", "").strip() or PROJECT_ROOT / ".pgdata").resolve()),
            secrets=environ,
        )

    def account(self, provider: str) -> ProviderAccount:
        for candidate in self.accounts:
            if candidate.provider == provider:
                return candidate
        raise ConfigurationError("CDR_PROVIDERS", provider, "that provider is not enabled")


def plugin_modules(environ: Mapping[str, str]) -> tuple[str, ...]:
    """CDR_PROVIDER_MODULES: importable modules that each export a provider `SPEC`."""
    return tuple(m.strip() for m in environ.get("CDR_PROVIDER_MODULES", "").split(",") if m.strip())


def migration_dirs(environ: Mapping[str, str]) -> list[Path]:
    """The migration folders of every registered provider, plug-ins included."""
    return [spec.migrations_dir for spec in registry(plugin_modules(environ)).values()]


def _date(environ: Mapping[str, str], variable: str, default: str) -> str:
    value = environ.get(variable, "").strip() or default
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(variable, value, "expected a date as YYYY-MM-DD") from None
    return value


def _positive(environ: Mapping[str, str], variable: str, default: int) -> int:
    value = environ.get(variable, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(variable, value, "expected a whole number of at least 1")
    return int(value)


def _flag(environ: Mapping[str, str], variable: str) -> bool:
    value = environ.get(variable, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(variable, value, "expected 1/true/yes/on or 0/false/no/off")
