#!/usr/bin/env bash
# rp_clock_back.sh — the example relying party bounds how long it relies on
# an EAR on the monotonic clock too: with its wall clock set back an hour
# (tests/shim/timeshift.so, LD_PRELOAD) right after it received an EAR of
# 3 s, the EAR's exp is an hour away by the wall clock, yet the RP attests
# again once 3 s have passed ("EAR expired (N s since it was received)").
# The new EAR's iat is then an hour in the RP's future: refused
# (VFY_E_EAR_NOT_YET_VALID) — a verdict is never stretched by a clock set
# back. Then an RP clock 30 s behind from the start: an EAR of 3 s is
# relied on for 3 s, not until its exp by the RP's clock. Real parts:
# scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp; only the
# RP's wall clock is moved.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
if [ "${VFY_SANITIZE:-0}" = 1 ]; then
    # the shim is not instrumented: ASan refuses to run behind it
    echo "# sanitizer build: skipped (an uninstrumented LD_PRELOAD shim)"
    exit 0
fi
demo_require_built
demo_tmp rp_clock_back
SHIM="$VFY_BUILD_DIR/tests/timeshift.so"
[ -f "$SHIM" ] || { echo "FAIL - $SHIM not built"; exit 1; }
echo 0 >"$TMP/shift"
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run echo -3600 >$TMP/shift
sleep 1
op transfer 2 EUR to ACME Travel
expect allowed affirming
sleep 3
op transfer 3 EUR to ACME Travel
expect refused
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=3 DEMO_STORY="$TMP/story.txt" DEMO_RP_PRELOAD="$SHIM" \
    TIMESHIFT_FILE="$TMP/shift")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (the story ran as scripted)"; else fail "exit status $rc"; fi
in_order "an hour back on the wall clock: the held EAR still expires after its 3 s, and the next is refused" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +op 2 .*: held EAR [A-Za-z0-9_-]+ still valid for this connection \([0-9]+ s left' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +op 3 .*: high-impact -> attesting first: EAR expired \([0-9]+ s since it was received\)$' \
    '^[0-9:.]+ rp +EAR REJECTED by vfy_ear_verify_expected: VFY_E_EAR_NOT_YET_VALID' \
    '^[0-9:.]+ rp +op 3 .*: REFUSED'

# An RP clock behind verifierd's when the EAR arrives: its iat is 30 s in
# the RP's future (vfy_ear_verify allows up to 60 s), and exp - now is 33 s
# for an EAR of 3 s. The RP relies on it for its own lifetime, 3 s, from
# receipt: it used to take exp - now, 33 s.
echo -30 >"$TMP/shift"
cat >"$TMP/story2.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
sleep 4
op transfer 2 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out2" DEMO_TTL=3 DEMO_STORY="$TMP/story2.txt" DEMO_RP_PRELOAD="$SHIM" \
    TIMESHIFT_FILE="$TMP/shift")
if [ "$rc" = 0 ]; then pass "30 s behind: demo.sh exits 0"; else fail "30 s behind: exit status $rc"; fi
in_order "30 s behind: an EAR of 3 s is relied on for 3 s, not the 33 s to its exp" "$TMP/out2" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ rp +op 2 .*: high-impact -> attesting first: EAR expired \([0-9]+ s since it was received\)$' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
if [ "$FAIL" -ne 0 ]; then echo "---- demo output ----"; cat "$TMP/out" "$TMP/out2"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
