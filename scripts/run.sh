#!/usr/bin/env bash
# Starts Langfuse Migrator: installs what is missing, builds the UI, then builds and opens the app.
# `--sample` opens it straight in "Try with sample data" (two local sample servers, session only).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh

if [ "${1:-}" = "--sample" ]; then
  export LANGFUSE_MIGRATOR_SAMPLE=1
  shift
fi

ensure_apt_packages
ensure_npm_deps ui
(cd ui && npm run build)
# A plain cargo build embeds ui/dist (the Tauri config has no dev server URL).
exec cargo run -p langfuse-migrator "$@"
