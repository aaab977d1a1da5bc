#!/usr/bin/env bash
# rp_answer_timeout.sh — an agent that answers after the relying party gave
# up waiting (docs/rp-guide.md §4, "Answers are matched by order"). The protocol has
# no request ids: answers are matched to requests by order. The story stops
# the agent (SIGSTOP) during an attestation for longer than the RP's
# --answer-timeout-ms, and lets it go on (SIGCONT) while the RP's next
# operation waits for its own evidence: the late evidence, made for the
# first nonce, then arrives first.
#   default: the RP drops the connection at the timeout (op 1 refused with
#            that reason) and attests the next operation on a new connection
#            (op 2 allowed, affirming). An RP that keeps the connection takes
#            the late evidence for op 2's nonce: verifierd answers
#            contraindicated (binder mismatch) and op 2 is refused.
#   --test-keep-connection-on-timeout (RP test hook: the old behaviour):
#            the RP's own binder check must keep the late evidence from
#            verifierd (op 2 refused, nothing submitted, the connection
#            dropped); op 3 is allowed on a new connection.
# Neither run may show a contraindicated verdict or a binder mismatch.
# Real parts throughout: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent
# and vfy-rp, with a story (DEMO_STORY) whose "run" lines stop the agent.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp rp_answer_timeout

TIMEOUT_MS=2000   # the RP's answer timeout in these runs
STALL_S=3         # how long the agent stays stopped: past TIMEOUT_MS, inside op 2's wait

# stall-agent SECS (run by the story): SIGSTOP the demo's agent now and
# SIGCONT it SECS later, in the background. The agent is the vfy-agent whose
# --port-file lies in the demo's work directory (the parent of DEMO_VD_DIR,
# which scripts/demo.sh exports to the story's "run" lines).
cat >"$TMP/stall-agent" <<'SH'
#!/bin/sh
work=$(dirname "$DEMO_VD_DIR")
pid=""
for d in /proc/[0-9]*; do
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    [ "${exe##*/}" = vfy-agent ] || continue
    if tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qxF -- "$work/agent.port"; then
        [ -z "$pid" ] || { echo "stall-agent: more than one agent" >&2; exit 1; }
        pid=${d#/proc/}
    fi
done
[ -n "$pid" ] || { echo "stall-agent: no agent found for $work" >&2; exit 1; }
kill -STOP "$pid" || exit 1
echo "$(date +%T.%3N) stall agent (pid $pid) stopped for $1 s"
( sleep "$1"; kill -CONT "$pid"; echo "$(date +%T.%3N) stall agent (pid $pid) continued" ) &
SH
chmod +x "$TMP/stall-agent"

OP1='op 1 "transfer 100 EUR to ACME Travel"'
OP2='op 2 "transfer 200 EUR to ACME Travel"'
OP3='op 3 "transfer 300 EUR to ACME Travel"'

# ---- default: drop the connection at the timeout, reconnect for op 2 ----
cat >"$TMP/story.txt" <<STORY
say answer timeout: the agent stalls past the RP's answer timeout during an attestation
run $TMP/stall-agent $STALL_S
op transfer 100 EUR to ACME Travel
expect refused
op transfer 200 EUR to ACME Travel
expect allowed affirming
STORY
start=$(date +%s)
rc=$(demo_run "$TMP/out.drop" DEMO_TTL=30 DEMO_STORY="$TMP/story.txt" \
    DEMO_RP_ARGS="--answer-timeout-ms $TIMEOUT_MS")
took=$(($(date +%s) - start))
if [ "$rc" = 0 ]; then pass "drop: demo.sh exits 0"; else fail "drop: demo.sh exit status $rc"; fi
in_order "drop: op 1 times out and is refused, op 2 is allowed on a new connection" "$TMP/out.drop" \
    '^[0-9:.]+ stall agent \(pid [0-9]+\) stopped' \
    "^[0-9:.]+ rp +$OP1: high-impact -> attesting first: no EAR yet" \
    '^[0-9:.]+ rp +-> agent: attest-request with the nonce' \
    "^[0-9:.]+ rp +agent connection 1 dropped: no answer to the attest-request within $TIMEOUT_MS ms .*answers are matched to requests by order" \
    "^[0-9:.]+ rp +$OP1: REFUSED \\(status no verified EAR; agent connection 1 dropped: no answer to the attest-request within $TIMEOUT_MS ms" \
    '^[0-9:.]+ rp +connected to the agent at .* \(connection 2, a new channel' \
    "^[0-9:.]+ rp +$OP2: high-impact -> attesting first: no EAR yet" \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    "^[0-9:.]+ rp +$OP2: ALLOWED \\(status affirming\\)"
# the late evidence was made: the agent answered nonce 1 on connection 1
# after the RP had dropped it (a 1 s gap: the agent was stopped until then)
in_order "drop: the agent answered the first request late, on the dropped connection" "$TMP/out.drop" \
    '^[0-9:.]+ rp +agent connection 1 dropped: ' \
    '^[0-9:.]+ agent conn 1: attestation request'
if grep -qE '^[0-9:.]+ rp +summary: 2 operation\(s\): 1 allowed, 1 refused; 2 attestation\(s\); TLS handshakes on this connection: 1; 2 connections to the agent \(1 dropped\), one handshake each$' "$TMP/out.drop"; then
    pass "drop: summary: 1 allowed, 1 refused, two connections of one handshake each"
else
    fail "drop: summary: $(grep -E 'rp +summary' "$TMP/out.drop")"
fi
if [ "$took" -lt 25 ]; then pass "drop: the run took ${took} s (the answer timeout was honoured)"
else fail "drop: the run took ${took} s"; fi

# ---- the test hook keeps the connection: the RP's binder check catches the late evidence ----
cat >"$TMP/story2.txt" <<STORY
run $TMP/stall-agent $STALL_S
op transfer 100 EUR to ACME Travel
expect refused
op transfer 200 EUR to ACME Travel
expect refused
op transfer 300 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out.keep" DEMO_TTL=30 DEMO_STORY="$TMP/story2.txt" \
    DEMO_RP_ARGS="--answer-timeout-ms $TIMEOUT_MS --test-keep-connection-on-timeout")
if [ "$rc" = 0 ]; then pass "keep: demo.sh exits 0"; else fail "keep: demo.sh exit status $rc"; fi
in_order "keep: the late evidence is not submitted, op 3 is allowed on a new connection" \
    "$TMP/out.keep" \
    "^[0-9:.]+ rp +test hook: connection 1 kept after no answer to the attest-request within $TIMEOUT_MS ms" \
    "^[0-9:.]+ rp +$OP1: REFUSED \\(status no verified EAR\\)$" \
    "^[0-9:.]+ rp +$OP2: high-impact -> attesting first" \
    '^[0-9:.]+ rp +-> agent: attest-request with the nonce' \
    '^[0-9:.]+ rp +agent connection 1 dropped: the evidence received does not answer this attest-request .*binder' \
    "^[0-9:.]+ rp +$OP2: REFUSED \\(status no verified EAR; agent connection 1 dropped: " \
    '^[0-9:.]+ rp +connected to the agent at .* \(connection 2, a new channel' \
    "^[0-9:.]+ rp +$OP3: ALLOWED \\(status affirming\\)"
# one submission only, op 3's: none before op 3 started attesting
n=$(grep -cE '^[0-9:.]+ rp +-> verifierd: POST /v1/attest' "$TMP/out.keep")
first=$(grep -nE '^[0-9:.]+ rp +-> verifierd: POST /v1/attest' "$TMP/out.keep" | head -1 | cut -d: -f1)
op3=$(grep -nE "^[0-9:.]+ rp +$OP3: high-impact -> attesting first" "$TMP/out.keep" | head -1 | cut -d: -f1)
if [ "$n" = 1 ] && [ -n "$op3" ] && [ "$first" -gt "$op3" ]; then
    pass "keep: only op 3's evidence went to verifierd"
else
    fail "keep: $n POST /v1/attest (first at line ${first:-none}, op 3 attests at ${op3:-none}), want 1 after op 3"
fi

# ---- both runs ----
for r in drop keep; do
    if grep -qiE 'contraindicated|binder mismatch' "$TMP/out.$r"; then
        fail "$r: a contraindicated or binder-mismatch verdict: $(grep -iE 'contraindicated|binder mismatch' "$TMP/out.$r" | head -3)"
    else
        pass "$r: no contraindicated or binder-mismatch verdict"
    fi
    if grep -qE 'MUST BE 1|EXPECTATION FAILED|story stopped' "$TMP/out.$r"; then
        fail "$r: the RP reported a deviation"
    else
        pass "$r: no deviation reported"
    fi
done

# the option's bounds: a usage error
for bad in 0 99 600001 -5 x 2000x; do
    "$VFY_BUILD_DIR/examples/vfy-rp" --agent 127.0.0.1:1 --verifier https://127.0.0.1:1 \
        --token t --op x --answer-timeout-ms "$bad" >/dev/null 2>"$TMP/err"
    rc=$?
    if [ "$rc" = 2 ] && grep -q -- '--answer-timeout-ms must be 100..600000' "$TMP/err"; then
        pass "--answer-timeout-ms $bad is a usage error"
    else
        fail "--answer-timeout-ms $bad: exit $rc, $(cat "$TMP/err")"
    fi
done

if [ "$FAIL" -ne 0 ]; then
    for r in drop keep; do echo "---- demo output, $r ----"; cat "$TMP/out.$r" 2>/dev/null; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
