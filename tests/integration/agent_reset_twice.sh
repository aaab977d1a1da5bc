#!/usr/bin/env bash
# agent_reset_twice.sh — a second TPM reset while the agent's re-measure
# after the first is still pending (tests/shim/tpmfault.so: extends answer
# TPM2_RC_RETRY while $TPMFAULT_DIR/extend-retry exists), then PCR 23 reset
# by another program (tpm2_pcrreset 23).
#   The agent compared the zeros it then saw with the TPM's counters taken
#   when it found the first reset: the re-measure from zeros after the
#   second one, and the quotes after it, never updated them. So the PCR
#   reset by another program read as a TPM reset, the log started over, and
#   the verifier answered contraindicated "agent history rollback" at every
#   attestation. Now the agent keeps the counters it last saw while PCR 23
#   held its log, as the verifier keeps the last quote's: from every quote
#   whose agent PCR replays the log, and read after every extend from zeros.
#   Part 1 (the reviewer's sequence): reset + failing extends, op 2 refused;
#   reset again, extends working, op 3 allowed; a new manifest, op 4
#   allowed; tpm2_pcrreset 23, op 5 refused with error 4 "PCR 23 was reset
#   by another program", no rollback verdict. Part 2, with no quote between
#   the second reset and the PCR reset (the extend from zeros alone tells
#   the counters): a TPM reset recovers (op 6 allowed); reset + failing
#   extends, op 7 refused; reset again, extends working, a new manifest
#   (the pending re-measure, then it, measured with no quote); tpm2_pcrreset
#   23, op 8 refused with that error 4 (the log used to start over).
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# the shim is preloaded into the whole demo and acts in vfy-agent only.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_reset_twice
demo_fault_shim

demo_reset_script "$TMP/reset.sh"   # a TPM reset, as agent_tpm_reset.sh does it
SWAP='"$DEMO_VD_DIR/../swap-manifest"'
V1='"$DEMO_VD_DIR/../manifest-v1.json"'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run touch $TMP/fault/extend-retry && sh $TMP/reset.sh >$TMP/reset.out 2>&1
sleep 1.2
op transfer 2 EUR to ACME Travel
expect refused
run sh $TMP/reset.sh >>$TMP/reset.out 2>&1 && rm -f $TMP/fault/extend-retry
sleep 1.2
op transfer 3 EUR to ACME Travel
expect allowed affirming
run sed 's/"manifest_version":1,/"manifest_version":7,/' $V1 >$TMP/m7.json && $SWAP $TMP/m7.json && sleep 1
op transfer 4 EUR to ACME Travel
expect allowed affirming
run tpm2_pcrreset 23 >>$TMP/pcrreset.out 2>&1
sleep 1.2
op transfer 5 EUR to ACME Travel
expect refused
run sh $TMP/reset.sh >>$TMP/reset.out 2>&1
sleep 1.2
op transfer 6 EUR to ACME Travel
expect allowed affirming
run touch $TMP/fault/extend-retry && sh $TMP/reset.sh >>$TMP/reset.out 2>&1
sleep 1.2
op transfer 7 EUR to ACME Travel
expect refused
run sh $TMP/reset.sh >>$TMP/reset.out 2>&1 && rm -f $TMP/fault/extend-retry
run sed 's/"manifest_version":1,/"manifest_version":8,/' $V1 >$TMP/m8.json && $SWAP $TMP/m8.json && sleep 1
run tpm2_pcrreset 23 >>$TMP/pcrreset.out 2>&1
sleep 1.2
op transfer 8 EUR to ACME Travel
expect refused
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt" LD_PRELOAD="$SHIM" \
    TPMFAULT_DIR="$TMP/fault")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (ops 1, 3, 4, 6 allowed; 2, 5, 7, 8 refused)"
else fail "exit status $rc"; fi
M='PCR 23 was reset by another program \(zeros, but no TPM reset or restart: resetCount and restartCount unchanged\); a new log would be a rollback: restart the platform'
in_order "reset, re-measure refused; reset again, re-measured, allowed; new manifest allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was reset\): measuring the manifest in force again; the agent log starts again$' \
    '^[0-9:.]+ rp +<- agent: error 4: measuring the manifest again after a TPM reset failed: ' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED' \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent file changed: manifest travel-agent-01 version 7 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 2 entries$' \
    '^[0-9:.]+ rp +op 4 .*: ALLOWED \(status affirming\)'
in_order "then PCR 23 reset by another program: error 4, refused" "$TMP/out" \
    '^[0-9:.]+ rp +op 4 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ rp +<- agent: error 4: $M\$" \
    '^[0-9:.]+ rp +op 5 .*: REFUSED'
in_order "a TPM reset after it: the log starts over, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 5 .*: REFUSED' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was reset\): measuring the manifest in force again; the agent log starts again$' \
    '^[0-9:.]+ rp +op 6 .*: ALLOWED \(status affirming\)'
in_order "reset twice, re-measured and a new manifest with no quote, PCR 23 reset: error 4" "$TMP/out" \
    '^[0-9:.]+ rp +op 6 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +op 7 .*: REFUSED' \
    '^[0-9:.]+ agent file changed: manifest travel-agent-01 version 8 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 2 entries$' \
    "^[0-9:.]+ rp +<- agent: error 4: $M\$" \
    '^[0-9:.]+ rp +op 8 .*: REFUSED'
n=$(grep -cE '^[0-9:.]+ agent PCR 23 is back to zeros' "$TMP/out")
if [ "$n" = 3 ]; then pass "the log started over at the three TPM resets a quote saw first, never at a PCR reset"
else fail "the log started over $n times, want 3"; fi
if grep -qE 'agent history rollback' "$TMP/out"; then
    fail "a rollback verdict: $(grep -m1 -E 'agent history rollback' "$TMP/out")"
else pass "no 'agent history rollback' verdict"; fi
if grep -qE 'AddressSanitizer|runtime error:' "$TMP/out"; then
    fail "a sanitizer report: $(grep -m1 -E 'AddressSanitizer|runtime error:' "$TMP/out")"
else pass "no sanitizer report"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    for f in reset pcrreset; do echo "---- $f ----"; cat "$TMP/$f.out" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
