#!/usr/bin/env bash
# `make run`: start verifierd in quick-start mode on a local state directory.
set -euo pipefail
build=${1:-build}
state=${2:-.verifierd-dev}
if [ -x "$build/verifierd/verifierd" ]; then
  mkdir -p "$state"
  exec "$build/verifierd/verifierd" --dev --state-dir "$state"
fi
cat <<MSG
libverify, verifyctl and the tests are built in $build/.

verifierd (the HTTPS service) is not part of this build yet. When it is,
'make run' will start it with:

  verifierd --dev --state-dir $state

which creates an SQLite database, a self-signed TLS certificate and an ES256
signing key in $state, loads policies/default.json, creates an attest token
and an admin token, and prints curl commands to call it on
https://127.0.0.1:8443.
MSG
