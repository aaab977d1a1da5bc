#!/bin/bash
# verifierd_startup_nochange.sh — a verifierd that fails to start changes
# nothing another verifierd on the same database uses, and a SIGHUP that
# cannot load every --policy file stores none of them.
#   A runs with --policy x.json (x@1, nonce_ttl_s 11). B, on A's database
#   with x@2 (nonce_ttl_s 22) in its --policy files, fails to start: a
#   signing key that is no key, A's port, an invalid second policy file.
#   A's challenges under x keep ttl_s 11, and x@2 is not stored. (B used
#   to store its policies before checking the rest: A then used x@2.)
#   A is then reloaded with x.json at version 2 beside a broken y.json:
#   neither is stored; with y.json fixed, both are.
# An encrypted --tls-key is refused in one line, at start and on SIGHUP,
# without asking for a passphrase (OpenSSL's default prompt hung a start
# on a terminal and a foreground reload). A --policy file is read once at
# start: a pipe works, and what is stored is what was checked.
set -uo pipefail
# shellcheck source=../lib/verifierd.sh
. "${VFY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/verifierd.sh"

P="$VD_TMP/prod"
vd_make_prod "$P" || die "production set-up with verifyctl and openssl"
A=$VD_ATTEST
pol() { printf '{"id":"%s","version":%s,"freshness":{"nonce_ttl_s":%s}}' "$1" "$2" "$3"; }
pol x 1 11 >"$P/x.json"
pol y 1 33 >"$P/y.json"
pol x 2 22 >"$P/x2.json"
printf '{"id":"broken","version":1,"agent":{"history":"sometimes"}}' >"$P/bad.json"
printf 'not a key\n' >"$P/junk.pem"
vd_start a --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
    --signing-key "$P/sign.pem" --policy "$P/x.json" --policy "$P/y.json" || die "verifierd A did not start"
ttl_x() { vd_nonce "$A" '{"policy":"x"}'; echo "$HTTP_CODE $(jget /ttl_s)"; }
stored_x() { "$VCTL" --db "$P/db" list policies --json | jq -r '[.[] | select(.id == "x") | .version] | sort | map(tostring) | join(",")'; }
expect_eq "A: x@1, ttl_s 11" "$(ttl_x)" "201 11"

# B: run to its exit (it must not start), on A's database
b_fails() {   # NAME ARGS...: B exits non-zero within 10 s
    local name=$1 rc=0; shift
    timeout 10 "$VD_BIN" --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" "$@" \
        >"$VD_TMP/b-$name.out" 2>&1 || rc=$?
    check "B ($name) fails to start (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
}
b_fails badkey --listen 127.0.0.1:0 --signing-key "$P/junk.pem" --policy "$P/x2.json"
expect_match "... naming the signing key" "$(cat "$VD_TMP/b-badkey.out")" 'signing key'
expect_eq "... x@2 not stored" "$(stored_x)" 1
expect_eq "... A still appraises under x@1 (ttl_s 11)" "$(ttl_x)" "201 11"
b_fails port --listen "127.0.0.1:$VD_PORT" --signing-key "$P/sign.pem" --policy "$P/x2.json"
expect_match "... on A's port" "$(cat "$VD_TMP/b-port.out")" 'in use'
expect_eq "... x@2 not stored" "$(stored_x)" 1
b_fails badpolicy --listen 127.0.0.1:0 --signing-key "$P/sign.pem" --policy "$P/x2.json" \
    --policy "$P/bad.json"
expect_match "... naming the invalid policy" "$(cat "$VD_TMP/b-badpolicy.out")" 'bad.json'
expect_eq "... x@2 not stored" "$(stored_x)" 1
# a certificate OpenSSL takes and GnuTLS does not (secp256k1): the HTTPS
# daemon is the last thing to fail, after the key, database and port checks
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -subj /CN=localhost \
    -keyout "$P/k1-key.pem" -out "$P/k1-cert.pem" -days 1 2>/dev/null || die "secp256k1 certificate"
rc=0
timeout 10 "$VD_BIN" --db "$P/db" --listen 127.0.0.1:0 --tls-cert "$P/k1-cert.pem" \
    --tls-key "$P/k1-key.pem" --signing-key "$P/sign.pem" --policy "$P/x2.json" \
    >"$VD_TMP/b-k1.out" 2>&1 || rc=$?
check "B with a certificate the HTTPS daemon refuses fails to start (exit $rc)" \
    test "$rc" -ne 0 -a "$rc" -ne 124
expect_eq "... x@2 not stored" "$(stored_x)" 1
expect_eq "A: still ttl_s 11" "$(ttl_x)" "201 11"
# a database file that is not SQLite: the reason, not just "missing or unreadable"
printf 'text, not SQLite\n' >"$VD_TMP/text.db"
out=$("$VD_BIN" --db "$VD_TMP/text.db" --listen 127.0.0.1:0 --tls-cert "$P/cert.pem" \
    --tls-key "$P/key.pem" --signing-key "$P/sign.pem" 2>&1 </dev/null)
expect_eq "B on a text file as --db: one line with the reason" "$out" \
    "verifierd: --db $VD_TMP/text.db: database missing, unreadable or not initialised: not an SQLite database"
openssl pkcs8 -topk8 -in "$P/key.pem" -passout pass:secret -out "$P/key-enc.pem" 2>/dev/null ||
    die "encrypting the TLS key"
rc=0
# on a terminal (script gives it one), where OpenSSL would have prompted
timeout 10 script -qec "'$VD_BIN' --db '$P/db' --listen 127.0.0.1:0 --tls-cert '$P/cert.pem' \
    --tls-key '$P/key-enc.pem' --signing-key '$P/sign.pem'" /dev/null </dev/null \
    >"$VD_TMP/b-enc.out" 2>&1 || rc=$?
check "B with an encrypted --tls-key exits non-zero at once on a terminal (exit $rc)" \
    test "$rc" -ne 0 -a "$rc" -ne 124
expect_match "... saying the key is encrypted" "$(cat "$VD_TMP/b-enc.out")" 'key-enc.pem is encrypted'
expect_nomatch "... without asking for a passphrase" "$(cat "$VD_TMP/b-enc.out")" 'pass phrase'

# SIGHUP: x.json now x@2, y.json broken: none stored
cp "$P/x2.json" "$P/x.json"
cp "$P/bad.json" "$P/y.json"
kill -HUP "$VD_PID"
for _ in $(seq 50); do grep -q 'reload incomplete' "$VD_LOG" && break; sleep 0.1; done
expect_match "SIGHUP with a broken y.json: the reload says the policies were kept" "$(cat "$VD_LOG")" \
    'none of them stored'
expect_eq "... x@2 not stored" "$(stored_x)" 1
expect_eq "... A still ttl_s 11" "$(ttl_x)" "201 11"
pol y 1 33 >"$P/y.json"
kill -HUP "$VD_PID"
for _ in $(seq 50); do [ "$(stored_x)" = "1,2" ] && break; sleep 0.1; done
expect_eq "SIGHUP with both files valid: x@2 stored" "$(stored_x)" "1,2"
expect_eq "... and applies (ttl_s 22)" "$(ttl_x)" "201 22"
# an encrypted key on SIGHUP: refused, the old one keeps serving
cp "$P/key.pem" "$P/key-plain.pem"
cp "$P/key-enc.pem" "$P/key.pem"
kill -HUP "$VD_PID"
for _ in $(seq 50); do grep -q 'is encrypted (verifierd needs it unencrypted: its file permissions protect it); keeping' "$VD_LOG" && break; sleep 0.1; done
expect_match "SIGHUP with an encrypted --tls-key: refused in the log" "$(cat "$VD_LOG")" \
    'key.pem is encrypted \(verifierd needs it unencrypted: its file permissions protect it\); keeping the old ones'
vd_call GET /healthz -
expect_status "... and the old certificate and key keep serving" 200
cp "$P/key-plain.pem" "$P/key.pem"
vd_stop
expect_eq "A exits 0 on SIGTERM" "$VD_STOP_RC" 0

# A --policy file that can be read only once (a pipe: bash's <(...)) is
# stored as it was checked. verifierd used to read each file twice, once
# to check and once to store, so the store read nothing and the start
# failed; a file rewritten in between could also drop the checked
# --default-policy id.
# (A start that loses its port to another test after reading the pipe is
# tried again by vd_start with the pipe empty: each attempt here gets a new
# one.)
up=0
for _ in 1 2 3; do
    vd_start pipe --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
        --signing-key "$P/sign.pem" --policy <(pol z 1 44) --default-policy z && { up=1; break; }
done
[ "$up" = 1 ] || die "verifierd with --policy <(...) did not start: $(tail -n 3 "$VD_TMP/pipe/stderr.log")"
expect_eq "--policy <(...): z@1 stored" \
    "$("$VCTL" --db "$P/db" list policies --json | jq -c '[.[] | select(.id == "z") | .version]')" "[1]"
vd_nonce "$A" '{}'
expect_eq "... and it is the default policy (ttl_s 44)" "$HTTP_CODE $(jget /ttl_s)" "201 44"
vd_stop

# An expired certificate (made by openssl with its clock two days back,
# through the timeshift shim): the start says so at error level.
echo -172800 >"$VD_TMP/shift"
TIMESHIFT_FILE="$VD_TMP/shift" LD_PRELOAD="$VFY_BUILD_DIR/tests/timeshift.so" \
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$P/old-key.pem" -out "$P/old-cert.pem" -days 1 2>/dev/null || die "an expired certificate"
"$VD_BIN" --db "$P/db" --listen 127.0.0.1:0 --tls-cert "$P/old-cert.pem" --tls-key "$P/old-key.pem" \
    --signing-key "$P/sign.pem" >"$VD_TMP/expired.out" 2>&1 &
EXP_PID=$!
VD_PIDS+=("$EXP_PID")
for _ in $(seq 50); do grep -q 'expired at' "$VD_TMP/expired.out" && break; sleep 0.1; done
expect_match "an expired --tls-cert: an error line at start" "$(cat "$VD_TMP/expired.out")" \
    "\"level\":\"error\",\"msg\":\"--tls-cert $P/old-cert.pem expired at [0-9TZ:-]+: clients refuse it; install a new certificate and send SIGHUP\""
kill "$EXP_PID" 2>/dev/null; wait "$EXP_PID" 2>/dev/null

# A database the service user can read but not write (made by root with
# umask 022): refused at start in one line. SQLite opened it read-only
# without a word, so verifierd used to start, answer /healthz, and then
# fail every attestation with 503.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    # the directory is the service user's (it can create the -wal and -shm
    # files; SQLite then opens the database read-only without a word)
    mkdir -m 0755 "$VD_TMP/ro"
    "$VCTL" --db "$VD_TMP/ro/db" init >/dev/null || die "init ro/db"
    rm -f "$VD_TMP/ro/db-wal" "$VD_TMP/ro/db-shm"
    chown 65534 "$VD_TMP/ro"; chmod 0644 "$VD_TMP/ro/db"; chmod 0711 "$VD_TMP"
    rc=0
    out=$(timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups "$VD_BIN" --db "$VD_TMP/ro/db" \
        --listen 127.0.0.1:0 --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
        --signing-key "$P/sign.pem" 2>&1 </dev/null) || rc=$?
    expect_eq "a database the service user cannot write: exit 1, one line saying so" "$rc $out" \
        "1 verifierd: --db $VD_TMP/ro/db: database missing, unreadable or not initialised: cannot write it: Permission denied"
    # A database the service user may write, in a directory it may not
    # (its -wal and -shm made beforehand): the default nonce key cannot be
    # created beside it. That exit used to log nothing at all.
    mkdir -m 0755 "$VD_TMP/nodir"
    "$VCTL" --db "$VD_TMP/nodir/db" init >/dev/null || die "init nodir/db"
    sqlite3 "$VD_TMP/nodir/db" 'PRAGMA user_version' >/dev/null
    : >>"$VD_TMP/nodir/db-wal"; : >>"$VD_TMP/nodir/db-shm"
    chown 65534 "$VD_TMP/nodir/db" "$VD_TMP/nodir/db-wal" "$VD_TMP/nodir/db-shm"
    for f in cert key sign; do install -m 0644 "$P/$f.pem" "$VD_TMP/nodir/$f.pem"; done
    rc=0
    out=$(timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups "$VD_BIN" --db "$VD_TMP/nodir/db" \
        --listen 127.0.0.1:0 --tls-cert "$VD_TMP/nodir/cert.pem" --tls-key "$VD_TMP/nodir/key.pem" \
        --signing-key "$VD_TMP/nodir/sign.pem" 2>&1 </dev/null) || rc=$?
    expect_eq "the default nonce key cannot be created: exit 1" "$rc" 1
    expect_match "... and an error line says so" "$out" \
        "\"level\":\"error\",\"msg\":\"creating nonce key $VD_TMP/nodir/db.nonce-key: I/O error \\(is its directory writable\\?"
else
    echo "# not root (or no setpriv): the read-only database case is skipped"
fi

# Key files others can read or write are used, with a warning naming the
# mode and the fix (they were loaded without a word): a signing key anyone
# on the host reads signs results relying parties accept.
expect_nomatch "A (keys 0600): no warning about a key's mode" "$(cat "$VD_TMP/a/stderr.log")" \
    'open to every user|writable by its group'
install -m 0644 "$P/sign.pem" "$VD_TMP/open-sign.pem"
printf '%064x\n' 7 >"$VD_TMP/open-nonce.key"
chmod 0660 "$VD_TMP/open-nonce.key"
vd_start open --db "$P/db" --tls-cert "$P/cert.pem" --tls-key "$P/key.pem" \
    --signing-key "$VD_TMP/open-sign.pem" --nonce-key "$VD_TMP/open-nonce.key" ||
    die "verifierd with exposed key files did not start"
expect_match "a signing key of mode 0644: warned" "$(cat "$VD_LOG")" \
    "\"level\":\"warn\",\"msg\":\"--signing-key $VD_TMP/open-sign.pem is open to every user on the host \\(mode 0644\\): whoever reads it can sign results that relying parties accept; chmod o-rwx,g-w it"
expect_match "a nonce key of mode 0660: warned" "$(cat "$VD_LOG")" \
    "\"level\":\"warn\",\"msg\":\"--nonce-key $VD_TMP/open-nonce.key is writable by its group \\(mode 0660\\): whoever reads it can make nonces of any expiry"
vd_stop
vd_done
