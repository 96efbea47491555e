#!/usr/bin/env bash
# Checks the engine's module graph: no module imports another in a circle, and the layers point
# one way (vocab <- connectors <- run <- after_run; profile uses only vocab).
#
# cargo-modules reads the crate the way rust-analyzer does and prints which module uses which:
# imports and the types in item signatures, each resolved to the module that defines it (a
# re-export does not hide where an item lives). Its own --acyclic flag looks at items (a type
# and its own derived `serialize` already form a circle there), so the module graph is printed instead
# and graphviz does the graph work: sccmap lists every strongly connected component (a set of
# modules that import each other in a circle), gvpr lists the edges that point up a layer.
set -euo pipefail
cd "$(dirname "$0")/../../src-tauri"

for tool in cargo-modules sccmap gvpr; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing (cargo-modules: scripts/lib/deps.sh ensure_cargo_modules; sccmap, gvpr: apt package graphviz)" >&2
    exit 1
  }
done

graph=$(cargo modules dependencies --package migrator-engine --lib \
  --no-externs --no-sysroot --no-fns --no-types --no-traits --no-owns --layout dot 2>/dev/null)
edges=$(grep -c -- ' -> ' <<<"$graph" || true)
if [ "$edges" -lt 20 ]; then
  echo "cargo-modules printed only $edges module dependencies for migrator-engine; the check cannot judge that graph:" >&2
  echo "$graph" >&2
  exit 1
fi

status=0
cycles=$(sccmap <<<"$graph" 2>/dev/null | sed '/^digraph scc_map {/,$d')
if [ -n "$cycles" ]; then
  echo "Import cycle between the engine's modules (each group below imports itself in a circle):" >&2
  grep -- ' -> ' <<<"$cycles" | sed -E 's/^[[:space:]]*"migrator_engine::([^"]*)" -> "migrator_engine::([^"]*)".*/  \1 -> \2/' >&2
  status=1
fi

# Layer of a module by its first path segment; the crate root re-exports everything (top).
upward=$(gvpr '
BEGIN {
int layer(string n) {
  if (n == "migrator_engine") return 9;
  if (index(n, "migrator_engine::vocab") == 0) return 0;
  if (index(n, "migrator_engine::profile") == 0) return 1;
  if (index(n, "migrator_engine::connectors") == 0) return 1;
  if (index(n, "migrator_engine::run") == 0) return 2;
  if (index(n, "migrator_engine::after_run") == 0) return 3;
  return 9;
}
}
E {
  if (layer(tail.name) < layer(head.name)) printf("  %s -> %s\n", tail.name, head.name);
}' <<<"$graph")
if [ -n "$upward" ]; then
  echo "Imports that point up a layer (vocab <- connectors <- run <- after_run; profile uses only vocab):" >&2
  sed 's/migrator_engine:://g' <<<"$upward" >&2
  status=1
fi

[ "$status" -eq 0 ] && echo "migrator-engine: $edges module dependencies, no cycle, every layer points down"
exit "$status"
