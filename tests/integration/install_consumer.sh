#!/usr/bin/env bash
# libverify installs with headers, a pkg-config file and a CMake package
# config: install into a temporary prefix, then build and run a consumer with
# find_package(verify) (shared and static) and with pkg-config.
set -euo pipefail
: "${VFY_BUILD_DIR:?}" "${VFY_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$VFY_BUILD_DIR" --prefix "$prefix" >/dev/null
for f in include/verify/verify.h include/verify/version.h include/verify/quote.h; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
libdir=$(find "$prefix" -name 'libverify.so' -printf '%h\n' | head -n1)
[ -n "$libdir" ] || { echo "FAIL: libverify.so not installed"; exit 1; }

# Only public symbols are exported from the shared library. (The symbol
# list goes to a file first: `nm | grep -q` under pipefail fails whenever
# grep stops reading before nm has written everything — SIGPIPE.)
nm -D --defined-only "$libdir/libverify.so" | awk '{print $3}' >"$tmp/syms"
if grep -v '^vfy_' "$tmp/syms" | grep -v '^_' ; then
  echo "FAIL: non-vfy_ symbols exported"; exit 1
fi
for s in vfy_cursor_u8 vfy_hash_md vfy_ak_pkey vfy_cmw_parse_tree vfy_attest_body_evidence \
         vfy_ak_scratch_ctx vfy_store_refset_rows vfy_store_manifest_known_refset \
         vfy_json_parse vfy_json_parse_max vfy_json_intake; do
  if grep -qx "$s" "$tmp/syms"; then
    echo "FAIL: internal symbol $s exported"; exit 1
  fi
done
for s in vfy_quote_verify vfy_attest_body_parse vfy_store_list_json_page vfy_store_token_lookup_at \
         vfy_json_check vfy_store_pcr_revoke vfy_store_pcr_revoke_counted \
         vfy_ear_verify_expected vfy_store_token_add_given vfy_store_attester_revoke_counted \
         vfy_store_token_revoke_counted vfy_store_refset_pcr_count_bank vfy_store_export_max \
         vfy_name_char_visible vfy_store_audit_row; do
  grep -qx "$s" "$tmp/syms" || { echo "FAIL: $s not exported"; exit 1; }
done
# Both manual pages are installed, and carry the project's version.
version=$(sed -n 's/^project(verify VERSION \([0-9.]*\).*/\1/p' "$VFY_SOURCE_DIR/CMakeLists.txt")
for m in man1/verifyctl.1 man8/verifierd.8; do
  f=$(find "$prefix" -path "*/$m" | head -n1)
  [ -n "$f" ] || { echo "FAIL: $m not installed"; exit 1; }
  head -n1 "$f" | grep -qF "\"verifierd $version\"" ||
    { echo "FAIL: $m says $(head -n1 "$f"), the project is $version"; exit 1; }
done
echo "ok: install layout and exported symbols"
# The systemd unit, with this build's paths, and the example configuration.
unit="$prefix/lib/systemd/system/verifierd.service"
[ -f "$unit" ] || { echo "FAIL: verifierd.service not installed"; exit 1; }
sbindir=$(sed -n 's/^CMAKE_INSTALL_FULL_SBINDIR:[A-Z]*=//p' "$VFY_BUILD_DIR/CMakeCache.txt")
[ -n "$sbindir" ] || sbindir=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$VFY_BUILD_DIR/CMakeCache.txt")/sbin
grep -qxF "ExecStart=$sbindir/verifierd --config /etc/verifierd/verifierd.json" "$unit" ||
  { echo "FAIL: the unit runs $(grep '^ExecStart' "$unit"), want $sbindir/verifierd"; exit 1; }
[ -f "$prefix/share/doc/verifierd/verifierd.json.example" ] ||
  { echo "FAIL: verifierd.json.example not installed"; exit 1; }
echo "ok: systemd unit ($sbindir) and example configuration installed"
# An installed verifierd --dev takes the installed policies, never the source
# tree's (it read $VFY_SOURCE_DIR/policies whenever that still existed).
# (up to 60 s to start: keys, certificate and database are made first, and
# a sanitizer build on a loaded machine is slow)
"$prefix/sbin/verifierd" --dev --state-dir "$tmp/dev" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/dev.log" &
devpid=$!
for _ in $(seq 600); do
  grep -q '"msg":"verifierd [^"]* listening on https://127.0.0.1:' "$tmp/dev.log" && break
  kill -0 "$devpid" 2>/dev/null || break
  sleep 0.1
done
kill "$devpid" 2>/dev/null || true
wait "$devpid" 2>/dev/null || true
grep -q '"msg":"verifierd [^"]* listening on https://127.0.0.1:' "$tmp/dev.log" ||
  { echo "FAIL: the installed verifierd --dev did not start: $(head -c 600 "$tmp/dev.log")"; exit 1; }
if grep -qF "from $VFY_SOURCE_DIR/policies" "$tmp/dev.log"; then
  echo "FAIL: the installed verifierd --dev read the source tree's policies: $(grep -F "from $VFY_SOURCE_DIR" "$tmp/dev.log" | head -2)"
  exit 1
fi
echo "ok: the installed verifierd --dev does not read the source tree's policies"
# The public headers are C99 (a repeated typedef is C11).
printf '#include <verify/verify.h>\nint main(void) { return vfy_version() == NULL; }\n' >"$tmp/c99.c"
cc -std=c99 -pedantic-errors -I"$prefix/include" -c "$tmp/c99.c" -o "$tmp/c99.o" ||
  { echo "FAIL: <verify/verify.h> is not C99"; exit 1; }
echo "ok: the public headers compile as C99 with -pedantic-errors"

# A sanitizer build of libverify needs the sanitizer runtime in its consumers.
san=()
if [ "${VFY_SANITIZE:-0}" = 1 ]; then
  san=(-fsanitize=address,undefined)
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
fi
cmake -S "$VFY_SOURCE_DIR/tests/consumer" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="${san[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${san[*]:-}" >/dev/null
cmake --build "$tmp/b" >/dev/null
out1=$(LD_LIBRARY_PATH="$libdir" "$tmp/b/consumer_cmake")
out2=$("$tmp/b/consumer_cmake_static")
echo "ok: find_package(verify): $out1"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc "${san[@]}" "$VFY_SOURCE_DIR/tests/consumer/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs verify)
out3=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer_pc")
echo "ok: pkg-config verify: $out3"
[ "$out1" = "$out2" ] && [ "$out1" = "$out3" ] || { echo "FAIL: consumers disagree"; exit 1; }
# The binder of an all-zero nonce and cb over "{}" is a fixed value; check it
# against an independent computation with the openssl command line.
expect=$( { printf 'verifierd agent attestation v1\0'; head -c 64 /dev/zero; printf '{}' | openssl dgst -sha256 -binary; } | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "${out1#* }" = "$expect" ] || { echo "FAIL: binder ${out1#* } != $expect"; exit 1; }
echo "ok: binder matches openssl"
echo "1 passed, 0 failed"
