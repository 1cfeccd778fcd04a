"""Put the figures the tests and the benchmark measured into README.md, docs/reliability.md and
docs/benchmarks.md.

The fault tests record what they injected and measured (counted at the simulator and in the
warehouse) in .bench/fault_matrix.json (tests/faults) and .bench/process_faults.json
(tests/recovery); this renders those records as the tables between the `figures:` markers, so
no figure in the docs is typed in. `make figures` runs those tests first, then this.

    python tools/doc_figures.py [--check]    # --check: exit 1 if the docs differ from the records
    python tools/doc_figures.py --bench      # docs/benchmarks.md's latest run, from .bench/results.json
                                             # (`make bench` runs this after the benchmark)
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
README, RELIABILITY = ROOT / "README.md", ROOT / "docs" / "reliability.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
NAMES = {"tenios": "TENIOS", "belfabriek": "Belfabriek", "mixvoip": "MIXvoip", "telecomx": "Telecom X"}


def _records(name: str) -> list[dict]:
    path = BENCH / name
    if not path.exists():
        sys.exit(f"{path.relative_to(ROOT)} is missing: run `make figures` (it runs the fault tests first)")
    return json.loads(path.read_text())


def _outcome(text: str) -> str:
    """A run's outcome as recorded ("success", or "failed: <module.Error>: <message>")."""
    if not text.startswith("failed: "):
        return text
    message = re.sub(r"^(?:[\w.]+\.)?(\w+Error|Failure): ", "", text.removeprefix("failed: "))
    message = re.sub(r" window \[[^)]*\)", "", message)  # the window is the case's day
    return f"failed, nothing committed: `{message.strip()}`"


def fault_matrix_table(rows: list[dict]) -> str:
    lines = ["| provider | fault | injected | partitions | rows lost | duplicates | run outcome |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['provider']} | {r['fault']} | {r['injected']} | {r['partitions']} | {r['rows_lost']} |"
              f" {r['rows_duplicated']} | {_outcome(r['outcome'])} |" for r in rows]
    return "\n".join(lines)


def process_faults_table(rows: list[dict]) -> str:
    lines = [("| fault | provider | times injected | partitions (legs) | rows lost | duplicates"
             " | run outcome |"), "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['fault']} | {NAMES.get(r['provider'], r['provider'])} | {r['injected']} |"
              f" {r['partitions']} ({r['legs_in_partitions']:,}) | {r['rows_lost']} | {r['duplicates']} |"
              f" {r['outcome']} |" for r in rows]
    return "\n".join(lines)


# README's summary: the recorded cases grouped, each group's figures summed. (group, which
# records, what the run does)
_TRANSPORT = ("timeout", "connection reset", "5xx burst", "rate limit")
_GROUPS: list[tuple[str, str, Callable[[dict], bool], str]] = [
    ("timeouts, connection resets, 5xx bursts, HTTP 429, rate limits in HTTP 200 bodies, truncated bodies",
     "fault_matrix", lambda r: r["fault"].startswith(_TRANSPORT) or r["fault"] == "truncated body",
     "retried with backoff and jitter; run succeeds"),
    ("5xx outage longer than the retries", "fault_matrix", lambda r: r["fault"].startswith("5xx outage"),
     "run fails naming provider and window; nothing committed"),
    ("records moving or repeating between pages, valid-but-empty answers", "fault_matrix",
     lambda r: r["fault"].startswith(("record ", "valid but empty")),
     "window fetched again from page 1; run succeeds"),
    ("empty answer on a re-pull of a loaded day", "fault_matrix",
     lambda r: r["fault"].startswith("empty answer"),
     "nothing taken away (a provider with a count fails instead: its count disagrees)"),
    ("SIGKILL during fetch, COPY, MERGE, before the aggregate refresh, mid-backfill", "process_faults",
     lambda r: r["fault"].startswith("SIGKILL"), "nothing partial committed; re-run succeeds"),
    (("PostgreSQL restarted mid-MERGE; temp space exhausted; real disk full (ENOSPC, where the test may"
      " mount a tmpfs: root with CAP_SYS_ADMIN; skipped elsewhere, saying so)"), "process_faults",
     lambda r: r["fault"].startswith(("PostgreSQL", "temporary file", "disk full")),
     "run fails clearly; previous state intact; re-run succeeds"),
    ("two runs of the same days at once", "process_faults", lambda r: r["fault"].startswith("two runs"),
     "both succeed; the second changes nothing"),
]


def summary_table(matrix: list[dict], process: list[dict]) -> str:
    recorded = {"fault_matrix": matrix, "process_faults": process}
    lines = [("| fault (injected by the tests) | providers | cases | faults injected | rows lost"
              " | duplicates | outcome |"), "|---|---|---|---|---|---|---|"]
    for label, source, member, outcome in _GROUPS:
        rows = [r for r in recorded[source] if member(r)]
        if not rows:
            continue
        providers = ", ".join(NAMES.get(p, p) for p in dict.fromkeys(r["provider"] for r in rows))
        lost = sum(r["rows_lost"] for r in rows)
        duplicates = sum(r.get("rows_duplicated", r.get("duplicates", 0)) for r in rows)
        lines.append(f"| {label} | {providers} | {len(rows)} | {sum(r['injected'] for r in rows)} | {lost} |"
                     f" {duplicates} | {outcome} |")
    return "\n".join(lines)


def bench_run_table(results: dict) -> str:
    """The latest `make bench`: every stage, then each provider's figures against the targets."""
    summary = results["summary"]
    lines = [(f"Measured on {results.get('measured_on', 'an unrecorded date')}, {results.get('cpus', '?')}"
              f" CPUs, {results['legs_per_provider']:,} legs per provider over {results['days']} days"
              " (`.bench/results.json`)."), "",
             "| provider | stage | legs | seconds | legs/s | rows rewritten | peak RSS MiB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for s in results["stages"]:
        rewritten = "" if s.get("rewritten") is None else f"{s['rewritten']:,}"
        lines.append(f"| {s['provider']} | {s['name']} | {s['legs']:,} | {s['seconds']:.2f} |"
                     f" {s['legs_per_s']:,.0f} | {rewritten} | {s['peak_rss_mib']:.0f} |")
    providers = {name: f for name, f in summary.items() if "first_load_legs_per_s" in f}
    if providers:
        lines += ["", ("| provider | first load legs/s | vs reference | at best, for its CPU work"
                       " | fresh month vs reference | vs dlt"
                       " | calls assembly | aggregates | mart refresh | number enrichment | peak RSS MiB |"),
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, f in providers.items():
            dlt = f"{f['first_load_vs_dlt']:.2f}x" if "first_load_vs_dlt" in f else "not run"
            # results.json files from before the fresh-month stage lack it
            fresh = f"{f['fresh_vs_reference']:.2f}x" if "fresh_vs_reference" in f else "not run"
            bound = (f"{f['first_load_cpu_bound_vs_reference']:.2f}x ({f['first_load_cpu_s']:.0f} CPU-s)"
                     if "first_load_cpu_bound_vs_reference" in f else "not measured")
            shares = " | ".join(f"{f[key]:.0%}" for key in (
                "calls_assembly_share_of_day_load", "aggregates_refresh_share_of_day_load",
                "mart_refresh_share_of_day_load", "number_enrichment_share_of_day_load"))
            lines.append(f"| {NAMES.get(name, name)} | {f['first_load_legs_per_s']:,.0f} |"
                         f" {f['first_load_vs_reference']:.2f}x | {bound} | {fresh} | {dlt} | {shares} |"
                         f" {f['peak_rss_mib']:.0f} |")
        lines.append("\n(calls assembly, aggregates, mart refresh and number enrichment: one day's, as a"
                     " share of one day's first load. At best, for its CPU work: the first load's CPU"
                     " seconds, its process's and the server's, spread over every core, as a ratio to"
                     " the reference; no overlap of its parts can do better)")
    for key, label in (("report_loaded_accounts", "the loaded accounts"), ("report_many_accounts", "many")):
        if key in summary:
            r = summary[key]
            lines.append(f"\nThe report, {label} ({r['accounts']} accounts): written in {r['seconds']:.2f} s,"
                         f" {r['bytes'] / 1e6:.2f} MB, peak RSS {r['peak_rss_mib']:.0f} MiB.")
    pull = summary.get("rate_limited_pull")
    if pull:
        lines.append(f"\nThe nightly pull against a rate limit: {pull['accounts']} accounts x {pull['days']}"
                     f" days, {pull['requests_per_s']:.2f} requests/s = {pull['ratio_to_ceiling']:.2f}x the"
                     f" ceiling ({pull['ceiling_requests_per_s']:.2f} requests/s).")
    return "\n".join(lines)


def replace_between(text: str, name: str, table: str) -> str:
    begin, end = f"<!-- figures:{name} -->", f"<!-- /figures:{name} -->"
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + table + "\n" + text[stop:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the docs differ from the records")
    parser.add_argument("--bench", action="store_true",
                        help="only docs/benchmarks.md's latest run, from .bench/results.json")
    args = parser.parse_args(argv)
    if args.bench:
        before = BENCHMARKS.read_text()
        results = json.loads((BENCH / "results.json").read_text())
        after = replace_between(before, "bench-run", bench_run_table(results))
        stale = after != before
        if not args.check:
            BENCHMARKS.write_text(after)
        print("docs/benchmarks.md: " + ("differs from .bench/results.json" if args.check and stale
                                        else "the latest run written" if not args.check else "up to date"))
        return 1 if args.check and stale else 0
    matrix, process = _records("fault_matrix.json"), _records("process_faults.json")
    changed = []
    for path, tables in ((RELIABILITY, {"fault-matrix": fault_matrix_table(matrix),
                                        "process-faults": process_faults_table(process)}),
                         (README, {"summary": summary_table(matrix, process)})):
        before = path.read_text()
        after = before
        for name, table in tables.items():
            after = replace_between(after, name, table)
        if after != before:
            changed.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(after)
    verb = "differ from the records" if args.check else "updated"
    print(f"{', '.join(map(str, changed))}: {verb}" if changed else "the docs match the recorded figures")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
