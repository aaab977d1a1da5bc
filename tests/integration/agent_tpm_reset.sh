#!/usr/bin/env bash
# agent_tpm_reset.sh — the example agent outlives its TPM's troubles.
#   1. The TPM is reset under the running agent (TPM2_Shutdown, swtpm's
#      CMD_INIT: PCRs back to zeros, resetCount + 1; the platform PCRs are
#      extended again as firmware would). The agent sees the agent PCR at
#      zeros in its next quote, measures the manifest in force again and
#      starts its log over: the next operation is allowed on fresh evidence.
#      (It used to quote on: a log that no longer replayed, every
#      attestation contraindicated until the agent was restarted.)
#   2. swtpm is stopped and started again on the same ports and state (the
#      agent's connection to it lost, the TPM reset): the agent's quote
#      fails once, it opens the TPM again, and the operation after it is
#      allowed. (The ESAPI context used to stay broken: "function called
#      in the wrong order" for good.)
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_tpm_reset

# platform: PCRs 0-7 extended as demo.sh's set-up does (its reference values)
demo_platform_script "$TMP/platform.sh"
# 1. a TPM reset: clean shutdown, CMD_INIT, startup
cat >"$TMP/reset.sh" <<SH
tpm2_shutdown -c && swtpm_ioctl --tcp "127.0.0.1:\$SWTPM_CTRL_PORT" -i >/dev/null &&
    { tpm2_startup -c >/dev/null 2>&1 || true; } && . "$TMP/platform.sh"
SH
# 2. swtpm stopped (after an orderly TPM2_Shutdown: killed without one, the
#    TPM's clock is not "safe" and the verifier rightly refuses its quotes),
#    an attestation asked for while it is down, then swtpm started again
#    where it was
cat >"$TMP/down.sh" <<SH
tpm2_shutdown -c || exit 1
kill -KILL "\$SWTPM_PID"; sleep 0.5
SH
cat >"$TMP/up.sh" <<SH
swtpm socket --tpm2 --server "type=tcp,port=\$SWTPM_PORT,bindaddr=127.0.0.1" \\
    --ctrl "type=tcp,port=\$SWTPM_CTRL_PORT,bindaddr=127.0.0.1" --tpmstate "dir=\$DEMO_VD_DIR/../tpm" \\
    --flags not-need-init,startup-clear --pid "file=$TMP/swtpm2.pid" --daemon || exit 1
sleep 0.3
. "$TMP/platform.sh"
SH
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run sh $TMP/reset.sh >$TMP/reset.out 2>&1
sleep 2
op transfer 2 EUR to ACME Travel
expect allowed affirming
run sh $TMP/down.sh >$TMP/down.out 2>&1
sleep 2
op transfer 3 EUR to ACME Travel
expect refused
run sh $TMP/up.sh >$TMP/up.out 2>&1
op transfer 4 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=1 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (every operation allowed)"; else fail "exit status $rc"; fi
in_order "a TPM reset: measured again, the log started over, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was reset\): measuring the manifest in force again; the agent log starts again$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
in_order "swtpm down: refused; up again: the agent reconnected, allowed" "$TMP/out" \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +<- agent: error 4: .*' \
    '^[0-9:.]+ rp +op 3 .*: REFUSED' \
    '^[0-9:.]+ agent the connection to the TPM was lost and opened again \([0-9]+ times? so far\)$' \
    '^[0-9:.]+ agent PCR 23 is back to zeros \(the TPM was reset\): measuring the manifest in force again; the agent log starts again$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 4 .*: ALLOWED \(status affirming\)'
# the respawned swtpm is not demo.sh's: stopped here
[ -s "$TMP/swtpm2.pid" ] && kill "$(cat "$TMP/swtpm2.pid")" 2>/dev/null

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"; cat "$TMP/out"
    for f in reset down up; do echo "---- $f ----"; cat "$TMP/$f.out" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
