"""`cdr-etl`: the command line around the pipeline.

  cdr-etl db start|stop|url|migrate     the warehouse (embedded unless CDR_WAREHOUSE_URL is set)
  cdr-etl parse --provider P FILE        a saved response body -> canonical legs (or a provider's
                                         own rows) as JSON lines; --params gives its request
  cdr-etl simulate [--providers P,..]    serve the provider simulators on fixed loopback ports
  cdr-etl accounts check [--probe]       validate the accounts (docs/accounts.md); --probe makes
                                         one small authenticated request per enabled account
  cdr-etl ui [--port N]                  the Dagster UI, simulators running (`make ui`)
  cdr-etl demo [--days N]                the `make demo` run (--accounts-per-provider N: N accounts each)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import orjson

from pipelines.config import Configuration, ProviderAccount, account_from_env, migration_dirs
from pipelines.environment import prepare_dagster_home
from pipelines.errors import (
    CdrEtlError,
    ConfigurationError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
)
from pipelines.model import FetchedPage, ParseNote, Quarantined, RawPage, Window
from pipelines.providers.base import ProviderClient
from pipelines.registry import registry
from pipelines.simulators import running_simulators
from pipelines.warehouse import connection
from pipelines.warehouse.migrate import migrate


def _parse(args) -> int:
    providers = registry()
    if args.provider not in providers:
        print(f"unknown provider {args.provider!r}; known: {', '.join(sorted(providers))}", file=sys.stderr)
        return 2
    # its parse settings, as a load reads them
    source = account_from_env(providers[args.provider], os.environ)
    body = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    out = sys.stdout.buffer
    bad = 0
    params = orjson.loads(args.params) if args.params else None
    for item in source.parse([RawPage(None, 1, body, None, params)], args.account):
        if type(item) is ParseNote:
            print(f"{args.provider}: note: {item.total} {item.name.replace('_', ' ')} ({item.detail})",
                  file=sys.stderr)
        elif type(item) is not Quarantined:  # a CallLeg, or a provider's own row type (a NamedTuple)
            record = item._asdict()
            if isinstance(record.get("attributes"), str):
                record["attributes"] = orjson.loads(record["attributes"])
            out.write(orjson.dumps(record, default=str) + b"\n")
        else:
            bad += 1
            where = "body" if item.record_index < 0 else f"record {item.record_index}"
            print(f"{item.provider}: {where}: field {item.field!r}: {item.reason}", file=sys.stderr)
    return 1 if bad else 0


def _db(args) -> int:
    if args.action == "stop":
        print("stopped" if connection.stop_embedded() else "not running")
    elif args.action == "start":
        print(connection.redact_url(connection.warehouse_url()))
    elif args.action == "url":
        print(connection.warehouse_url())
    elif args.action == "psql":
        os.execv(str(connection.psql_binary()), ["psql", connection.warehouse_url()])
    elif args.action == "migrate":
        applied = migrate(connection.warehouse_url(), migration_dirs(os.environ))
        print("applied: " + ", ".join(applied) if applied else "schema up to date")
    return 0


def _simulate(args) -> int:
    names = [n for n in args.providers.split(",") if n] if args.providers else list(registry())
    with running_simulators(names, fixed_ports=not args.any_port, legs_per_day=args.legs_per_day) as urls:
        for name, url in urls.items():
            print(f"{name}: {url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _ui(args) -> int:
    migrate(connection.warehouse_url(), migration_dirs(os.environ))
    prepare_dagster_home()
    with running_simulators(list(registry()), fixed_ports=True) as urls:
        for name, url in urls.items():
            print(f"simulator: {name} on {url}", flush=True)
        command = [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "pipelines.definitions",
                   "-h", "127.0.0.1", "-p", str(args.port)]
        try:
            return subprocess.call(command)
        except KeyboardInterrupt:
            return 0


def _accounts_check(args) -> int:
    """The accounts as configured, each credential resolved or not (never its value); with
    --probe, one small authenticated request per enabled account. 1 on any problem."""
    environ = os.environ
    config = Configuration.from_env(environ)  # a bad file stops here: main() prints the error line
    source = config.accounts_file or "environment"
    listed = sorted((*config.accounts, *config.disabled_accounts), key=lambda a: (a.provider, a.account))
    print(f"accounts: {config.accounts_file or 'the environment quick start (no accounts file)'}")
    rows = [("provider", "account", "enabled", "time zone", "start", "customers", "credentials", "options")]
    problems = [] if config.accounts else [f"{source}: no enabled account"]
    for account in listed:
        status = account.credential_status(environ)
        rows.append((account.provider, account.account, "yes" if account.enabled else "no",
                     account.time_zone, account.start_date or config.start_date,
                     ",".join(account.customers) or "-",
                     ", ".join(f"{name} resolved" if ok else f"{name} missing {variable}"
                               for name, variable, ok in status),
                     "; ".join(f"{name}={_shown(value)}"
                               for name, value in account.options_in_effect().items()) or "-"))
        if account.enabled:
            problem = _client_problem(account, environ)
            if problem:
                problems.append(f"{source}: {account.provider} account {account.account!r}: {problem}")
    print(_table(rows))
    if args.probe:
        print()
        print("probe: one request per enabled account (a count for yesterday, else a 5-minute window"
              f" of yesterday), {PROBE_TIMEOUT_S:g} s timeout, no retries")
        probed = [("provider", "account", "result", "code", "detail")]
        readings = [("provider", "account", "reading", "observed")]
        for account in (a for a in listed if a.enabled):
            outcome = probe(account, environ)
            probed.append((account.provider, account.account, outcome.result, outcome.code or "-",
                           outcome.detail))
            readings.extend((account.provider, account.account, reading, observed)
                            for reading, observed in outcome.readings)
            if outcome.result != "ok":
                problems.append(f"{source}: {account.provider} account {account.account!r}: probe"
                                f" {outcome.result}" + (f" [code {outcome.code}]" if outcome.code else ""))
        print(_table(probed))
        if len(readings) > 1:
            print()
            print("readings: what the first answer for yesterday shows of the readings each provider's"
                  " docs leave open (checklists: docs/providers/<provider>.md)")
            print(_table(readings))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


PROBE_TIMEOUT_S = 10.0


def _client_problem(account: ProviderAccount, environ: Mapping[str, str]) -> str:
    """Why this account's client cannot open (its credentials unset, or settings its client
    refuses), or "". Opening a client sends nothing."""
    if not account.credentials_resolve(environ):
        missing = [variable for _, variable, ok in account.credential_status(environ) if not ok]
        return "credentials: not set: " + ", ".join(missing)
    try:
        account.open_client(environ).close()
    except CdrEtlError as exc:
        return str(exc)
    return ""


class ProbeOutcome(NamedTuple):
    result: str  # ok | refused | unreachable | not probed
    code: str | None  # the provider's error code
    detail: str
    # (reading, observed) pairs from the spec's observe_readings, for an account that answered
    readings: tuple[tuple[str, str], ...] = ()


def probe(account: ProviderAccount, environ: Mapping[str, str], now: datetime | None = None) -> ProbeOutcome:
    """The outcome of one small authenticated request: the provider's count for yesterday where
    it has one (TENIOS), else the first page of a 5-minute window of yesterday. One attempt, a
    short timeout. Where the provider observes readings, one more request (the first page of the
    whole of yesterday) shows what its answers say of them."""
    http = dataclasses.replace(account.settings.http, max_attempts=1, window_attempts=1,
                               timeout_s=min(account.settings.http.timeout_s, PROBE_TIMEOUT_S))
    quick = dataclasses.replace(account, settings=dataclasses.replace(account.settings, http=http))
    day = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    try:
        client = quick.open_client(environ)
    except ConfigurationError as exc:
        return ProbeOutcome("not probed", None, str(exc))
    except ProviderError as exc:
        return _probe_failure(exc)
    try:
        count = client.provider_count((day, day + timedelta(days=1)))
        if count is not None:
            detail = f"{count} records on {day.date()}"
        else:
            start = day + timedelta(hours=12)
            page = _first_page(client, (start, start + timedelta(minutes=5)))
            detail = (f"HTTP {page.http_status}, {page.records} records in the first answer for"
                      f" {start:%Y-%m-%d %H:%M}-{start + timedelta(minutes=5):%H:%M} UTC"
                      if page is not None else "no answer to read (nothing to request)")
        observe = account.spec.observe_readings
        if observe is None:
            return ProbeOutcome("ok", None, detail)
        page = _first_page(client, (day, day + timedelta(days=1)))
        readings = tuple(observe(page)) if page is not None else (("answers", "none to read"),)
        return ProbeOutcome("ok", None, detail, readings)
    except ProviderError as exc:
        return _probe_failure(exc)
    finally:
        client.close()


def _first_page(client: ProviderClient, window: Window) -> FetchedPage | None:
    pages = client.fetch_window(window)
    try:
        return next(iter(pages), None)
    finally:
        getattr(pages, "close", lambda: None)()  # a generator: stop before any further request


def _probe_failure(exc: ProviderError) -> ProbeOutcome:
    """refused: the provider turned the credentials or the request down; unreachable: no usable
    answer (connection, timeout, 5xx, rate limit, a body that is not the API's)."""
    result = "refused" if isinstance(exc, ProviderAuthError | ProviderRequestError) else "unreachable"
    detail = exc.detail.removeprefix("gave up after 1 attempts: ")
    status = f" (HTTP {exc.status})" if exc.status is not None else ""
    return ProbeOutcome(result, exc.code, detail + status)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def _table(rows: Sequence[Iterable[str]]) -> str:
    """Left-aligned columns two spaces apart (the last one unpadded)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False))
                     + "  " + row[-1] for row in cells)


def _demo(args) -> int:
    # Lazy: the demo imports Dagster (about 1.5 s), which no other command needs.
    from pipelines.demo import main as demo  # noqa: PLC0415

    return demo(days=args.days, accounts_per_provider=args.accounts_per_provider)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cdr-etl", description="CDR warehouse ETL")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse a saved provider response body to canonical legs (JSON lines)")
    p.add_argument("--provider", required=True)
    p.add_argument("--account", default="file")
    p.add_argument("--params", default="", help="the request's parameters as JSON, for bodies that need them"
                                                  " (Telecom X: from, to, groupingInterval, customer)")
    p.add_argument("file", help="path to the body, or - for standard input")
    p.set_defaults(run=_parse)

    p = sub.add_parser("db", help="the warehouse database")
    p.add_argument("action", choices=["start", "stop", "url", "migrate", "psql"])
    p.set_defaults(run=_db)

    p = sub.add_parser("simulate", help="serve the provider simulators on fixed loopback ports")
    p.add_argument("--providers", default="")
    p.add_argument("--legs-per-day", type=int, default=None)
    p.add_argument("--any-port", action="store_true", help="free ports instead of the fixed ones")
    p.set_defaults(run=_simulate)

    p = sub.add_parser("accounts", help="the accounts: check the accounts file (docs/accounts.md)")
    accounts = p.add_subparsers(dest="action", required=True)
    p = accounts.add_parser("check", help="validate the accounts and show them, credentials resolved or"
                                          " not; exit 1 on any problem")
    p.add_argument("--probe", action="store_true",
                   help="also make one small authenticated request per enabled account")
    p.set_defaults(run=_accounts_check)

    p = sub.add_parser("ui", help="the Dagster UI with the simulators running, on the embedded warehouse")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(run=_ui)

    p = sub.add_parser("demo", help="backfill the last days from the simulators and print a summary")
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--accounts-per-provider", type=int, default=1, metavar="N",
                   help="serve N accounts per provider (writes cdr-accounts.demo.toml, git-ignored)")
    p.set_defaults(run=_demo)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CdrEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
