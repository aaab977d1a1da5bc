#!/usr/bin/env bash
# agent_unmeasured.sh — a manifest the example agent cannot measure is
# never covered by the previous one's evidence. The agent's test hook
# --test-fail-extends N makes the first N PCR extends after its start fail,
# as a TPM error would.
#   N = 1000: the extend keeps failing. The agent says so once (not at
#     every 200 ms poll), pushes a posture-changed notice, and answers
#     attestation requests with an error: the relying party refuses the
#     next operation. (It used to record the file as seen before measuring
#     it, never retry, and keep attesting the previous manifest: allowed.)
#   N = 3: the agent retries at its polls and measures the new manifest
#     (version 7) without a SIGHUP; the next operation is allowed on
#     evidence of version 7.
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_unmeasured

# The approved manifest of the demo under another manifest_version: the same
# models, tools and policies (approved), another digest.
cat >"$TMP/story.txt" <<STORY
op transfer 1 EUR to ACME Travel
expect allowed affirming
run sed 's/"manifest_version":1,/"manifest_version":7,/' "\$DEMO_VD_DIR/../manifest-v1.json" >$TMP/m7.json && "\$DEMO_VD_DIR/../swap-manifest" $TMP/m7.json && sleep 2
op transfer 2 EUR to ACME Travel
STORY

# ---- N = 1000: never measured ----
# ... and then a manifest over 64 KiB, which cannot be read: said once too
{ cat "$TMP/story.txt"; echo "expect refused"
  echo "run head -c 70000 /dev/zero | tr '\\0' ' ' >$TMP/big.json && \"\$DEMO_VD_DIR/../swap-manifest\" $TMP/big.json && sleep 1.5"
} >"$TMP/story.fail"
rc=$(demo_run "$TMP/out.fail" DEMO_TTL=60 DEMO_STORY="$TMP/story.fail" \
    DEMO_AGENT_ARGS="--test-fail-extends 1000")
if [ "$rc" = 0 ]; then pass "N=1000: demo.sh exits 0 (op 2 refused)"; else fail "N=1000: exit status $rc"; fi
in_order "N=1000: not measured, the relying party told, the attestation refused" "$TMP/out.fail" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \(sha256:[0-9a-f]{64}\) not measured: extending PCR 23 failed: test hook; attestation requests get an error until it is \(retrying\)$' \
    '^[0-9:.]+ agent conn 1: posture-changed notice pushed \(manifest version 1\)' \
    '^[0-9:.]+ rp +op 2 .*: high-impact -> attesting first: posture changed' \
    '^[0-9:.]+ rp +<- agent: error 4: the manifest in force is not measured \(extending PCR 23 failed: test hook\)$' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED \(status no verified EAR\)$'
n=$(grep -c 'not measured: extending PCR' "$TMP/out.fail")
if [ "$n" = 1 ]; then pass "N=1000: said once over ~10 retries"; else fail "N=1000: said $n times"; fi
n=$(grep -cE 'agent (SIGHUP|file changed): cannot read manifest .* \(missing, unreadable or over 64 KiB\): not measured; attestation requests get an error until a manifest that can be measured is in place$' "$TMP/out.fail")
if [ "$n" = 1 ]; then pass "N=1000: an unreadable manifest said once over ~7 polls"; else fail "N=1000: unreadable said $n times"; fi
if grep -qE 'manifest .* version 7 .* measured into PCR' "$TMP/out.fail"; then
    fail "N=1000: version 7 was measured"
else pass "N=1000: version 7 never measured"; fi

# ---- N = 3: measured at a later poll ----
{ cat "$TMP/story.txt"; echo "expect allowed affirming"; } >"$TMP/story.retry"
rc=$(demo_run "$TMP/out.retry" DEMO_TTL=60 DEMO_STORY="$TMP/story.retry" \
    DEMO_AGENT_ARGS="--test-fail-extends 3")
if [ "$rc" = 0 ]; then pass "N=3: demo.sh exits 0 (op 2 allowed)"; else fail "N=3: exit status $rc"; fi
in_order "N=3: retried at the polls and measured, then attested anew and allowed" "$TMP/out.retry" \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 \(sha256:[0-9a-f]{64}\) not measured: extending PCR 23 failed: test hook' \
    '^[0-9:.]+ agent (SIGHUP|file changed): manifest travel-agent-01 version 7 \(sha256:[0-9a-f]{64}\) measured into PCR 23; agent log has 2 entries$' \
    '^[0-9:.]+ rp +op 2 .*: high-impact -> attesting first: posture changed' \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 2 .*: ALLOWED \(status affirming\)'
n=$(grep -c 'not measured: extending PCR' "$TMP/out.retry")
if [ "$n" = 1 ]; then pass "N=3: the failure said once"; else fail "N=3: said $n times"; fi

if [ "$FAIL" -ne 0 ]; then
    for f in fail retry; do echo "---- demo output ($f) ----"; cat "$TMP/out.$f"; done
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
