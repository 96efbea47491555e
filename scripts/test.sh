#!/usr/bin/env bash
# The one test command (CI runs exactly this): installs what is missing on a fresh machine, then
# format, lint, type check, generated bindings,
# Rust tests against a real Secret Service, UI unit tests, and end-to-end tests in the real
# window under Xvfb. One cargo target dir and one dev profile, so nothing is built twice.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/lib/deps.sh

started=$(date +%s)
current="setup"
summary=()
# Disk use is printed at the end and on failure: a fresh CI machine once ran out of disk mid-build.
disk_use() {
  echo "disk: target $(du -sh "${CARGO_TARGET_DIR:-$root/target}" 2>/dev/null | cut -f1), free $(df -h --output=avail "$root" | tail -1 | tr -d ' ')"
}
trap 'echo; disk_use; echo "test.sh: FAILED at step \"$current\" after $(( $(date +%s) - started ))s"' ERR

step() {
  current="$1"
  local t0; t0=$(date +%s)
  echo; echo "==> $1"
  shift
  "$@"
  summary+=("$current $(( $(date +%s) - t0 ))s")
}

# A fresh machine gets what the tests need (system packages through sudo when not root, Rust
# components, tauri-driver, cargo-modules, node packages), as scripts/run.sh does for the app.
step "setup" ensure_test_deps
if [ "${1:-}" = "--setup" ]; then
  echo "test.sh: setup done (--setup stops before the tests)"
  exit 0
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

bindings_fresh() {
  if ! git diff --exit-code -- ui/src/lib/bindings || [ -n "$(git ls-files --others --exclude-standard ui/src/lib/bindings)" ]; then
    echo "ui/src/lib/bindings is out of date: run scripts/test.sh (cargo test regenerates it) and commit the result." >&2
    git status --short ui/src/lib/bindings >&2
    return 1
  fi
}

engine_has_no_gui_deps() {
  local gui
  gui=$(cargo tree -p migrator-engine --prefix none --locked | grep -E '^(tauri|wry|tao|gtk|gdk|webkit|javascriptcore)' | sort -u || true)
  if [ -n "$gui" ]; then
    echo "migrator-engine must not depend on the GUI stack, but pulls in: $gui" >&2
    return 1
  fi
}

step "scripts" bash scripts/tests/setup-installs-missing.sh
step "format" cargo fmt --all --check
step "engine has no GUI deps" engine_has_no_gui_deps
step "engine modules: no cycles, layers one way" scripts/lib/engine-modules.sh
# Before cargo: generate_context! embeds ui/dist into the binary.
step "ui build" bash -c 'cd ui && npm run --silent build'
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# Also builds the app binary the e2e tests drive (cargo builds a package's binaries for its
# integration tests), with the same profile and features: one build, nothing twice. It also
# regenerates the TypeScript bindings.
step "rust tests" env LANGFUSE_MIGRATOR_REQUIRE_KEYCHAIN=1 \
  scripts/lib/keychain-session.sh cargo test --workspace --locked --no-fail-fast
# The official SDKs (tests/sdk/requirements.txt, in a virtualenv under the target dir) against
# the sandbox binary the Rust tests just built.
sdk_fidelity() {
  local venv
  venv=$(scripts/lib/sdk-venv.sh)
  SANDBOX_BIN_DIR="$CARGO_TARGET_DIR/debug" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/sdk
}
step "sdk fidelity" sdk_fidelity
step "bindings fresh" bindings_fresh
step "ui type check" bash -c 'cd ui && npm run --silent check'
step "ui unit tests" bash -c 'cd ui && npx vitest run'
rm -rf tests/e2e/artifacts
# tests/e2e/package.json holds the runner's options, its per-test timeout included.
step "e2e" env LANGFUSE_MIGRATOR_BINARY="$CARGO_TARGET_DIR/debug/langfuse-migrator" \
  xvfb-run -a -s "-screen 0 1400x1000x24" \
  scripts/lib/keychain-session.sh bash -c 'cd tests/e2e && npm test --silent'

echo
echo "Steps: ${summary[*]}"
disk_use
echo "test.sh: PASSED in $(( $(date +%s) - started ))s (screenshots in tests/e2e/artifacts/)"
