#!/usr/bin/env bash
# Starts Langfuse Migrator: installs what is missing, builds the UI, then builds and opens the app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/deps.sh

ensure_apt_packages
ensure_npm_deps ui
(cd ui && npm run build)
# A plain cargo build embeds ui/dist (the Tauri config has no dev server URL).
exec cargo run -p langfuse-migrator "$@"
