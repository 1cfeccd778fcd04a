"""`make mutate`: remove one mechanism at a time and check that the tests notice.

Each mutant in tools/mutants.py is one semantic change (a lock made a no-op, a retry delay of
zero, a check that always passes) with the tests that claim the mechanism. The runner copies the
working tree to a scratch directory once, then for each mutant: applies it, runs its tests there
against the same PostgreSQL (its own test database), and restores the file. A mutant is

- killed: its tests failed (pytest exit 1), or hung past the timeout;
- survived: its tests passed, so the claim they back is not proven;
- stale: its text is no longer in the file exactly once (the code moved; fix the catalogue);
- error: pytest could not run (collection or usage error), which proves nothing.

Prints a table, writes .bench/mutate.json, and with --write-docs puts the table in
docs/reliability.md between its mutate markers. Exit 1 unless every mutant is killed.

    python tools/mutate.py [--only NAME ...] [--list] [--write-docs] [--timeout S]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import MUTANTS, Mutant  # the catalogue sits beside this script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / ".bench" / "mutate.json"
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- mutate:begin -->", "<!-- mutate:end -->"


@dataclass
class Outcome:
    mutant: Mutant
    result: str  # killed | survived | stale | error
    seconds: float
    evidence: str  # the first failing test, or why it is not a kill


def _copy_tree(target: Path) -> None:
    """The working tree as it is (tracked and untracked files, not ignored ones), uncommitted
    changes included: what is mutated is what the developer is looking at."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _first_failure(output: str) -> str:
    for line in output.splitlines():  # pytest's short summary: "FAILED tests/...::test - why"
        if line.startswith(("FAILED tests", "ERROR tests")):
            return line.split(" - ")[0].split(" ", 1)[1][:100]
    return output.strip().splitlines()[-1][:100] if output.strip() else ""


def run_mutant(mutant: Mutant, tree: Path, environment: dict[str, str], timeout_s: float) -> Outcome:
    path = tree / mutant.path
    original = path.read_text()
    if original.count(mutant.find) != 1:
        found = original.count(mutant.find)
        return Outcome(mutant, "stale", 0.0, f"text found {found} times in {mutant.path}")
    path.write_text(original.replace(mutant.find, mutant.replace))
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "--no-header", "-rfE", *mutant.tests],
                              cwd=tree, env=environment, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Outcome(mutant, "killed", time.monotonic() - started, f"hung past {timeout_s:g} s")
    finally:
        path.write_text(original)
    seconds = time.monotonic() - started
    if done.returncode == 1:
        return Outcome(mutant, "killed", seconds, _first_failure(done.stdout))
    if done.returncode == 0:
        return Outcome(mutant, "survived", seconds, "all its tests passed")
    why = _first_failure(done.stdout + done.stderr)
    return Outcome(mutant, "error", seconds, f"pytest exit {done.returncode}: {why}")


def table(outcomes: list[Outcome], total_s: float) -> str:
    lines = ["| mutant | area | mechanism removed | result | tests run (s) | caught by |",
             "|---|---|---|---|---:|---|"]
    for o in outcomes:
        lines.append(f"| `{o.mutant.name}` | {o.mutant.area} | {o.mutant.removes} | {o.result} | "
                     f"{o.seconds:.0f} | {o.evidence.replace('|', '/')} |")
    killed = sum(o.result == "killed" for o in outcomes)
    lines.append("")
    lines.append(f"{killed} of {len(outcomes)} mutants killed; `make mutate` took {total_s / 60:.1f} min"
                 f" on this machine ({os.cpu_count()} cores).")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="run only these mutants (names)")
    parser.add_argument("--list", action="store_true", help="list the catalogue and exit")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"put the table into {DOC.relative_to(ROOT)}")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before a mutant's tests count as hung")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only is None or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name:<34} {m.area:<12} {m.path}: {m.removes}")
        return 0
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        print(f"unknown mutants: {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2
    environment = {**os.environ, "CDR_TEST_DATABASE": os.environ.get("CDR_MUTATE_DATABASE", "cdr_mutate"),
                   "CDR_PGDATA": os.environ.get("CDR_PGDATA") or str(ROOT / ".pgdata"),
                   "CDR_FAULT_MATRIX_FILE": str(Path(tempfile.gettempdir()) / "cdr-mutate-fault-matrix.json"),
                   "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="cdr-mutate-") as scratch:
        tree = Path(scratch)
        _copy_tree(tree)
        environment["PYTHONPATH"] = str(tree)
        for number, mutant in enumerate(chosen, 1):
            outcome = run_mutant(mutant, tree, environment, args.timeout)
            outcomes.append(outcome)
            print(f"[{number}/{len(chosen)}] {mutant.name}: {outcome.result} in {outcome.seconds:.0f} s"
                  f" ({outcome.evidence})", flush=True)
    total = time.monotonic() - started
    text = table(outcomes, total)
    print()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([{"mutant": o.mutant.name, "area": o.mutant.area, "result": o.result,
                                    "seconds": round(o.seconds, 1), "evidence": o.evidence}
                                   for o in outcomes], indent=2))
    if args.write_docs and args.only is None:
        write_docs(text)
    return 0 if all(o.result == "killed" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
