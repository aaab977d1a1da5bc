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
# A slow handshake flood: 70 connections that send a TLS record header and
# then a byte a second, for 13 s (each read makes progress).
cat >"$TMP/drip.py" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
conns = []
for _ in range(70):
    try:
        s = socket.create_connection((host, int(port)), timeout=2)
        s.send(b"\x16\x03\x01\x02\x00")
        conns.append(s)
    except OSError:
        pass
print("connected", len(conns), flush=True)
end = time.time() + 13
while time.time() < end:
    for s in conns:
        try:
            s.send(b"\x00")
        except OSError:
            pass
    time.sleep(1)
PY
cat >"$TMP/story.txt" <<STORY
run (cat $TMP/app.frame; sleep 1) | openssl s_client -connect "\$DEMO_AGENT_ADDR" -quiet >$TMP/anon.out 2>&1; true
run (cat $TMP/app.frame; sleep 1) | openssl s_client -connect "\$DEMO_AGENT_ADDR" -quiet -cert $TMP/x-cert.pem -key $TMP/x-key.pem >$TMP/stranger.out 2>&1; true
op transfer 1 EUR to ACME Travel
expect allowed affirming
run \$DEMO_RP_OP --name rp3 --op "transfer 2 EUR" >$TMP/op-ok.out 2>&1; echo \$? >$TMP/op-ok.rc
run python3 $TMP/drip.py "\$DEMO_AGENT_ADDR" >$TMP/drip.out 2>&1 & for i in \$(seq 100); do grep -q connected $TMP/drip.out && break; sleep 0.1; done; sleep 0.5
run \$DEMO_RP_OP --name rp5 --op "transfer 5 EUR" >$TMP/op-drip.out 2>&1; echo \$? >$TMP/op-drip.rc
run \$DEMO_RP_OP --name rp4 --op "transfer 3 EUR" --require-policy no-such-policy >$TMP/op-refused.out 2>&1; echo \$? >$TMP/op-refused.rc; true
STORY
rc=$(demo_run "$TMP/out" DEMO_TTL=30 DEMO_STORY="$TMP/story.txt")
if [ "$rc" = 0 ]; then pass "demo.sh exits 0 (the RP with its certificate was allowed)"
else fail "exit status $rc"; fi
n=$(grep -cE '^[0-9:.]+ agent conn [0-9]+: TLS handshake failed: ' "$TMP/out")
if [ "$n" -ge 2 ]; then pass "the agent refused both handshakes ($n)"
else fail "the agent refused $n handshakes, want 2: $(grep -E 'agent conn' "$TMP/out" | head -5)"; fi
# ... each saying why (it used to say only "TLS handshake failed")
if grep -qE '^[0-9:.]+ agent conn [0-9]+: TLS handshake failed: peer did not return a certificate$' "$TMP/out"; then
    pass "... the client without a certificate: 'peer did not return a certificate'"
else fail "no 'peer did not return a certificate': $(grep -E 'handshake failed' "$TMP/out" | head -3)"; fi
if grep -qE '^[0-9:.]+ agent conn [0-9]+: TLS handshake failed: certificate verify failed$' "$TMP/out"; then
    pass "... the stranger's certificate: 'certificate verify failed'"
else fail "no 'certificate verify failed': $(grep -E 'handshake failed' "$TMP/out" | head -3)"; fi
# vfy-rp --op: exit 0 when every operation is allowed, 1 when one is refused
# (it used to exit 0 with every operation refused)
if [ "$(cat "$TMP/op-ok.rc" 2>/dev/null)" = 0 ] && grep -q 'ALLOWED' "$TMP/op-ok.out"; then
    pass "vfy-rp --op, allowed: exit 0"
else fail "vfy-rp --op, allowed: exit $(cat "$TMP/op-ok.rc" 2>/dev/null): $(tail -n 3 "$TMP/op-ok.out")"; fi
# At most 16 handshakes are in progress and a newer one cuts the oldest:
# during the flood a new relying party connects and is allowed (all 64
# slots used to be held for as long as the bytes kept coming). (Each
# handshake also has 10 s in all; the story may end before that.)
if [ "$(cat "$TMP/op-drip.rc" 2>/dev/null)" = 0 ] && grep -q 'ALLOWED' "$TMP/op-drip.out"; then
    pass "during a slow-handshake flood a new relying party connects and is allowed"
else fail "during the flood: exit $(cat "$TMP/op-drip.rc" 2>/dev/null): $(tail -n 3 "$TMP/op-drip.out")"; fi
n=$(grep -cE '^[0-9:.]+ agent conn [0-9]+: TLS handshake cut: the oldest of 16 in progress, to make room for a newer one$' "$TMP/out")
flood=$(sed -n 's/^connected \([0-9]*\)$/\1/p' "$TMP/drip.out")
if [ -n "$flood" ] && [ "$flood" -ge 64 ] && [ "$n" -ge $((flood - 16)) ]; then
    pass "... the flood's oldest handshakes cut to make room ($n of $flood)"
else fail "handshakes cut to make room: $n, flood connections ${flood:-none}, want at least 64 and all but 16 cut"; fi

if [ "$(cat "$TMP/op-refused.rc" 2>/dev/null)" = 1 ] && grep -q '1 of 1 operation(s) refused' "$TMP/op-refused.out"; then
    pass "vfy-rp --op, refused: exit 1, saying so"
else fail "vfy-rp --op, refused: exit $(cat "$TMP/op-refused.rc" 2>/dev/null): $(tail -n 3 "$TMP/op-refused.out")"; fi
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
out=$("$VFY_BUILD_DIR/examples/vfy-rp" --agent 127.0.0.1:1 --verifier https://127.0.0.1:1 --token t \
    --attester a --op x --cert "$TMP/none.pem" --key "$TMP/x-key.pem" 2>&1 >/dev/null)
rc=$?
if [ "$rc $out" = "2 vfy-rp: --cert $TMP/none.pem: No such file or directory" ]; then
    pass "vfy-rp with a missing --cert file: one line, exit 2"
else fail "vfy-rp with a missing --cert file: exit $rc: $out"; fi
if [ "$FAIL" -ne 0 ]; then echo "---- demo output ----"; cat "$TMP/out"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
