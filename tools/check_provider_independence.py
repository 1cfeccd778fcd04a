"""Fail if one provider's folder imports another's.

import-linter's independence contract needs the providers listed by name, so a new provider
would need an edit here to be covered. This finds them instead: every subpackage of
`pipelines.providers` is a provider (the shared modules beside them, base, common, settings,
spec, are plain modules). Imports inside functions count too (grimp reads every import).

Usage: python tools/check_provider_independence.py. Exit 1 on any import across providers.
"""

from __future__ import annotations

import sys

import grimp

PROVIDERS = "pipelines.providers"


def main() -> int:
    graph = grimp.build_graph("pipelines", include_external_packages=False, cache_dir=None)
    providers = sorted(m for m in graph.find_children(PROVIDERS) if graph.find_children(m))

    def owner(module: str) -> str | None:
        return next((p for p in providers if module == p or module.startswith(p + ".")), None)

    crossings = []
    for provider in providers:
        for module in sorted(graph.find_descendants(provider) | {provider}):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                other = owner(imported)
                if other is not None and other != provider:
                    crossings.append(f"  {module} imports {imported}")
    if crossings:
        print("A provider imports another provider; move what they share into pipelines.providers:")
        print("\n".join(crossings))
        return 1
    names = ", ".join(p.rsplit(".", 1)[1] for p in providers)
    print(f"No provider imports another ({len(providers)} providers: {names}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
