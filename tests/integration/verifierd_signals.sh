#!/bin/bash
# verifierd_signals.sh — verifierd in production mode (DESIGN §9 flags, a DB
# made by verifyctl, a certificate made by openssl) under signals:
#   SIGHUP swaps the TLS certificate (the served one changes, the process and
#   its listener stay, requests in a tight loop across the reload all
#   succeed, an upload in flight across the reload completes), picks up a
#   new version of a --policy file and a new signing key; a broken
#   certificate on SIGHUP keeps the old one serving.
#   SIGTERM with a slow upload in flight: that request gets its response,
#   then the process exits 0. Connections caught mid-handshake or
#   mid-headers by a SIGHUP or a SIGTERM are still answered.
#   --drain-timeout bounds that wait (bad values refused with exit 2), and
#   a reload whose drain runs out while an attest waits for the store's
#   write lock leaves the process running.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

P="$VD_TMP/prod"
vd_make_prod "$P" || die "production set-up with verifyctl and openssl"
A=$VD_ATTEST ADM=$VD_ADMIN
cp "$P/cert.pem" "$VD_TMP/ca-old.pem"
printf '{"id":"hup","version":1,"freshness":{"nonce_ttl_s":11}}' >"$P/hup.json"
vd_start prod --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" \
    --policy "$P/hup.json" --threads 2 || die "cannot start verifierd (production flags)"
PID=$VD_PID

served_fp() {   # SHA-256 fingerprint of the certificate verifierd serves now
    openssl s_client -connect "127.0.0.1:$VD_PORT" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
file_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

OLD_FP=$(file_fp "$P/cert.pem")
expect_eq "served certificate is --tls-cert" "$(served_fp)" "$OLD_FP"
# The certificate's expiry: a warning within 30 days (vd_make_cert's is
# valid 2 days), and a gauge for alerts.
not_after() { date -u -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }
expect_match "a certificate valid 2 more days: a warning at start" "$(cat "$VD_LOG")" \
    "\"level\":\"warn\",\"msg\":\"--tls-cert $P/cert.pem expires in 2 day\\(s\\), at [0-9TZ:-]+: renew it and send SIGHUP\""
vd_call GET /metrics -
expect_match "... and its expiry in /metrics" "$(cat "$VD_BODY")" \
    "^verifierd_tls_cert_expiry_timestamp_seconds $(not_after "$P/cert.pem")\$"
vd_nonce "$A" '{"policy":"hup"}'
expect_eq "policy from --policy FILE: hup@1 ttl_s 11" "$HTTP_CODE $(jget /ttl_s)" "201 11"
vd_call GET /v1/keys -
KID1=$(jget /keys/0/kid)

# Fake evidence padded with JSON whitespace: a well-formed attest request of
# about 300 KB, uploaded at 60 KB/s (about 5 s).
vd_fake_evidence "$VD_TMP/ev.json"
slow_body() {   # slow_body OUT NONCE
    { printf '{"nonce":"%s","channel_binding":"%s","attester":"nobody",' "$2" "$(rand_b64url 32)"
      head -c 300000 /dev/zero | tr '\0' ' '
      printf '"evidence":%s}' "$(cat "$VD_TMP/ev.json")"; } >"$1"
}
slow_upload() {   # slow_upload BODY OUT: background curl; writes "CODE" to OUT.code
    curl -sS --max-time 40 --cacert "$VD_CA" -H "Authorization: Bearer $A" \
        -H 'Content-Type: application/json' --limit-rate 60K --data-binary "@$1" \
        -o "$2" -w '%{http_code}' "$VD_URL/v1/attest" >"$2.code" 2>"$2.err"
}

# ---- SIGHUP: new certificate, new policy version, new signing key ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
    -subj "/CN=verifierd test rotated" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$P/key.new" -out "$P/cert.new" 2>/dev/null || die "openssl new cert"
NEW_FP=$(file_fp "$P/cert.new")
check "the new certificate differs" test "$NEW_FP" != "$OLD_FP"
vd_nonce "$A"
slow_body "$VD_TMP/slow1.json" "$NONCE"
slow_upload "$VD_TMP/slow1.json" "$VD_TMP/slow1.out" &
UP1=$!
# Requests in a loop across the reload: none may fail.
( ok=0 bad=0
  for _ in $(seq 1 40); do
      c=$(curl -s --max-time 5 --cacert "$VD_TMP/ca-both.pem" -o /dev/null -w '%{http_code}' "$VD_URL/healthz") || c=000
      if [ "$c" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
      sleep 0.05
  done
  echo "$ok $bad" >"$VD_TMP/loop.out" ) &
LOOP=$!
cat "$VD_TMP/ca-old.pem" "$P/cert.new" >"$VD_TMP/ca-both.pem"
sleep 1
mv "$P/cert.new" "$P/cert.pem"; mv "$P/key.new" "$P/key.pem"
printf '{"id":"hup","version":2,"freshness":{"nonce_ttl_s":22}}' >"$P/hup.json"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/sign.new" 2>/dev/null
mv "$P/sign.new" "$P/sign.pem"
kill -HUP "$PID"
fp=""
for _ in $(seq 1 50); do fp=$(served_fp); [ "$fp" = "$NEW_FP" ] && break; sleep 0.1; done
expect_eq "after SIGHUP the new certificate is served" "$fp" "$NEW_FP"
vd_call GET /metrics -
expect_match "... /metrics gives its expiry (90 days)" "$(cat "$VD_BODY")" \
    "^verifierd_tls_cert_expiry_timestamp_seconds $(not_after "$P/cert.pem")\$"
expect_eq "... and no expiry warning was logged for it" \
    "$(grep -c 'expires in' "$VD_LOG")" 1
check "the same process is still running" kill -0 "$PID"
wait "$LOOP"
read -r lok lbad <"$VD_TMP/loop.out"
expect_eq "healthz in a loop across the reload: all 40 answered 200 ($lok ok)" "$lbad" 0
VD_CA=$P/cert.pem
vd_call GET /healthz -
expect_status "curl trusting only the new certificate" 200
VD_CA=$VD_TMP/ca-old.pem
vd_call GET /healthz -
expect_eq "curl trusting only the old certificate now fails" "$HTTP_CODE" 000
VD_CA=$P/cert.pem
wait "$UP1"
expect_eq "an upload in flight across SIGHUP gets its answer" "$(cat "$VD_TMP/slow1.out.code")" 200
expect_match "... a signed EAR" "$(jget /ear "$VD_TMP/slow1.out")" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
vd_nonce "$A" '{"policy":"hup"}'
expect_eq "after SIGHUP the new policy file version applies: ttl_s 22" "$HTTP_CODE $(jget /ttl_s)" "201 22"
vd_call GET /v1/admin/policies "$ADM"
expect_match "hup@2 is stored" "$(tr -d ' \t\n' <"$VD_BODY")" '"id":"hup","version":2'
vd_call GET /v1/keys -
cp "$VD_BODY" "$VD_TMP/jwks2.json"
KID2=$(jget /keys/0/kid)
check "after SIGHUP /v1/keys has the new signing key ($KID1 -> $KID2)" test -n "$KID2" -a "$KID2" != "$KID1"
expect_match "a complete reload says so" "$(cat "$VD_LOG")" '"msg":"reloaded policies, signing keys and TLS certificate"'
vd_call GET /metrics -
expect_match "... and counts as a reload" "$(cat "$VD_BODY")" '^verifierd_reloads_total 1$'
expect_match "... without failure" "$(cat "$VD_BODY")" '^verifierd_reload_failures_total 0$'
expect_match "requests closed unread past a drain are counted" "$(cat "$VD_BODY")" \
    '^verifierd_requests_dropped_total [0-9]+$'
vd_nonce "$A"
vd_post_json /v1/attest "$A" "$(attest_body "$NONCE" "$(rand_b64url 32)" nobody "$(cat "$VD_TMP/ev.json")")"
expect_eq "new EARs carry the new kid" "$(jws_part "$(jget /ear)" 1 | "$JSONGET" /kid)" "$KID2"
check "new EARs verify with openssl against the new JWKS" jws_verify_openssl "$(jget /ear)" "$VD_TMP/jwks2.json"

# ---- connections caught half-way by a reload (and, at the end, a stop) ----
# 3 connections TCP-connected without a ClientHello, 3 with TLS up and a
# request line sent, 3 keep-alive ones with one request answered and the
# next one's request line sent, when the signal arrives; they finish a
# second later, when nothing else is in flight: every one must be answered.
HH="$VFY_BUILD_DIR/tests/hostilehttp"
[ -x "$HH" ] || die "hostilehttp not built"
split_round() {   # split_round SIGNAL NAME [KINDS WANT]
    local sp i
    rm -f "$VD_TMP/go"
    "$HH" split "$VD_PORT" 3 "$VD_TMP/go" "${3:-thk}" >"$VD_TMP/split.out" 2>&1 &
    sp=$!
    for i in $(seq 1 100); do grep -q 'split ready' "$VD_TMP/split.out" && break; sleep 0.05; done
    kill -"$1" "$VD_PID"
    sleep 1
    touch "$VD_TMP/go"
    wait "$sp"
    expect_eq "$2: connections mid-handshake or mid-headers are answered" \
        "$(grep -o 'ok=.*' "$VD_TMP/split.out")" "${4:-ok=9 of=9}"
}
split_round HUP "SIGHUP"
# the keep-alive ones alone (the others would hold the old generation open)
split_round HUP "SIGHUP, keep-alive alone" k "ok=3 of=3"
check "the process runs after the reload" kill -0 "$PID"
vd_call GET /healthz -
expect_status "... and serves" 200

# ---- SIGTERM with a request in flight ----
vd_nonce "$A"
slow_body "$VD_TMP/slow2.json" "$NONCE"
slow_upload "$VD_TMP/slow2.json" "$VD_TMP/slow2.out" &
UP2=$!
sleep 1.5
check "the upload is still in flight when SIGTERM is sent" kill -0 "$UP2"
t0=$(date +%s)
vd_stop "$PID"
wait "$UP2"
expect_eq "the in-flight request got its response" "$(cat "$VD_TMP/slow2.out.code")" 200
expect_eq "... with the EAR for its nonce" "$(jws_claim "$(jget /ear "$VD_TMP/slow2.out")" /eat_nonce)" "$NONCE"
expect_eq "verifierd exited 0 after SIGTERM" "$VD_STOP_RC" 0
check "it exited within 20 s ($(( $(date +%s) - t0 )) s)" test $(( $(date +%s) - t0 )) -le 20
check "the process is gone" bash -c "! kill -0 $PID 2>/dev/null"
expect_match "the log says it stopped" "$(tail -n 3 "$VD_LOG")" '"msg":"stopped"'
check "both slow uploads are logged with status 200 and their latency" test \
    "$(grep -Ec '"path":"\/v1\/attest","status":200,.*"latency_ms":[0-9]{4,}' "$VD_LOG")" -eq 2

# ---- a broken certificate on SIGHUP (a fresh process, same files) ----
cp "$P/cert.pem" "$VD_TMP/good-cert.pem"
VD_CA=$VD_TMP/good-cert.pem
vd_start prod2 --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" ||
    die "cannot start verifierd again"
# A broken certificate on SIGHUP: the running one stays.
printf -- '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n' >"$P/cert.pem"
kill -HUP "$VD_PID"
sleep 1
check "after a SIGHUP with a broken certificate the process runs" kill -0 "$VD_PID"
VD_CA=$VD_TMP/good-cert.pem
vd_call GET /healthz -
expect_status "... and still serves with the previous certificate" 200
expect_eq "... the same certificate" "$(served_fp)" "$NEW_FP"
cp "$VD_TMP/good-cert.pem" "$P/cert.pem"
# A valid certificate with a key that is not its own: refused the same way.
cp "$P/key.pem" "$VD_TMP/good-key.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/key.pem" 2>/dev/null
kill -HUP "$VD_PID"
sleep 1
check "after a SIGHUP with a mismatched key the process runs" kill -0 "$VD_PID"
vd_call GET /healthz -
expect_status "... and still serves" 200
expect_match "the log says why the reload was refused" "$(cat "$VD_LOG")" 'keeping the old'
cp "$VD_TMP/good-key.pem" "$P/key.pem"
expect_match "a reload that kept the certificate ends with a warning naming it" "$(cat "$VD_LOG")" \
    '"level":"warn".*"msg":"reload incomplete: policies reloaded, signing keys reloaded, TLS certificate KEPT'
# A signing key that does not load (an emergency rotation gone wrong): the
# old key keeps signing, and the reload must not read as a success.
vd_call GET /v1/keys -
KIDA=$(jget /keys/0/kid)
cp "$P/sign.pem" "$VD_TMP/good-sign.pem"
printf 'not a key\n' >"$P/sign.pem"
kill -HUP "$VD_PID"
sleep 1
check "after a SIGHUP with a broken signing key the process runs" kill -0 "$VD_PID"
vd_call GET /v1/keys -
expect_eq "... and publishes the key it had" "$(jget /keys/0/kid)" "$KIDA"
expect_match "... and the reload ends with a warning: signing keys KEPT" "$(tail -n 4 "$VD_LOG")" \
    '"msg":"reload incomplete: policies reloaded, signing keys KEPT, TLS certificate reloaded'
vd_call GET /metrics -
expect_match "... and this process's three reloads are counted" "$(cat "$VD_BODY")" \
    '^verifierd_reloads_total 3$'
expect_match "... all three as failed" "$(cat "$VD_BODY")" '^verifierd_reload_failures_total 3$'
cp "$VD_TMP/good-sign.pem" "$P/sign.pem"

split_round TERM "SIGTERM"
vd_stop
expect_eq "verifierd exits 0 on SIGTERM after the failed reload" "$VD_STOP_RC" 0

# ---- --drain-timeout: how long a stop waits for in-flight requests ----
for bad in 0 3601 x; do
    out=$("$VD_BIN" --drain-timeout "$bad" 2>&1 </dev/null)
    rc=$?
    expect_eq "--drain-timeout $bad: exit 2" "$rc" 2
    expect_eq "--drain-timeout $bad: the error" "$(printf '%s\n' "$out" | head -n 1)" \
        "verifierd: --drain-timeout: expected an integer 1..3600, got '$bad'"
done
# Every option of --help is documented in verifierd(8) and the operator
# guide, and the packaged example config parses (it fails only at its
# database, which does not exist here).
for o in $("$VD_BIN" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    check "option $o is in verifierd(8)" grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" \
        "$VFY_SOURCE_DIR/docs/verifierd.8"
    check "option $o is in the operator guide" grep -qF -- "\`$o" "$VFY_SOURCE_DIR/docs/operator-guide.md"
done
sed "s#/var/lib/verifierd/verifierd.db#$VD_TMP/none/verifierd.db#" \
    "$VFY_SOURCE_DIR/packaging/verifierd.json.example" >"$VD_TMP/example.json"
out=$("$VD_BIN" --config "$VD_TMP/example.json" 2>&1 </dev/null)
rc=$?
expect_eq "the packaged example config parses: only its missing database is refused" "$rc $out" \
    "1 verifierd: --db $VD_TMP/none/verifierd.db: database missing, unreadable or not initialised: its directory does not exist"
# Config files: unknown, repeated and mistyped keys exit 2 naming the key.
cfgcase() {   # cfgcase NAME JSON MESSAGE
    printf '%s' "$2" >"$VD_TMP/case.json"
    out=$("$VD_BIN" --config "$VD_TMP/case.json" 2>&1 </dev/null)
    rc=$?
    expect_eq "config $1: exit 2 with the error" "$rc $(printf '%s\n' "$out" | head -n 1)" \
        "2 verifierd: --config $VD_TMP/case.json: $3"
}
cfgcase "unknown key" '{"listne":"127.0.0.1:1"}' 'unknown key "listne"'
cfgcase "repeated key" '{"listen":"127.0.0.1:1","listen":"127.0.0.1:2"}' '"listen" given twice'
cfgcase "repeated key, spelt two ways" '{"tls_cert":"/a","tls-cert":"/b"}' '"tls-cert" given twice'
cfgcase "quiet as a number" '{"quiet":1}' '"quiet" must be true or false'
cfgcase "threads as text" '{"threads":[1]}' '"threads" has the wrong type'
# Command-line mistakes: one line and exit 2 (the whole usage text used to
# follow getopt's line: 45 lines in the journal).
clcase() {   # clcase NAME WANT ARGS...
    local name=$1 want=$2 out rc
    shift 2
    out=$("$VD_BIN" "$@" 2>&1 </dev/null); rc=$?
    expect_eq "command line, $name: exit 2 and one line" "$rc $out" "2 verifierd: $want"
}
clcase "unknown option" "unknown option --bogus (see --help)" --bogus
clcase "missing value" "--db needs a value (see --help)" --db
clcase "a short option" "unknown option -h (see --help)" -h
clcase "short options after a value" "unknown option -q (see --help)" --db /x -qv
clcase "--state-dir without --dev" \
    "--state-dir is for --dev only (a production verifierd takes --db, --tls-cert, --tls-key and --signing-key)" \
    --state-dir "$VD_TMP/x" --db "$VD_TMP/none.db"
cfgcase "a second object after the first" '{"threads":2}
{"max_conections":5,"rate":"fast"}' 'something follows the JSON object'
cfgcase "a trailing comma" '{"threads":2,}' 'JSON syntax error near byte 14'
cfgcase "a bad value names the file and the key" '{"threads":"many"}' \
    'threads: expected an integer 0..256, got '"'"'many'"'"''
printf '{"quiet":true,"db":"%s","tls_cert":"c","tls_key":"k","signing_key":"s"}' \
    "$VD_TMP/none/verifierd.db" >"$VD_TMP/case.json"
out=$("$VD_BIN" --config "$VD_TMP/case.json" --listen 127.0.0.1:0 2>&1 </dev/null)
expect_match "config: quiet true is accepted (only the missing database is refused)" "$out" \
    'database missing, unreadable or not initialised'
# Key files that cannot be read: the system's reason, not "I/O error".
start_fails() {   # start_fails NAME EXPECTED-TEXT ARGS...: verifierd refuses to start, saying so
    local what=$1 want=$2 out
    shift 2
    out=$("$VD_BIN" --db "$P/db" --listen 127.0.0.1:0 "$@" 2>&1 </dev/null)
    expect_match "$what" "$out" "$want"
}
cp "$P/db" "$VD_TMP/newer.db"
sqlite3 "$VD_TMP/newer.db" 'PRAGMA user_version = 99'
out=$("$VD_BIN" --db "$VD_TMP/newer.db" --listen 127.0.0.1:0 --tls-cert "$P/cert.pem" \
    --tls-key "$P/key.pem" --signing-key "$P/sign.pem" 2>&1 </dev/null)
expect_match "a database of a newer schema: both versions in one line" "$out" \
    "^verifierd: --db $VD_TMP/newer.db: database schema is newer than this program: schema version 99, this build knows up to [0-9]+ \\(a newer verifierd or verifyctl made or migrated it: run that version\\)\$"
start_fails "a missing --signing-key says so" \
    "--signing-key $VD_TMP/none/sign.pem: No such file or directory" \
    --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$VD_TMP/none/sign.pem"
start_fails "a missing --nonce-key says so" \
    "--nonce-key $VD_TMP/none/nonce.key: No such file or directory" \
    --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" \
    --nonce-key "$VD_TMP/none/nonce.key"
# Each of these in one line that gives the cause (the docs walkthrough met
# "policy X: cannot read", "signing key is not a readable EC P-256 private
# key" for an encrypted one, a second "building the JWKS: I/O error" line,
# and "nonce key malformed" with no hint).
start_fails "a --policy file that cannot be read: the cause" \
    "\"msg\":\"policy $VD_TMP/none/p.json: cannot read it: No such file or directory\"" \
    --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" \
    --policy "$VD_TMP/none/p.json"
openssl pkcs8 -topk8 -in "$P/sign.pem" -passout pass:secret -out "$VD_TMP/sign-enc.pem" 2>/dev/null ||
    die "encrypting the signing key"
start_fails "an encrypted --signing-key is called encrypted" \
    "\"msg\":\"--signing-key $VD_TMP/sign-enc.pem is encrypted \\(verifierd needs it unencrypted: its file permissions protect it\\)\"" \
    --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$VD_TMP/sign-enc.pem"
mkdir -p "$VD_TMP/oldkeys/d.pem"
out=$("$VD_BIN" --db "$P/db" --listen 127.0.0.1:0 --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
    --signing-key "$P/sign.pem" --old-keys-dir "$VD_TMP/oldkeys" 2>&1 </dev/null)
expect_eq "an --old-keys-dir entry that cannot be read: one error line, naming it" \
    "$(printf '%s\n' "$out" | grep '"level":"error"' | sed 's/.*"msg":"\([^"]*\)".*/\1/')" \
    "--old-keys-dir: cannot read $VD_TMP/oldkeys/d.pem: not a file of at most 64 KiB"
printf 'abcd\n' >"$VD_TMP/short.key"
start_fails "a malformed --nonce-key says what it should be" \
    "--nonce-key $VD_TMP/short.key: nonce key malformed \\(want 64 hex digits, optionally followed by a newline\\)" \
    --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" \
    --nonce-key "$VD_TMP/short.key"
start_fails "a missing --tls-cert is named" \
    "cannot read --tls-cert $VD_TMP/none/c.pem: No such file or directory" \
    --tls-cert "$VD_TMP/none/c.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem"
mkdir -p "$VD_TMP/adir"
start_fails "a directory given as --tls-cert is named as one" \
    "cannot read --tls-cert $VD_TMP/adir: is a directory" \
    --tls-cert "$VD_TMP/adir" --tls-key "$P/key.pem" --signing-key "$P/sign.pem"
start_fails "a --tls-key that is not the certificate's is named at start" \
    "--tls-cert $P/cert.pem and --tls-key $P/sign.pem are not a valid certificate and matching key" \
    --tls-cert "$P/cert.pem" --tls-key "$P/sign.pem" --signing-key "$P/sign.pem"
vd_start prod3 --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" \
    --drain-timeout 1 || die "cannot start verifierd --drain-timeout 1"
vd_nonce "$A"
slow_body "$VD_TMP/slow3.json" "$NONCE"
slow_upload "$VD_TMP/slow3.json" "$VD_TMP/slow3.out" &
UP3=$!
sleep 1.5
check "the upload is in flight when SIGTERM is sent" kill -0 "$UP3"
t0=$(date +%s)
vd_stop
check "with --drain-timeout 1 the stop took at most 3 s ($(( $(date +%s) - t0 )) s)" \
    test $(( $(date +%s) - t0 )) -le 3
expect_eq "... and exited 0" "$VD_STOP_RC" 0
wait "$UP3"
check "the upload still in flight was cut (status $(cat "$VD_TMP/slow3.out.code"))" \
    test "$(cat "$VD_TMP/slow3.out.code")" != 200
expect_match "the log says a request was cut" "$(cat "$VD_LOG")" 'drain timeout: 1 requests in flight'

# ---- a reload while an attest waits for the store's write lock ----
# Another process holds the write lock for 3 s, so the attest's group
# commit cannot begin; the drain (1 s) runs out with it still in appraisal.
# libmicrohttpd aborts when a daemon stops with a suspended (parked)
# connection: the retiring generation parks no answer once its gate is
# closed (the handler waits for the commit itself) and the stop waits for
# the parked ones. Before, this SIGHUP killed verifierd (exit 134).
vd_start prod4 --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" --signing-key "$P/sign.pem" \
    --drain-timeout 1 || die "cannot start verifierd (prod4)"
vd_fake_evidence "$VD_TMP/ev4.json"
vd_nonce "$A"
attest_body "$NONCE" "$(head -c 32 /dev/urandom | b64url_enc)" nobody "$(cat "$VD_TMP/ev4.json")" \
    >"$VD_TMP/att4.json"
( echo 'BEGIN IMMEDIATE;'; sleep 3; echo 'COMMIT;' ) | sqlite3 "$P/db" &
LOCKER=$!
sleep 0.3
curl -sS --max-time 20 --cacert "$VD_CA" -H "Authorization: Bearer $A" \
    -H 'Content-Type: application/json' --data-binary "@$VD_TMP/att4.json" \
    -o "$VD_TMP/att4.out" -w '%{http_code}' "$VD_URL/v1/attest" >"$VD_TMP/att4.code" 2>/dev/null &
ATT4=$!
sleep 0.5
check "the attest waits for the write lock when SIGHUP is sent" kill -0 "$ATT4"
kill -HUP "$VD_PID"
wait "$LOCKER"
wait "$ATT4"
sleep 0.5
check "verifierd survives the reload (the attest was in appraisal past the drain)" kill -0 "$VD_PID"
expect_nomatch "no libmicrohttpd panic in the log" "$(cat "$VD_LOG")" '[Ff]atal error|suspended connections'
# ... and its answer is delivered: its nonce is used and its result
# recorded, so a cut answer would leave the client only a replayed nonce to
# retry with (before session 9's fix: HTTP 000, and the retry
# contraindicated).
expect_eq "the attest caught by the reload gets its answer" "$(cat "$VD_TMP/att4.code")" 200
expect_nomatch "no answer was cut by the reload" "$(cat "$VD_LOG")" 'not delivered|requests unfinished'
vd_nonce "$A"
expect_eq "the new generation answers" "$HTTP_CODE" 201
vd_stop
expect_eq "... and exits 0 on SIGTERM" "$VD_STOP_RC" 0
vd_done
