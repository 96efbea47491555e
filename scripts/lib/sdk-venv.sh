#!/usr/bin/env bash
# Creates (or refreshes, when tests/sdk/requirements.txt changed) the virtualenv the SDK fidelity
# tests run in, at $CARGO_TARGET_DIR/sdk-venv, and prints its path.
set -Eeuo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/sdk-venv"
req="$root/tests/sdk/requirements.txt"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "sdk-venv: installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$venv/.requirements.sha256"
fi
echo "$venv"
