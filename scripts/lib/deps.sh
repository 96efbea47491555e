# Shared by run.sh and test.sh: what the app and its tests need from the system
# (graphviz for the engine-modules check, python3-venv for the SDK fidelity tests).
# shellcheck shell=bash

APT_PACKAGES=(
  build-essential pkg-config libssl-dev libdbus-1-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver dbus gnome-keyring libsecret-tools
  graphviz python3 python3-venv
)

missing_apt_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# Installs missing system packages (as root, or through sudo when available).
ensure_apt_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages)
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "Installing system packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "Please install as root: apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

# Installs node dependencies of one folder when they are missing or older than its lockfile.
ensure_npm_deps() {
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

ensure_tauri_driver() {
  command -v tauri-driver >/dev/null || cargo install tauri-driver --locked
}

# rustfmt and clippy, only when missing: rustup needs its download server for this.
ensure_rust_components() {
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add rustfmt clippy
  fi
}

# The engine's module-graph check (scripts/lib/engine-modules.sh). 0.27 is the last release that
# builds with the project's Rust (1.95); 0.28 needs 1.98.
CARGO_MODULES_VERSION=0.27.0
ensure_cargo_modules() {
  cargo modules --version 2>/dev/null | grep -q "$CARGO_MODULES_VERSION" ||
    cargo install cargo-modules --version "$CARGO_MODULES_VERSION" --locked
}

# Everything scripts/test.sh needs besides Rust and Node themselves.
ensure_test_deps() {
  ensure_apt_packages
  ensure_rust_components
  ensure_tauri_driver
  ensure_cargo_modules
  ensure_npm_deps ui
  ensure_npm_deps tests/e2e
}
