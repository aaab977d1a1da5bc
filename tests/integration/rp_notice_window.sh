#!/usr/bin/env bash
# rp_notice_window.sh — a posture-changed notice that reaches the relying
# party while it is asking verifierd about the evidence (docs/rp-guide.md,
# "Attesting in-band"). The agent's test hook --test-notice-after-evidence N
# writes a notice right behind each of its first N evidence frames (one
# write: they arrive together), so the notice sits unread on the connection
# during the RP's POST /v1/attest.
#   N = 1: the RP must read it before deciding and attest once more: two
#          attestations, then allowed (an RP that decides on the first EAR
#          without re-reading the connection allows after one);
#   N = 5: every attestation is overtaken by a notice: after three rounds
#          the RP refuses with no usable EAR.
# Real parts throughout: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent
# and vfy-rp, with a one-operation story (DEMO_STORY).
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp rp_notice_window

cat >"$TMP/story.txt" <<'STORY'
say notice window: the agent pushes a notice right behind its evidence
op transfer 100 EUR to ACME Travel
STORY

# run N: the story against an agent with the hook set to N; output in $TMP/out.N
run() {
    demo_run "$TMP/out.$1" DEMO_TTL=30 DEMO_STORY="$TMP/story.txt" \
        DEMO_AGENT_ARGS="--test-notice-after-evidence $1"
}

OP='op 1 "transfer 100 EUR to ACME Travel"'

# ---- N = 1: one notice, overtaking the first attestation ----
rc=$(run 1)
if [ "$rc" = 0 ]; then pass "N=1: demo.sh exits 0"; else fail "N=1: demo.sh exit status $rc"; fi
in_order "N=1: the notice is pushed right behind the first evidence, then the RP attests again" \
    "$TMP/out.1" \
    "^[0-9:.]+ rp +$OP: high-impact -> attesting first: no EAR yet" \
    '^[0-9:.]+ agent conn 1: posture-changed notice pushed \(manifest version 1\): test hook, right behind the evidence$' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    "^[0-9:.]+ rp +$OP: high-impact -> attesting first: posture changed: the agent announced manifest version 1" \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    "^[0-9:.]+ rp +$OP: ALLOWED \\(status affirming\\)"
n=$(grep -cE '^[0-9:.]+ rp +<- agent: posture-changed notice \(manifest version 1' "$TMP/out.1")
if [ "$n" = 1 ]; then pass "N=1: the RP read the one notice"; else fail "N=1: the RP read $n notices"; fi
if grep -qE '^[0-9:.]+ rp +summary: 1 operation\(s\): 1 allowed, 0 refused; 2 attestation\(s\); TLS handshakes on this connection: 1$' "$TMP/out.1"; then
    pass "N=1: allowed after two attestations on one TLS connection"
else
    fail "N=1: summary is not 1 allowed after 2 attestations: $(grep -E 'rp +summary' "$TMP/out.1")"
fi

# ---- N = 5: a notice behind every evidence ----
rc=$(run 5)
if [ "$rc" = 0 ]; then pass "N=5: demo.sh exits 0"; else fail "N=5: demo.sh exit status $rc"; fi
in_order "N=5: three attestations, each overtaken, then refused" "$TMP/out.5" \
    "^[0-9:.]+ rp +$OP: high-impact -> attesting first: no EAR yet" \
    "^[0-9:.]+ rp +$OP: high-impact -> attesting first: posture changed" \
    "^[0-9:.]+ rp +$OP: high-impact -> attesting first: posture changed" \
    "^[0-9:.]+ rp +$OP: still no usable EAR after 3 attestations \\(posture changed" \
    "^[0-9:.]+ rp +$OP: REFUSED \\(status no verified EAR\\)$"
if grep -qE '^[0-9:.]+ rp +summary: 1 operation\(s\): 0 allowed, 1 refused; 3 attestation\(s\); TLS handshakes on this connection: 1$' "$TMP/out.5"; then
    pass "N=5: refused after three attestations"
else
    fail "N=5: summary is not 1 refused after 3 attestations: $(grep -E 'rp +summary' "$TMP/out.5")"
fi
n=$(grep -c 'test hook, right behind the evidence' "$TMP/out.5")
if [ "$n" = 3 ]; then pass "N=5: the agent pushed a notice behind each of the 3 evidence frames"
else fail "N=5: $n hook notices, want 3"; fi

# the hook's bounds: a usage error, before any TPM is touched
for bad in 1001 -1 x; do
    "$VFY_BUILD_DIR/examples/vfy-agent" --manifest /dev/null --test-notice-after-evidence "$bad" \
        >/dev/null 2>"$TMP/err"
    rc=$?
    if [ "$rc" = 2 ] && grep -q 'bad value for --test-notice-after-evidence' "$TMP/err"; then
        pass "--test-notice-after-evidence $bad is a usage error"
    else
        fail "--test-notice-after-evidence $bad: exit $rc, $(cat "$TMP/err")"
    fi
done

for n in 1 5; do
    if grep -qE 'MUST BE 1|story stopped' "$TMP/out.$n"; then fail "N=$n: the RP reported a deviation"
    else pass "N=$n: no deviation reported"; fi
done

# ---- a change after the RP's decision, before the agent runs the request ----
# The agent's hook --test-change-before-app M counts a posture change just
# before each of the first M app requests: the agent must not run the
# request (error 6) and the RP must attest the new posture and retry.
cat >"$TMP/story2.txt" <<'STORY'
op transfer 200 EUR to ACME Travel
STORY
OP2='op 1 "transfer 200 EUR to ACME Travel"'
rc=$(demo_run "$TMP/out.c1" DEMO_TTL=30 DEMO_STORY="$TMP/story2.txt" \
    DEMO_AGENT_ARGS="--test-change-before-app 1")
if [ "$rc" = 0 ]; then pass "M=1: demo.sh exits 0"; else fail "M=1: demo.sh exit status $rc"; fi
in_order "M=1: not run after the change, attested again, then run" "$TMP/out.c1" \
    '^[0-9:.]+ agent conn 1: application request "transfer 200 EUR to ACME Travel" -> refused: the posture changed since this connection.s last evidence$' \
    "^[0-9:.]+ rp +$OP2: the agent did not run it \\(its posture changed after the decision\\) -> attesting again$" \
    "^[0-9:.]+ rp +$OP2: high-impact -> attesting first: posture changed" \
    '^[0-9:.]+ agent conn 1: application request "transfer 200 EUR to ACME Travel" -> ok$' \
    "^[0-9:.]+ rp +$OP2: ALLOWED \\(status affirming\\)"
rc=$(demo_run "$TMP/out.c5" DEMO_TTL=30 DEMO_STORY="$TMP/story2.txt" \
    DEMO_AGENT_ARGS="--test-change-before-app 5")
if [ "$rc" = 0 ]; then pass "M=5: demo.sh exits 0"; else fail "M=5: demo.sh exit status $rc"; fi
in_order "M=5: never run, refused after three attempts" "$TMP/out.c5" \
    "^[0-9:.]+ rp +$OP2: the agent did not run it" \
    "^[0-9:.]+ rp +$OP2: the agent did not run it" \
    "^[0-9:.]+ rp +$OP2: REFUSED \\(the agent kept changing its posture\\)"
if grep -q -- '-> ok$' "$TMP/out.c5"; then fail "M=5: the agent ran the request"
else pass "M=5: the agent never ran the request"; fi
"$VFY_BUILD_DIR/examples/vfy-agent" --manifest /dev/null --test-change-before-app 1001 \
    >/dev/null 2>"$TMP/err"
rc=$?
if [ "$rc" = 2 ] && grep -q 'bad value for --test-change-before-app' "$TMP/err"; then
    pass "--test-change-before-app 1001 is a usage error"
else
    fail "--test-change-before-app 1001: exit $rc, $(cat "$TMP/err")"
fi

if [ "$FAIL" -ne 0 ]; then
    for n in 1 5 c1 c5; do echo "---- demo output, $n ----"; cat "$TMP/out.$n" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
