#!/usr/bin/env bash
# agent_pcr_reset_other.sh — PCR 23 reset by another program (tpm2_pcrreset
# 23 while the agent runs) is not a TPM reset: the TPM's resetCount did not
# go up. The agent used to take the zeros for a TPM reset and start its log
# over; the verifier, which keeps the longest log of this reset epoch, then
# said "agent history rollback" (contraindicated) at every attestation, and
# the agent went on presenting that log. Now the agent tells the two apart
# by the resetCount and restartCount (TPM2_ReadClock; a TPM restart:
# agent_tpm_restart.sh): attestation requests get error 4
# saying PCR 23 was reset by another program — in the quote and before a
# manifest change's extend alike. (A real TPM reset still starts the log
# over: agent_tpm_reset.sh.)
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# tpm2_pcrreset as the other program.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_pcr_reset_other

# the log is [v1, v7] when PCR 23 is reset: a log started over would be [v7]
SWAP='"$DEMO_VD_DIR/../swap-manifest"'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run sed 's/"manifest_version":1,/"manifest_version":7,/' "\$DEMO_VD_DIR/../manifest-v1.json" >$TMP/m7.json && $SWAP $TMP/m7.json && sleep 1
op transfer 2 EUR to ACME Travel
expect allowed affirming
run tpm2_pcrreset 23 >$TMP/pcrreset.out 2>&1
sleep 1.2
op transfer 3 EUR to ACME Travel
expect refused
run $SWAP "\$DEMO_VD_DIR/../manifest-v1.json" && sleep 1
op transfer 4 EUR to ACME Travel
expect refused
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (ops 1 and 2 allowed, 3 and 4 refused)"
else fail "exit status $rc"; fi
M='PCR 23 was reset by another program \(zeros, but no TPM reset or restart: resetCount and restartCount unchanged\); a new log would be a rollback: restart the platform'
in_order "the quote sees zeros, no TPM reset: error 4 saying so" "$TMP/out" \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ agent $M\$" \
    "^[0-9:.]+ rp +<- agent: error 4: $M\$" \
    '^[0-9:.]+ rp +op 3 .*: REFUSED'
in_order "a manifest change after it: not measured, error 4 saying so" "$TMP/out" \
    '^[0-9:.]+ rp +op 3 .*: REFUSED' \
    "^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \\(sha256:[0-9a-f]{64}\\) not measured: $M; " \
    "^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \\(PCR 23 was reset by another program " \
    '^[0-9:.]+ rp +op 4 .*: REFUSED'
if grep -qE '\(the TPM was reset\)|agent history rollback' "$TMP/out"; then
    fail "taken for a TPM reset: $(grep -m1 -E '\(the TPM was reset\)|agent history rollback' "$TMP/out")"
else pass "never taken for a TPM reset (no new log, no rollback verdict)"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    echo "---- tpm2_pcrreset ----"; cat "$TMP/pcrreset.out" 2>/dev/null
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
