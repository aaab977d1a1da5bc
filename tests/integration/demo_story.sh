#!/usr/bin/env bash
# demo_story.sh — the dynamic-attestation story of `make demo` (issue 6), run
# non-interactively and checked step by step: scripts/demo.sh with a real
# swtpm, verifierd --dev, examples/agent (vfy-agent) and
# examples/relying-party (vfy-rp). Asserts, in timeline order:
#   approved manifest -> attested -> allowed; held EAR reused;
#   relay: evidence captured on rp's connection and submitted by rp2 with its
#     own exporter -> binder mismatch -> contraindicated -> refused;
#   manifest swap -> agent measures it -> posture-changed notice -> re-attest
#     -> warning (unapproved model) -> refused;
#   approval does not rescue the held EAR; EAR expiry -> fresh attestation ->
#     affirming -> allowed;
#   revocation -> feed -> re-attest -> contraindicated -> refused;
#   one TLS handshake on each relying party's connection, no reconnects;
#   everything stopped (swtpm, verifierd, agent by PID), under 90 s.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
OUT=$(mktemp /tmp/demo_story.XXXXXX)
trap 'rm -f "$OUT"' EXIT

unset DEMO_KEEP
export DEMO_TTL=6   # EAR lifetime: slack for the steps that must fall inside one EAR on a loaded machine
start=$(date +%s)
timeout -k 5 85 bash "$SRC/scripts/demo.sh" "$VFY_BUILD_DIR" >"$OUT" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))

if [ "$rc" -eq 0 ]; then pass "demo.sh exits 0"; else fail "demo.sh exit status $rc"; fi
if [ "$elapsed" -lt 90 ]; then pass "story ran in ${elapsed}s (< 90 s)"; else fail "story took ${elapsed}s"; fi

# The timeline must contain these lines in this order (each ERE matches one
# line, searched from the line after the previous match).
STEPS=(
  'approved: attested first because no EAR yet|^[0-9:.]+ rp +op 1 "transfer 100 EUR to ACME Travel": high-impact -> attesting first: no EAR yet for this connection$'
  'approved: nonce from verifierd|^[0-9:.]+ rp +<- verifierd: nonce '
  'approved: agent quotes for this connection|^[0-9:.]+ agent conn 1: attestation request -> quote over PCRs 0-7,23'
  'approved: evidence received in-band|^[0-9:.]+ rp +<- agent: evidence, [0-9]+ bytes of CMW JSON'
  'approved: verifierd says affirming|^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$'
  'approved: EAR verified with nonce and channel binding|^[0-9:.]+ rp +EAR verified \(ES256 kid .*nonce and channel binding match this connection\): status affirming, valid 6 s$'
  'approved: op 1 allowed|^[0-9:.]+ rp +op 1 "transfer 100 EUR to ACME Travel": ALLOWED \(status affirming\) -> agent answered "ok"$'
  'held EAR reused for op 2|^[0-9:.]+ rp +op 2 .*: held EAR [A-Za-z0-9_-]+ still valid for this connection'
  'op 2 allowed|^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
  'relay: evidence captured on rp connection|^[0-9:.]+ rp +capture: nonce and evidence saved to '
  'relay: rp2 has its own connection|^[0-9:.]+ rp2 +connected to the agent at .*handshakes so far: 1$'
  'relay: rp2 submits the captured evidence|^[0-9:.]+ rp2 +RELAY: submitting evidence captured on ANOTHER connection'
  'relay: verifierd contraindicated|^[0-9:.]+ rp2 +<- verifierd: result [A-Za-z0-9_-]+, status contraindicated$'
  'relay: reason is the binder mismatch|^[0-9:.]+ rp2 +reason: .*binder mismatch'
  'relay: operation refused|^[0-9:.]+ rp2 +op 1 "transfer 9999 EUR to MALLORY": REFUSED \(status contraindicated\)$'
  'relay: rp2 connection saw one handshake|^[0-9:.]+ rp2 +summary: 1 operation\(s\): 0 allowed, 1 refused; 1 attestation\(s\); TLS handshakes on this connection: 1$'
  'swap: agent measures manifest v2 into PCR 23|^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 2 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 2 entries$'
  'swap: agent pushes posture-changed on conn 1|^[0-9:.]+ agent conn 1: posture-changed notice pushed \(manifest version 2\)$'
  'swap: rp receives the notice|^[0-9:.]+ rp +<- agent: posture-changed notice \(manifest version 2, sha256:[0-9a-f]{64}\)'
  'swap: op 3 re-attests because of the notice|^[0-9:.]+ rp +op 3 .*: high-impact -> attesting first: posture changed: the agent announced manifest version 2'
  'swap: verifierd says warning|^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status warning$'
  'swap: reason names the unapproved model|^[0-9:.]+ rp +reason: model llama-3.1-8b-instruct-uncensored sha256:[0-9a-f]{64} is not an approved reference value$'
  'swap: op 3 refused|^[0-9:.]+ rp +op 3 .*: REFUSED \(status warning\)$'
  'approval: held warning EAR still governs op 4|^[0-9:.]+ rp +op 4 .*: held EAR [A-Za-z0-9_-]+ still valid'
  'approval: op 4 refused|^[0-9:.]+ rp +op 4 .*: REFUSED \(status warning\)$'
  'expiry: op 5 re-attests because exp passed|^[0-9:.]+ rp +op 5 .*: high-impact -> attesting first: EAR expired'
  'expiry: fresh EAR affirming|^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$'
  'expiry: op 5 allowed|^[0-9:.]+ rp +op 5 .*: ALLOWED \(status affirming\)'
  'revocation: feed lists the held result|^[0-9:.]+ rp +<- verifierd revocation feed: result [A-Za-z0-9_-]+ revoked \(model llama-3.1-8b-instruct-uncensored .*revoked\)$'
  'revocation: op 6 re-attests because of it|^[0-9:.]+ rp +op 6 "delete customer records": high-impact -> attesting first: EAR revoked by the verifier'
  'revocation: verifierd contraindicated|^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status contraindicated$'
  'revocation: reason names the revoked model|^[0-9:.]+ rp +reason: model llama-3.1-8b-instruct-uncensored sha256:[0-9a-f]{64} is revoked$'
  'revocation: op 6 refused|^[0-9:.]+ rp +op 6 "delete customer records": REFUSED \(status contraindicated\)$'
  'one handshake on the long-lived connection|^[0-9:.]+ rp +summary: 6 operation\(s\): 3 allowed, 3 refused; 4 attestation\(s\); TLS handshakes on this connection: 1$'
  'demo completes|^=== demo complete: every step went as scripted$'
)
pos=0
for s in "${STEPS[@]}"; do
    name=${s%%|*} re=${s#*|}
    hit=$(tail -n +"$((pos + 1))" "$OUT" | grep -nE -m1 -- "$re" | cut -d: -f1)
    if [ -n "$hit" ]; then
        pos=$((pos + hit))
        pass "$name"
    else
        fail "$name: no line matching /$re/ after line $pos"
    fi
done

# Exactly two connections reached the agent (rp and rp2): no reconnect, no resumption.
n=$(grep -cE '^[0-9:.]+ agent conn [0-9]+: TLS TLSv1.3 established' "$OUT")
if [ "$n" = 2 ]; then pass "the agent saw exactly 2 TLS connections"; else fail "the agent saw $n TLS connections"; fi
if grep -qE 'MUST BE 1|EXPECTATION FAILED|story stopped' "$OUT"; then
    fail "a relying party reported a deviation"
else
    pass "no deviation reported"
fi
# Five attestations appraised in all (4 by rp, 1 relayed by rp2); no agent-side failure.
n=$(grep -cE '^[0-9:.]+ rp2? +<- verifierd: result ' "$OUT")
if [ "$n" = 5 ]; then pass "5 appraisals"; else fail "$n appraisals, want 5"; fi
if grep -q 'attestation failed' "$OUT"; then fail "the agent failed an attestation"; else pass "every quote succeeded"; fi

# Clean stop: every process the demo started is gone.
pids=$(sed -n 's/^processes: swtpm \([0-9]*\), verifierd \([0-9]*\), agent \([0-9]*\)$/\1 \2 \3/p' "$OUT")
if [ -z "$pids" ]; then
    fail "no process line in the demo output"
else
    left=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    if [ -z "$left" ]; then pass "swtpm, verifierd and the agent stopped ($pids)"
    else fail "still running after the demo:$left"; kill -KILL $left 2>/dev/null; fi
fi
if grep -q 'agent stopping' "$OUT"; then pass "the agent stopped gracefully"; else fail "no graceful agent stop"; fi

if [ "$FAIL" -ne 0 ]; then
    echo "---- demo output ----"
    cat "$OUT"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
