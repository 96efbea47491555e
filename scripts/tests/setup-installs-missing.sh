#!/usr/bin/env bash
# On a fresh machine `scripts/test.sh` installs what is missing instead of stopping. Checked with
# stand-ins for dpkg-query (one package "missing"), sudo and apt-get (they record what they were
# asked), run through `scripts/test.sh --setup`, which prepares everything and stops before the
# tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
log="$stubs/apt.log"

cat >"$stubs/dpkg-query" <<STUB
#!/usr/bin/env bash
# Every package is installed except xvfb.
for a in "\$@"; do pkg="\$a"; done
if [ "\$pkg" = "xvfb" ]; then exit 1; fi
printf 'install ok installed'
STUB
cat >"$stubs/apt-get" <<STUB
#!/usr/bin/env bash
echo "apt-get \$*" >>"$log"
STUB
cat >"$stubs/sudo" <<'STUB'
#!/usr/bin/env bash
exec "$@"
STUB
chmod +x "$stubs"/*

if ! out=$(PATH="$stubs:$PATH" scripts/test.sh --setup 2>&1); then
  echo "FAIL: scripts/test.sh --setup stopped instead of installing what is missing:" >&2
  echo "$out" >&2
  exit 1
fi
if ! grep -q "apt-get install -y xvfb" "$log" 2>/dev/null; then
  echo "FAIL: the missing package was not installed; apt-get was asked: $(cat "$log" 2>/dev/null || echo nothing)" >&2
  echo "$out" >&2
  exit 1
fi
echo "ok: scripts/test.sh installs a missing system package and goes on"
