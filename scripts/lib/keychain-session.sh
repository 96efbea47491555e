#!/usr/bin/env bash
# Runs a command on a private D-Bus session with a fresh, unlocked GNOME Keyring (a real Secret
# Service) and a throw-away HOME, so tests never see or touch the user's own keychain.
# CARGO_HOME and RUSTUP_HOME keep pointing at the real toolchain.
set -euo pipefail

real_home="$HOME"
export CARGO_HOME="${CARGO_HOME:-$real_home/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$real_home/.rustup}"
export npm_config_cache="${npm_config_cache:-$real_home/.npm}"
HOME="$(mktemp -d -t lfm-keyring-home.XXXXXX)"
export HOME
trap 'rm -rf "$HOME" 2>/dev/null || true' EXIT
# No accessibility bus in tests: GTK would otherwise warn on every start.
export NO_AT_BRIDGE=1

dbus-run-session --config-file="$(dirname "${BASH_SOURCE[0]}")/dbus-session.conf" -- bash -c '
  set -euo pipefail
  # Creates and unlocks the login keyring with a throw-away password.
  eval "$(printf %s lfm-test-keyring | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  "$@"
' keychain-session "$@"
