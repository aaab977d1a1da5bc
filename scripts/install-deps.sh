#!/usr/bin/env bash
# Install every Debian package the build and the tests need (DESIGN §2).
# Does nothing when they are all present. Non-interactive; needs root (or
# sudo) only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libssl-dev openssl libmicrohttpd-dev libgnutls28-dev libcbor-dev libcjson-dev libsqlite3-dev sqlite3
  libtss2-dev libcriterion-dev
  swtpm swtpm-tools tpm2-tools curl jq
  python3-jsonschema python3-yaml
  libcurl4-openssl-dev
)
if [ "${VFY_WITH_CLANG:-0}" = 1 ]; then
  PKGS+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
"${SUDO[@]}" apt-get update -qq
# through env: sudo's env_reset would drop a DEBIAN_FRONTEND set before it,
# and a debconf question would then wait, unseen (stdout goes to /dev/null)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
