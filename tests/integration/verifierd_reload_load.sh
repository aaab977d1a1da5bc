#!/usr/bin/env bash
# verifierd_reload_load.sh — SIGHUP (and then SIGTERM) while keep-alive
# clients attest without pause: no answer may be lost.
#
# The load generator (vfy-bench http: TLS 1.3 keep-alive connections, valid
# evidence from a software AK over each issued nonce) counts any pair that
# does not end in 200 affirming as an error; it reconnects when an answer
# says Connection: close, and retries once a reused connection that closes
# before any answer (as curl does). Before session 9 a reload under such
# load cut answers whose results were already recorded: the log said 200,
# the client got nothing, and its retry came back contraindicated (the
# nonce was used).
set -uo pipefail
. "$(dirname "$0")/../lib/verifierd.sh"

VB="$VFY_BUILD_DIR/bench/vfy-bench"
[ -x "$VB" ] || die "vfy-bench not built at $VB"
# The load generator is a tool here, not the subject: under ASan its exit
# must not turn on what it leaks at exit (verifierd's own checks stay on).
vb() { ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$VB" "$@"; }
ST="$VD_TMP/load/state"
mkdir -p "$ST"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$VD_TMP/ak.pem" 2>/dev/null ||
    die "openssl genpkey"
vb provision --db "$ST/verifierd.db" --key "$VD_TMP/ak.pem" --attesters 10 --refs 100 \
    >/dev/null || die "vfy-bench provision"
vd_start load --dev --state-dir "$ST" --rate 0 --quiet --drain-timeout 2 ||
    die "cannot start verifierd"
TOKEN=$(sed -n 1p "$ST/dev-tokens")

vb http --url "$VD_URL" --token "$TOKEN" --cacert "$ST/tls-cert.pem" --key "$VD_TMP/ak.pem" \
    --attesters 10 --conns 8 --threads 1 --seconds 7 --warmup 0 --label hup \
    >"$VD_TMP/load.out" 2>"$VD_TMP/load.err" &
LOADPID=$!
for t in 1 2 3; do
    sleep 1.5
    kill -HUP "$VD_PID"
done
wait "$LOADPID"
rc=$?
cat "$VD_TMP/load.out" "$VD_TMP/load.err" | sed 's/^/# /'
pairs=$(sed -n 's/^bench: hup_pairs=\([0-9]*\).*/\1/p' "$VD_TMP/load.out")
[ -n "$pairs" ] || pairs=$(sed -n 's/^bench: hup_pairs_per_s=\([0-9]*\).*/\1/p' "$VD_TMP/load.out")
errors=$(sed -n 's/^bench: hup_errors=\([0-9]*\).*/\1/p' "$VD_TMP/load.out")
expect_eq "the load generator ran to its end" "$rc" 0
check "attestations went on across three reloads ($pairs)" test "${pairs:-0}" -gt 0
expect_eq "no pair failed across three SIGHUPs under keep-alive load" "${errors:-x}" 0
expect_eq "three reloads" "$(grep -c '"msg":"reloaded policies, signing keys and TLS certificate"' "$VD_LOG")" 3
check "no answer was left undelivered" bash -c "! grep -q 'not delivered' '$VD_LOG'"

# The same for the stop: every pair that started before SIGTERM ends with
# its answer or with a connection closed before anything was consumed.
vb http --url "$VD_URL" --token "$TOKEN" --cacert "$ST/tls-cert.pem" --key "$VD_TMP/ak.pem" \
    --attesters 10 --conns 8 --threads 1 --seconds 4 --warmup 0 --label term \
    >"$VD_TMP/term.out" 2>"$VD_TMP/term.err" &
LOADPID=$!
sleep 1.5
vd_stop
wait "$LOADPID" 2>/dev/null
expect_eq "verifierd exits 0 on SIGTERM under load" "$VD_STOP_RC" 0
check "no answer was left undelivered by the stop" bash -c "! grep -q 'not delivered' '$VD_LOG'"
check "no recorded 200 went undelivered: the stop log has no cut answers" \
    bash -c "! grep -q 'answers not yet delivered' '$VD_LOG'"
vd_done
