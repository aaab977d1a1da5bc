#!/usr/bin/env bash
# `make fuzz`: build every libFuzzer target with clang and run each for
# FUZZ_SECONDS (default 60), seeded from fuzz/corpus/<name>/ (checked-in
# seeds and regression inputs) and from the test fixtures. New inputs stay in
# build-fuzz/corpus/<name>/; a finding stops the run with the reproducer's
# path and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
VFY_WITH_CLANG=1 ./scripts/install-deps.sh
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DVFY_FUZZ=ON -DVFY_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null

# Seeds made from the fixtures, per target.
seed_fixtures() {
  local name=$1 seed=$2 d f
  for d in tests/fixtures/quote/*/; do
    [ -f "$d/attest.bin" ] || continue
    case $name in
      attest) # first byte: attest length / 4, then attest || signature
        local n; n=$(stat -c %s "$d/attest.bin")
        { printf "\\$(printf '%03o' $(( (n + 3) / 4 )))"; cat "$d/attest.bin" "$d/sig.bin"; } \
          > "$seed/$(basename "$d")" ;;
      ak) cp "$d/ak.pub" "$seed/$(basename "$d").pub"; cp "$d/ak.pem" "$seed/$(basename "$d").pem" ;;
      pcr_values) cp "$d/pcrs.json" "$seed/$(basename "$d").json" ;;
    esac
  done
  for f in tests/fixtures/appraise/ev/*; do
    [ -f "$f" ] || continue
    case $name:$f in
      cmw_json:*.json) cp "$f" "$seed/" ;;
      cmw_cbor:*.cbor) # the fixture is base64url text; the target takes raw CBOR
        tr -- '-_' '+/' < "$f" | base64 -d 2>/dev/null > "$seed/$(basename "$f").bin" || true ;;
    esac
  done
  case $name in
    manifest) cp tests/fixtures/appraise/manifests/* "$seed/" 2>/dev/null || true ;;
    agent_log) cp tests/fixtures/appraise/logs/* "$seed/" 2>/dev/null || true ;;
    pcrread) cp tests/fixtures/appraise/pcrread.yaml "$seed/" 2>/dev/null || true ;;
  esac
}

status=0
for bin in build-fuzz/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=build-fuzz/corpus/$name
  seed=build-fuzz/seeds/$name
  art=build-fuzz/artifacts/$name/
  rm -rf "$seed"; mkdir -p "$work" "$seed" "$art"
  seed_fixtures "$name" "$seed"
  dirs=("$work" "$seed")
  [ -d "fuzz/corpus/$name" ] && dirs+=("fuzz/corpus/$name")
  echo "fuzz: $name for ${secs}s"
  rc=0
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art" "${dirs[@]}" > "build-fuzz/$name.log" 2>&1 || rc=$?
  grep -E '^stat::number_of_executed_units' "build-fuzz/$name.log" || true
  if [ "$rc" -ne 0 ] || ls "$art" | grep -q .; then
    echo "fuzz: $name FAILED (exit $rc); see build-fuzz/$name.log and $art"
    grep -E '^(==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' "build-fuzz/$name.log" | head -20 || true
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "fuzz: all targets ran ${secs}s without findings"
exit "$status"
