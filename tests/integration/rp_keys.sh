#!/usr/bin/env bash
# rp_keys.sh — the example relying party fetches verifierd's key set (GET
# /v1/keys) once and then again when it is older than --jwks-max-age, so
# that a key verifierd stops publishing is not trusted for the RP's whole
# run (docs/rp-guide.md). A story of two operations 4 s apart with EARs of
# 2 s (each operation attests): with --jwks-max-age 3 the keys are fetched
# again before the second operation's decision (before the agent's frames
# are read, so that no round trip to verifierd falls between them and the
# decision); with the default (300 s) it uses the
# set fetched for the first. When verifierd withdraws the key that signed
# the held EAR, the next operation attests again though the EAR has not
# expired. Without --max-ttl the RP asks for 300 s. Real parts: scripts/demo.sh's swtpm,
# verifierd --dev, vfy-agent and vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp rp_keys

cat >"$TMP/story.txt" <<'STORY'
op transfer 1 EUR to ACME Travel
expect allowed affirming
sleep 4
op transfer 2 EUR to ACME Travel
expect allowed affirming
STORY

# run NAME [RP ARGS] (EARs of 2 s: op 1's stays valid for its decision
# even on a slow machine, and has expired by op 2): the story; output in $TMP/out.NAME
run() {
    local name=$1
    shift
    demo_run "$TMP/out.$name" DEMO_TTL=2 DEMO_STORY="$TMP/story.txt" DEMO_RP_ARGS="$*"
}
fetches() { grep -cE '^[0-9:.]+ rp +<- verifierd: key set fetched \(GET /v1/keys, [0-9]+ bytes\)$' "$1"; }

rc=$(run short --jwks-max-age 3)
if [ "$rc" = 0 ]; then pass "--jwks-max-age 3: demo.sh exits 0"; else fail "--jwks-max-age 3: exit status $rc"; fi
in_order "--jwks-max-age 3: keys fetched for each of the two attestations" "$TMP/out.short" \
    '^[0-9:.]+ rp +<- verifierd: key set fetched' \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +<- verifierd: key set fetched' \
    '^[0-9:.]+ rp +op 2 .*: high-impact -> attesting first: EAR expired' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
n=$(fetches "$TMP/out.short")
if [ "$n" = 2 ]; then pass "--jwks-max-age 3: two fetches"; else fail "--jwks-max-age 3: $n fetches, want 2"; fi

rc=$(run default)
if [ "$rc" = 0 ]; then pass "default: demo.sh exits 0"; else fail "default: exit status $rc"; fi
n=$(fetches "$TMP/out.default")
if [ "$n" = 1 ]; then pass "default (300 s): one fetch serves both attestations"
else fail "default: $n fetches, want 1"; fi
if grep -qE '^[0-9:.]+ rp +summary: 2 operation\(s\): 2 allowed, 0 refused; 2 attestation\(s\); TLS handshakes on this connection: 1$' "$TMP/out.default"; then
    pass "default: two attestations, both allowed, one TLS handshake"
else
    fail "default: $(grep -E 'rp +summary' "$TMP/out.default")"
fi

# without --max-ttl the relying party still bounds the EAR's life: it asks
# verifierd for 300 s (below the dev policy's result.ttl_s? the request says
# so either way) and checks what comes back against it
cat >"$TMP/story1.txt" <<'STORY'
op transfer 3 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out.nottl" DEMO_TTL=none DEMO_STORY="$TMP/story1.txt")
if [ "$rc" = 0 ]; then pass "no --max-ttl: demo.sh exits 0"; else fail "no --max-ttl: exit status $rc"; fi
if grep -qE '^[0-9:.]+ rp +-> verifierd: POST /v1/attest \(attester agent-1, .*max_ttl_s 300\)$' "$TMP/out.nottl"; then
    pass "no --max-ttl: the request asks for max_ttl_s 300"
else
    fail "no --max-ttl: $(grep -E 'POST /v1/attest' "$TMP/out.nottl")"
fi

# verifierd withdraws the key that signed the held EAR (a new signing key,
# SIGHUP, no --old-keys-dir): with --jwks-max-age 1 the next operation
# finds the key gone from the fetched set and attests again, though the
# EAR (30 s) has not expired
cat >"$TMP/story2.txt" <<'STORY'
op transfer 4 EUR to ACME Travel
expect allowed affirming
run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DEMO_VD_DIR/k.new" 2>/dev/null && mv "$DEMO_VD_DIR/k.new" "$DEMO_VD_DIR/signing-key.pem" && kill -HUP "$DEMO_VD_PID" && sleep 1
sleep 1.5
op transfer 5 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out.rotate" DEMO_TTL=30 DEMO_STORY="$TMP/story2.txt" DEMO_RP_ARGS="--jwks-max-age 1")
if [ "$rc" = 0 ]; then pass "key withdrawn: demo.sh exits 0"; else fail "key withdrawn: exit status $rc"; fi
in_order "key withdrawn: the held EAR is not relied on, the agent attested again" "$TMP/out.rotate" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +op 2 .*: high-impact -> attesting first: the key that signed the EAR \([^)]+\) is no longer in verifierd.s key set$' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'

# a bad value is refused
"$VFY_BUILD_DIR/examples/vfy-rp" --jwks-max-age 0 --op x >/dev/null 2>"$TMP/err"
rc=$?
if [ "$rc" = 2 ] && grep -q -- '--jwks-max-age must be 1..86400' "$TMP/err"; then
    pass "--jwks-max-age 0 is a usage error"
else
    fail "--jwks-max-age 0: exit $rc, $(cat "$TMP/err")"
fi

if [ "$FAIL" -ne 0 ]; then
    for n in short default; do echo "---- demo output, $n ----"; cat "$TMP/out.$n" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
