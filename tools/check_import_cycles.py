"""Fail if any import cycle exists in `pipelines`, and print every one.

import-linter's layers contract cannot see a cycle between modules of one layer (or inside one
package), so `make check` runs this too. It uses grimp, the graph library import-linter is built on.

The graph holds every import in the source: top-level, inside functions, under TYPE_CHECKING.
A lazy import still ties the two modules together, so it is still a cycle.

Python runs a package's `__init__` before any module in it: `import pipelines.providers.tenios.parse`
also runs `pipelines.providers` and `pipelines.providers.tenios`. So an import of a.b.c also counts
as an (implicit) import of a.b and a -- except where the importer is itself inside that package: its
own parent package is already being imported (likewise a package importing its own submodule), so
that implicit edge is no dependency. An explicit
import of the parent (`from pipelines.providers import X` inside pipelines.providers.tenios) is an
ordinary edge, and makes a cycle only if the parent's `__init__` really imports back.

Usage: python tools/check_import_cycles.py [package]   (default: pipelines). Exit 1 if any cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import grimp

# Enough to read; a tangle bigger than this is fixed from its strongly connected groups, not by
# reading every one of its cycles.
MAX_CYCLES_SHOWN = 500


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int | None  # the importer's line; None for an implicit parent-package edge
    via: str | None  # for an implicit edge: the module whose import runs the package


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def build_edges(package: str) -> dict[str, dict[str, Edge]]:
    graph = grimp.build_graph(package, include_external_packages=False, cache_dir=None)
    edges: dict[str, dict[str, Edge]] = {module: {} for module in graph.modules}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            details = graph.get_import_details(importer=importer, imported=imported)
            line = min((d["line_number"] for d in details), default=None)
            edges[importer][imported] = Edge(importer, imported, line, None)
        own_packages = {importer, *_ancestors(importer)}
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            for package_name in _ancestors(imported):
                if package_name in own_packages or package_name in edges[importer]:
                    continue
                via = edges[importer][imported]
                edges[importer][package_name] = Edge(importer, package_name, via.line, imported)
    return edges


def strongly_connected(nodes: list[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit to worry about)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def elementary_cycles(group: list[str], succ: dict[str, list[str]]) -> Iterator[list[str]]:
    """Every cycle in one strongly connected group, once each, starting at its smallest module."""
    members = set(group)
    for start in group:  # sorted: a cycle is reported from its smallest module only
        allowed = {m for m in members if m >= start}
        path = [start]
        on_path = {start}
        work = [iter([m for m in succ[start] if m in allowed])]
        while work:
            nxt = next(work[-1], None)
            if nxt is None:
                work.pop()
                on_path.discard(path.pop())
                continue
            if nxt == start:
                yield [*path, start]
            elif nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                work.append(iter([m for m in succ[nxt] if m in allowed]))


def describe(cycle: list[str], edges: dict[str, dict[str, Edge]]) -> str:
    parts = []
    for importer, imported in pairwise(cycle):
        edge = edges[importer][imported]
        where = f"l.{edge.line}" if edge.line is not None else "?"
        if edge.via is not None:
            where += f", importing {edge.via} runs it first"
        parts.append(f"{importer} ({where})")
    return " -> ".join([*parts, cycle[-1]])


def main(argv: list[str]) -> int:
    package = argv[1] if len(argv) > 1 else "pipelines"
    edges = build_edges(package)
    nodes = sorted(edges)
    succ = {node: sorted(edges[node]) for node in nodes}
    groups = [g for g in strongly_connected(nodes, succ) if len(g) > 1 or g[0] in succ[g[0]]]
    if not groups:
        print(f"No import cycles in {package} ({len(nodes)} modules).")
        return 0
    shown = 0
    total = 0
    for number, group in enumerate(sorted(groups), start=1):
        print(f"Group {number}: {len(group)} modules import each other in a cycle:")
        for module in group:
            print(f"    {module}")
        for cycle in elementary_cycles(group, succ):
            total += 1
            if shown < MAX_CYCLES_SHOWN:
                print(f"  {describe(cycle, edges)}")
                shown += 1
        print()
    more = f" (first {shown} shown)" if total > shown else ""
    print(f"{total} import cycles in {package}{more}, in {len(groups)} group(s). "
          f"Break each by moving the shared code down a layer, not by a function-level import.")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
