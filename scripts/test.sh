#!/usr/bin/env bash
# The one test command (CI runs exactly this): format, lint, type check, generated bindings,
# Rust tests against a real Secret Service, UI unit tests, and end-to-end tests in the real
# window under Xvfb. One cargo target dir and one dev profile, so nothing is built twice.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
source scripts/lib/deps.sh

started=$(date +%s)
current="setup"
summary=()
trap 'echo; echo "test.sh: FAILED at step \"$current\" after $(( $(date +%s) - started ))s"' ERR

step() {
  current="$1"
  local t0; t0=$(date +%s)
  echo; echo "==> $1"
  shift
  "$@"
  summary+=("$current $(( $(date +%s) - t0 ))s")
}

missing=$(missing_apt_packages | tr '\n' ' ')
if [ -n "$missing" ]; then
  echo "Missing system packages: $missing(run .ci/run as root, or scripts/run.sh, to install them)" >&2
  exit 1
fi
command -v tauri-driver >/dev/null || { echo "tauri-driver missing: cargo install tauri-driver --locked" >&2; exit 1; }
ensure_npm_deps ui
ensure_npm_deps tests/e2e

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

step "format" cargo fmt --all --check
step "engine has no GUI deps" engine_has_no_gui_deps
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
step "e2e" env LANGFUSE_MIGRATOR_BINARY="$CARGO_TARGET_DIR/debug/langfuse-migrator" \
  xvfb-run -a -s "-screen 0 1400x1000x24" \
  scripts/lib/keychain-session.sh bash -c 'cd tests/e2e && node --test --test-force-exit --test-concurrency=1 --test-timeout=180000 specs/'

echo
echo "Steps: ${summary[*]}"
echo "test.sh: PASSED in $(( $(date +%s) - started ))s (screenshots in tests/e2e/artifacts/)"
