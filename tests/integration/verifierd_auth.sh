#!/bin/bash
# verifierd_auth.sh — bearer tokens and roles (DESIGN §8): 401 without a
# token or with an unknown, malformed or revoked one; 403 for the wrong role
# in both directions; public endpoints need none; tokens added or revoked
# with verifyctl on the live DB take effect at once (added) or within the
# 100 ms generation poll (revoked); 429 per token with a
# low --rate/--burst, and it recovers; no token value in any log line.
set -uo pipefail
# shellcheck disable=SC2119  # vd_stop without arguments stops the current server
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

vd_start_dev auth || die "cannot start verifierd --dev"
A=$VD_ATTEST
ADM=$VD_ADMIN
UNKNOWN="vfy_$(rand_b64url 32)"

# endpoint list: METHOD PATH ROLE (body for POSTs is {})
ATTEST_EPS=("POST /v1/challenge" "POST /v1/attest" "GET /v1/results/abc" "GET /v1/revocations")
ADMIN_EPS=("GET /v1/admin/attesters" "POST /v1/admin/attesters" "GET /v1/admin/refvalues"
           "POST /v1/admin/policies" "POST /v1/admin/components/revoke" "GET /v1/admin/audit")

req() {   # req METHOD PATH TOKEN|- [extra curl args]
    local m=$1 p=$2 t=$3; shift 3
    if [ "$m" = POST ]; then vd_call POST "$p" "$t" -H 'Content-Type: application/json' --data-binary '{}' "$@"
    else vd_call "$m" "$p" "$t" "$@"; fi
}

for ep in "${ATTEST_EPS[@]}" "${ADMIN_EPS[@]}"; do
    m=${ep% *} p=${ep#* }
    req "$m" "$p" -
    expect_problem "$ep without a token" 401 "a bearer token is required"
    expect_eq "$ep without a token: WWW-Authenticate" "$(hdr WWW-Authenticate)" 'Bearer realm="verifierd"'
    req "$m" "$p" "$UNKNOWN"
    expect_problem "$ep with an unknown token" 401 "unknown or revoked token"
done
req GET /v1/revocations - -H "Authorization: Basic $(printf 'a:b' | openssl base64 -A)"
expect_problem "Basic authorization" 401 "a bearer token is required"
req GET /v1/revocations - -H "Authorization: Bearer"
expect_problem "Bearer with no token" 401 "a bearer token is required"
req GET /v1/revocations - -H "Authorization: Bearer    "
expect_problem "Bearer with only spaces" 401 "a bearer token is required"
req GET /v1/revocations - -H "Authorization: Bearer $(printf 'x%.0s' $(seq 1 5000))"
expect_problem "a 5000-byte token" 401 "unknown token"
req GET /v1/revocations - -H "Authorization: $A"
expect_problem "the attest token without the Bearer scheme" 401 "a bearer token is required"
req GET /v1/revocations - -H "Authorization: Bearer ${A}x"
expect_problem "the attest token with one extra character" 401 "unknown or revoked token"
req GET /v1/revocations - -H "Authorization: Bearer ${A:0:${#A}-1}"
expect_problem "the attest token missing its last character" 401 "unknown or revoked token"
req GET /v1/revocations - -H "Authorization: bearer $A"
expect_status "the scheme name is case-insensitive (RFC 9110)" 200

for ep in "${ADMIN_EPS[@]}"; do
    req "${ep% *}" "${ep#* }" "$A"
    expect_problem "$ep with the attest token" 403 "this endpoint needs an admin token"
done
for ep in "${ATTEST_EPS[@]}"; do
    req "${ep% *}" "${ep#* }" "$ADM"
    expect_problem "$ep with the admin token" 403 "this endpoint needs an attest token"
done
# The right role gets past auth: whatever the answer, it is not 401/403.
for ep in "${ATTEST_EPS[@]}"; do
    req "${ep% *}" "${ep#* }" "$A"
    expect_match "$ep with the attest token passes auth" "$HTTP_CODE" '^(200|201|400|404)$'
done
for ep in "${ADMIN_EPS[@]}"; do
    req "${ep% *}" "${ep#* }" "$ADM"
    expect_match "$ep with the admin token passes auth" "$HTTP_CODE" '^(200|201|400|404)$'
done
for p in /healthz /metrics /v1/keys /.well-known/verifierd; do
    vd_call GET "$p" -
    expect_status "GET $p needs no token" 200
    vd_call GET "$p" "$UNKNOWN"
    expect_status "GET $p ignores an unknown token" 200
done

# Tokens managed with verifyctl on the live database.
T2=$("$VCTL" --db "$VD_DB" token add rp-2 --role attest) || die "verifyctl token add"
expect_match "verifyctl prints the new token alone" "$T2" '^vfy_[A-Za-z0-9_-]+$'
req GET /v1/revocations "$T2"
expect_status "a token added by verifyctl works at once" 200
T3=$("$VCTL" --db "$VD_DB" token add ops-2 --role admin) || die "verifyctl token add"
req GET /v1/admin/attesters "$T3"
expect_status "an admin token added by verifyctl works at once" 200
req GET /v1/revocations "$T3"
expect_problem "that admin token on an attest endpoint" 403 "this endpoint needs an attest token"
# A change is audited under its token's whole name, up to the longest
# (128 bytes, here with a two-byte character at byte 122): it used to be
# cut to 122 bytes mid-character, the actor refused, and the change
# audited under the thread's previous admin token.
LONGNAME="$(printf 'a%.0s' $(seq 1 121))é$(printf 'b%.0s' $(seq 1 5))"
expect_eq "the long token name is 128 bytes" "$(printf '%s' "$LONGNAME" | wc -c)" 128
TL=$("$VCTL" --db "$VD_DB" token add "$LONGNAME" --role admin) || die "verifyctl token add (long)"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl ec -pubout 2>/dev/null \
    >"$VD_TMP/long-ak.pem" || die "openssl ec"
for t in "$T3" "$TL" "$T3" "$TL"; do   # both tokens, on whichever threads
    req GET /v1/admin/attesters "$t"
done
vd_call POST /v1/admin/attesters "$TL" -H 'Content-Type: application/json' --data-binary \
    "$(jq -n --rawfile pem "$VD_TMP/long-ak.pem" '{name:"long-1", ak_pem:$pem}')"
expect_status "an attester added with the long-named token" 201
vd_call GET "/v1/admin/audit?limit=10000" "$T3"
expect_eq "its audit row names the whole token name" \
    "$(jq -r '.[] | select(.object == "attester long-1") | .actor' "$VD_BODY")" "token:$LONGNAME"
"$VCTL" --db "$VD_DB" token revoke rp-2 >/dev/null || die "verifyctl token revoke"
# Another process's change reaches verifierd's token caches when its
# housekeeping thread next reads the store generation (every 100 ms;
# docs/operator-guide.md): refused within that, allowing for a loaded machine.
t0=$(date +%s%N)
for _ in $(seq 1 20); do
    req GET /v1/revocations "$T2"
    [ "$HTTP_CODE" = 401 ] && break
    sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# the revoked token was refused after ${ms} ms"
expect_problem "a token revoked by verifyctl is refused within the generation poll" 401 \
    "unknown or revoked token"
check "  ...within a second (${ms} ms)" test "$ms" -lt 1000
req GET /v1/revocations "$A"
expect_status "the other attest token still works" 200

# A database restored from a backup (sqlite3 .restore under the running
# verifierd): the store generation went back to the backup's, and a change
# made on the copy gave the generation the lost database had had, so the
# workers took their token caches for current: the token revoked on the
# restored copy kept working. The generation now follows the clock.
T7=$("$VCTL" --db "$VD_DB" token add rp-7 --role attest) || die "token add rp-7"
sqlite3 "$VD_DB" ".backup '$VD_TMP/restore.db'" || die "sqlite3 .backup"
"$VCTL" --db "$VD_DB" component add tool restore.probe --digest "sha256:$(printf '%064x' 77)" >/dev/null ||
    die "component add"   # one change after the backup: the lost database's generation
sleep 0.3
for _ in 1 2 3 4 5 6 7 8; do req GET /v1/revocations "$T7"; done   # cached on the workers at it
expect_status "rp-7 works (cached)" 200
"$VCTL" --db "$VD_TMP/restore.db" token revoke rp-7 >/dev/null || die "revoke rp-7 on the copy"
sqlite3 "$VD_DB" ".restore '$VD_TMP/restore.db'" || die "sqlite3 .restore"
sleep 0.5
for _ in 1 2 3 4; do req GET /v1/revocations "$T7"; [ "$HTTP_CODE" = 401 ] || break; done
expect_problem "after the restore, the token revoked there is refused on every worker" 401 \
    "unknown or revoked token"

# Expiring tokens (verifyctl token add --expires-days): valid until then,
# 401 "token expired" from then on — also once cached by a worker.
T4=$("$VCTL" --db "$VD_DB" token add rp-4 --role attest --expires-days 30) || die "token add --expires-days"
req GET /v1/revocations "$T4"
expect_status "a token expiring in 30 days works" 200
T5=$("$VCTL" --db "$VD_DB" token add rp-5 --role attest --expires-days 1) || die "token add --expires-days"
sqlite3 "$VD_DB" "UPDATE tokens SET expires_at = CAST(strftime('%s','now') AS INTEGER) + 2 WHERE name = 'rp-5'" ||
    die "sqlite3: set the expiry of rp-5"
for _ in 1 2 3 4 5 6 7 8; do req GET /v1/revocations "$T5"; done   # cached on the workers
expect_status "a token 2 s before its expiry" 200
sleep 3
req GET /v1/revocations "$T5"
expect_problem "the same token after its expiry (cached): says why" 401 "token expired"
T6=$("$VCTL" --db "$VD_DB" token add rp-6 --role attest --expires-days 1) || die "token add --expires-days"
sqlite3 "$VD_DB" "UPDATE tokens SET expires_at = 1 WHERE name = 'rp-6'" || die "sqlite3: expire rp-6"
req GET /v1/revocations "$T6"
expect_problem "an expired token never seen before: says why" 401 "token expired"
expect_match "verifyctl list tokens shows it expired" \
    "$("$VCTL" --db "$VD_DB" list tokens | grep '^rp-6 ')" 'expired'

vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
for t in "$A" "$ADM" "$UNKNOWN" "$T2" "$T3" "$T4" "$T5" "$T6"; do
    if grep -qF -- "$t" "$VD_LOG"; then fail "log: token ${t:0:8}... appears in the log"
    else pass "log: token ${t:0:8}... never logged"; fi
done
expect_match "log: the token's name is logged instead" "$(cat "$VD_LOG")" '"token_name":"dev-attest"'
expect_match "log: 401s are logged" "$(cat "$VD_LOG")" '"status":401'

# ---- rate limit: 1 request/s, burst 3, per token ----
for bad in http://x https:// "https://a/b" "https://a b" ftp://x; do
    out=$("$VD_BIN" --public-url "$bad" 2>&1 </dev/null)
    rc=$?
    expect_eq "--public-url '$bad': exit 2 with the error" "$rc $(printf '%s\n' "$out" | head -n 1)" \
        "2 verifierd: --public-url: expected https://HOST[:PORT], got '$bad'"
done
# --listen: a port beyond 65535 used to wrap (99999 bound 34463) while the
# log named 99999; it is refused, and with port 0 the log names the port bound.
for bad in 127.0.0.1:99999 127.0.0.1:65536 127.0.0.1: 127.0.0.1:x 127.0.0.1:-1 8443 :8443; do
    out=$("$VD_BIN" --listen "$bad" 2>&1 </dev/null)
    rc=$?
    expect_eq "--listen '$bad': exit 2" "$rc" 2
    expect_match "... with the error" "$out" "^verifierd: --listen: expected HOST:PORT"
done
# --default-policy naming no stored policy: refused at start (it used to fall
# back to the built-in default, so a typo of "strict" ran the laxer policy).
out=$("$VD_BIN" --dev --state-dir "$VD_TMP/dp" --listen 127.0.0.1:0 --default-policy strcit 2>&1 </dev/null)
rc=$?
expect_eq "--default-policy strcit (no such policy): exit 2" "$rc" 2
expect_match "... naming it" "$out" '^verifierd: --default-policy strcit: no stored policy has this id'
vd_start_dev port0 --default-policy default ||
    die "cannot start verifierd"
vd_stop
# --dev on a state directory whose database was removed: the dev-tokens
# file's tokens are not in the new database, so new ones are made (the old
# ones used to be printed, and were refused with 401).
rm -f "$VD_STATE"/verifierd.db*
vd_start_dev port0 || die "cannot start verifierd --dev on a fresh database"
expect_match "--dev says the old dev tokens are unknown to the new database" "$(cat "$VD_LOG")" \
    'dev-tokens holds tokens this database does not know; making new ones'
vd_nonce "$VD_ATTEST"
expect_eq "... and the token it now holds works" "$HTTP_CODE" 201
vd_stop
P0=$(mktemp -d "$VD_TMP/p0.XXXX")
"$VD_BIN" --dev --state-dir "$P0" --listen 127.0.0.1:0 >"$P0/out" 2>"$P0/err" </dev/null &
P0PID=$!
for _ in $(seq 50); do grep -q 'listening on' "$P0/err" && break; sleep 0.1; done
line=$(grep -o '"msg":"verifierd [^"]* listening on https://127.0.0.1:[0-9]*"' "$P0/err")
port=${line##*:}; port=${port%\"}
check "--listen 127.0.0.1:0 logs the port it bound ($line)" test -n "$port" -a "$port" != 0
check "... and that port answers" curl -sS -o /dev/null --cacert "$P0/tls-cert.pem" \
    "https://127.0.0.1:$port/healthz"
expect_match "... and --dev prints commands for that port, not 0" "$(cat "$P0/out")" \
    "export VFY=https://127.0.0.1:$port CA="
curl -sS --cacert "$P0/tls-cert.pem" -o "$P0/disc.json" -H 'Host: bad host' \
    "https://127.0.0.1:$port/.well-known/verifierd" || true
expect_match "... and so does discovery when the Host header is unusable" "$(cat "$P0/disc.json")" \
    "https://127.0.0.1:$port[\"/]"
kill "$P0PID"; wait "$P0PID" 2>/dev/null
# dev_run TAG LISTEN: verifierd --dev on the state dir $P1 until it prints
# its commands; stdout in $P1/out.TAG, stderr in $P1/err.TAG, the printed
# URL in $vfy. dev_end stops it.
dev_run() {
    "$VD_BIN" --dev --state-dir "$P1" --listen "$2" >"$P1/out.$1" 2>"$P1/err.$1" </dev/null &
    P1PID=$!
    for _ in $(seq 50); do grep -q 'export VFY=' "$P1/out.$1" && break; sleep 0.1; done
    vfy=$(sed -n 's/.*export VFY=\([^ ]*\) CA=.*/\1/p' "$P1/out.$1")
}
dev_end() { kill "$P1PID"; wait "$P1PID" 2>/dev/null; }
P1=$(mktemp -d "$VD_TMP/p1.XXXX")
# On a wildcard address the printed commands name localhost (the dev
# certificate's name), not 0.0.0.0 (curl refused those: no such name).
dev_run wild 0.0.0.0:0
expect_match "--dev on 0.0.0.0 prints commands for localhost" "$(cat "$P1/out.wild")" \
    'export VFY=https://localhost:[1-9][0-9]* CA='
check "... and its printed healthz command works" curl -sS -o /dev/null --cacert "$P1/tls-cert.pem" "$vfy/healthz"
dev_end
# The dev certificate removed (its key left): made again with a new key, said
# on stderr (a key left alone used to stop every start: "cannot create").
old_fp=$(openssl x509 -in "$P1/tls-cert.pem" -noout -fingerprint -sha256)
rm "$P1/tls-cert.pem"
dev_run nocert 127.0.0.1:0
expect_match "--dev with its certificate gone makes a new one and says so" "$(cat "$P1/err.nocert")" \
    'a new TLS certificate and key \(half of it was missing\)'
check "... served and trusted with the new file" curl -sS -o /dev/null --cacert "$P1/tls-cert.pem" "$vfy/healthz"
check "... a new certificate" test "$(openssl x509 -in "$P1/tls-cert.pem" -noout -fingerprint -sha256)" != "$old_fp"
dev_end
# A key file cut short (a crash while it was written): made again too (it
# stopped every later --dev start with "not a valid certificate and key").
: >"$P1/tls-key.pem"
dev_run emptykey 127.0.0.1:0
expect_match "--dev with an empty TLS key makes the pair again" "$(cat "$P1/err.emptykey")" \
    'a new TLS certificate and key \(the key was unreadable\)'
check "... and serves" curl -sS -o /dev/null --cacert "$P1/tls-cert.pem" "$vfy/healthz"
dev_end
# A pair whose certificate has expired (made by openssl with its clock two
# days back, through the timeshift shim): made again, not served.
echo -172800 >"$P1/shift"
TIMESHIFT_FILE="$P1/shift" LD_PRELOAD="$VFY_BUILD_DIR/tests/timeshift.so" \
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$P1/tls-key.pem" -out "$P1/tls-cert.pem" -days 1 2>/dev/null || die "an expired certificate"
check "(the planted certificate has expired)" bash -c "! openssl x509 -in '$P1/tls-cert.pem' -noout -checkend 0 >/dev/null"
dev_run expired 127.0.0.1:0
expect_match "--dev with an expired certificate makes the pair again" "$(cat "$P1/err.expired")" \
    'a new TLS certificate and key \(the certificate had expired\)'
check "... and serves an unexpired one" openssl x509 -in "$P1/tls-cert.pem" -noout -checkend 86400
check "... trusted" curl -sS -o /dev/null --cacert "$P1/tls-cert.pem" "$vfy/healthz"
dev_end
# --state-dir naming a file: one line
: >"$VD_TMP/a-file"
out=$("$VD_BIN" --dev --state-dir "$VD_TMP/a-file" --listen 127.0.0.1:0 2>&1 </dev/null); rc=$?
expect_eq "--dev with --state-dir a file: exit 1, one line" "$rc $out" \
    "1 verifierd: --state-dir $VD_TMP/a-file: not a directory"
vd_start_dev rate --rate 1 --burst 3 --public-url https://verifier.example:443 ||
    die "cannot start verifierd --rate 1 --burst 3"
# --public-url: discovery names it whatever Host the request carries
vd_call GET /.well-known/verifierd - -H 'Host: evil.example.com'
expect_eq "discovery issuer is --public-url, not the Host header" "$(jget /issuer)" \
    "https://verifier.example:443"
expect_eq "... and its jwks_uri" "$(jget /jwks_uri)" "https://verifier.example:443/v1/keys"
A=$VD_ATTEST ADM=$VD_ADMIN
codes=""
for _ in 1 2 3 4 5 6; do
    vd_call GET /v1/revocations "$A"
    codes="$codes $HTTP_CODE"
    [ "$HTTP_CODE" = 429 ] && cp "$VD_BODY" "$VD_TMP/429.json" && cp "$VD_HDRS" "$VD_TMP/429.hdr"
done
expect_match "burst of 3 then 429 (codes:$codes)" "$codes" '^ 200 200 200 (200 )?429 429'
if [ -f "$VD_TMP/429.json" ]; then
    cp "$VD_TMP/429.json" "$VD_BODY"; cp "$VD_TMP/429.hdr" "$VD_HDRS"
    HTTP_CODE=429 HTTP_CTYPE=$(hdr Content-Type) HTTP_REQID=$(hdr X-Request-Id)
    expect_problem "the 429 answer" 429 "rate limit exceeded for this token"
    expect_eq "429 has Retry-After" "$(hdr Retry-After)" 1
fi
vd_call GET /v1/admin/attesters "$ADM"
expect_status "another token is not limited by the first one's use" 200
sleep 1.2
vd_call GET /v1/revocations "$A"
expect_status "after a second the limited token is served again" 200
vd_call GET /healthz -
expect_status "public endpoints are not rate limited" 200
vd_call GET /metrics -
expect_match "429s are counted in /metrics" "$(body)" 'verifierd_requests_total\{endpoint="revocations",code="429"\} [1-9]'
vd_stop
expect_eq "verifierd exits 0 on SIGTERM" "$VD_STOP_RC" 0
vd_done
