#!/usr/bin/env bash
# `make run`: start verifierd in quick-start mode on a local state directory
# (verifierd creates it, mode 0700). LISTEN overrides the address.
set -euo pipefail
build=${1:-build}
state=${2:-.verifierd-dev}
listen=${3:-127.0.0.1:8443}
if [ ! -x "$build/verifierd/verifierd" ]; then
  echo "run-dev.sh: $build/verifierd/verifierd is not built (run 'make build')" >&2
  exit 1
fi
exec "$build/verifierd/verifierd" --dev --state-dir "$state" --listen "$listen"
