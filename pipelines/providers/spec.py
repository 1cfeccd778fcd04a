"""The provider contract: what a provider folder declares so the shared pipeline can drive it.

A provider folder (`pipelines/providers/<name>/`) exports one `ProviderSpec` as `SPEC` from its
`__init__.py`; `pipelines/registry.py` lists the specs. Everything else (assets, the load path,
checks, the derived tables, the shared test suites) is built from that declaration:

- `items`: the kinds of rows its parser yields (`ItemKind`): each names its row type, the table it
  lands in and the SQL pair (stage, merge) that loads it. The first kind names the load asset.
- `settings_type`: a frozen dataclass of the provider's settings; `credentials`: the names of its
  secrets, which are only ever references to environment variables.
- `open_client(settings, credentials, pacing)` and `parse_pages(pages, account, parse_settings)`;
  `pacing` (base.Pacing or None) gives a provider that paces its requests a pacer shared across
  processes (pipelines.warehouse.pacing); the others ignore it.
- `simulator`: its API on loopback, for the demo, the tests and the benchmark.
- `conformance`: what the shared test suites need to know of it, from its `conformance.py`
  (`Conformance` below; the suites take its row types and tables from `items`).
- `observe_readings`: what an answer shows of the readings its docs leave open (for `--probe`).
- `has_provider_count` and `checks`: whether its API gives its own record count per window, and
  the checks of its own rows (`ProviderCheck`), beside the shared ones (pipelines.assets.checks).
"""
from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigurationError
from pipelines.model import LEG_COLUMNS, QUARANTINE_COLUMNS, CallLeg, FetchedPage, Quarantined, RawPage
from pipelines.providers.base import Pacing, ProviderClient
from pipelines.providers.settings import ProviderSettings
from pipelines.sql import SQL_DIR

_SHARED_PARSING = [Path(__file__).with_name("common.py"), Path(__file__).parents[1] / "numbers.py",
                   Path(__file__).parents[1] / "model.py"]


@dataclass(frozen=True)
class ItemKind:
    """A kind of row a parser yields and the warehouse stores, and how it is loaded.

    Loading is the same for every kind (pipelines.warehouse.load): `stage_sql` creates the
    per-transaction table `staging_table`, the rows are COPYed into it (binary COPY with
    `copy_types` when given, else text COPY), and `merge_sql` merges it into `table` in one
    guarded statement returning (staged, distinct, inserted, updated).
    """

    name: str                  # "call_legs": the load asset's suffix and the metadata prefix
    row_type: type             # a NamedTuple whose fields are the staging table's COPY columns
    table: str                 # where the rows end up
    staging_table: str
    stage_sql: Path
    merge_sql: Path
    description: str
    copy_types: tuple[str, ...] | None = None
    # tables the shared derived assets rebuild from this kind (e.g. calls and aggregates from legs)
    derived_tables: tuple[str, ...] = ()
    # the timestamptz column that places a row in a UTC day (its daily partition), for the
    # day's row count Dagster shows (dagster/row_count); None: the rows belong to no day
    day_column: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row_type._fields)  # type: ignore[attr-defined]  # NamedTuple

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table a load of this kind writes or refreshes."""
        return (self.table, *self.derived_tables)


# Binary COPY: about twice the rows per second of text COPY (Python -> PostgreSQL). The types
# match sql/load/stage_call_legs.sql column for column.
_LEG_COPY_TYPES = {
    "duration_s": "int4", "billable_s": "float8", "cost_eur": "float8", "raw_response_id": "int8",
    "started_at": "timestamptz", "answered_at": "timestamptz", "ended_at": "timestamptz",
}

CALL_LEGS = ItemKind(
    name="call_legs",
    row_type=CallLeg,
    table="cdr.fact_call_leg",
    staging_table="stage_call_leg",
    stage_sql=SQL_DIR / "load" / "stage_call_legs.sql",
    merge_sql=SQL_DIR / "load" / "merge_call_legs.sql",
    description="legs merged into cdr.fact_call_leg (deduplicated by leg key)",
    copy_types=tuple(_LEG_COPY_TYPES.get(column, "text") for column in LEG_COLUMNS),
    derived_tables=("cdr.fact_call", "cdr.agg_call_leg_hourly", "cdr.agg_call_leg_daily"),
    day_column="started_at",
)

# Every provider's parser may yield Quarantined records; they load like any other kind.
QUARANTINE = ItemKind(
    name="quarantine",
    row_type=Quarantined,
    table="cdr.quarantine",
    staging_table="stage_quarantine",
    stage_sql=SQL_DIR / "load" / "stage_quarantine.sql",
    merge_sql=SQL_DIR / "load" / "merge_quarantine.sql",
    description="records that could not be read, with their reason",
)
assert QUARANTINE.columns == QUARANTINE_COLUMNS


@dataclass(frozen=True)
class SimulatedAccount:
    """One account a simulator serves: what an accounts-file entry needs to reach it."""

    name: str
    credentials: Mapping[str, str]  # credential name -> the value the simulator accepts
    customers: tuple[str, ...] = ()  # where the provider has them (spec.customer_setting)
    options: Mapping[str, str] = field(default_factory=dict)  # settings; base_url from running_simulators


@dataclass(frozen=True)
class SimulatedProvider:
    """A running simulator's app and the environment variables that point the pipeline at it."""

    app: Any
    environment: dict[str, str]  # the first account's; {NAME}_BASE_URL is added by the caller
    # every account the app serves, each with its own credentials, customers and data; the first
    # is the one `environment` describes
    accounts: tuple[SimulatedAccount, ...] = ()


def simulated_environment(provider: str, **values: str) -> dict[str, str]:
    """The quick-start variables (`<PROVIDER>_<NAME>`) that give a provider's settings and
    credentials the values its simulator accepts."""
    return {f"{provider.upper()}_{name.upper()}": value for name, value in values.items()}


def simulated_account_name(provider: str, index: int) -> str:
    """The name of a simulator's account `index` (from 1): `tenios-demo`, `tenios-demo-2`, ..."""
    return f"{provider}-demo" if index == 1 else f"{provider}-demo-{index}"


def simulated_hex(*parts: object, length: int = 16) -> str:
    """Deterministic hex from `parts`, for a simulator's made-up credentials and customer ids."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Login:
    """One of the provider's credential alternatives, as the secrets suite runs it against the
    simulator. Keys are credential names; the suite sets them as `<PROVIDER>_<NAME>` variables."""

    name: str  # names the test case: "token", "password"
    # credentials the simulator refuses; the values of these credentials, right and wrong, are
    # the secrets searched for (a user name is not one)
    wrong: Mapping[str, str]
    # over the simulator's environment, to choose this alternative ("": unset, as a blank variable is)
    credentials: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Conformance:
    """What the shared test suites (fault matrix, fuzzing, one bad record, secrets, hostile
    strings) need to know of a provider, supplied from its own folder (`conformance.py`).

    Its row types and tables are not repeated here: the suites read them from `ProviderSpec.items`.
    The callables are pure, bytes in and bytes out, on a body as the provider's simulator serves it.
    """

    data_path: str  # the endpoint whose answers carry the records (where faults are injected)
    empty_answer: tuple[str, str]  # a well-formed answer with no records: (body, content type)
    # an error reported inside an HTTP 200 answer, (body, content type); None: the API has none
    error_answer: tuple[str, str] | None
    # the doc examples (files in `<folder>/conformance/`), each with the request params that
    # produced it: a parser may read them (Telecom X maps interval keys through them)
    fixtures: tuple[tuple[Path, Mapping[str, Any]], ...]
    record_count: Callable[[bytes], int]
    # the body with record `index` made unreadable by a bad value in a field the parser requires
    break_record: Callable[[bytes, int, str], bytes]
    # the body with record `index`'s free-text fields (ones the parser keeps verbatim) set to `text`
    with_text: Callable[[bytes, int, str], bytes]
    logins: tuple[Login, ...]  # every credential alternative of `ProviderSpec.credentials`
    rows_per_record: int | None = 1  # rows a good record yields; None: it varies
    # its answers carry a record count (TENIOS's total_items), so an empty answer for a day with
    # calls is refused instead of being taken for a quiet day
    reports_record_count: bool = False
    # it pages by offset: the fault matrix also moves and repeats records across pages, with
    # `paging_settings` (setting name -> value) making a simulated day span several pages
    paging_faults: bool = False
    paging_settings: Mapping[str, str] = field(default_factory=dict)
    # for the fuzzer: bodies that attack the format itself (XML entity expansion), tried in about
    # one structural mutation in ten, and request-param values the parser gives a meaning to
    hostile_bodies: tuple[bytes, ...] = ()
    param_values: tuple[str, ...] = ()
    # well-formed answers that are not the provider's record payload, as (name, body, content
    # type): another of its endpoints' answers. The shared suite adds an HTML page served with
    # HTTP 200 and an empty JSON object; the client and the parser must refuse each, never read
    # one as zero records.
    foreign_answers: tuple[tuple[str, str, str], ...] = ()

    def fixture_pages(self) -> list[tuple[bytes, dict[str, Any]]]:
        """Each doc example's body and request params."""
        return [(path.read_bytes(), dict(params)) for path, params in self.fixtures]


@dataclass(frozen=True)
class ProviderCheck:
    """A check of a provider's own rows, run on each of its accounts' load asset after the load
    (pipelines.assets.checks). `sql` takes `provider`, `account` and the checked UTC days
    [`first`, `last`) and returns one row: (violations, a few examples as text[]); it passes when
    violations is 0."""

    name: str
    description: str
    sql: Path
    blocking: bool = False  # a failure stops the assets downstream of the load asset


@dataclass(frozen=True)
class ProviderSpec:
    """How the shared pipeline drives one provider (see the module docstring)."""

    name: str
    package: str  # the provider's package (`pipelines.providers.tenios`): its folder
    settings_type: type[ProviderSettings]
    # the secrets a client needs, as alternatives: the first set whose every variable is set is
    # used (Telecom X: (("token",), ("username", "password")))
    credentials: tuple[tuple[str, ...], ...]
    open_client: Callable[[Any, Mapping[str, str], Pacing | None], ProviderClient]
    parse_pages: Callable[[Iterable[RawPage], str, Any], Iterator[Any]]
    items: tuple[ItemKind, ...]
    simulator: Callable[..., SimulatedProvider]  # simulated(legs_per_day, accounts=1)
    default_sim_port: int
    conformance: Conformance | None = None
    # the setting an account's `customers` (accounts file) fills: a tuple setting takes any number,
    # a text setting exactly one; None: the provider has no customers under a login (TENIOS)
    customer_setting: str | None = None
    # an account's reporting time zone unless the accounts file gives one (IANA name)
    default_time_zone: str = "UTC"
    # what one answer of the real API shows of the readings its docs leave open, as (reading,
    # observed) pairs: `cdr-etl accounts check --probe` prints them for the first answer of
    # yesterday, the first-run checklist in docs/providers/<name>.md says what to do with them
    observe_readings: Callable[[FetchedPage], Iterable[tuple[str, str]]] | None = None
    # its API counts the records of a window itself (TENIOS /cdrs/count): the
    # reconciles_with_provider_count check exists only where this is true
    has_provider_count: bool = False
    checks: tuple[ProviderCheck, ...] = ()

    @property
    def folder(self) -> Path:
        return Path(importlib.import_module(self.package).__file__ or "").parent

    @property
    def primary(self) -> ItemKind:
        """The kind that names the load asset and fills the audit's row counts."""
        return self.items[0]

    @property
    def migrations_dir(self) -> Path:
        """The provider's own tables: `<folder>/sql/migrations/NNN_*.sql`, applied in file-name
        order together with the shared ones in sql/migrations."""
        return self.folder / "sql" / "migrations"

    @property
    def env_prefix(self) -> str:
        return self.name.upper()

    @property
    def credential_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for names in self.credentials for name in names))

    @property
    def base_url_variable(self) -> str:
        return f"{self.env_prefix}_BASE_URL"

    def parser_version(self, settings: ProviderSettings) -> str:
        """Changes whenever what the parser makes of the same bytes could change: the provider's
        code and SQL, the shared parsing code and load SQL, or its parse settings. A window
        already loaded from identical pages with the same version is not parsed again."""
        digest = hashlib.sha256(_code_digest(self.folder))
        digest.update(repr(settings.parse_settings()).encode())
        return digest.hexdigest()[:16]


@cache
def _code_digest(folder: Path) -> bytes:
    files = [*sorted(folder.rglob("*.py")), *sorted(folder.rglob("*.sql")), *_SHARED_PARSING,
             *sorted((SQL_DIR / "load").glob("*.sql"))]
    return hashlib.sha256(b"".join(path.read_bytes() for path in files)).digest()


def resolve_credentials(spec: ProviderSpec, account: str, references: Mapping[str, str],
                        environ: Mapping[str, str]) -> dict[str, str]:
    """The secrets named by `references` (credential name -> environment variable), read from
    `environ`: the first of the spec's alternative sets whose every variable is set.

    Called when a client opens, so a secret lives only in the environment and the client; it is
    never part of a setting, Dagster's config or an event. An error names the variables, never a
    value."""
    for names in spec.credentials:
        variables = [references.get(name) for name in names]
        if all(v and environ.get(v) for v in variables):
            return {name: environ[v] for name, v in zip(names, variables, strict=True) if v}
    wanted = " or ".join(" + ".join(references.get(n) or n for n in names) for names in spec.credentials)
    raise ConfigurationError(wanted, None, f"{spec.name} account {account!r}: credentials not set"
                             " (each is the name of an environment variable holding the secret)")
