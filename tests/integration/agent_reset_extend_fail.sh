#!/usr/bin/env bash
# agent_reset_extend_fail.sh — a TPM reset, then a manifest change whose
# extend fails (tests/shim/tpmfault.so: Esys_PCR_Extend answers
# TPM2_RC_RETRY while $TPMFAULT_DIR/extend-retry exists).
#   The agent sees PCR 23 at zeros before the extend. It used to empty its
#   log right there; the extend failed, and the posture-changed notice it
#   then pushed read the log's last entry at index -1 (ASan:
#   heap-buffer-overflow in notice(); without ASan a notice naming a
#   digest of heap bytes and "log_entries":0). Now the log is dropped only
#   once the new manifest's extend succeeded: the notice names the last
#   measured manifest (version 1), attestation is refused while the extend
#   fails, and once it works the log starts over from the new manifest and
#   the next operation is allowed.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# the shim is preloaded into the whole demo and acts in vfy-agent only.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_reset_extend_fail
demo_fault_shim

demo_reset_script "$TMP/reset.sh"   # a TPM reset, as agent_tpm_reset.sh does it
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run openssl dgst -sha256 -r "\$DEMO_VD_DIR/../manifest-v1.json" | cut -c1-64 >$TMP/v1.sha
run touch $TMP/fault/extend-retry && sh $TMP/reset.sh >$TMP/reset.out 2>&1
run sed 's/"manifest_version":1,/"manifest_version":7,/' "\$DEMO_VD_DIR/../manifest-v1.json" >$TMP/m7.json && "\$DEMO_VD_DIR/../swap-manifest" $TMP/m7.json && sleep 1.5
op transfer 2 EUR to ACME Travel
expect refused
run rm -f $TMP/fault/extend-retry && sleep 1
op transfer 3 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=60 DEMO_STORY="$TMP/story.txt" LD_PRELOAD="$SHIM" \
    TPMFAULT_DIR="$TMP/fault")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (op 2 refused, ops 1 and 3 allowed)"
else fail "exit status $rc"; fi
v1=$(cat "$TMP/v1.sha" 2>/dev/null)
in_order "reset, extend refused: a notice of the last measured manifest, refused; then measured, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^tpmfault: Esys_PCR_Extend -> TPM2_RC_RETRY' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \(sha256:[0-9a-f]{64}\) not measured: extending PCR 23 failed: Esys_PCR_Extend: .*; attestation requests get an error until it is \(retrying\)$' \
    "^[0-9:.]+ rp +<- agent: posture-changed notice \\(manifest version 1, sha256:${v1:-none}\\)" \
    '^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(extending PCR 23 failed: ' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 7 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 1 entry$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)'
if grep -qE 'AddressSanitizer|runtime error:' "$TMP/out"; then
    fail "a sanitizer report: $(grep -m1 -E 'AddressSanitizer|runtime error:' "$TMP/out")"
else pass "no sanitizer report"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    echo "---- reset ----"; cat "$TMP/reset.out" 2>/dev/null
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
