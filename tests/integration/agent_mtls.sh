#!/usr/bin/env bash
# agent_mtls.sh — the example agent with --client-ca (scripts/demo.sh runs
# it so): a client without a certificate, or with one the agent does not
# trust, gets no connection (no slot held, no app request run), while the
# relying party with its certificate attests and is allowed. Real parts:
# scripts/demo.sh's swtpm, verifierd --dev, vfy-agent, vfy-rp; openssl
# s_client as the stranger.
set -u
: "${VFY_BUILD_DIR:?VFY_BUILD_DIR must point at the build root}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/demo.sh
. "$SRC/tests/lib/demo.sh"
demo_require_built
demo_tmp agent_mtls

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=stranger" -keyout "$TMP/x-key.pem" -out "$TMP/x-cert.pem" >/dev/null 2>&1
# An app-request frame (type 0x10, length 2, "hi"), sent after the handshake.
printf '\020\000\000\000\002hi' >"$TMP/app.frame"
cat >"$TMP/story.txt" <<STORY
run (cat $TMP/app.frame; sleep 1) | openssl s_client -connect "\$DEMO_AGENT_ADDR" -quiet >$TMP/anon.out 2>&1; true
run (cat $TMP/app.frame; sleep 1) | openssl s_client -connect "\$DEMO_AGENT_ADDR" -quiet -cert $TMP/x-cert.pem -key $TMP/x-key.pem >$TMP/stranger.out 2>&1; true
op transfer 1 EUR to ACME Travel
expect allowed affirming
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=30 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (the RP with its certificate was allowed)"
else fail "exit status $rc"; fi
n=$(grep -cE '^[0-9:.]+ agent conn [0-9]+: TLS handshake failed$' "$TMP/out")
if [ "$n" -ge 2 ]; then pass "the agent refused both handshakes ($n)"
else fail "the agent refused $n handshakes, want 2: $(grep -E 'agent conn' "$TMP/out" | head -5)"; fi
if grep -q 'application request "hi"' "$TMP/out"; then fail "a stranger's app request was run"
else pass "no app request from a client without a trusted certificate"; fi
in_order "the RP, with its certificate, attested and was allowed" "$TMP/out" \
    '^[0-9:.]+ rp +<- verifierd: result [A-Za-z0-9_-]+, status affirming$' \
    '^[0-9:.]+ rp +op 1 .*: ALLOWED \(status affirming\)'
"$VFY_BUILD_DIR/examples/vfy-rp" --agent 127.0.0.1:1 --verifier https://127.0.0.1:1 --token t \
    --attester a --op x --cert "$TMP/x-cert.pem" >/dev/null 2>&1
rc=$?
if [ "$rc" = 2 ]; then pass "vfy-rp --cert without --key is a usage error"
else fail "vfy-rp --cert without --key: exit $rc"; fi
if [ "$FAIL" -ne 0 ]; then echo "---- demo output ----"; cat "$TMP/out"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
