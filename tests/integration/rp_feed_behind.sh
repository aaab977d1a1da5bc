#!/usr/bin/env bash
# rp_feed_behind.sh — the example relying party when the revocation feed
# cannot be read to its end within one decision (--feed-pages). The feed
# used to be read for at most 1,000 pages and then taken as "not revoked";
# a long feed (one revocation can list many results) hid the held result
# behind the pages not read. Now the RP asks verifierd about its result
# directly (GET /v1/results/{id}) whenever the feed is not read to its end.
# Here the feed is read one entry a page, one page a decision
# (--feed-page-size 1 --feed-pages 1), and one revocation lists two
# results: an older one first (seen on the page), then the one the RP
# holds (not seen: asked about directly).
# Real parts: scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp rp_feed_behind

# The agent's --test-notice-after-evidence 1 overtakes the first attestation
# with a notice, so op 1 attests twice: R1, then R2, which the RP holds,
# both affirming on model A. Revoking model A revokes both, R1 first on
# the feed.
cat >"$TMP/story.txt" <<'STORY'
op transfer 1 EUR to ACME Travel
expect allowed affirming
run "$VFY_BUILD_DIR/tools/verifyctl/verifyctl" --db "$DEMO_VD_DIR/verifierd.db" component revoke model llama-3.1-8b-instruct >/dev/null
op transfer 2 EUR to ACME Travel
expect refused contraindicated
STORY

rc=$(demo_run "$TMP/out" DEMO_TTL=30 DEMO_STORY="$TMP/story.txt" \
    DEMO_AGENT_ARGS="--test-notice-after-evidence 1" DEMO_RP_ARGS="--feed-page-size 1 --feed-pages 1")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (the story ran as scripted)"; else fail "exit status $rc"; fi
RES=$(sed -nE 's/.*rp +<- verifierd: result ([A-Za-z0-9_-]+), status affirming.*/\1/p' "$TMP/out")
R1=$(printf '%s\n' "$RES" | sed -n 1p) R2=$(printf '%s\n' "$RES" | sed -n 2p)
if [ -n "$R2" ]; then pass "op 1 attested twice: $R1, then $R2 (held)"; else fail "op 1 did not attest twice"; fi
in_order "a page of the feed names another result; the held one is asked about directly" "$TMP/out" \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)' \
    "^[0-9:.]+ rp +revocation feed: more than 1 pages to its end \\(cursor [0-9]+\\); asking verifierd about result $R2 directly\$" \
    "^[0-9:.]+ rp +<- verifierd: result $R2 revoked \\(model llama-3.1-8b-instruct sha256:[0-9a-f]{64} was revoked\\)\$" \
    '^[0-9:.]+ rp +op 2 .*: high-impact -> attesting first: EAR revoked by the verifier' \
    '^[0-9:.]+ rp +op 2 .*: REFUSED'
if grep -qE "^[0-9:.]+ rp +<- verifierd revocation feed: result $R2 revoked" "$TMP/out"; then
    fail "the held result came from the feed: the page limit did not hold"
else
    pass "the held result was not on the one page read"
fi
if [ "$FAIL" -ne 0 ]; then echo "---- demo output ----"; cat "$TMP/out"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
