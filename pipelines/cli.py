"""`cdr-etl`: the command line around the pipeline.

  cdr-etl db start|stop|url|migrate     the warehouse (embedded unless CDR_WAREHOUSE_URL is set)
  cdr-etl parse --provider P FILE        a saved response body -> canonical legs (or a provider's
                                         own rows) as JSON lines; --params gives its request
  cdr-etl simulate [--providers P,..]    serve the provider simulators on fixed loopback ports
  cdr-etl accounts check [--probe]       validate the accounts (docs/accounts.md); --probe makes
                                         one small authenticated request per enabled account
  cdr-etl ui [--port N]                  the Dagster UI (webserver and daemon), simulators running
                                         (`make ui`)
  cdr-etl demo [--days N]                the `make demo` run (--accounts-per-provider N: N accounts each)
  cdr-etl docs [--check]                 docs/data-dictionary.md from the migrated warehouse's catalog
                                         (schema mart); --check exits 1 when the file is stale
  cdr-etl report [--from D] [--to D]     the HTML report of the BI mart (pipelines/report); default the
        [--provider P] [--account A]     last 30 local dates, every account, into ./report.html
        [--out FILE]
  cdr-etl erase --number N [--dry-run]   erase a subscriber number everywhere (docs/privacy.md);
                                         --provider P --account A limit it to one account
  cdr-etl subject --number N             an access request: the number's legs (JSON lines) and
                                         where else it is

A mistake in the settings, the arguments or the warehouse's address is one line, `error: ...`,
naming the setting or argument, and exit status 1 (2 for arguments argparse refuses); `--debug`
or CDR_DEBUG=1 shows the traceback as well.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, NoReturn

import orjson
import psycopg

from pipelines.config import (
    ACCOUNT_NAME,
    Configuration,
    ProviderAccount,
    WarehouseSettings,
    account_from_env,
    debug_from_env,
    migration_dirs,
    plugin_modules,
)
from pipelines.environment import prepare_dagster_home, ui_services
from pipelines.errors import (
    CdrEtlError,
    ConfigurationError,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    unknown_name,
)
from pipelines.model import FetchedPage, ParseNote, Quarantined, RawPage, Window
from pipelines.providers.base import ProviderClient
from pipelines.registry import registry
from pipelines.report import DEFAULT_DAYS, ReportRequest, last_days, write_report
from pipelines.simulators import RunningSimulators, running_simulators
from pipelines.warehouse import connection, dictionary, privacy
from pipelines.warehouse.migrate import migrate


def _parse(args) -> int:
    providers = registry(plugin_modules(os.environ))
    if args.provider not in providers:
        raise ConfigurationError("--provider", args.provider,
                                 unknown_name("provider", args.provider, sorted(providers)))
    if not ACCOUNT_NAME.fullmatch(args.account):
        raise ConfigurationError("--account", args.account, "expected letters, digits, '-', '_' and '.',"
                                 " starting with a letter or digit")
    params = _json_object("--params", args.params) if args.params else None
    # its parse settings, as a load reads them
    source = account_from_env(providers[args.provider], os.environ)
    body = sys.stdin.buffer.read() if args.file == "-" else _read_file("FILE", args.file)
    out = sys.stdout.buffer
    bad = 0
    for item in source.parse([RawPage(None, 1, body, None, params)], args.account):
        if type(item) is ParseNote:
            print(f"{args.provider}: note: {item}", file=sys.stderr)
        elif type(item) is not Quarantined:  # a CallLeg, or a provider's own row type (a NamedTuple)
            record = item._asdict()
            if isinstance(record.get("attributes"), str):
                record["attributes"] = orjson.loads(record["attributes"])
            out.write(orjson.dumps(record, default=str) + b"\n")
        else:
            bad += 1
            where = "body" if item.record_index < 0 else f"record {item.record_index}"
            field = f"field {item.field!r}: " if item.field else ""
            print(f"{item.provider}: {where}: {field}{item.reason}", file=sys.stderr)
    return 1 if bad else 0


def _read_file(argument: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(argument, path, f"cannot read it ({exc.strerror or exc}); expected the"
                                 " path of a saved response body, or - for standard input") from None


def _json_object(argument: str, text: str) -> dict:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(argument, text, f"not JSON ({exc}); expected an object, e.g."
                                 ' \'{"from": "2025-01-01", "to": "2025-01-02"}\'') from None
    if not isinstance(value, dict):
        raise ConfigurationError(argument, text, "expected a JSON object of the request's parameters")
    return value


def _db(args) -> int:
    if args.action == "stop":
        print("stopped" if connection.stop_embedded() else "not running")
        return 0
    url = WarehouseSettings.from_env(os.environ).url(os.environ)
    if args.action == "start":
        print(connection.redact_url(url))
    elif args.action == "url":
        print(url)
    elif args.action == "psql":
        os.execv(str(connection.psql_binary()), ["psql", url])
    elif args.action == "migrate":
        applied = migrate(url, migration_dirs(os.environ))
        print("applied: " + ", ".join(applied) if applied else "schema up to date")
    return 0


def _simulate(args) -> int:
    known = registry(plugin_modules(os.environ))
    names = [n.strip() for n in args.providers.split(",") if n.strip()] or list(known)
    for name in names:
        if name not in known:
            raise ConfigurationError("--providers", args.providers,
                                     unknown_name("provider", name, sorted(known)))
    with _simulators(names, fixed_ports=not args.any_port, legs_per_day=args.legs_per_day) as urls:
        for name, url in urls.items():
            print(f"{name}: {url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


@contextmanager
def _simulators(names: list[str], fixed_ports: bool, **options) -> Iterator[RunningSimulators]:
    """running_simulators, a fixed port already taken said in one line."""
    try:
        with running_simulators(names, fixed_ports=fixed_ports, **options) as urls:
            yield urls
    except OSError as exc:
        if not (fixed_ports and exc.errno == errno.EADDRINUSE):
            raise
        specs = registry(plugin_modules(os.environ))
        ports = ", ".join(f"{name} {specs[name].default_sim_port}" for name in names)
        raise CdrEtlError(f"a simulator port is in use ({ports}): is `cdr-etl simulate` or `make ui`"
                          " already running? Stop it, or give `cdr-etl simulate --any-port`") from None


def _ui(args) -> int:
    # The code location reads the same configuration: a mistake stops here, not in the UI.
    config = Configuration.from_env(os.environ)
    migrate(config.warehouse.url(os.environ), migration_dirs(os.environ))
    prepare_dagster_home()
    with _simulators(list(registry()), fixed_ports=not args.any_port) as urls:
        for name, url in urls.items():
            print(f"simulator: {name} on {url}", flush=True)
        return _serve(ui_services(args.port))


def _serve(services: Mapping[str, list[str]]) -> int:
    """Run the services until one ends or the user interrupts (Ctrl-C, or a SIGTERM to this
    process); then stop the others. The exit status: 0 on an interrupt, else the ended one's."""
    # Handled here, so they start with their default handlers even where this process was
    # started with SIGINT ignored (in the background of a script)
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    running: dict[str, subprocess.Popen] = {}
    try:
        for name, command in services.items():
            # Their own process group: a Ctrl-C reaches this process only, which passes it on once
            # (a second one would make the webserver quit without shutting down cleanly).
            running[name] = subprocess.Popen(command, process_group=0)
        while True:
            ended = [(name, p.returncode) for name, p in running.items() if p.poll() is not None]
            if ended:
                name, status = ended[0]
                print(f"error: {name} exited with status {status}; stopping the UI", file=sys.stderr)
                return status or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # what Ctrl-C sends them: they shut down cleanly
        for process in running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _interrupt(signum, frame) -> NoReturn:
    raise KeyboardInterrupt


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


def _docs(args) -> int:
    """Write the mart's data dictionary from the catalog of the warehouse, migrated first (the
    catalog then holds every COMMENT of the migrations); with --check, write nothing and exit 1
    when the file differs. Either way exit 1 if anything in the mart has no comment."""
    url = WarehouseSettings.from_env(os.environ).url(os.environ)
    migrate(url, migration_dirs(os.environ))
    text, missing = dictionary.data_dictionary(url)
    path = Path(args.output)
    if missing:
        print(f"error: without a COMMENT (add one in a migration): {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.check:
        if dictionary.stale(path, text):
            print(f"error: {path} differs from the warehouse's catalog: run `cdr-etl docs` and commit it",
                  file=sys.stderr)
            return 1
        print(f"{path}: up to date")
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def _demo(args) -> int:
    # Lazy: the demo imports Dagster (about 1.5 s), which no other command needs.
    from pipelines.demo import main as demo  # noqa: PLC0415

    return demo(days=args.days, accounts_per_provider=args.accounts_per_provider)


def _report(args) -> int:
    config = Configuration.from_env(os.environ)
    providers = registry(plugin_modules(os.environ))
    if args.provider is not None and args.provider not in providers:
        raise ConfigurationError("--provider", args.provider,
                                 unknown_name("provider", args.provider, sorted(providers)))
    last = args.to or last_days()[1]
    first = args.first or last - timedelta(days=DEFAULT_DAYS - 1)
    request = ReportRequest(first, last, args.provider, args.account,
                            quarantine_warn_share=config.quarantine_warn_share)
    with connection.connect(config.warehouse.url(os.environ)) as conn:
        written = write_report(conn, request, Path(args.out))
    print(f"report: {written.path.resolve()} ({first} .. {last}, {written.calls:,} calls,"
          f" {written.bytes / 1e6:.1f} MB, {written.seconds:.1f} s)")
    return 0


def _date(text: str) -> date:
    """An argparse type: a date as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _subject_scope(args) -> tuple[privacy.Subject, str]:
    """The number of an erasure or access request (with its pseudonyms in the accounts in scope
    that store them), and the warehouse's URL."""
    if args.account is not None and args.provider is None:
        raise ConfigurationError("--account", args.account, "give --provider too: names are per provider")
    config = Configuration.from_env(os.environ)
    known = sorted(registry(plugin_modules(os.environ)))
    if args.provider is not None and args.provider not in known:
        raise ConfigurationError("--provider", args.provider, unknown_name("provider", args.provider, known))
    in_scope = [a for a in (*config.accounts, *config.disabled_accounts)
                if args.provider in (None, a.provider) and args.account in (None, a.account)]
    who = privacy.subject(args.number, [key for a in in_scope if (key := a.pseudonym_key(os.environ))])
    url = config.warehouse.url(os.environ)
    migrate(url, migration_dirs(os.environ))
    return who, url


def _subject(args) -> int:
    """An access request: the number's legs as JSON lines, then what else holds it, per table."""
    who, url = _subject_scope(args)
    out = sys.stdout.buffer
    with psycopg.connect(url) as conn:
        for leg in privacy.subject_legs(conn, who, args.provider, args.account):
            out.write(orjson.dumps(leg, default=str) + b"\n")
        out.flush()
        touched = privacy.subject_rows(conn, who, args.provider, args.account)
        touched[privacy.RAW_PAGES] = len(privacy.pages_holding(conn, who, args.provider, args.account))
    for name, count in touched.items():
        print(f"{name}: {count}", file=sys.stderr)
    return 0


def _erase(args) -> int:
    """The erasure receipt: rows and pages touched per table; dry, what would be (docs/privacy.md)."""
    who, url = _subject_scope(args)
    with psycopg.connect(url) as conn:
        receipt = privacy.erase(conn, who, args.provider, args.account, dry_run=args.dry_run)
    scope = "every account" if args.provider is None else (
        f"{args.provider} account {args.account!r}" if args.account else f"every {args.provider} account")
    print(f"{'dry run: nothing changed; ' if args.dry_run else ''}erasure of one number in {scope}")
    for line in receipt.lines():
        print("  " + line)
    if not args.dry_run:
        print("recorded in cdr.erasure under a salted hash of the number; later loads apply it too")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, its refusals one line like every other error: argparse's own prints the usage too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]. A --days 0 would otherwise run and print
    a summary of nothing, as if something had been loaded."""
    valid = f"a whole number of at least {low}" if high is None else f"a whole number from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {valid}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {valid}, got {text!r}")
        return value

    return parse


def _arguments() -> argparse.ArgumentParser:
    # --debug after the command as well as before it; SUPPRESS so the command's default does not
    # overwrite a --debug given before the command (and no set_defaults: the action is shared)
    debug = _Parser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="on a mistake, the traceback as well as the one-line error (or CDR_DEBUG=1)")
    parser = _Parser(prog="cdr-etl", description="CDR warehouse ETL", parents=[debug])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", parents=[debug],
                       help="parse a saved provider response body to canonical legs (JSON lines)")
    p.add_argument("--provider", required=True)
    p.add_argument("--account", default="file")
    p.add_argument("--params", default="", help="the request's parameters as JSON, for bodies that need them"
                                                  " (Telecom X: from, to, groupingInterval, customer)")
    p.add_argument("file", help="path to the body, or - for standard input")
    p.set_defaults(run=_parse)

    p = sub.add_parser("db", parents=[debug], help="the warehouse database")
    p.add_argument("action", choices=["start", "stop", "url", "migrate", "psql"])
    p.set_defaults(run=_db)

    p = sub.add_parser("simulate", parents=[debug],
                       help="serve the provider simulators on fixed loopback ports")
    p.add_argument("--providers", default="")
    p.add_argument("--legs-per-day", type=_whole_number(0), default=None)
    p.add_argument("--any-port", action="store_true", help="free ports instead of the fixed ones")
    p.set_defaults(run=_simulate)

    p = sub.add_parser("accounts", parents=[debug],
                       help="the accounts: check the accounts file (docs/accounts.md)")
    accounts = p.add_subparsers(dest="action", required=True)
    p = accounts.add_parser("check", parents=[debug],
                            help="validate the accounts and show them, credentials resolved or not;"
                                 " exit 1 on any problem")
    p.add_argument("--probe", action="store_true",
                   help="also make one small authenticated request per enabled account")
    p.set_defaults(run=_accounts_check)

    p = sub.add_parser("ui", parents=[debug],
                       help="the Dagster UI with the simulators running, on the embedded warehouse")
    p.add_argument("--port", type=_whole_number(1, 65535), default=3000)
    p.add_argument("--any-port", action="store_true", help="free ports for the simulators instead of"
                                                            " the fixed ones")
    p.set_defaults(run=_ui)

    p = sub.add_parser("demo", parents=[debug],
                       help="backfill the last days from the simulators and print a summary")
    p.add_argument("--days", type=_whole_number(1), default=3)
    p.add_argument("--accounts-per-provider", type=_whole_number(1), default=1, metavar="N",
                   help="serve N accounts per provider (writes cdr-accounts.demo.toml, git-ignored)")
    p.set_defaults(run=_demo)

    p = sub.add_parser("docs", parents=[debug],
                       help="write docs/data-dictionary.md from the warehouse's catalog (schema mart)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the file differs from what would be written")
    p.add_argument("--output", default=str(dictionary.DATA_DICTIONARY), metavar="PATH",
                   help="where the dictionary goes (default: docs/data-dictionary.md of this checkout)")
    p.set_defaults(run=_docs)
    p = sub.add_parser("report", parents=[debug],
                       help="write the HTML report of the BI mart: one self-contained file")
    p.add_argument("--from", dest="first", type=_date, default=None, metavar="DATE",
                   help=f"first local date (default: the {DEFAULT_DAYS} dates ending with --to)")
    p.add_argument("--to", type=_date, default=None, metavar="DATE",
                   help="last local date (default: yesterday)")
    p.add_argument("--provider", default=None, help="only this provider's accounts")
    p.add_argument("--account", default=None, help="only this account (its name in the accounts file)")
    p.add_argument("--out", default="report.html", help="the file to write (default: ./report.html)")
    p.set_defaults(run=_report)

    # a subscriber's request: which number, in which accounts
    subject = _Parser(add_help=False)
    subject.add_argument("--number", required=True, help="the number in E.164 form, e.g. +4930123456")
    subject.add_argument("--provider", default=None, help="only this provider's accounts")
    subject.add_argument("--account", default=None, help="only this account (with --provider)")

    p = sub.add_parser("erase", parents=[debug, subject],
                       help="erase a subscriber number everywhere, lastingly; print a receipt"
                            " (docs/privacy.md)")
    p.add_argument("--dry-run", action="store_true",
                   help="only list what would be touched (also the answer to an access request)")
    p.set_defaults(run=_erase)

    p = sub.add_parser("subject", parents=[debug, subject],
                       help="an access request: a number's legs as JSON lines, then per table the rows"
                            " and raw pages holding it (docs/privacy.md)")
    p.set_defaults(run=_subject)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        debug = debug or debug_from_env(os.environ)
        return args.run(args)
    except CdrEtlError as exc:
        # A mistake in the settings, the arguments or the warehouse's address, or a provider's
        # refusal: the message names what and where, and a traceback would only bury it.
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
