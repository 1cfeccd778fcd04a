"""The configuration, read once into one object that the definitions, the assets and the
commands are handed. Nothing else in the package reads os.environ for a setting.

Accounts come from the accounts file (docs/accounts.md) when `CDR_ACCOUNTS_FILE` names one or
`cdr-accounts.toml` exists in the working directory; otherwise from the environment quick start,
one account per provider (`<PROVIDER>_<SETTING>`).

| variable | default | meaning |
|---|---|---|
| `CDR_ACCOUNTS_FILE` | `./cdr-accounts.toml` when present | the accounts file |
| `CDR_PROVIDERS` | all | comma-separated providers to load |
| `CDR_START_DATE` | 2024-01-01 | first daily partition (an account's start date may be earlier) |
| `CDR_REPULL_DAYS` | 3 | days the nightly run loads (yesterday and the days before it) |
| `CDR_FORCE_RELOAD` | off | parse and merge every day, even one whose raw pages did not change |
| `CDR_FRESH_MONTHS` | off | a month that holds no leg yet is loaded as a partition of its own, its \
days in one transaction (the initial backfill's faster path; a failure part-way rolls back the \
month's earlier days: docs/operations.md) |
| `CDR_PROVIDER_MODULES` | none | plug-in providers: modules exporting a `SPEC` |
| `CDR_WAREHOUSE_URL` | embedded | the warehouse; else database `CDR_DATABASE` of the embedded server \
in `CDR_PGDATA` |
| `<PROVIDER>_<SETTING>` | per provider | the quick start: that provider's settings (docs/providers/) |
| `CDR_HTTP_<SETTING>` | 30 s, 5 attempts, … | HTTP settings of every account not set for it |
| `CDR_FRESH_BY_HOUR` | 6 | the hour (0-23, in each account's time zone) by which yesterday must \
have landed; an account's `fresh_by_hour` in the accounts file overrides it (docs/operations.md) |
| `CDR_FAILURE_WEBHOOK_URL` | none | a failed run is POSTed there as JSON (a secret: it may hold a \
token) |
| `CDR_DEBUG` | off | a mistake in the settings gives a traceback, not just its one line |
| `CDR_QUARANTINE_WARN_SHARE` | 0.01 | a day whose quarantined share of records is above it warns \
(docs/operations.md, Checks) |
| `CDR_REPORT_PATH` | `reports/cdr-report.html` | the HTML report the `cdr_report` asset writes after the \
mart (a relative path is the project folder's) |
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.errors import ConfigurationError, unknown_name
from pipelines.providers.base import Pacing, ProviderClient
from pipelines.providers.settings import (
    HttpSettings,
    ProviderSettings,
    flat_fields,
    read_settings,
    settings_from_env,
)
from pipelines.providers.spec import ProviderSpec, resolve_credentials
from pipelines.registry import registry
from pipelines.warehouse.connection import (
    DEFAULT_DATABASE,
    PROJECT_ROOT,
    check_reachable,
    check_url,
    embedded_database_url,
)
from pipelines.warehouse.privacy import DEFAULT_RETENTION, Retention

DEFAULT_START_DATE = "2024-01-01"
DEFAULT_REPULL_DAYS = 3
DEFAULT_QUARANTINE_WARN_SHARE = 0.01
# after the nightly run (02:30 UTC) and its retries, before an office's working day
DEFAULT_FRESH_BY_HOUR = 6
DEFAULT_REPORT_PATH = "reports/cdr-report.html"  # git-ignored
FRESH_BY_HOUR_VARIABLE = "CDR_FRESH_BY_HOUR"
FRESH_MONTHS_VARIABLE = "CDR_FRESH_MONTHS"
# off: a failure part-way through a fresh month would roll back the month's days loaded before it
DEFAULT_FRESH_MONTHS = False
FAILURE_WEBHOOK_VARIABLE = "CDR_FAILURE_WEBHOOK_URL"
ACCOUNTS_FILE_VARIABLE = "CDR_ACCOUNTS_FILE"
DEFAULT_ACCOUNTS_FILE = "cdr-accounts.toml"  # in the working directory
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ACCOUNT_KEYS = ("provider", "name", "enabled", "start_date", "time_zone", "fresh_by_hour", "customers",
                 "credentials", "options", "display_name", "customer_names", "holiday_country", "peak_hours",
                 "retention", "pseudonymise")
# Whose public holidays are off-peak by default: the country of the account's reporting zone, where
# it is one of the four countries mart.dim_date flags.
HOLIDAY_COUNTRIES = ("NL", "LU", "DE", "DK")
ZONE_COUNTRY = {"Europe/Amsterdam": "NL", "Europe/Luxembourg": "LU", "Europe/Berlin": "DE",
                "Europe/Busingen": "DE", "Europe/Copenhagen": "DK"}
DEFAULT_PEAK_HOURS = (8, 18)
MIN_PSEUDONYM_KEY = 32  # characters: an HMAC key must be hard to guess, unlike the numbers it hides
_HTTP_FIELDS = tuple(f.name for f in dataclasses.fields(HttpSettings))


@dataclass(frozen=True)
class ProviderAccount:
    """One account at one provider: its settings, where its secrets are (the names of the
    environment variables holding them, never the values), its reporting time zone and its
    first day."""

    spec: ProviderSpec
    settings: ProviderSettings
    credential_variables: Mapping[str, str]
    time_zone: str = ""  # IANA; empty: the provider's default (spec.default_time_zone)
    start_date: str | None = None  # YYYY-MM-DD; None: the configuration's start date
    enabled: bool = True
    fresh_by_hour: int = DEFAULT_FRESH_BY_HOUR  # yesterday must have landed by then, in time_zone
    # How the BI mart names and reads the account (mart.dim_account)
    display_name: str = ""  # empty: the account's name
    customer_names: tuple[tuple[str, str], ...] = ()  # (customer id, name); a tuple keeps it hashable
    holiday_country: str | None = None  # NL, LU, DE, DK; None: the country of time_zone, if one of those
    peak_hours: tuple[int, int] = DEFAULT_PEAK_HOURS  # local [start, end) of the peak tariff period
    # how long its data is kept (docs/privacy.md); the defaults unless the accounts file says
    retention: Retention = DEFAULT_RETENTION
    # the variable holding the key its subscriber numbers are pseudonymised with; None: stored clear
    pseudonym_key_variable: str | None = None

    def __post_init__(self) -> None:
        if not self.time_zone:
            object.__setattr__(self, "time_zone", self.spec.default_time_zone)
        if self.holiday_country is None:
            object.__setattr__(self, "holiday_country", ZONE_COUNTRY.get(self.time_zone))

    @property
    def provider(self) -> str:
        return self.spec.name

    @property
    def account(self) -> str:
        return self.settings.account

    @property
    def customers(self) -> tuple[str, ...]:
        """The customers this account pulls (the spec's customer setting); () where the provider
        has none, or where none are set (Telecom X: the login's own customer)."""
        if self.spec.customer_setting is None:
            return ()
        value = getattr(self.settings, self.spec.customer_setting)
        if isinstance(value, str):
            return (value,) if value else ()
        return tuple(value)

    @property
    def parser_version(self) -> str:
        return self.spec.parser_version(self.settings)

    def options_in_effect(self) -> dict[str, Any]:
        """The settings that differ from the provider's defaults, by flat name, leaving out the
        account name and the customers (shown on their own)."""
        defaults = _flat_values(self.spec.settings_type())
        shown = {name: value for name, value in _flat_values(self.settings).items()
                 if value != defaults.get(name)}
        shown.pop("account", None)
        shown.pop(self.spec.customer_setting or "", None)
        return shown

    def credential_status(self, environ: Mapping[str, str]) -> list[tuple[str, str, bool]]:
        """(credential, variable, whether the variable is set) for each credential reference."""
        return [(name, variable, bool(environ.get(variable, "").strip()))
                for name, variable in self.credential_variables.items()]

    def credentials_resolve(self, environ: Mapping[str, str]) -> bool:
        """Whether one of the provider's credential alternatives has every variable set."""
        return any(all(environ.get(self.credential_variables.get(name, "")) for name in names)
                   for names in self.spec.credentials)

    def pseudonym_key(self, secrets: Mapping[str, str]) -> bytes | None:
        """The pseudonymisation key, read from `secrets` (the environment) when a load runs; None
        where the account stores numbers clear. Never echoed."""
        if self.pseudonym_key_variable is None:
            return None
        key = secrets.get(self.pseudonym_key_variable, "").strip()
        if len(key) < MIN_PSEUDONYM_KEY:
            raise ConfigurationError(self.pseudonym_key_variable, None,
                                     f"{self.provider} account {self.account!r} pseudonymises its numbers"
                                     f" with the key this variable holds: it must be set, at least"
                                     f" {MIN_PSEUDONYM_KEY} characters (not shown: it is a secret)")
        return key.encode()

    def open_client(self, secrets: Mapping[str, str], pacing: Pacing | None = None) -> ProviderClient:
        """A client for this account, its credentials read from `secrets` (the environment), its
        requests paced by `pacing` (shared across processes) where the provider paces them."""
        credentials = resolve_credentials(self.spec, self.account, self.credential_variables, secrets)
        return self.spec.open_client(self.settings, credentials, pacing)

    def parse(self, pages, account: str | None = None):
        """The provider's parser over `pages`, with this account's parse settings."""
        return self.spec.parse_pages(pages, account or self.account, self.settings.parse_settings())


def account_from_env(spec: ProviderSpec, environ: Mapping[str, str],
                     start_date: str | None = None) -> ProviderAccount:
    """The quick start: one account per provider from `<PROVIDER>_<SETTING>` variables, its
    credentials in `<PROVIDER>_<CREDENTIAL>` (e.g. TENIOS_ACCESS_KEY)."""
    prefix = spec.env_prefix
    return ProviderAccount(spec, settings_from_env(spec.settings_type, prefix, environ),
                           {name: f"{prefix}_{name.upper()}" for name in spec.credential_names},
                           start_date=start_date, fresh_by_hour=fresh_by_hour_from_env(environ))


def fresh_by_hour_from_env(environ: Mapping[str, str]) -> int:
    """CDR_FRESH_BY_HOUR: every account's freshness deadline unless its own is set."""
    value = environ.get(FRESH_BY_HOUR_VARIABLE, "").strip()
    return _hour(FRESH_BY_HOUR_VARIABLE, value) if value else DEFAULT_FRESH_BY_HOUR


def _hour(where: str, value: object) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 23:
        return value
    raise ConfigurationError(where, value, "expected an hour from 0 to 23")


def fresh_months_from_env(environ: Mapping[str, str]) -> bool:
    """CDR_FRESH_MONTHS: whether months without legs load as partitions of their own."""
    if environ.get(FRESH_MONTHS_VARIABLE, "").strip():
        return _flag(environ, FRESH_MONTHS_VARIABLE)
    return DEFAULT_FRESH_MONTHS


def failure_webhook_from_env(environ: Mapping[str, str]) -> str | None:
    """The name of the variable holding the failure webhook's URL, if it is set: kept as a
    reference, as the URL may hold a token; checked here, and never echoed."""
    url = environ.get(FAILURE_WEBHOOK_VARIABLE, "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(FAILURE_WEBHOOK_VARIABLE, None,
                                 "expected an http:// or https:// URL (not shown: it may hold a token)")
    return FAILURE_WEBHOOK_VARIABLE


# a database name the embedded server is given: PostgreSQL allows more when quoted, but a name
# that needs quoting is more likely a mistake than a choice
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$-]{0,62}")


@dataclass(frozen=True)
class WarehouseSettings:
    """Where the warehouse is: the server `CDR_WAREHOUSE_URL` names (kept as the variable's name:
    the URL may hold a password), or, unset, database `database` of the embedded server whose
    data is in `pgdata`."""

    url_variable: str | None = None
    database: str = DEFAULT_DATABASE
    pgdata: str = str(PROJECT_ROOT / ".pgdata")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WarehouseSettings:
        url = environ.get("CDR_WAREHOUSE_URL", "").strip()
        if url:
            check_url(url, "CDR_WAREHOUSE_URL")
        database = environ.get("CDR_DATABASE", "").strip() or DEFAULT_DATABASE
        if not _DATABASE_NAME.fullmatch(database):
            raise ConfigurationError("CDR_DATABASE", database, "expected a database name: letters, digits"
                                     " and _, starting with a letter or _, at most 63 characters")
        pgdata = Path(environ.get("CDR_PGDATA", "").strip() or PROJECT_ROOT / ".pgdata").resolve()
        if not url:
            _check_pgdata(pgdata, environ.get("CDR_PGDATA", ""))
        return cls("CDR_WAREHOUSE_URL" if url else None, database, str(pgdata))

    def url(self, environ: Mapping[str, str]) -> str:
        """The warehouse's URL once a connection to it has opened; the embedded server started
        and the database created if that is the warehouse."""
        if self.url_variable:
            return check_reachable(environ[self.url_variable].strip(), self.url_variable)
        return embedded_database_url(self.pgdata, self.database)


def _check_pgdata(path: Path, given: str) -> None:
    """The embedded server's data folder: one it made, or one it can make. Anything else makes
    initdb fail with a message about its own command line."""
    shown = given or str(path)
    if path.exists() and not path.is_dir():
        raise ConfigurationError("CDR_PGDATA", shown, "not a folder; expected the embedded server's data"
                                 " folder, or a new one it may create")
    if path.is_dir() and any(path.iterdir()) and not (path / "PG_VERSION").is_file():
        raise ConfigurationError("CDR_PGDATA", shown, "a folder with other files in it, not a PostgreSQL"
                                 " data folder (no PG_VERSION); name an empty or new folder")
    if not path.parent.is_dir():
        raise ConfigurationError("CDR_PGDATA", shown, f"its parent folder {path.parent} does not exist")


def debug_from_env(environ: Mapping[str, str]) -> bool:
    """CDR_DEBUG: a traceback, not just the one line, for a mistake in the configuration."""
    return _flag(environ, "CDR_DEBUG")


@dataclass(frozen=True)
class Configuration:
    accounts: tuple[ProviderAccount, ...]  # the enabled ones
    start_date: str = DEFAULT_START_DATE  # the first daily partition: no account starts earlier
    repull_days: int = DEFAULT_REPULL_DAYS
    force_reload: bool = False
    fresh_months: bool = DEFAULT_FRESH_MONTHS  # load.load_windows(fresh_months=...)
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    # where credential references are resolved: the environment, read when a client opens
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # the accounts file the accounts came from; None: the environment quick start
    accounts_file: str | None = None
    disabled_accounts: tuple[ProviderAccount, ...] = ()  # listed in the file with enabled = false
    quarantine_warn_share: float = DEFAULT_QUARANTINE_WARN_SHARE  # the quarantine-share check's limit
    # the variable holding the URL a failed run is POSTed to (a secret); None: no webhook
    failure_webhook_variable: str | None = None
    report_path: str = str(PROJECT_ROOT / DEFAULT_REPORT_PATH)  # the cdr_report asset's file

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Configuration:
        known = registry(plugin_modules(environ))
        wanted = [n.strip() for n in environ.get("CDR_PROVIDERS", "").split(",") if n.strip()] or list(known)
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise ConfigurationError("CDR_PROVIDERS", ",".join(wanted),
                                     unknown_name(f"provider {unknown[0]!r}", unknown[0], sorted(known)))
        default_start = _date(environ, "CDR_START_DATE", DEFAULT_START_DATE)
        _http_defaults(environ)  # here, so a bad CDR_HTTP_* is named as such, not as the quick start's
        path = accounts_file_path(environ)
        if path is None:
            listed = tuple(account_from_env(known[name], environ, default_start)
                           for name in dict.fromkeys(wanted))
        else:
            listed = tuple(a for a in read_accounts_file(path, known, environ, default_start)
                           if a.provider in wanted)
        accounts = tuple(a for a in listed if a.enabled)
        return cls(
            accounts=accounts,
            start_date=min([default_start, *(a.start_date for a in accounts if a.start_date)]),
            repull_days=_positive(environ, "CDR_REPULL_DAYS", DEFAULT_REPULL_DAYS),
            force_reload=_flag(environ, "CDR_FORCE_RELOAD"),
            fresh_months=fresh_months_from_env(environ),
            warehouse=WarehouseSettings.from_env(environ),
            secrets=environ,
            accounts_file=None if path is None else str(path),
            disabled_accounts=tuple(a for a in listed if not a.enabled),
            quarantine_warn_share=_share(environ, "CDR_QUARANTINE_WARN_SHARE", DEFAULT_QUARANTINE_WARN_SHARE),
            failure_webhook_variable=failure_webhook_from_env(environ),
            report_path=str(PROJECT_ROOT
                            / (environ.get("CDR_REPORT_PATH", "").strip() or DEFAULT_REPORT_PATH)),
        )

    def accounts_of(self, provider: str) -> tuple[ProviderAccount, ...]:
        """The enabled accounts of `provider`, in the order they are listed."""
        return tuple(a for a in self.accounts if a.provider == provider)

    def account(self, provider: str) -> ProviderAccount:
        """The provider's one enabled account (the quick start's); an error if it has several."""
        found = self.accounts_of(provider)
        if not found:
            raise ConfigurationError("CDR_PROVIDERS", provider, "that provider has no enabled account")
        if len(found) > 1:
            raise ConfigurationError(
                self.accounts_file or "CDR_PROVIDERS", None,
                f"{provider} has {len(found)} accounts ({', '.join(a.account for a in found)}): pick one"
                " by name (Configuration.account_named) or take them all (accounts_of)")
        return found[0]

    def account_named(self, provider: str, name: str) -> ProviderAccount:
        for candidate in self.accounts_of(provider):
            if candidate.account == name:
                return candidate
        raise ConfigurationError(self.accounts_file or "CDR_PROVIDERS", None,
                                 f"{provider} has no enabled account named {name!r}")


def accounts_file_path(environ: Mapping[str, str]) -> Path | None:
    """The accounts file: the one `CDR_ACCOUNTS_FILE` names (an error if it does not exist), else
    `cdr-accounts.toml` in the working directory when present, else None (the quick start).
    A relative path stays relative (to the working directory), as errors name it."""
    named = environ.get(ACCOUNTS_FILE_VARIABLE, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigurationError(ACCOUNTS_FILE_VARIABLE, named, "no such file")
        return path
    default = Path(DEFAULT_ACCOUNTS_FILE)
    return default if default.is_file() else None


def read_accounts_file(path: Path, specs: Mapping[str, ProviderSpec], environ: Mapping[str, str],
                       default_start: str = DEFAULT_START_DATE) -> tuple[ProviderAccount, ...]:
    """Every account the file lists, enabled or not, checked: a bad entry is a ConfigurationError
    naming the file, the provider, the account and the field (never a credential's value).

    `environ` gives only the `CDR_HTTP_*` defaults of the HTTP settings; credentials stay
    references, resolved when a client opens."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(str(path), None, f"cannot read the accounts file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(str(path), None, f"not valid TOML: {exc}") from None
    extra = sorted(set(document) - {"accounts"})
    if extra:
        raise ConfigurationError(f"{path}: {extra[0]}", None,
                                 unknown_name("key", extra[0], ["accounts"])
                                 + " (the file holds only [[accounts]] tables)")
    tables = document.get("accounts")
    if not isinstance(tables, list) or not tables:
        raise ConfigurationError(f"{path}: accounts", None, "expected one or more [[accounts]] tables")
    http_defaults = _http_defaults(environ)
    fresh_by_hour = fresh_by_hour_from_env(environ)
    accounts: list[ProviderAccount] = []
    for index, table in enumerate(tables, start=1):
        account = _account_from_table(path, index, table, specs, http_defaults, default_start, fresh_by_hour)
        for earlier in accounts:
            if (earlier.provider, earlier.account) == (account.provider, account.account):
                raise ConfigurationError(f"{path}: {account.provider} account {account.account!r}: name",
                                         None, f"another {account.provider} account has this name;"
                                               " names are unique per provider")
        accounts.append(account)
    return tuple(accounts)


def _http_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """`CDR_HTTP_<SETTING>` values, checked: the HTTP settings of every account not set for it."""
    values = {name: environ[f"CDR_HTTP_{name.upper()}"] for name in _HTTP_FIELDS
              if environ.get(f"CDR_HTTP_{name.upper()}", "").strip()}
    read_settings(HttpSettings, values, where="CDR_HTTP_")
    return values


def _account_from_table(path: Path, index: int, table: object, specs: Mapping[str, ProviderSpec],
                        http_defaults: Mapping[str, str], default_start: str,
                        fresh_by_hour: int = DEFAULT_FRESH_BY_HOUR) -> ProviderAccount:
    where = f"{path}: account #{index}"
    if not isinstance(table, dict):
        raise ConfigurationError(where, None, "expected a table ([[accounts]])")
    unknown = sorted(set(table) - set(_ACCOUNT_KEYS))
    if unknown:
        raise ConfigurationError(f"{where}: {unknown[0]}", None,
                                 unknown_name("key", unknown[0], _ACCOUNT_KEYS))
    provider = table.get("provider")
    if not isinstance(provider, str) or provider not in specs:
        known = sorted(specs)
        raise ConfigurationError(f"{where}: provider", provider,
                                 unknown_name("provider", provider, known) if isinstance(provider, str)
                                 else "required; known: " + ", ".join(known))
    spec = specs[provider]
    name = table.get("name")
    if not isinstance(name, str) or not ACCOUNT_NAME.fullmatch(name):
        raise ConfigurationError(f"{path}: {provider} account #{index}: name", name,
                                 "required: letters, digits, '-', '_' and '.', starting with a letter"
                                 " or digit")
    where = f"{path}: {provider} account {name!r}"
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigurationError(f"{where}: enabled", enabled, "expected true or false")
    customers = _customers(where, spec, table.get("customers"))
    values: dict[str, Any] = {**http_defaults, **_options(where, spec, table.get("options", {})),
                              "account": name}
    if spec.customer_setting is not None and customers is not None:
        values[spec.customer_setting] = customers
    return ProviderAccount(
        spec=spec,
        settings=read_settings(spec.settings_type, values, where=f"{where}: options."),
        credential_variables=_credentials(where, spec, table.get("credentials")),
        time_zone=_time_zone(where, table.get("time_zone", spec.default_time_zone)),
        start_date=_start_date(where, table.get("start_date", default_start)),
        enabled=enabled,
        fresh_by_hour=_hour(f"{where}: fresh_by_hour", table.get("fresh_by_hour", fresh_by_hour)),
        **_reporting(where, table),
        retention=_retention(where, table.get("retention", {})),
        pseudonym_key_variable=_pseudonymise(where, table.get("pseudonymise")),
    )


def _pseudonymise(where: str, reference: object) -> str | None:
    """`pseudonymise = { env = "VARIABLE" }`: the variable holding the key (a literal key is refused,
    as a credential is, without being echoed)."""
    if reference is None:
        return None
    variable = reference.get("env") if isinstance(reference, dict) else None
    if not isinstance(reference, dict) or set(reference) != {"env"} or not isinstance(variable, str) \
            or not _VARIABLE_NAME.fullmatch(variable):
        raise ConfigurationError(f"{where}: pseudonymise", None, 'expected { env = "VARIABLE" }: the'
                                 " environment variable holding the key (never the key itself)")
    return variable


def _retention(where: str, table: object) -> Retention:
    """`retention = { calls_months = 24, raw_days = 90, quarantine_days = 90 }`, each optional."""
    keys = [f.name for f in dataclasses.fields(Retention)]
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: retention", None,
                                 "expected a table, e.g. { calls_months = 24, raw_days = 90,"
                                 " quarantine_days = 90 }")
    for key, value in table.items():
        if key not in keys:
            raise ConfigurationError(f"{where}: retention.{key}", None, unknown_name("key", key, keys))
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"{where}: retention.{key}", value,
                                     "expected a whole number of at least 1")
    return Retention(**table)


def _reporting(where: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """display_name, customer_names, holiday_country and peak_hours, as given (checked)."""
    found: dict[str, Any] = {}
    if "display_name" in table:
        name = table["display_name"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"{where}: display_name", name, "expected a non-empty string")
        found["display_name"] = name.strip()
    if "customer_names" in table:
        names = table["customer_names"]
        if not isinstance(names, dict) or not all(isinstance(v, str) and v.strip() for v in names.values()):
            raise ConfigurationError(f"{where}: customer_names", None,
                                     'expected a table of customer id = "name", e.g. { "100201" = "Bakery" }')
        found["customer_names"] = tuple((str(k), v.strip()) for k, v in names.items())
    if "holiday_country" in table:
        country = table["holiday_country"]
        if country not in HOLIDAY_COUNTRIES:
            raise ConfigurationError(f"{where}: holiday_country", country,
                                     "expected one of " + ", ".join(HOLIDAY_COUNTRIES))
        found["holiday_country"] = country
    if "peak_hours" in table:
        hours = table["peak_hours"]
        if not (isinstance(hours, list) and len(hours) == 2
                and all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 24 for h in hours)
                and hours[0] < hours[1]):
            raise ConfigurationError(f"{where}: peak_hours", hours,
                                     "expected [start, end]: local hours 0 to 24, start before end,"
                                     " e.g. [8, 18]")
        found["peak_hours"] = (hours[0], hours[1])
    return found


def _customers(where: str, spec: ProviderSpec, value: object) -> tuple[str, ...] | str | None:
    """The `customers` list as the spec's customer setting wants it: a tuple, or (a text setting,
    Belfabriek's customer id) exactly one."""
    field_name = f"{where}: customers"
    if value is None:
        customers: list[str] = []
    elif isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool)
                                         for v in value):
        customers = [str(v).strip() for v in value]
    else:
        raise ConfigurationError(field_name, None, 'expected a list of customer ids, e.g. ["100201"]')
    if spec.customer_setting is None:
        if customers:
            raise ConfigurationError(field_name, None, f"{spec.name} has no customers under an account;"
                                                       " leave `customers` out")
        return None
    if any(not c for c in customers):
        raise ConfigurationError(field_name, None, "a customer id is empty")
    repeated = sorted({c for c in customers if customers.count(c) > 1})
    if repeated:
        raise ConfigurationError(field_name, repeated[0], "listed twice")
    if flat_fields(spec.settings_type)[spec.customer_setting] is str:
        if len(customers) != 1:
            raise ConfigurationError(field_name, None, f"a {spec.name} account has exactly one customer"
                                                       f" ({spec.customer_setting}), got {len(customers)}")
        return customers[0]
    return tuple(customers)


def _options(where: str, spec: ProviderSpec, options: object) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise ConfigurationError(f"{where}: options", None, "expected a table ([accounts.options])")
    for key, value in options.items():
        label = f"{where}: options.{key}"
        if key in spec.credential_names:
            # never echoed: the value may be the secret itself
            raise ConfigurationError(label, None, "a credential, not an option: give it under [accounts"
                                                  f'.credentials] as {key} = {{ env = "VARIABLE" }}')
        if key == "account":
            raise ConfigurationError(label, None, "the account is named by `name`")
        if key == spec.customer_setting:
            raise ConfigurationError(label, None, "set by `customers`")
        scalar = (str, int, float, bool)
        if not (isinstance(value, scalar) or (isinstance(value, list)
                                               and all(isinstance(v, scalar) for v in value))):
            raise ConfigurationError(label, None, "expected a string, number, boolean or list of them")
    return dict(options)


def _credentials(where: str, spec: ProviderSpec, table: object) -> dict[str, str]:
    """Credential name -> environment variable, from `{ env = "VARIABLE" }` references. A literal
    value is refused without being echoed."""
    alternatives = " or ".join(" + ".join(names) for names in spec.credentials)
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: credentials", None,
                                 f'required: [accounts.credentials] with {alternatives}, each'
                                 ' { env = "VARIABLE" }')
    references = {}
    for name, reference in table.items():
        label = f"{where}: credentials.{name}"
        if name not in spec.credential_names:
            raise ConfigurationError(label, None, unknown_name("credential", name, spec.credential_names))
        if not isinstance(reference, dict):
            raise ConfigurationError(label, None, "a literal secret is refused: name the environment"
                                                  f' variable that holds it, {name} = {{ env = "VARIABLE" }}')
        variable = reference.get("env")
        if set(reference) != {"env"} or not isinstance(variable, str) \
                or not _VARIABLE_NAME.fullmatch(variable):
            raise ConfigurationError(label, None, 'expected { env = "VARIABLE" }, VARIABLE an environment'
                                                  " variable name")
        references[name] = variable
    if not any(all(name in references for name in names) for names in spec.credentials):
        raise ConfigurationError(f"{where}: credentials", None, f"incomplete: expected {alternatives}")
    return references


def _time_zone(where: str, value: object) -> str:
    if isinstance(value, str) and value:
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise ConfigurationError(f"{where}: time_zone", value, "not an IANA time zone (e.g. Europe/Berlin)")


def _start_date(where: str, value: object) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):  # TOML's date: start_date = 2024-01-01
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ConfigurationError(f"{where}: start_date", value, "expected a date as YYYY-MM-DD")


def _flat_values(settings: object) -> dict[str, Any]:
    """A settings object's values by flat name (nested dataclasses flattened, as settings are named)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]  # a dataclass instance
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(_flat_values(value))
        else:
            out[f.name] = value
    return out


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


def _share(environ: Mapping[str, str], variable: str, default: float) -> float:
    value = environ.get(variable, "").strip()
    if not value:
        return default
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:  # also refuses nan, which compares false either way
        raise ConfigurationError(variable, value, "expected a share between 0 and 1 (0.01 is 1%)")
    return share


def _flag(environ: Mapping[str, str], variable: str) -> bool:
    value = environ.get(variable, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(variable, value, "expected 1/true/yes/on or 0/false/no/off")
