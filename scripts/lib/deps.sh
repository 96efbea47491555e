# Shared by run.sh, test.sh and .ci/run: what the app needs from the system.
# shellcheck shell=bash

APT_PACKAGES=(
  build-essential pkg-config libssl-dev libdbus-1-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver dbus gnome-keyring libsecret-tools
  python3-venv
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
