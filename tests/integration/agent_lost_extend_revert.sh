#!/usr/bin/env bash
# agent_lost_extend_revert.sh — a manifest's extend whose answer was lost
# (the TPM did extend; tests/shim/tpmfault.so answers a TCTI I/O error and
# then fails PCR reads for a while), and the operator, seeing the agent
# refuse attestation, puts the previous manifest back.
#   The agent used to take that as "back to the one measured last" without
#   reading the PCR: the PCR held log + the lost manifest, the log ended at
#   the previous one, and every attestation after was error 4 ("PCR 23 does
#   not match the agent log ... restart the platform"). Now it waits until
#   the PCR can be read: it holds the lost manifest's extend, so that
#   manifest is logged and the previous one extended again on top of it
#   (log [v1, v7, v1]), and the next operation is allowed.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# the shim is preloaded into the whole demo and acts in vfy-agent only.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_lost_extend_revert
demo_fault_shim

SWAP='"$DEMO_VD_DIR/../swap-manifest"'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run sed 's/"manifest_version":1,/"manifest_version":7,/' "\$DEMO_VD_DIR/../manifest-v1.json" >$TMP/m7.json
run touch $TMP/fault/extend-lost && $SWAP $TMP/m7.json && sleep 1
run $SWAP "\$DEMO_VD_DIR/../manifest-v1.json" && sleep 1
run rm -f $TMP/fault/read-fail && sleep 1
op transfer 2 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=60 DEMO_STORY="$TMP/story.txt" LD_PRELOAD="$SHIM" \
    TPMFAULT_DIR="$TMP/fault")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (both operations allowed)"
else fail "exit status $rc"; fi
in_order "answer lost, v1 put back: v7 logged once readable, v1 extended again, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^tpmfault: Esys_PCR_Extend done \(0x0\), answer lost' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \(sha256:[0-9a-f]{64}\) not measured: extending PCR 23 failed: ' \
    '^[0-9:.]+ agent PCR 23 holds the extend of manifest version 7 \(sha256:[0-9a-f]{64}\) after all \(its answer was lost\): logged; agent log has 2 entries$' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 1 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 3 entries$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
if grep -qE 'does not match the agent log|back to the one measured last' "$TMP/out"; then
    fail "taken back unread: $(grep -m1 -E 'does not match the agent log|back to the one measured last' "$TMP/out")"
else pass "never taken back without reading the PCR"; fi
if grep -qE 'AddressSanitizer|runtime error:' "$TMP/out"; then
    fail "a sanitizer report: $(grep -m1 -E 'AddressSanitizer|runtime error:' "$TMP/out")"
else pass "no sanitizer report"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
