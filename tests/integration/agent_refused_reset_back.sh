#!/usr/bin/env bash
# agent_refused_reset_back.sh — the manifest measured last put back while
# the agent PCR no longer holds the agent log. The agent is unmeasured (a
# manifest file it refuses); meanwhile the TPM is reset, or PCR 23 is reset
# by another program; then the operator puts the measured manifest back.
#   "Back to the one measured last" is taken without an extend only if the
#   PCR still holds the log: the agent reads it first (d457660). Here it
#   reads zeros, so the manifest is measured like any other: after a TPM
#   reset from zeros, the log starting over (allowed); after tpm2_pcrreset
#   23 not at all (error 4 "PCR 23 was reset by another program", refused).
#   Without that read the agent said "manifest back to the one measured
#   last; attesting again" and pushed a notice saying so while PCR 23 held
#   none of its log (the quote found the zeros later; the verdicts were the
#   same): agent_lost_extend_revert.sh never reached it, as its PCR did
#   hold the log.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# tpm2-tools for the resets.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_refused_reset_back

demo_reset_script "$TMP/reset.sh"   # a TPM reset, as agent_tpm_reset.sh does it
printf '{"agent_id":"travel-agent-01","manifest_version":3,' >"$TMP/broken.json"
SWAP='"$DEMO_VD_DIR/../swap-manifest"'
V1='"$DEMO_VD_DIR/../manifest-v1.json"'
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run $SWAP $TMP/broken.json && sleep 1
op transfer 2 EUR to ACME Travel
expect refused
run sh $TMP/reset.sh >$TMP/reset.out 2>&1
run $SWAP $V1 && sleep 1
op transfer 3 EUR to ACME Travel
expect allowed affirming
run $SWAP $TMP/broken.json && sleep 1
op transfer 4 EUR to ACME Travel
expect refused
run tpm2_pcrreset 23 >$TMP/pcrreset.out 2>&1
run $SWAP $V1 && sleep 1
op transfer 5 EUR to ACME Travel
expect refused
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (ops 1 and 3 allowed, 2, 4 and 5 refused)"
else fail "exit status $rc"; fi
in_order "refused file, TPM reset, v1 back: measured from zeros, the log started over, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(manifest rejected \(' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was reset\): the agent log starts again$' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 1 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 1 entry$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)'
M='PCR 23 was reset by another program \(zeros, but no TPM reset or restart: resetCount and restartCount unchanged\); a new log would be a rollback: restart the platform'
in_order "refused file, PCR 23 reset by another program, v1 back: not measured, error 4" "$TMP/out" \
    '^[0-9:.]+ rp +op 3 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +op 4 .*: REFUSED' \
    "^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \\(sha256:[0-9a-f]{64}\\) not measured: $M; " \
    "^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \\(PCR 23 was reset by another program " \
    '^[0-9:.]+ rp +op 5 .*: REFUSED'
if grep -qE 'back to the one measured last|\(the TPM was reset\): measuring the manifest in force again' "$TMP/out"; then
    fail "taken back without an extend: $(grep -m1 -E 'back to the one measured last|measuring the manifest in force again' "$TMP/out")"
else pass "never 'back to the one measured last' while PCR 23 did not hold the log"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    for f in reset pcrreset; do echo "---- $f ----"; cat "$TMP/$f.out" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
