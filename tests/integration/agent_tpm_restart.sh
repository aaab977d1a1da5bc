#!/usr/bin/env bash
# agent_tpm_restart.sh — a TPM Restart under the running agent
# (TPM2_Shutdown(STATE), swtpm's CMD_INIT, TPM2_Startup(CLEAR): what resume
# from hibernation does) resets every PCR, PCR 23 included, and raises only
# restartCount; resetCount stays. The verifier starts the agent history
# over on it (docs/appraisal.md, State). The agent took only a resetCount
# that went up for a TPM reset, so it answered every attestation request
# with error 4 "PCR 23 was reset by another program ... restart the
# platform" (before 0.2.7 the same story was allowed). Now a restartCount
# that went up at the same resetCount starts the log over too: the manifest
# in force is measured again and the next operation is allowed. PCR 23
# reset by another program after that (tpm2_pcrreset 23, neither counter
# up since the restart) is still error 4, never a new log.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp;
# tpm2-tools for the restart and the PCR reset.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_tpm_restart

# platform: PCRs 0-7 extended as demo.sh's set-up does (its reference values)
demo_platform_script "$TMP/platform.sh"
# a TPM Restart: Shutdown(STATE) (tpm2_shutdown's default), CMD_INIT,
# Startup(CLEAR); the counters read before and after
cat >"$TMP/restart.sh" <<SH
tpm2_readclock >"$TMP/clock0.out" || exit 1
tpm2_shutdown && swtpm_ioctl --tcp "127.0.0.1:\$SWTPM_CTRL_PORT" -i >/dev/null &&
    { tpm2_startup -c >/dev/null 2>&1 || true; } || exit 1
tpm2_readclock >"$TMP/clock1.out" || exit 1
. "$TMP/platform.sh"
SH
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run sh $TMP/restart.sh >$TMP/restart.out 2>&1
sleep 2
op transfer 2 EUR to ACME Travel
expect allowed affirming
run tpm2_pcrreset 23 >$TMP/pcrreset.out 2>&1
sleep 1.2
op transfer 3 EUR to ACME Travel
expect refused
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (ops 1 and 2 allowed, 3 refused)"
else fail "exit status $rc"; fi

# the story did restart the TPM: resetCount the same, restartCount up
count() { awk -v k="$1:" '$1 == k { print $2 }' "$2" 2>/dev/null; }
r0=$(count reset_count "$TMP/clock0.out"); r1=$(count reset_count "$TMP/clock1.out")
s0=$(count restart_count "$TMP/clock0.out"); s1=$(count restart_count "$TMP/clock1.out")
if [ -n "$r0" ] && [ "$r0" = "$r1" ] && [ -n "$s0" ] && [ -n "$s1" ] && [ "$s1" -gt "$s0" ]; then
    pass "a TPM Restart: resetCount $r0 -> $r1, restartCount $s0 -> $s1"
else fail "not a TPM Restart: resetCount '$r0' -> '$r1', restartCount '$s0' -> '$s1'"; fi

in_order "a TPM restart: measured again, the log started over, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was restarted\): measuring the manifest in force again; the agent log starts again$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
M='PCR 23 was reset by another program \(zeros, but no TPM reset or restart: resetCount and restartCount unchanged\); a new log would be a rollback: restart the platform'
in_order "PCR 23 reset by another program after the restart: error 4, refused" "$TMP/out" \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ rp +<- agent: error 4: $M\$" \
    '^[0-9:.]+ rp +op 3 .*: REFUSED'
n=$(grep -cE '^[0-9:.]+ agent PCR 23 is back to zeros' "$TMP/out")
if [ "$n" = 1 ]; then pass "the log started over once (the restart), not at the PCR reset"
else fail "the log started over $n times, want 1"; fi
if grep -qE 'agent history rollback' "$TMP/out"; then
    fail "a rollback verdict: $(grep -m1 -E 'agent history rollback' "$TMP/out")"
else pass "no 'agent history rollback' verdict"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    for f in restart clock0 clock1 pcrreset; do echo "---- $f ----"; cat "$TMP/$f.out" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
