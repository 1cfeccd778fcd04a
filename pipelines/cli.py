"""`cdr-etl`: the command line around the pipeline.

  cdr-etl db start|stop|url|migrate     the warehouse (embedded unless CDR_WAREHOUSE_URL is set)
  cdr-etl parse --provider P FILE        a saved response body -> canonical legs (or a provider's
                                         own rows) as JSON lines; --params gives its request
  cdr-etl simulate [--providers P,..]    serve the provider simulators on fixed loopback ports
  cdr-etl ui [--port N]                  the Dagster UI, simulators running (`make ui`)
  cdr-etl demo [--days N]                the `make demo` run
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

from pipelines.config import account_from_env, migration_dirs
from pipelines.environment import prepare_dagster_home
from pipelines.errors import CdrEtlError
from pipelines.model import Quarantined, RawPage
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
        if type(item) is not Quarantined:  # a CallLeg, or a provider's own row type (a NamedTuple)
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


def _demo(args) -> int:
    # Lazy: the demo imports Dagster (about 1.5 s), which no other command needs.
    from pipelines.demo import main as demo  # noqa: PLC0415

    return demo(days=args.days)


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

    p = sub.add_parser("ui", help="the Dagster UI with the simulators running, on the embedded warehouse")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(run=_ui)

    p = sub.add_parser("demo", help="backfill the last days from the simulators and print a summary")
    p.add_argument("--days", type=int, default=3)
    p.set_defaults(run=_demo)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CdrEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
