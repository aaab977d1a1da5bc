#!/usr/bin/env bash
# `make fuzz`: build every libFuzzer target with clang and run each for
# FUZZ_SECONDS (default 60) seeded from fuzz/corpus/<name>/ and the fixtures.
# New inputs that libFuzzer finds stay in the build's corpus directory; a
# crash stops the run with the reproducer's path.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
VFY_WITH_CLANG=1 ./scripts/install-deps.sh
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DVFY_FUZZ=ON -DVFY_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
for bin in build-fuzz/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
  seed=build-fuzz/seeds/$name
  rm -rf "$seed"; mkdir -p "$seed"
  for d in tests/fixtures/quote/*/; do
    [ -f "$d/attest.bin" ] || continue
    case $name in
      attest) # first byte: attest length / 4, then attest || signature
        n=$(stat -c %s "$d/attest.bin")
        { printf "\\$(printf '%03o' $(( (n + 3) / 4 )))"; cat "$d/attest.bin" "$d/sig.bin"; } \
          > "$seed/$(basename "$d")" ;;
      ak) cp "$d/ak.pub" "$seed/$(basename "$d").pub"; cp "$d/ak.pem" "$seed/$(basename "$d").pem" ;;
      pcr_values) cp "$d/pcrs.json" "$seed/$(basename "$d").json" ;;
    esac
  done
  seeds+=("$seed")
  echo "fuzz: $name for ${secs}s"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$work" "${seeds[@]}" 2>&1 | grep -E '^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|artifact)' || true
  if ls crash-* leak-* timeout-* oom-* >/dev/null 2>&1; then
    echo "fuzz: $name found a problem: $(ls crash-* leak-* timeout-* oom-* 2>/dev/null)"; exit 1
  fi
done
echo "fuzz: all targets ran ${secs}s without findings"
